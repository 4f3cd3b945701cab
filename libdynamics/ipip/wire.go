package ipip

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"sync/atomic"
)

// Lengths and numbers of the IPv4 header (RFC 791) as RFC 2003 uses it.
const (
	// HeaderLen is the length of the outer IPv4 header the encapsulator
	// writes: no options.
	HeaderLen = 20
	// MaxPacketLen is the largest IPv4 datagram.
	MaxPacketLen = 65535
	// MaxInnerLen is the largest inner datagram that fits an outer one.
	MaxInnerLen = MaxPacketLen - HeaderLen
	// Protocol is the IP protocol number of IP-in-IP.
	Protocol = 4
	// DefaultTTL is the outer TTL used when none is configured.
	DefaultTTL = 64
	// MinMTU is the smallest MTU every IPv4 link must carry (RFC 791).
	MinMTU = 68

	protocolICMP = 1
	flagDF       = 0x4000
	flagMF       = 0x2000
	offsetMask   = 0x1fff
)

// Sentinel errors, wrapped with context by the functions that return them.
var (
	ErrTruncated    = errors.New("ipip: packet truncated")
	ErrVersion      = errors.New("ipip: not IPv4")
	ErrHeaderLength = errors.New("ipip: bad header length")
	ErrTotalLength  = errors.New("ipip: bad total length")
	ErrChecksum     = errors.New("ipip: bad header checksum")
	ErrFragment     = errors.New("ipip: outer packet is a fragment")
	ErrProtocol     = errors.New("ipip: outer protocol is not IP-in-IP (4)")
	ErrAddress      = errors.New("ipip: tunnel endpoints must be IPv4 addresses")
	ErrTooBig       = errors.New("ipip: packet too big")
	ErrMTU          = errors.New("ipip: MTU out of range")
)

// InnerMTU returns the MTU of a tunnel whose outer packets cross a link of
// MTU linkMTU: the link MTU less the outer header.
func InnerMTU(linkMTU int) int { return linkMTU - HeaderLen }

// ipID is the source of outer identification fields, started at a random
// value so restarts do not repeat recent identifications.
var ipID atomic.Uint32

func init() {
	var b [4]byte
	_, _ = rand.Read(b[:])
	ipID.Store(binary.BigEndian.Uint32(b[:]))
}

func nextID() uint16 { return uint16(ipID.Add(1)) }

// checkHeader validates the IPv4 header at the start of b and returns its
// header and total lengths. It returns a bare sentinel error so the data path
// can count failures without allocating.
func checkHeader(b []byte) (hdrLen, total int, err error) {
	if len(b) < HeaderLen {
		return 0, 0, ErrTruncated
	}
	if b[0]>>4 != 4 {
		return 0, 0, ErrVersion
	}
	hdrLen = int(b[0]&0x0f) * 4
	if hdrLen < HeaderLen {
		return 0, 0, ErrHeaderLength
	}
	if hdrLen > len(b) {
		return 0, 0, ErrTruncated
	}
	total = int(binary.BigEndian.Uint16(b[2:4]))
	if total < hdrLen {
		return 0, 0, ErrTotalLength
	}
	if total > len(b) {
		return 0, 0, ErrTruncated
	}
	return hdrLen, total, nil
}

// Encapsulate appends to dst the IP-in-IP datagram carrying inner from local
// to remote and returns the extended slice. The outer header has protocol 4,
// the TOS and DF bit of the inner header, TTL ttl (0 means DefaultTTL), a fresh
// identification and a correct checksum. inner must start with a valid IPv4
// header; bytes past its total length are not encapsulated.
func Encapsulate(dst, inner []byte, local, remote netip.Addr, ttl uint8) ([]byte, error) {
	if !local.Is4() || !remote.Is4() {
		return dst, fmt.Errorf("encapsulate from %s to %s: %w", local, remote, ErrAddress)
	}
	_, total, err := checkHeader(inner)
	if err != nil {
		return dst, fmt.Errorf("encapsulate: inner header: %w", err)
	}
	if total > MaxInnerLen {
		return dst, fmt.Errorf("encapsulate: inner datagram of %d bytes: %w", total, ErrTooBig)
	}
	n := len(dst)
	var h [HeaderLen]byte
	dst = append(dst, h[:]...)
	putHeader(dst[n:], inner, total, local.As4(), remote.As4(), ttl)
	return append(dst, inner[:total]...), nil
}

