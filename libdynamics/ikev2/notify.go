package ikev2

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Notify is the Notify payload (RFC 7296 section 3.10): an error or status
// notification, for the IKE SA or, with an SPI, for one Child SA.
type Notify struct {
	// Protocol is the protocol of the SA that SPI names; with no SPI it is
	// sent as zero and ignored on receipt (kept as received).
	Protocol Protocol
	// SPI names the SA the notification concerns: 4 octets for AH and
	// ESP (INVALID_SELECTORS, REKEY_SA, CHILD_SA_NOT_FOUND), 8 for IKE,
	// usually empty.
	SPI        []byte
	NotifyType NotifyType
	// Data is the notification data, whose meaning depends on the type.
	// Parse and Marshal check the lengths the RFCs fix for the types whose
	// data the engine reads (cookies, NAT detection hashes, addresses).
	Data []byte
}

// notifyHeaderLen is the protocol ID, SPI size and notify type.
const notifyHeaderLen = 4

// Type returns PayloadNotify.
func (*Notify) Type() PayloadType { return PayloadNotify }

// NewNotify returns a notification of type t with data and no SPI.
func NewNotify(t NotifyType, data []byte) *Notify {
	return &Notify{NotifyType: t, Data: data}
}

// InvalidKE returns the INVALID_KE_PAYLOAD notification naming the group
// the responder wants (RFC 7296 section 1.2).
func InvalidKE(g DHGroup) *Notify {
	return NewNotify(NotifyInvalidKEPayload, binary.BigEndian.AppendUint16(nil, uint16(g)))
}

// Group returns the group of an INVALID_KE_PAYLOAD notification.
func (n *Notify) Group() (DHGroup, bool) {
	if n.NotifyType != NotifyInvalidKEPayload || len(n.Data) != 2 {
		return 0, false
	}
	return DHGroup(binary.BigEndian.Uint16(n.Data)), true
}

// RekeySA returns the REKEY_SA notification for the Child SA of protocol p
// (AH or ESP) whose inbound SPI, as the sender knows it, is spi (RFC 7296
// section 1.3.3).
func RekeySA(p Protocol, spi uint32) *Notify {
	return &Notify{Protocol: p, SPI: binary.BigEndian.AppendUint32(nil, spi), NotifyType: NotifyRekeySA}
}

// ChildSPI returns the SPI of a notification about an AH or ESP SA.
func (n *Notify) ChildSPI() (uint32, bool) {
	if len(n.SPI) != 4 || (n.Protocol != ProtocolAH && n.Protocol != ProtocolESP) {
		return 0, false
	}
	return binary.BigEndian.Uint32(n.SPI), true
}

// AdditionalAddress returns the ADDITIONAL_IP4_ADDRESS or
// ADDITIONAL_IP6_ADDRESS notification for a (RFC 4555 section 4.2).
func AdditionalAddress(a netip.Addr) *Notify {
	a = a.Unmap()
	if a.Is4() {
		return NewNotify(NotifyAdditionalIP4Address, a.AsSlice())
	}
	return NewNotify(NotifyAdditionalIP6Address, a.AsSlice())
}

// Addr returns the address of an ADDITIONAL_IP4_ADDRESS or
// ADDITIONAL_IP6_ADDRESS notification.
func (n *Notify) Addr() (netip.Addr, bool) {
	switch {
	case n.NotifyType == NotifyAdditionalIP4Address && len(n.Data) == 4,
		n.NotifyType == NotifyAdditionalIP6Address && len(n.Data) == 16:
		return netip.AddrFromSlice(n.Data)
	}
	return netip.Addr{}, false
}

// SignatureHashAlgorithms returns the SIGNATURE_HASH_ALGORITHMS
// notification listing hs (RFC 7427 section 4).
func SignatureHashAlgorithms(hs ...HashAlgorithm) *Notify {
	data := make([]byte, 0, 2*len(hs))
	for _, h := range hs {
		data = binary.BigEndian.AppendUint16(data, uint16(h))
	}
	return NewNotify(NotifySignatureHashAlgorithms, data)
}

// Hashes returns the hashes of a SIGNATURE_HASH_ALGORITHMS notification.
func (n *Notify) Hashes() []HashAlgorithm {
	if n.NotifyType != NotifySignatureHashAlgorithms {
		return nil
	}
	hs := make([]HashAlgorithm, 0, len(n.Data)/2)
	for i := 0; i+2 <= len(n.Data); i += 2 {
		hs = append(hs, HashAlgorithm(binary.BigEndian.Uint16(n.Data[i:])))
	}
	return hs
}

// String renders the notification for logs: its type, and the SPI and
// data in hexadecimal when present.
func (n *Notify) String() string {
	s := n.NotifyType.String()
	if len(n.SPI) > 0 {
		s += fmt.Sprintf(" %s spi=%x", n.Protocol, n.SPI)
	}
	if len(n.Data) > 0 {
		s += fmt.Sprintf(" data=%x", n.Data)
	}
	return s
}

