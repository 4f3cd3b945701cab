package ipip

import "encoding/binary"

// Numbers of the TCP header (RFC 793, RFC 3168 for ECE and CWR).
const (
	protocolTCP = 6

	tcpMinHeaderLen   = 20
	tcpChecksumOffset = 16

	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
	tcpURG = 0x20
	tcpECE = 0x40
	tcpCWR = 0x80
)

// segmenter hands out, one datagram at a time, what a TUN device with
// offloads returned in one read: a datagram whose transport checksum may be
// left for the reader to finish (vnetNeedsCsum), or a TCP/IPv4 super-packet
// of up to 64 KiB to be cut into segments of gsoSize payload bytes
// (vnetGSOTCPv4), as the kernel's tcp_gso_segment would cut it: each
// segment gets the IPv4 header with its own total length, an identification
// one more than the previous and a fresh header checksum, and the TCP header
// with its own sequence number and a full checksum; FIN and PSH stay on the
// last segment only and CWR on the first only.
//
// Anything it cannot segment (another segmentation type, a header that does
// not describe the datagram) it hands out whole, as it came, so that the
// driver's own checks count or answer it.
type segmenter struct {
	pkt []byte // the datagram, valid until the next start

	// For segmentation; mss is 0 when pkt is handed out whole.
	ihl, thl int
	mss      int
	off      int // payload offset of the next segment
	id       uint16
	seq      uint32

	pending bool // something is left to hand out
}

// start takes the datagram pkt read with header h; next then hands it out.
// pkt must stay unchanged until next has handed out everything.
func (s *segmenter) start(h vnetHeader, pkt []byte) {
	*s = segmenter{pkt: pkt, pending: true}
	if h.gsoType&^vnetGSOECN == vnetGSOTCPv4 && s.startTCP(h) {
		return
	}
	s.mss = 0
	if h.flags&vnetNeedsCsum != 0 {
		finishChecksum(pkt, int(h.csumStart), int(h.csumOffset))
	}
}

// startTCP checks that pkt is the TCP/IPv4 super-packet h describes and
// prepares to segment it.
func (s *segmenter) startTCP(h vnetHeader) bool {
	p := s.pkt
	if len(p) < HeaderLen+tcpMinHeaderLen || p[0]>>4 != 4 || p[9] != protocolTCP || h.gsoSize == 0 {
		return false
	}
	ihl := int(p[0]&0x0f) * 4
	if ihl < HeaderLen || int(binary.BigEndian.Uint16(p[2:4])) != len(p) ||
		binary.BigEndian.Uint16(p[6:8])&(flagMF|offsetMask) != 0 || ihl+tcpMinHeaderLen > len(p) {
		return false
	}
	thl := int(p[ihl+12]>>4) * 4
	if thl < tcpMinHeaderLen || ihl+thl > len(p) {
		return false
	}
	s.ihl, s.thl, s.mss = ihl, thl, int(h.gsoSize)
	s.id = binary.BigEndian.Uint16(p[4:6])
	s.seq = binary.BigEndian.Uint32(p[ihl+4 : ihl+8])
	return true
}

// next writes the next datagram into dst and returns its length, or false if
// nothing is left. A datagram longer than dst is cut short to len(dst)
// bytes, its headers still giving its whole length.
func (s *segmenter) next(dst []byte) (int, bool) {
	if !s.pending {
		return 0, false
	}
	if s.mss == 0 {
		s.pending = false
		return copy(dst, s.pkt), true
	}
	hdrs := s.ihl + s.thl
	payload := s.pkt[hdrs:]
	first := s.off == 0
	n := min(s.mss, len(payload)-s.off)
	chunk := payload[s.off : s.off+n]
	s.off += n
	last := s.off >= len(payload)
	s.pending = !last

	var hb [60 + 60]byte // the longest IPv4 and TCP headers
	h := hb[:hdrs]
	copy(h, s.pkt[:hdrs])
	ip, tcp := h[:s.ihl], h[s.ihl:]
	binary.BigEndian.PutUint16(ip[2:4], uint16(hdrs+n))
	binary.BigEndian.PutUint16(ip[4:6], s.id)
	s.id++
	ip[10], ip[11] = 0, 0
	binary.BigEndian.PutUint16(ip[10:12], checksum(ip, 0))
	binary.BigEndian.PutUint32(tcp[4:8], s.seq)
	s.seq += uint32(n)
	if !first {
		tcp[13] &^= tcpCWR
	}
	if !last {
		tcp[13] &^= tcpFIN | tcpPSH
	}
	tcp[16], tcp[17] = 0, 0
	sum := add16(add16(pseudoSum(ip, protocolTCP, s.thl+n), sum16(tcp)), sum16(chunk))
	binary.BigEndian.PutUint16(tcp[16:18], ^sum)

	w := copy(dst, h)
	w += copy(dst[w:], chunk)
	return w, true
}

// finishChecksum completes a transport checksum the kernel left partial: the
// field at start+offset holds the pseudo-header sum, and the checksum covers
// everything from start. A zero result is sent as 0xffff, which means the
// same for TCP and keeps a UDP checksum from reading as none (RFC 768). It
// reports false, changing nothing, when the offsets do not fit p.
func finishChecksum(p []byte, start, offset int) bool {
	if start < 0 || offset < 0 || start+offset+2 > len(p) {
		return false
	}
	c := ^sum16(p[start:])
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(p[start+offset:], c)
	return true
}
