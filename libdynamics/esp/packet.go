package esp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// IPv4 header fields (RFC 791) the modes need.
const (
	ipv4HeaderLen  = 20
	ipv4MaxLen     = 65535
	ipv4DefaultTTL = 64
	flagMF         = 0x2000
	offsetMask     = 0x1fff
	protoTCP       = 6
	protoUDP       = 17
)

// ipv4Header checks the IPv4 header at the start of b and returns its header
// and total lengths.
func ipv4Header(b []byte) (hdrLen, total int, err error) {
	if len(b) < ipv4HeaderLen {
		return 0, 0, fmt.Errorf("%w: %d octets", ErrInner, len(b))
	}
	if b[0]>>4 != 4 {
		return 0, 0, fmt.Errorf("%w: version %d", ErrInner, b[0]>>4)
	}
	hdrLen = int(b[0]&0x0f) * 4
	total = int(binary.BigEndian.Uint16(b[2:4]))
	if hdrLen < ipv4HeaderLen || total < hdrLen || total > len(b) {
		return 0, 0, fmt.Errorf("%w: header length %d, total length %d in %d octets", ErrInner, hdrLen, total, len(b))
	}
	return hdrLen, total, nil
}

// Flow describes an IPv4 datagram for policy lookup: its addresses,
// protocol and, for TCP, UDP and SCTP, ports (0 otherwise, and in
// non-first fragments).
type Flow struct {
	Src, Dst         netip.Addr
	Protocol         uint8
	SrcPort, DstPort uint16
}

// ParseFlow reads the flow of the IPv4 datagram at the start of b.
func ParseFlow(b []byte) (Flow, error) {
	hdrLen, total, err := ipv4Header(b)
	if err != nil {
		return Flow{}, err
	}
	f := Flow{
		Src:      netip.AddrFrom4([4]byte(b[12:16])),
		Dst:      netip.AddrFrom4([4]byte(b[16:20])),
		Protocol: b[9],
	}
	first := binary.BigEndian.Uint16(b[6:8])&offsetMask == 0
	if first && hasPorts(f.Protocol) && total-hdrLen >= 4 {
		f.SrcPort = binary.BigEndian.Uint16(b[hdrLen:])
		f.DstPort = binary.BigEndian.Uint16(b[hdrLen+2:])
	}
	return f, nil
}

// Matches reports whether the flow falls under the selector.
func (s Selector) Matches(f Flow) bool {
	return s.Match(f.Src, f.Dst, f.Protocol, f.SrcPort, f.DstPort)
}

// SealPacket appends to dst the ESP packet carrying the IPv4 datagram ip in
// the SA's mode and returns the extended slice; octets of ip past its total
// length are ignored.
//
// In tunnel mode the whole datagram is the payload and Next Header is 4. In
// transport mode the payload is the datagram's payload and Next Header its
// protocol; its header is dropped, so it must be from the SA's local to its
// remote address, carry no options worth keeping, and not be a fragment
// (transport mode protects whole datagrams, RFC 4301 section 7).
func (o *Sealer) SealPacket(dst, ip []byte) ([]byte, error) {
	hdrLen, total, err := ipv4Header(ip)
	if err != nil {
		return dst, err
	}
	if o.mode == ModeTunnel {
		return o.Seal(dst, ip[:total], NextHeaderIPv4)
	}
	sa := o.SA()
	src, dstAddr := netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20]))
	if src != sa.Local.Addr() || dstAddr != sa.Remote.Addr() {
		return dst, fmt.Errorf("%w: transport-mode datagram %s > %s on an SA between %s and %s", ErrInner, src, dstAddr, sa.Local.Addr(), sa.Remote.Addr())
	}
	if binary.BigEndian.Uint16(ip[6:8])&(flagMF|offsetMask) != 0 {
		return dst, fmt.Errorf("%w: transport mode cannot carry a fragment", ErrInner)
	}
	return o.Seal(dst, ip[hdrLen:total], ip[9])
}

