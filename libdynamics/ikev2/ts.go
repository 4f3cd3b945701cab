package ikev2

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
)

// TSType is the type of a traffic selector (RFC 7296 section 3.13.1, IANA
// "IKEv2 Traffic Selector Types").
type TSType uint8

// Traffic selector types.
const (
	TSIPv4AddrRange TSType = 7  // TS_IPV4_ADDR_RANGE
	TSIPv6AddrRange TSType = 8  // TS_IPV6_ADDR_RANGE
	TSFCAddrRange   TSType = 9  // TS_FC_ADDR_RANGE (RFC 4595)
	TSSecLabel      TSType = 10 // TS_SECLABEL (RFC 9478)
)

var tsTypeNames = map[TSType]string{
	TSIPv4AddrRange: "TS_IPV4_ADDR_RANGE",
	TSIPv6AddrRange: "TS_IPV6_ADDR_RANGE",
	TSFCAddrRange:   "TS_FC_ADDR_RANGE",
	TSSecLabel:      "TS_SECLABEL",
}

// String returns the IANA name of the selector type.
func (t TSType) String() string { return name(tsTypeNames, t, "TS") }

// TS is a Traffic Selector payload, TSi or TSr (RFC 7296 section 3.13).
type TS struct {
	// Responder selects TSr (payload type 45) instead of TSi (44).
	Responder bool
	// Selectors are the traffic selectors, 1 to 255 of them.
	Selectors []Selector
}

// Selector is one traffic selector. IPv4 and IPv6 ranges use every field
// but Data; other types keep their content after the length field in Data
// so they round-trip.
type Selector struct {
	Type TSType
	// Protocol is the IP protocol (0 for any).
	Protocol uint8
	// StartPort and EndPort bound the ports (0 to 65535 for any; for ICMP,
	// type and code; 65535 to 0 for OPAQUE, RFC 7296 section 3.13.1).
	StartPort, EndPort uint16
	// Start and End bound the addresses, inclusive: IPv4 for
	// TSIPv4AddrRange, IPv6 for TSIPv6AddrRange.
	Start, End netip.Addr
	// Data is the selector after its length field, for other types.
	Data []byte
}

const (
	// tsHeaderLen is the number of selectors and three reserved octets.
	tsHeaderLen = 4
	// selectorHeaderLen is a selector's type, protocol and length.
	selectorHeaderLen = 4
	// selectorLenIPv4 and selectorLenIPv6 are the fixed sizes of the two
	// address range selectors.
	selectorLenIPv4 = 16
	selectorLenIPv6 = 40
)

// Type returns PayloadTSr for a responder's selectors, PayloadTSi
// otherwise.
func (ts *TS) Type() PayloadType {
	if ts.Responder {
		return PayloadTSr
	}
	return PayloadTSi
}

// PrefixSelector returns the selector covering every address of p, all
// ports and protocol proto (0 for any).
func PrefixSelector(p netip.Prefix, proto uint8) Selector {
	p = p.Masked()
	start := p.Addr()
	end := start.AsSlice()
	bits := p.Bits()
	for i := range end {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				end[i] |= 0x80 >> j
			}
		}
	}
	e, _ := netip.AddrFromSlice(end)
	t := TSIPv4AddrRange
	if start.Is6() {
		t = TSIPv6AddrRange
	}
	return Selector{Type: t, Protocol: proto, StartPort: 0, EndPort: 0xffff, Start: start, End: e}
}

// String renders the selector as "10.1.0.0-10.1.0.255 proto 17 ports 434-434".
func (s Selector) String() string {
	switch s.Type {
	case TSIPv4AddrRange, TSIPv6AddrRange:
		return fmt.Sprintf("%s-%s proto %d ports %d-%d", s.Start, s.End, s.Protocol, s.StartPort, s.EndPort)
	}
	return fmt.Sprintf("%s proto %d data %x", s.Type, s.Protocol, s.Data)
}

// String lists the selectors.
func (ts *TS) String() string {
	parts := make([]string, len(ts.Selectors))
	for i, s := range ts.Selectors {
		parts[i] = s.String()
	}
	return strings.Join(parts, ", ")
}

