package ike

import (
	"fmt"
	"net/netip"
)

// Selector is one traffic selector (RFC 7296 section 3.13.1): a range of
// addresses of one family, an IP protocol (0 for any) and a range of ports.
type Selector struct {
	Start, End         netip.Addr
	Protocol           uint8
	StartPort, EndPort uint16
}

// PrefixSelector returns the selector of every address in p, any protocol
// and any port.
func PrefixSelector(p netip.Prefix) Selector {
	p = p.Masked()
	return Selector{Start: p.Addr(), End: lastAddr(p), EndPort: 0xffff}
}

// lastAddr is the highest address in p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		for bit := 0; bit < 8; bit++ {
			if i*8+bit >= bits {
				b[i] |= 0x80 >> bit
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Valid reports whether the selector is well formed: both ends of one
// family, in order, and ports in order.
func (s Selector) Valid() bool {
	return s.Start.IsValid() && s.End.IsValid() && s.Start.Is4() == s.End.Is4() &&
		s.Start.Compare(s.End) <= 0 && s.StartPort <= s.EndPort
}

// Contains reports whether o is a subset of s.
func (s Selector) Contains(o Selector) bool {
	return s.Valid() && o.Valid() && s.Start.Is4() == o.Start.Is4() &&
		s.Start.Compare(o.Start) <= 0 && o.End.Compare(s.End) <= 0 &&
		(s.Protocol == 0 || s.Protocol == o.Protocol) &&
		s.StartPort <= o.StartPort && o.EndPort <= s.EndPort
}

// Intersect returns what s and o have in common, and false when nothing.
func (s Selector) Intersect(o Selector) (Selector, bool) {
	if !s.Valid() || !o.Valid() || s.Start.Is4() != o.Start.Is4() {
		return Selector{}, false
	}
	r := Selector{Start: s.Start, End: s.End, Protocol: s.Protocol, StartPort: max(s.StartPort, o.StartPort), EndPort: min(s.EndPort, o.EndPort)}
	if o.Start.Compare(r.Start) > 0 {
		r.Start = o.Start
	}
	if o.End.Compare(r.End) < 0 {
		r.End = o.End
	}
	switch {
	case s.Protocol == 0:
		r.Protocol = o.Protocol
	case o.Protocol != 0 && o.Protocol != s.Protocol:
		return Selector{}, false
	}
	if r.Start.Compare(r.End) > 0 || r.StartPort > r.EndPort {
		return Selector{}, false
	}
	return r, true
}

// Prefix returns the selector's address range as a prefix when it is
// exactly one, for installing policies and routes.
func (s Selector) Prefix() (netip.Prefix, bool) {
	if !s.Valid() {
		return netip.Prefix{}, false
	}
	for bits := 0; bits <= s.Start.BitLen(); bits++ {
		p := netip.PrefixFrom(s.Start, bits).Masked()
		if p.Addr() == s.Start && lastAddr(p) == s.End {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// String renders the selector as strongSwan does: 10.1.0.1/32 for a
// prefix with any protocol and port, with [proto/port-range] otherwise.
func (s Selector) String() string {
	addr := fmt.Sprintf("%s-%s", s.Start, s.End)
	if p, ok := s.Prefix(); ok {
		addr = p.String()
	}
	if s.Protocol == 0 && s.StartPort == 0 && s.EndPort == 0xffff {
		return addr
	}
	return fmt.Sprintf("%s[%d/%d-%d]", addr, s.Protocol, s.StartPort, s.EndPort)
}

// narrow intersects what the initiator proposed with what the responder
// allows (RFC 7296 section 2.9): every non-empty intersection, in the
// initiator's order, without duplicates.
func narrow(proposed, allowed []Selector) []Selector {
	var out []Selector
	for _, p := range proposed {
		for _, a := range allowed {
			r, ok := p.Intersect(a)
			if !ok {
				continue
			}
			dup := false
			for _, o := range out {
				if o == r {
					dup = true
					break
				}
			}
			if !dup {
				out = append(out, r)
			}
		}
	}
	return out
}

// within reports whether every selector of got lies inside one of
// proposed, which is what an initiator checks of the responder's answer.
func within(got, proposed []Selector) bool {
	if len(got) == 0 {
		return false
	}
	for _, g := range got {
		ok := false
		for _, p := range proposed {
			if p.Contains(g) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
