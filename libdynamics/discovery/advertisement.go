package discovery

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"golang.org/x/net/ipv4"
)

// Lengths of the ICMP Router Advertisement portion (RFC 1256 section 3).
const (
	// headerLen is type, code, checksum, num addrs, entry size, lifetime.
	headerLen = 8
	// addrEntryWords is the address entry size, in 32-bit words, of a
	// router address and its preference level.
	addrEntryWords = 2
	addrEntryLen   = 4 * addrEntryWords
	// maxRouters is the most router addresses the num addrs octet counts.
	maxRouters = 255
	// maxMessageLen is the largest ICMP message an IPv4 datagram without
	// options carries.
	maxMessageLen = 65535 - 20
)

// RouterAddress is one router address of an advertisement with its
// preference level: higher is preferred, and -0x80000000 means "never use
// as a default router" (RFC 1256).
type RouterAddress struct {
	Addr       netip.Addr
	Preference int32
}

// NotDefaultRouter is the preference level of an address that must not be
// used as a default router.
const NotDefaultRouter int32 = -0x80000000

// Advertisement is an Agent Advertisement: an ICMP Router Advertisement
// (type 9) and its extensions (RFC 5944 section 2.1). Without a
// MobilityAgent extension it is a plain RFC 1256 router advertisement.
type Advertisement struct {
	Code Code
	// Lifetime is how long, in seconds, the advertisement stays valid
	// without a further one.
	Lifetime uint16
	// Routers are the router addresses; a mobility agent that is not a
	// router may advertise none.
	Routers []RouterAddress
	// Extensions in wire order.
	Extensions []Extension
}

// Type returns ipv4.ICMPTypeRouterAdvertisement.
func (*Advertisement) Type() ipv4.ICMPType { return ipv4.ICMPTypeRouterAdvertisement }

// Marshal returns the ICMP message with its checksum.
func (a *Advertisement) Marshal() ([]byte, error) {
	return a.AppendMarshal(nil)
}

// AppendMarshal appends the ICMP message, with its checksum, to b.
func (a *Advertisement) AppendMarshal(b []byte) ([]byte, error) {
	if a.Code != CodeRouter && a.Code != CodeMobilityOnly {
		return nil, fmt.Errorf("advertisement: %s: %w", a.Code, ErrCode)
	}
	if len(a.Routers) > maxRouters {
		return nil, fmt.Errorf("advertisement: %d router addresses, at most %d: %w", len(a.Routers), maxRouters, ErrInvalid)
	}
	for _, r := range a.Routers {
		if !r.Addr.Is4() {
			return nil, fmt.Errorf("advertisement: router address %v is not IPv4: %w", r.Addr, ErrInvalid)
		}
	}
	start := len(b)
	b = append(b, byte(ipv4.ICMPTypeRouterAdvertisement), byte(a.Code), 0, 0,
		byte(len(a.Routers)), addrEntryWords)
	b = binary.BigEndian.AppendUint16(b, a.Lifetime)
	for _, r := range a.Routers {
		a4 := r.Addr.As4()
		b = append(b, a4[:]...)
		b = binary.BigEndian.AppendUint32(b, uint32(r.Preference))
	}
	for i, e := range a.Extensions {
		if e == nil {
			return nil, fmt.Errorf("advertisement: extension %d is nil: %w", i, ErrInvalid)
		}
		if p, ok := e.(*PrefixLengths); ok && len(p.Lengths) != len(a.Routers) {
			return nil, fmt.Errorf("advertisement: %d prefix lengths for %d router addresses: %w",
				len(p.Lengths), len(a.Routers), ErrExtensionLength)
		}
		var err error
		if b, err = e.AppendMarshal(b); err != nil {
			return nil, fmt.Errorf("advertisement: %w", err)
		}
	}
	msg := b[start:]
	if len(msg) > maxMessageLen {
		return nil, fmt.Errorf("advertisement: %d bytes, at most %d: %w", len(msg), maxMessageLen, ErrInvalid)
	}
	putChecksum(msg)
	return b, nil
}