// putHeader writes into h (HeaderLen bytes) the outer header for an inner
// datagram of innerLen bytes whose header starts inner.
func putHeader(h, inner []byte, innerLen int, local, remote [4]byte, ttl uint8) {
	if ttl == 0 {
		ttl = DefaultTTL
	}
	_ = h[HeaderLen-1]
	h[0] = 4<<4 | HeaderLen/4
	h[1] = inner[1]
	binary.BigEndian.PutUint16(h[2:4], uint16(HeaderLen+innerLen))
	binary.BigEndian.PutUint16(h[4:6], nextID())
	binary.BigEndian.PutUint16(h[6:8], binary.BigEndian.Uint16(inner[6:8])&flagDF)
	h[8] = ttl
	h[9] = Protocol
	h[10], h[11] = 0, 0
	copy(h[12:16], local[:])
	copy(h[16:20], remote[:])
	binary.BigEndian.PutUint16(h[10:12], checksum(h, 0))
}

// Decapsulate checks the IP-in-IP datagram outer and returns its inner
// datagram (a subslice of outer, trimmed to its total length) with the outer
// source and destination. It checks the outer header's version, length,
// checksum and protocol, that it is not a fragment, and the inner header's
// version and lengths.
func Decapsulate(outer []byte) (inner []byte, src, dst netip.Addr, err error) {
	inner, src, dst, where, err := decapsulate(outer)
	if err != nil {
		return nil, netip.Addr{}, netip.Addr{}, fmt.Errorf("decapsulate: %s header: %w", where, err)
	}
	return inner, src, dst, nil
}

// decapsulate is Decapsulate without wrapping: where names the header that
// failed.
func decapsulate(outer []byte) (inner []byte, src, dst netip.Addr, where string, err error) {
	hdrLen, total, err := checkHeader(outer)
	if err != nil {
		return nil, src, dst, "outer", err
	}
	if checksum(outer[:hdrLen], 0) != 0 {
		return nil, src, dst, "outer", ErrChecksum
	}
	if binary.BigEndian.Uint16(outer[6:8])&(flagMF|offsetMask) != 0 {
		return nil, src, dst, "outer", ErrFragment
	}
	if outer[9] != Protocol {
		return nil, src, dst, "outer", ErrProtocol
	}
	inner = outer[hdrLen:total]
	_, innerTotal, err := checkHeader(inner)
	if err != nil {
		return nil, src, dst, "inner", err
	}
	src = netip.AddrFrom4([4]byte(outer[12:16]))
	dst = netip.AddrFrom4([4]byte(outer[16:20]))
	return inner[:innerTotal], src, dst, "", nil
}

// checksum returns the Internet checksum (RFC 1071) of b added to the
// partial sum initial.
func checksum(b []byte, initial uint32) uint16 {
	return ^add16(sum16(b), fold32(initial))
}

// sum16 returns the ones' complement sum of b as big-endian 16-bit words
// (a last odd byte padded with zero), folded to 16 bits and not
// complemented. It adds 64-bit words with carry, in the host's byte order:
// RFC 1071 section 2(B) lets the sum be taken in either order and swapped
// at the end.
func sum16(b []byte) uint16 {
	var s, c uint64
	for len(b) >= 32 {
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[8:]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[16:]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[24:]), c)
		b = b[32:]
	}
	for len(b) >= 8 {
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b), c)
		b = b[8:]
	}
	if len(b) > 0 {
		var tail [8]byte
		copy(tail[:], b)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(tail[:]), c)
	}
	s, c = bits.Add64(s, 0, c)
	s += c // cannot carry again: s is at most 2^64-2 after a carry
	v := s>>32 + s&0xffffffff
	v = v>>32 + v&0xffffffff
	le := fold32(uint32(v))
	return le<<8 | le>>8
}

// fold32 folds a 32-bit ones' complement sum to 16 bits.
func fold32(v uint32) uint16 {
	v = v>>16 + v&0xffff
	v = v>>16 + v&0xffff
	return uint16(v)
}

// add16 is ones' complement addition.
func add16(a, b uint16) uint16 {
	return fold32(uint32(a) + uint32(b))
}

// pseudoSum returns the folded sum of the IPv4 pseudo-header (RFC 793
// section 3.1, RFC 768) of a transport segment of length bytes carried in
// the IPv4 datagram whose header starts ip.
func pseudoSum(ip []byte, proto uint8, length int) uint16 {
	_ = ip[19]
	s := uint32(binary.BigEndian.Uint16(ip[12:])) + uint32(binary.BigEndian.Uint16(ip[14:])) +
		uint32(binary.BigEndian.Uint16(ip[16:])) + uint32(binary.BigEndian.Uint16(ip[18:])) +
		uint32(proto) + uint32(length)
	return fold32(s)
}
