package ipip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// ICMP numbers (RFC 792, RFC 1191).
const (
	// ICMPHeaderLen is the length of the ICMP destination unreachable
	// header: type, code, checksum, unused and next-hop MTU.
	ICMPHeaderLen = 8
	// QuotedPayloadLen is how much of the offending datagram's payload an
	// ICMP error quotes after its header (RFC 792).
	QuotedPayloadLen = 8

	icmpTypeUnreachable = 3
	icmpCodeFragNeeded  = 4
	tosInternetControl  = 0xc0
)

// ErrNoICMP reports a datagram that must not be answered with an ICMP error
// (RFC 1812 section 4.3.2.7): an ICMP error itself, a non-initial fragment,
// or one whose source is not a unicast host or whose destination is
// multicast or broadcast.
var ErrNoICMP = errors.New("ipip: no ICMP error may be sent about this datagram")

// FragmentationNeeded appends to dst an IPv4 datagram from the address from
// to the source of inner carrying an ICMP destination unreachable,
// "fragmentation needed and DF set" message (type 3 code 4) whose next-hop
// MTU field is mtu (RFC 1191). It quotes inner's header and the first
// QuotedPayloadLen bytes of its payload; inner may be cut short after those.
// It returns ErrNoICMP, wrapped, for datagrams no ICMP error may answer.
func FragmentationNeeded(dst, inner []byte, from netip.Addr, mtu int) ([]byte, error) {
	if !from.Is4() {
		return dst, fmt.Errorf("fragmentation needed from %s: %w", from, ErrAddress)
	}
	if mtu < MinMTU || mtu > MaxPacketLen {
		return dst, fmt.Errorf("fragmentation needed: next-hop MTU %d: %w", mtu, ErrMTU)
	}
	if len(inner) < HeaderLen {
		return dst, fmt.Errorf("fragmentation needed: quoted header: %w", ErrTruncated)
	}
	if inner[0]>>4 != 4 {
		return dst, fmt.Errorf("fragmentation needed: quoted header: %w", ErrVersion)
	}
	hdrLen := int(inner[0]&0x0f) * 4
	if hdrLen < HeaderLen {
		return dst, fmt.Errorf("fragmentation needed: quoted header: %w", ErrHeaderLength)
	}
	if hdrLen > len(inner) {
		return dst, fmt.Errorf("fragmentation needed: quoted header: %w", ErrTruncated)
	}
	if err := mayAnswer(inner, hdrLen); err != nil {
		return dst, fmt.Errorf("fragmentation needed for %s: %w", netip.AddrFrom4([4]byte(inner[12:16])), err)
	}
	quoted := min(len(inner), hdrLen+QuotedPayloadLen)
	total := HeaderLen + ICMPHeaderLen + quoted

	n := len(dst)
	var hdrs [HeaderLen + ICMPHeaderLen]byte
	dst = append(dst, hdrs[:]...)
	dst = append(dst, inner[:quoted]...)
	p := dst[n:]
	_ = p[HeaderLen+ICMPHeaderLen-1]
	p[0] = 4<<4 | HeaderLen/4
	p[1] = tosInternetControl
	binary.BigEndian.PutUint16(p[2:4], uint16(total))
	binary.BigEndian.PutUint16(p[4:6], nextID())
	p[8] = DefaultTTL
	p[9] = protocolICMP
	a := from.As4()
	copy(p[12:16], a[:])
	copy(p[16:20], inner[12:16])
	binary.BigEndian.PutUint16(p[10:12], checksum(p[:HeaderLen], 0))

	m := p[HeaderLen:]
	m[0] = icmpTypeUnreachable
	m[1] = icmpCodeFragNeeded
	binary.BigEndian.PutUint16(m[6:8], uint16(mtu))
	binary.BigEndian.PutUint16(m[2:4], checksum(m, 0))
	return dst, nil
}

// mayAnswer applies RFC 1812 section 4.3.2.7 to the datagram whose header of
// hdrLen bytes starts b.
func mayAnswer(b []byte, hdrLen int) error {
	if binary.BigEndian.Uint16(b[6:8])&offsetMask != 0 {
		return ErrNoICMP
	}
	src := netip.AddrFrom4([4]byte(b[12:16]))
	dst := netip.AddrFrom4([4]byte(b[16:20]))
	if b[12] == 0 || src.IsMulticast() || src == broadcast || dst.IsMulticast() || dst == broadcast {
		return ErrNoICMP
	}
	if b[9] == protocolICMP && len(b) > hdrLen {
		switch b[hdrLen] {
		case 3, 4, 5, 11, 12: // the error messages of RFC 792
			return ErrNoICMP
		}
	}
	return nil
}

var broadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})