// ParseAdvertisement parses an ICMP Router Advertisement, starting at the
// ICMP type byte, with any Mobile IP extensions. The checksum must verify
// and the address entry size must be 2.
func ParseAdvertisement(b []byte) (*Advertisement, error) {
	if len(b) < headerLen {
		return nil, fmt.Errorf("advertisement: %d bytes, header needs %d: %w", len(b), headerLen, ErrTruncated)
	}
	if t := ipv4.ICMPType(b[0]); t != ipv4.ICMPTypeRouterAdvertisement {
		return nil, fmt.Errorf("advertisement: ICMP type %d: %w", uint8(t), ErrType)
	}
	code := Code(b[1])
	if code != CodeRouter && code != CodeMobilityOnly {
		return nil, fmt.Errorf("advertisement: %s: %w", code, ErrCode)
	}
	if !checksumOK(b) {
		return nil, fmt.Errorf("advertisement: checksum %#04x: %w", binary.BigEndian.Uint16(b[2:4]), ErrChecksum)
	}
	numAddrs := int(b[4])
	if size := b[5]; size != addrEntryWords {
		return nil, fmt.Errorf("advertisement: address entry size %d: %w", size, ErrEntrySize)
	}
	end := headerLen + numAddrs*addrEntryLen
	if len(b) < end {
		return nil, fmt.Errorf("advertisement: %d router addresses need %d bytes, have %d: %w",
			numAddrs, end, len(b), ErrTruncated)
	}
	var routers []RouterAddress
	for off := headerLen; off < end; off += addrEntryLen {
		routers = append(routers, RouterAddress{
			Addr:       netip.AddrFrom4([4]byte(b[off : off+4])),
			Preference: int32(binary.BigEndian.Uint32(b[off+4 : off+8])),
		})
	}
	exts, err := parseExtensions(b[end:], numAddrs)
	if err != nil {
		return nil, fmt.Errorf("advertisement: %w", err)
	}
	return &Advertisement{
		Code:       code,
		Lifetime:   binary.BigEndian.Uint16(b[6:8]),
		Routers:    routers,
		Extensions: exts,
	}, nil
}

// Extension returns the first extension of type t, or nil.
func (a *Advertisement) Extension(t ExtensionType) Extension {
	for _, e := range a.Extensions {
		if e != nil && e.Kind() == t {
			return e
		}
	}
	return nil
}

// MobilityAgent returns the Mobility Agent Advertisement extension, or nil
// when a is a plain router advertisement.
func (a *Advertisement) MobilityAgent() *MobilityAgent {
	m, _ := a.Extension(ExtensionMobilityAgent).(*MobilityAgent)
	return m
}

// PrefixLengths returns the Prefix-Lengths extension, or nil.
func (a *Advertisement) PrefixLengths() *PrefixLengths {
	p, _ := a.Extension(ExtensionPrefixLengths).(*PrefixLengths)
	return p
}

// PrefixLength returns the prefix length advertised for router address
// addr, and false when addr is not advertised or the advertisement has no
// Prefix-Lengths extension.
func (a *Advertisement) PrefixLength(addr netip.Addr) (int, bool) {
	p := a.PrefixLengths()
	if p == nil {
		return 0, false
	}
	for i, r := range a.Routers {
		if r.Addr == addr && i < len(p.Lengths) {
			return int(p.Lengths[i]), true
		}
	}
	return 0, false
}

// Prefixes returns the network prefix of each router address, masked, in
// router address order; nil without a Prefix-Lengths extension. Mobile
// nodes compare them to detect movement (RFC 5944 section 2.4.2).
func (a *Advertisement) Prefixes() []netip.Prefix {
	p := a.PrefixLengths()
	if p == nil {
		return nil
	}
	var out []netip.Prefix
	for i, r := range a.Routers {
		if i >= len(p.Lengths) {
			break
		}
		pfx, err := r.Addr.Prefix(int(p.Lengths[i]))
		if err != nil {
			continue
		}
		out = append(out, pfx)
	}
	return out
}

// Validate applies RFC 5944's rules for using a parsed advertisement: no
// unrecognised extension numbered below 128 (ErrUnknownExtension), at most
// one Mobility Agent and one Prefix-Lengths extension, and at least one
// care-of address when the F flag is set (ErrInvalid). Parsing does not
// apply them, so that any well-formed message round-trips.
func (a *Advertisement) Validate() error {
	seen := make(map[ExtensionType]bool)
	for _, e := range a.Extensions {
		if e == nil {
			return fmt.Errorf("advertisement: nil extension: %w", ErrInvalid)
		}
		t := e.Kind()
		if _, raw := e.(*RawExtension); raw && !t.Skippable() {
			return fmt.Errorf("advertisement: %s: %w", t, ErrUnknownExtension)
		}
		if t == ExtensionMobilityAgent || t == ExtensionPrefixLengths {
			if seen[t] {
				return fmt.Errorf("advertisement: more than one %s extension: %w", t, ErrInvalid)
			}
			seen[t] = true
		}
	}
	if m := a.MobilityAgent(); m != nil && m.Flags&FlagForeignAgent != 0 && len(m.CareOfAddresses) == 0 {
		return fmt.Errorf("advertisement: F flag without a care-of address: %w", ErrInvalid)
	}
	return nil
}
