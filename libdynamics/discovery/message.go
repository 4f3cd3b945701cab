package discovery

import (
	"fmt"

	"golang.org/x/net/ipv4"
)

// Message is an agent discovery message: *Advertisement or *Solicitation.
type Message interface {
	// Type is the message's ICMP type.
	Type() ipv4.ICMPType
	// Marshal returns the ICMP message with its checksum filled in.
	Marshal() ([]byte, error)
	// AppendMarshal appends the ICMP message to b.
	AppendMarshal(b []byte) ([]byte, error)
}

var (
	_ Message = (*Advertisement)(nil)
	_ Message = (*Solicitation)(nil)
)

// Parse parses an ICMP message, starting at its type byte, as an Agent
// Advertisement or an Agent Solicitation according to its type. Other ICMP
// types give an error wrapping ErrType.
func Parse(b []byte) (Message, error) {
	if len(b) < 1 {
		return nil, fmt.Errorf("ICMP type: %w", ErrTruncated)
	}
	switch t := ipv4.ICMPType(b[0]); t {
	case ipv4.ICMPTypeRouterAdvertisement:
		return ParseAdvertisement(b)
	case ipv4.ICMPTypeRouterSolicitation:
		return ParseSolicitation(b)
	default:
		return nil, fmt.Errorf("ICMP type %d: %w", uint8(t), ErrType)
	}
}

// Code is the ICMP code of an Agent Advertisement.
type Code uint8

// Advertisement codes (RFC 5944 section 2.1).
const (
	// CodeRouter: the agent also routes common traffic, as an RFC 1256
	// router does.
	CodeRouter Code = 0
	// CodeMobilityOnly: the agent does not route common traffic, though it
	// still forwards datagrams for registered mobile nodes.
	CodeMobilityOnly Code = 16
)

// String names the code.
func (c Code) String() string {
	switch c {
	case CodeRouter:
		return "router"
	case CodeMobilityOnly:
		return "mobility-only"
	default:
		return fmt.Sprintf("code(%d)", uint8(c))
	}
}