// OpenPacket opens an ESP packet (Open) and returns the IPv4 datagram it
// carries, a subslice of pkt, which is overwritten. A dummy packet (Next
// Header 59) is ErrDummy.
//
// In tunnel mode Next Header must be 4 and the payload a well-formed IPv4
// datagram; octets past its total length (traffic flow confidentiality
// padding, RFC 4303 section 2.7) are dropped.
//
// In transport mode the datagram is rebuilt: a 20-octet IPv4 header from the
// SA's remote to its local address with the Next Header as protocol, TTL 64
// and a fresh checksum. The sender's header never travelled (RFC 3948
// encapsulation sends the ESP packet from a UDP socket), and a NAT between
// the hosts may have changed the addresses the sender's TCP or UDP checksum
// covered, so the checksum of a TCP or UDP payload is recomputed over the
// rebuilt header (RFC 3948 section 3.1.2 lets the receiver do so: the ICV
// already proved the payload intact). A UDP checksum of zero (none) stays
// zero; other protocols' checksums do not cover addresses and are kept.
func (in *Opener) OpenPacket(pkt []byte) ([]byte, error) {
	payload, nh, err := in.Open(pkt)
	if err != nil {
		return nil, err
	}
	if nh == NextHeaderNone {
		return nil, ErrDummy
	}
	if in.mode == ModeTunnel {
		if nh != NextHeaderIPv4 {
			return nil, fmt.Errorf("tunnel-mode SA 0x%08x: next header %d: %w", in.spi, nh, ErrNextHeader)
		}
		_, total, err := ipv4Header(payload)
		if err != nil {
			return nil, fmt.Errorf("tunnel-mode SA 0x%08x: inner datagram: %w", in.spi, err)
		}
		return payload[:total], nil
	}
	n := len(payload)
	if ipv4HeaderLen+n > ipv4MaxLen {
		return nil, fmt.Errorf("%w: transport-mode payload of %d octets", ErrInner, n)
	}
	// The header goes in front of the payload: in the ESP header and IV
	// if they are long enough, otherwise the payload moves back into the
	// trailer, which is always longer than the difference.
	start := HeaderLen + in.t.ivLen() - ipv4HeaderLen
	if start < 0 {
		copy(pkt[ipv4HeaderLen:], payload)
		start = 0
	}
	ip := pkt[start : start+ipv4HeaderLen+n]
	sa := in.SA()
	putIPv4Header(ip, n, nh, sa.Remote.Addr().As4(), sa.Local.Addr().As4())
	fixTransportChecksum(ip[ipv4HeaderLen:], nh, ip[12:16], ip[16:20])
	return ip, nil
}

// putIPv4Header writes a 20-octet header for a payload of n octets.
func putIPv4Header(h []byte, n int, proto uint8, src, dst [4]byte) {
	h[0] = 4<<4 | ipv4HeaderLen/4
	h[1] = 0
	binary.BigEndian.PutUint16(h[2:4], uint16(ipv4HeaderLen+n))
	binary.BigEndian.PutUint16(h[4:6], 0)
	binary.BigEndian.PutUint16(h[6:8], 0)
	h[8] = ipv4DefaultTTL
	h[9] = proto
	h[10], h[11] = 0, 0
	copy(h[12:16], src[:])
	copy(h[16:20], dst[:])
	binary.BigEndian.PutUint16(h[10:12], checksum(h[:ipv4HeaderLen], 0))
}

// fixTransportChecksum recomputes the TCP or UDP checksum of payload over
// the pseudo-header of src and dst. A payload too short to hold its
// checksum is left as it is: the receiving stack drops it.
func fixTransportChecksum(payload []byte, proto uint8, src, dst []byte) {
	var at int
	switch proto {
	case protoTCP:
		at = 16
	case protoUDP:
		at = 6
	default:
		return
	}
	if len(payload) < at+2 {
		return
	}
	if proto == protoUDP && payload[at] == 0 && payload[at+1] == 0 {
		return // no checksum (RFC 768)
	}
	payload[at], payload[at+1] = 0, 0
	pseudo := uint32(binary.BigEndian.Uint16(src[0:2])) + uint32(binary.BigEndian.Uint16(src[2:4])) +
		uint32(binary.BigEndian.Uint16(dst[0:2])) + uint32(binary.BigEndian.Uint16(dst[2:4])) +
		uint32(proto) + uint32(len(payload))
	sum := checksum(payload, pseudo)
	if proto == protoUDP && sum == 0 {
		sum = 0xffff
	}
	binary.BigEndian.PutUint16(payload[at:], sum)
}

// checksum returns the Internet checksum (RFC 1071) of b added to the
// partial sum initial.
func checksum(b []byte, initial uint32) uint16 {
	sum := uint64(initial)
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		sum += v >> 32
		sum += v & 0xffffffff
		b = b[8:]
	}
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
