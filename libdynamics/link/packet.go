package link

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
)

// Header and protocol constants.
const (
	IPv4HeaderLen = 20
	UDPHeaderLen  = 8

	ProtoICMP = 1
	ProtoIPIP = 4
	ProtoUDP  = 17
)

// Errors returned by the packet parsers.
var (
	ErrTruncated = errors.New("link: truncated packet")
	ErrNotIPv4   = errors.New("link: not an IPv4 packet")
	ErrProtocol  = errors.New("link: unexpected IP protocol")
	ErrFragment  = errors.New("link: IP fragment")
)

// IPv4 is the parsed header of an IPv4 packet and its payload.
type IPv4 struct {
	Src, Dst netip.Addr
	Protocol uint8
	TTL      uint8
	TOS      uint8
	Payload  []byte // aliases the parsed packet
}

// ParseIPv4 parses an IPv4 header, checking lengths; the payload is cut to the
// header's total length. Fragments are rejected: the suite's signalling never
// fragments.
func ParseIPv4(b []byte) (IPv4, error) {
	if len(b) < IPv4HeaderLen {
		return IPv4{}, fmt.Errorf("%w: %d bytes", ErrTruncated, len(b))
	}
	if b[0]>>4 != 4 {
		return IPv4{}, ErrNotIPv4
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < IPv4HeaderLen || total < ihl || total > len(b) {
		return IPv4{}, fmt.Errorf("%w: header length %d, total length %d, have %d", ErrTruncated, ihl, total, len(b))
	}
	if frag := binary.BigEndian.Uint16(b[6:8]); frag&0x3fff != 0 {
		return IPv4{}, ErrFragment
	}
	return IPv4{
		Src:      netip.AddrFrom4([4]byte(b[12:16])),
		Dst:      netip.AddrFrom4([4]byte(b[16:20])),
		Protocol: b[9],
		TTL:      b[8],
		TOS:      b[1],
		Payload:  b[ihl:total],
	}, nil
}

var ipID atomic.Uint32

// AppendIPv4 appends an IPv4 header (no options, DF clear) and payload to dst.
func AppendIPv4(dst []byte, src, dstAddr netip.Addr, proto, ttl uint8, payload []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, IPv4HeaderLen)...)
	h := dst[start:]
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(IPv4HeaderLen+len(payload)))
	binary.BigEndian.PutUint16(h[4:], uint16(ipID.Add(1)))
	h[8] = ttl
	h[9] = proto
	s, d := src.As4(), dstAddr.As4()
	copy(h[12:16], s[:])
	copy(h[16:20], d[:])
	binary.BigEndian.PutUint16(h[10:], Checksum(h[:IPv4HeaderLen], 0))
	return append(dst, payload...)
}

// UDP is a parsed UDP datagram.
type UDP struct {
	Src, Dst netip.AddrPort
	Payload  []byte
}

// ParseUDP parses an IPv4 packet carrying UDP and verifies the UDP checksum
// when one is present.
func ParseUDP(b []byte) (UDP, error) {
	ip, err := ParseIPv4(b)
	if err != nil {
		return UDP{}, err
	}
	if ip.Protocol != ProtoUDP {
		return UDP{}, fmt.Errorf("%w: %d, want UDP", ErrProtocol, ip.Protocol)
	}
	u := ip.Payload
	if len(u) < UDPHeaderLen {
		return UDP{}, fmt.Errorf("%w: UDP header", ErrTruncated)
	}
	ulen := int(binary.BigEndian.Uint16(u[4:6]))
	if ulen < UDPHeaderLen || ulen > len(u) {
		return UDP{}, fmt.Errorf("%w: UDP length %d, have %d", ErrTruncated, ulen, len(u))
	}
	u = u[:ulen]
	if binary.BigEndian.Uint16(u[6:8]) != 0 && Checksum(u, pseudoSum(ip.Src, ip.Dst, ProtoUDP, ulen)) != 0 {
		return UDP{}, errors.New("link: bad UDP checksum")
	}
	return UDP{
		Src:     netip.AddrPortFrom(ip.Src, binary.BigEndian.Uint16(u[0:2])),
		Dst:     netip.AddrPortFrom(ip.Dst, binary.BigEndian.Uint16(u[2:4])),
		Payload: u[UDPHeaderLen:],
	}, nil
}

// AppendUDP appends an IPv4 packet carrying a UDP datagram, with both
// checksums, to dst.
func AppendUDP(dst []byte, src, dstAddr netip.AddrPort, ttl uint8, payload []byte) []byte {
	u := make([]byte, UDPHeaderLen, UDPHeaderLen+len(payload))
	binary.BigEndian.PutUint16(u[0:], src.Port())
	binary.BigEndian.PutUint16(u[2:], dstAddr.Port())
	binary.BigEndian.PutUint16(u[4:], uint16(UDPHeaderLen+len(payload)))
	u = append(u, payload...)
	sum := Checksum(u, pseudoSum(src.Addr(), dstAddr.Addr(), ProtoUDP, len(u)))
	if sum == 0 {
		sum = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:], sum)
	return AppendIPv4(dst, src.Addr(), dstAddr.Addr(), ProtoUDP, ttl, u)
}

func pseudoSum(src, dst netip.Addr, proto uint8, length int) uint32 {
	s, d := src.As4(), dst.As4()
	sum := uint32(s[0])<<8 | uint32(s[1])
	sum += uint32(s[2])<<8 | uint32(s[3])
	sum += uint32(d[0])<<8 | uint32(d[1])
	sum += uint32(d[2])<<8 | uint32(d[3])
	sum += uint32(proto)
	sum += uint32(length)
	return sum
}

// Checksum returns the Internet checksum (RFC 1071) of b, starting from the
// partial sum initial (for pseudo-headers). A buffer that includes a correct
// checksum sums to zero.
func Checksum(b []byte, initial uint32) uint16 {
	sum := initial
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