func (s Selector) check() error {
	switch s.Type {
	case TSIPv4AddrRange:
		if !s.Start.Is4() || !s.End.Is4() {
			return fmt.Errorf("%s from %v to %v, want IPv4 addresses: %w", s.Type, s.Start, s.End, ErrInvalid)
		}
	case TSIPv6AddrRange:
		if !s.Start.Is6() || !s.End.Is6() || s.Start.Zone() != "" || s.End.Zone() != "" {
			return fmt.Errorf("%s from %v to %v, want IPv6 addresses: %w", s.Type, s.Start, s.End, ErrInvalid)
		}
	default:
		if len(s.Data) > 0xffff-selectorHeaderLen {
			return fmt.Errorf("%s selector of %d octets: %w", s.Type, len(s.Data), ErrInvalid)
		}
	}
	return nil
}

func (ts *TS) check() error {
	if len(ts.Selectors) == 0 || len(ts.Selectors) > 0xff {
		return fmt.Errorf("%d traffic selectors, want 1 to 255: %w", len(ts.Selectors), ErrInvalid)
	}
	for i, s := range ts.Selectors {
		if err := s.check(); err != nil {
			return fmt.Errorf("selector %d: %w", i+1, err)
		}
	}
	return nil
}

func parseTS(responder bool, b []byte) (*TS, error) {
	if len(b) < tsHeaderLen {
		return nil, fmt.Errorf("%d bytes, want at least %d: %w", len(b), tsHeaderLen, ErrLength)
	}
	count := int(b[0])
	if count == 0 {
		return nil, fmt.Errorf("no traffic selectors: %w", ErrInvalid)
	}
	ts := &TS{Responder: responder}
	off := tsHeaderLen
	for i := 0; i < count; i++ {
		if len(b)-off < selectorHeaderLen {
			return nil, fmt.Errorf("selector %d of %d: header needs %d bytes, %d left: %w",
				i+1, count, selectorHeaderLen, len(b)-off, ErrLength)
		}
		s := Selector{Type: TSType(b[off]), Protocol: b[off+1]}
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		if n < selectorHeaderLen || n > len(b)-off {
			return nil, fmt.Errorf("selector %d of %d: length %d, %d bytes left: %w", i+1, count, n, len(b)-off, ErrLength)
		}
		sb := b[off : off+n]
		switch s.Type {
		case TSIPv4AddrRange, TSIPv6AddrRange:
			want, alen := selectorLenIPv4, 4
			if s.Type == TSIPv6AddrRange {
				want, alen = selectorLenIPv6, 16
			}
			if n != want {
				return nil, fmt.Errorf("selector %d of %d: %s of %d octets, want %d: %w", i+1, count, s.Type, n, want, ErrLength)
			}
			s.StartPort = binary.BigEndian.Uint16(sb[4:])
			s.EndPort = binary.BigEndian.Uint16(sb[6:])
			s.Start, _ = netip.AddrFromSlice(sb[8 : 8+alen])
			s.End, _ = netip.AddrFromSlice(sb[8+alen : 8+2*alen])
		default:
			s.Data = clone(sb[selectorHeaderLen:])
		}
		ts.Selectors = append(ts.Selectors, s)
		off += n
	}
	if off != len(b) {
		return nil, fmt.Errorf("%d bytes after the last of %d selectors: %w", len(b)-off, count, ErrLength)
	}
	return ts, nil
}

func (ts *TS) appendBody(b []byte) ([]byte, error) {
	if err := ts.check(); err != nil {
		return nil, err
	}
	b = append(b, byte(len(ts.Selectors)), 0, 0, 0)
	for _, s := range ts.Selectors {
		switch s.Type {
		case TSIPv4AddrRange, TSIPv6AddrRange:
			n := selectorLenIPv4
			if s.Type == TSIPv6AddrRange {
				n = selectorLenIPv6
			}
			b = append(b, byte(s.Type), s.Protocol, byte(n>>8), byte(n))
			b = binary.BigEndian.AppendUint16(b, s.StartPort)
			b = binary.BigEndian.AppendUint16(b, s.EndPort)
			b = append(b, s.Start.AsSlice()...)
			b = append(b, s.End.AsSlice()...)
		default:
			n := selectorHeaderLen + len(s.Data)
			b = append(b, byte(s.Type), s.Protocol, byte(n>>8), byte(n))
			b = append(b, s.Data...)
		}
	}
	return b, nil
}
