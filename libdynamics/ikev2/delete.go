package ikev2

import (
	"encoding/binary"
	"fmt"
)

// Delete is the Delete payload (RFC 7296 section 3.11): the sender removed
// the IKE SA (Protocol IKE, no SPIs) or the Child SAs whose inbound SPIs
// are listed (AH or ESP).
type Delete struct {
	Protocol Protocol
	// SPIs are the deleted Child SAs' SPIs as the sender receives with them;
	// empty for IKE.
	SPIs []uint32
}

// deleteHeaderLen is the protocol ID, SPI size and number of SPIs.
const deleteHeaderLen = 4

// Type returns PayloadDelete.
func (*Delete) Type() PayloadType { return PayloadDelete }

func (d *Delete) check() error {
	switch d.Protocol {
	case ProtocolIKE:
		if len(d.SPIs) != 0 {
			return fmt.Errorf("IKE delete with %d SPIs, want none: %w", len(d.SPIs), ErrInvalid)
		}
	case ProtocolAH, ProtocolESP:
		if len(d.SPIs) > 0xffff {
			return fmt.Errorf("%d SPIs: %w", len(d.SPIs), ErrInvalid)
		}
	default:
		return fmt.Errorf("protocol %s, want IKE, AH or ESP: %w", d.Protocol, ErrInvalid)
	}
	return nil
}

func parseDelete(b []byte) (*Delete, error) {
	if len(b) < deleteHeaderLen {
		return nil, fmt.Errorf("%d bytes, want at least %d: %w", len(b), deleteHeaderLen, ErrLength)
	}
	d := &Delete{Protocol: Protocol(b[0])}
	size, count := int(b[1]), int(binary.BigEndian.Uint16(b[2:]))
	switch d.Protocol {
	case ProtocolIKE:
		if size != 0 || count != 0 {
			return nil, fmt.Errorf("IKE delete with %d SPIs of %d octets, want none (the SPIs are in the header): %w",
				count, size, ErrInvalid)
		}
	case ProtocolAH, ProtocolESP:
		if size != 4 {
			return nil, fmt.Errorf("%s SPI size %d, want 4: %w", d.Protocol, size, ErrInvalid)
		}
	default:
		return nil, fmt.Errorf("protocol %s, want IKE, AH or ESP: %w", d.Protocol, ErrInvalid)
	}
	if len(b)-deleteHeaderLen != size*count {
		return nil, fmt.Errorf("%d SPIs of %d octets in %d bytes: %w", count, size, len(b)-deleteHeaderLen, ErrLength)
	}
	for i := 0; i < count; i++ {
		d.SPIs = append(d.SPIs, binary.BigEndian.Uint32(b[deleteHeaderLen+4*i:]))
	}
	return d, nil
}

func (d *Delete) appendBody(b []byte) ([]byte, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	size := 4
	if d.Protocol == ProtocolIKE {
		size = 0
	}
	b = append(b, byte(d.Protocol), byte(size))
	b = binary.BigEndian.AppendUint16(b, uint16(len(d.SPIs)))
	for _, spi := range d.SPIs {
		b = binary.BigEndian.AppendUint32(b, spi)
	}
	return b, nil
}
