package discovery

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/net/ipv4"
)

// solicitationLen is type, code, checksum and the four reserved octets.
const solicitationLen = 8

// Solicitation is an Agent Solicitation: an ICMP Router Solicitation (type
// 10, code 0) that a mobile node sends to ask agents to advertise at once
// (RFC 5944 section 2.2, RFC 1256 section 3).
type Solicitation struct {
	// Reserved is sent as zero; kept on parse so a message marshals again
	// unchanged.
	Reserved uint32
}

// Type returns ipv4.ICMPTypeRouterSolicitation.
func (*Solicitation) Type() ipv4.ICMPType { return ipv4.ICMPTypeRouterSolicitation }

// Marshal returns the ICMP message with its checksum.
func (s *Solicitation) Marshal() ([]byte, error) {
	return s.AppendMarshal(nil)
}

// AppendMarshal appends the ICMP message, with its checksum, to b.
func (s *Solicitation) AppendMarshal(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, byte(ipv4.ICMPTypeRouterSolicitation), 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, s.Reserved)
	putChecksum(b[start:])
	return b, nil
}

// ParseSolicitation parses an ICMP Router Solicitation, starting at the
// ICMP type byte. The checksum, which covers the whole of b, must verify.
// Octets after the first eight carry nothing and are ignored, as RFC 1256
// requires.
func ParseSolicitation(b []byte) (*Solicitation, error) {
	if len(b) < solicitationLen {
		return nil, fmt.Errorf("solicitation: %d bytes, need %d: %w", len(b), solicitationLen, ErrTruncated)
	}
	if t := ipv4.ICMPType(b[0]); t != ipv4.ICMPTypeRouterSolicitation {
		return nil, fmt.Errorf("solicitation: ICMP type %d: %w", uint8(t), ErrType)
	}
	if b[1] != 0 {
		return nil, fmt.Errorf("solicitation: code %d: %w", b[1], ErrCode)
	}
	if !checksumOK(b) {
		return nil, fmt.Errorf("solicitation: checksum %#04x: %w", binary.BigEndian.Uint16(b[2:4]), ErrChecksum)
	}
	return &Solicitation{Reserved: binary.BigEndian.Uint32(b[4:8])}, nil
}