// lenRule is a data length rule: min to max octets, or alt when not zero.
type lenRule struct{ min, max, alt int }

// notifyDataLen holds the data lengths the RFCs fix for notification types
// whose data the engine reads. Types whose data is to be ignored on receipt
// (MOBIKE_SUPPORTED, RFC 4555 section 4.2) have no rule.
var notifyDataLen = map[NotifyType]lenRule{
	NotifyUnsupportedCriticalPayload: {1, 1, 0},   // RFC 7296 3.10.1: the payload type
	NotifyInvalidMessageID:           {4, 4, 0},   // the message ID
	NotifyInvalidKEPayload:           {2, 2, 0},   // the accepted group
	NotifySetWindowSize:              {4, 4, 0},   // the window size
	NotifyIPCompSupported:            {3, 3, 0},   // CPI and transform ID
	NotifyNATDetectionSourceIP:       {20, 20, 0}, // SHA-1 (RFC 7296 2.23)
	NotifyNATDetectionDestinationIP:  {20, 20, 0},
	NotifyCookie:                     {1, 64, 0},   // RFC 7296 2.6
	NotifyAdditionalIP4Address:       {4, 4, 0},    // RFC 4555 4.2
	NotifyAdditionalIP6Address:       {16, 16, 0},  // RFC 4555 4.2
	NotifyCookie2:                    {8, 64, 0},   // RFC 4555 4.2
	NotifyNoNATsAllowed:              {12, 12, 36}, // RFC 4555 4.2: addresses and ports, IPv4 or IPv6
	NotifyAuthLifetime:               {4, 4, 0},    // RFC 4478
}

func (n *Notify) check() error {
	if len(n.SPI) > 0 {
		if n.Protocol == ProtocolNone {
			return fmt.Errorf("%s: SPI of %d octets without a protocol: %w", n.NotifyType, len(n.SPI), ErrInvalid)
		}
		if size, ok := n.Protocol.SPISize(); ok && len(n.SPI) != size {
			return fmt.Errorf("%s: %s SPI of %d octets, want %d: %w", n.NotifyType, n.Protocol, len(n.SPI), size, ErrInvalid)
		}
		if len(n.SPI) > 0xff {
			return fmt.Errorf("%s: SPI of %d octets: %w", n.NotifyType, len(n.SPI), ErrInvalid)
		}
	}
	if n.NotifyType == NotifyRekeySA && (len(n.SPI) != 4 || (n.Protocol != ProtocolAH && n.Protocol != ProtocolESP)) {
		return fmt.Errorf("%s for %s with a %d-octet SPI, want an AH or ESP SPI: %w",
			n.NotifyType, n.Protocol, len(n.SPI), ErrInvalid)
	}
	if r, ok := notifyDataLen[n.NotifyType]; ok {
		l := len(n.Data)
		if (l < r.min || l > r.max) && (r.alt == 0 || l != r.alt) {
			want := fmt.Sprintf("%d to %d", r.min, r.max)
			switch {
			case r.alt != 0:
				want = fmt.Sprintf("%d or %d", r.min, r.alt)
			case r.min == r.max:
				want = fmt.Sprint(r.min)
			}
			return fmt.Errorf("%s with %d octets of data, want %s: %w", n.NotifyType, l, want, ErrInvalid)
		}
	}
	if n.NotifyType == NotifySignatureHashAlgorithms && len(n.Data)%2 != 0 {
		return fmt.Errorf("%s with %d octets of data, not a list of 2-octet hashes: %w", n.NotifyType, len(n.Data), ErrInvalid)
	}
	return nil
}

func parseNotify(b []byte) (*Notify, error) {
	if len(b) < notifyHeaderLen {
		return nil, fmt.Errorf("%d bytes, want at least %d: %w", len(b), notifyHeaderLen, ErrLength)
	}
	spiSize := int(b[1])
	if len(b)-notifyHeaderLen < spiSize {
		return nil, fmt.Errorf("SPI of %d octets, %d left: %w", spiSize, len(b)-notifyHeaderLen, ErrLength)
	}
	n := &Notify{
		Protocol:   Protocol(b[0]),
		NotifyType: NotifyType(binary.BigEndian.Uint16(b[2:])),
		SPI:        clone(b[notifyHeaderLen : notifyHeaderLen+spiSize]),
		Data:       clone(b[notifyHeaderLen+spiSize:]),
	}
	if err := n.check(); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *Notify) appendBody(b []byte) ([]byte, error) {
	if err := n.check(); err != nil {
		return nil, err
	}
	b = append(b, byte(n.Protocol), byte(len(n.SPI)))
	b = binary.BigEndian.AppendUint16(b, uint16(n.NotifyType))
	b = append(b, n.SPI...)
	return append(b, n.Data...), nil
}
