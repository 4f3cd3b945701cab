package ikev2

import (
	"encoding/binary"
	"fmt"
)

// CFGType is the type of a Configuration payload (RFC 7296 section 3.15).
type CFGType uint8

// Configuration payload types.
const (
	CFGRequest CFGType = 1
	CFGReply   CFGType = 2
	CFGSet     CFGType = 3
	CFGAck     CFGType = 4
)

var cfgTypeNames = map[CFGType]string{
	CFGRequest: "CFG_REQUEST",
	CFGReply:   "CFG_REPLY",
	CFGSet:     "CFG_SET",
	CFGAck:     "CFG_ACK",
}

// String returns the IANA name of the type.
func (t CFGType) String() string { return name(cfgTypeNames, t, "CFG") }

// CPAttributeType is the type of a configuration attribute (RFC 7296
// section 3.15.1, IANA "IKEv2 Configuration Payload Attribute Types").
type CPAttributeType uint16

// Configuration attribute types.
const (
	CPInternalIP4Address  CPAttributeType = 1
	CPInternalIP4Netmask  CPAttributeType = 2
	CPInternalIP4DNS      CPAttributeType = 3
	CPInternalIP4NBNS     CPAttributeType = 4
	CPInternalIP4DHCP     CPAttributeType = 6
	CPApplicationVersion  CPAttributeType = 7
	CPInternalIP6Address  CPAttributeType = 8
	CPInternalIP6DNS      CPAttributeType = 10
	CPInternalIP6DHCP     CPAttributeType = 12
	CPInternalIP4Subnet   CPAttributeType = 13
	CPSupportedAttributes CPAttributeType = 14
	CPInternalIP6Subnet   CPAttributeType = 15
)

var cpAttributeNames = map[CPAttributeType]string{
	CPInternalIP4Address:  "INTERNAL_IP4_ADDRESS",
	CPInternalIP4Netmask:  "INTERNAL_IP4_NETMASK",
	CPInternalIP4DNS:      "INTERNAL_IP4_DNS",
	CPInternalIP4NBNS:     "INTERNAL_IP4_NBNS",
	CPInternalIP4DHCP:     "INTERNAL_IP4_DHCP",
	CPApplicationVersion:  "APPLICATION_VERSION",
	CPInternalIP6Address:  "INTERNAL_IP6_ADDRESS",
	CPInternalIP6DNS:      "INTERNAL_IP6_DNS",
	CPInternalIP6DHCP:     "INTERNAL_IP6_DHCP",
	CPInternalIP4Subnet:   "INTERNAL_IP4_SUBNET",
	CPSupportedAttributes: "SUPPORTED_ATTRIBUTES",
	CPInternalIP6Subnet:   "INTERNAL_IP6_SUBNET",
}

// String returns the IANA name of the attribute type.
func (t CPAttributeType) String() string { return name(cpAttributeNames, t, "CP_ATTRIBUTE") }

// cpValueLens are the value lengths of RFC 7296 section 3.15.1's table:
// empty (a request for a value) or the listed size.
var cpValueLens = map[CPAttributeType]int{
	CPInternalIP4Address: 4,
	CPInternalIP4Netmask: 4,
	CPInternalIP4DNS:     4,
	CPInternalIP4NBNS:    4,
	CPInternalIP4DHCP:    4,
	CPInternalIP6Address: 17, // address and prefix length
	CPInternalIP6DNS:     16,
	CPInternalIP6DHCP:    16,
	CPInternalIP4Subnet:  8, // address and netmask
	CPInternalIP6Subnet:  17,
}

// CP is the Configuration payload (RFC 7296 section 3.15).
type CP struct {
	CFGType    CFGType
	Attributes []CPAttribute
}

// CPAttribute is one configuration attribute.
type CPAttribute struct {
	// Type is the attribute type, 0 to 0x7fff (the top bit is reserved).
	Type CPAttributeType
	// Value is empty in a request for a value, otherwise of the length
	// RFC 7296 section 3.15.1 gives for the type.
	Value []byte
}

const (
	// cpHeaderLen is the CFG type and three reserved octets.
	cpHeaderLen = 4
	// cpAttributeHeaderLen is an attribute's type and length.
	cpAttributeHeaderLen = 4
	// maxCPAttributeType is the largest 15-bit attribute type.
	maxCPAttributeType = 0x7fff
)

// Type returns PayloadCP.
func (*CP) Type() PayloadType { return PayloadCP }

func (a CPAttribute) check() error {
	if a.Type > maxCPAttributeType {
		return fmt.Errorf("attribute type %#x does not fit 15 bits: %w", uint16(a.Type), ErrInvalid)
	}
	if len(a.Value) > 0xffff {
		return fmt.Errorf("%s of %d octets: %w", a.Type, len(a.Value), ErrInvalid)
	}
	if n, ok := cpValueLens[a.Type]; ok && len(a.Value) != 0 && len(a.Value) != n {
		return fmt.Errorf("%s of %d octets, want 0 or %d: %w", a.Type, len(a.Value), n, ErrInvalid)
	}
	if a.Type == CPSupportedAttributes && len(a.Value)%2 != 0 {
		return fmt.Errorf("%s of %d octets, not a list of 2-octet types: %w", a.Type, len(a.Value), ErrInvalid)
	}
	return nil
}

func parseCP(b []byte) (*CP, error) {
	if len(b) < cpHeaderLen {
		return nil, fmt.Errorf("%d bytes, want at least %d: %w", len(b), cpHeaderLen, ErrLength)
	}
	cp := &CP{CFGType: CFGType(b[0])}
	off := cpHeaderLen
	for off < len(b) {
		if len(b)-off < cpAttributeHeaderLen {
			return nil, fmt.Errorf("attribute at offset %d: header needs %d bytes, %d left: %w",
				off, cpAttributeHeaderLen, len(b)-off, ErrLength)
		}
		a := CPAttribute{Type: CPAttributeType(binary.BigEndian.Uint16(b[off:]) & maxCPAttributeType)}
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		if n > len(b)-off-cpAttributeHeaderLen {
			return nil, fmt.Errorf("%s: length %d, %d bytes left: %w", a.Type, n, len(b)-off-cpAttributeHeaderLen, ErrLength)
		}
		a.Value = clone(b[off+cpAttributeHeaderLen : off+cpAttributeHeaderLen+n])
		if err := a.check(); err != nil {
			return nil, err
		}
		cp.Attributes = append(cp.Attributes, a)
		off += cpAttributeHeaderLen + n
	}
	return cp, nil
}

func (cp *CP) appendBody(b []byte) ([]byte, error) {
	b = append(b, byte(cp.CFGType), 0, 0, 0)
	for _, a := range cp.Attributes {
		if err := a.check(); err != nil {
			return nil, err
		}
		b = binary.BigEndian.AppendUint16(b, uint16(a.Type))
		b = binary.BigEndian.AppendUint16(b, uint16(len(a.Value)))
		b = append(b, a.Value...)
	}
	return b, nil
}
