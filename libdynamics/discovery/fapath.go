package discovery

import (
	"fmt"
	"net/netip"
)

// ExtensionExperimental is the skippable experimental extension (RFC 4064).
// Its first data octet is a sub-type, numbered in the same space as the
// registration extensions of the foreign agent hierarchy (package mip).
const ExtensionExperimental ExtensionType = 255

// SubtypeFAPath is the FA Path sub-type of ExtensionExperimental
// (docs/PROTOCOL.md, "Foreign agent hierarchy").
const SubtypeFAPath uint8 = 1

// faPathAddrLen is the length of one address of an FA Path extension.
const faPathAddrLen = 4

// MaxFAPathAddrs is the most addresses one FA Path extension holds.
const MaxFAPathAddrs = (maxExtensionData - 1) / faPathAddrLen

// FAPath is the FA Path extension a foreign agent in a hierarchy adds to
// its advertisements: its own address, its upper agent's and the highest
// agent's, in that order (an agent with no upper agent, the highest
// itself, lists fewer). A mobile node that hears two advertisements with
// the same care-of address from agents with different paths has made a
// local move.
type FAPath struct {
	// Addrs are IPv4 addresses, the advertising agent first; at least one
	// and at most MaxFAPathAddrs.
	Addrs []netip.Addr
}

var _ Extension = (*FAPath)(nil)

// Kind returns ExtensionExperimental.
func (*FAPath) Kind() ExtensionType { return ExtensionExperimental }

// AppendMarshal appends type, length, sub-type and the addresses.
func (p *FAPath) AppendMarshal(b []byte) ([]byte, error) {
	if len(p.Addrs) == 0 || len(p.Addrs) > MaxFAPathAddrs {
		return nil, fmt.Errorf("FA path: %d addresses, want 1 to %d: %w", len(p.Addrs), MaxFAPathAddrs, ErrInvalid)
	}
	for _, a := range p.Addrs {
		if !a.Is4() {
			return nil, fmt.Errorf("FA path: address %v is not IPv4: %w", a, ErrInvalid)
		}
	}
	b = append(b, byte(ExtensionExperimental), byte(1+faPathAddrLen*len(p.Addrs)), SubtypeFAPath)
	for _, a := range p.Addrs {
		a4 := a.As4()
		b = append(b, a4[:]...)
	}
	return b, nil
}

// parseExperimental decodes the data of an ExtensionExperimental
// extension: an FA Path when the sub-type is SubtypeFAPath and the rest is
// one or more whole addresses, and otherwise a *RawExtension, so that the
// advertisement marshals back unchanged.
func parseExperimental(data []byte) Extension {
	if n := len(data) - 1; n >= faPathAddrLen && n%faPathAddrLen == 0 && data[0] == SubtypeFAPath {
		p := &FAPath{Addrs: make([]netip.Addr, 0, n/faPathAddrLen)}
		for off := 1; off < len(data); off += faPathAddrLen {
			p.Addrs = append(p.Addrs, netip.AddrFrom4([4]byte(data[off:off+faPathAddrLen])))
		}
		return p
	}
	return &RawExtension{Type: ExtensionExperimental, Data: append([]byte(nil), data...)}
}

// FAPath returns the advertisement's FA Path extension, or nil when the
// advertising agent is not in a hierarchy.
func (a *Advertisement) FAPath() *FAPath {
	for _, e := range a.Extensions {
		if p, ok := e.(*FAPath); ok && p != nil {
			return p
		}
	}
	return nil
}
