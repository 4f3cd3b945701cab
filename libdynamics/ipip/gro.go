package ipip

import (
	"bytes"
	"encoding/binary"
)

// maxCoalesce is the most TCP segments one super-packet is made of.
const maxCoalesce = 64

// How a datagram of a write batch is written.
const (
	groPlain   = iota // as it is, with an empty virtio-net header
	groValid          // a TCP segment whose checksum was checked: marked so
	groSegment        // a TCP segment that may be coalesced with its flow's next
	groPartial        // a TCP super-packet the kernel coalesced before the raw socket (GRO)
)

// groSeg is what the coalescer knows of one datagram of a batch.
type groSeg struct {
	kind    int
	thl     int // TCP header length
	payload int // TCP payload length
	seq     uint32
	next    int // the next segment of its item, or -1
}

// groItem is one write: a datagram, or TCP segments of one flow coalesced
// into a super-packet.
type groItem struct {
	first, last int // indices into the batch
	count       int // datagrams
	bytes       int // their lengths added up
	payload     int // TCP payload bytes of all segments
}

// coalescer groups the datagrams of a write batch into writes for a TUN
// device with a virtio-net header: consecutive TCP segments of one flow,
// each with a good checksum, become one super-packet the kernel will
// segment again where it must (the receive offload the kernel does for
// network cards, done here because the raw socket hands over datagrams one
// by one). Segments coalesce only when the kernel's GRO would coalesce them:
// same addresses, ports, IPv4 TOS, TTL and DF, no IPv4 options, the same
// acknowledgment number, window and TCP options, only ACK (and PSH on the
// last) set, sequence numbers that follow on, and every segment but the last
// of the same size. A segment only joins the most recent item of its flow,
// so the order within a flow is kept.
//
// Its scratch space is reused from batch to batch: plan allocates nothing
// once it has seen the largest batch.
type coalescer struct {
	segs  []groSeg
	items []groItem
	iovs  [][]byte
}

// plan classifies pkts[i][offset:] (whole IPv4 datagrams, trimmed to their
// total length) and groups them into items, in the order of each item's
// first datagram.
func (c *coalescer) plan(pkts [][]byte, offset int) []groItem {
	if cap(c.segs) < len(pkts) {
		c.segs = make([]groSeg, len(pkts))
	}
	c.segs = c.segs[:len(pkts)]
	c.items = c.items[:0]
	for i, b := range pkts {
		p := b[offset:]
		s := &c.segs[i]
		*s = classify(p)
		if s.kind == groSegment && c.join(pkts, offset, i) {
			continue
		}
		c.items = append(c.items, groItem{first: i, last: i, count: 1, bytes: len(p), payload: s.payload})
	}
	return c.items
}

// join appends segment i to the most recent item of its flow if it may.
func (c *coalescer) join(pkts [][]byte, offset, i int) bool {
	p := pkts[i][offset:]
	for k := len(c.items) - 1; k >= 0; k-- {
		it := &c.items[k]
		head := pkts[it.first][offset:]
		if !sameFlow(head, p) {
			continue
		}
		// The most recent item of the flow: join it or start a new one.
		hs, ls, s := &c.segs[it.first], &c.segs[it.last], &c.segs[i]
		last := pkts[it.last][offset:]
		if hs.kind != groSegment || it.count >= maxCoalesce ||
			s.seq != hs.seq+uint32(it.payload) || s.payload > hs.payload || ls.payload != hs.payload ||
			HeaderLen+hs.thl+it.payload+s.payload > MaxPacketLen ||
			!mayFollow(head, last, p, hs.thl) {
			return false
		}
		ls.next = i
		it.last = i
		it.count++
		it.bytes += len(p)
		it.payload += s.payload
		return true
	}
	return false
}

// classify looks at one datagram of a write batch.
func classify(p []byte) groSeg {
	s := groSeg{kind: groPlain, next: -1}
	// decapsulate checked the version, header and total lengths.
	if len(p) < HeaderLen+tcpMinHeaderLen || p[0] != 4<<4|HeaderLen/4 || p[9] != protocolTCP ||
		binary.BigEndian.Uint16(p[6:8])&(flagMF|offsetMask) != 0 {
		return s
	}
	thl := int(p[HeaderLen+12]>>4) * 4
	if thl < tcpMinHeaderLen || HeaderLen+thl > len(p) {
		return s
	}
	tcp := p[HeaderLen:]
	pseudo := pseudoSum(p, protocolTCP, len(tcp))
	if add16(pseudo, sum16(tcp)) != 0xffff {
		// Not a good checksum: either the kernel coalesced the outer
		// datagrams (GRO) and left the pseudo-header sum for the
		// device to finish, or it is damaged and goes as it is for
		// the receiver to drop.
		if binary.BigEndian.Uint16(tcp[tcpChecksumOffset:]) == pseudo {
			s.kind, s.thl, s.payload = groPartial, thl, len(tcp)-thl
		}
		return s
	}
	s.kind, s.thl, s.payload = groValid, thl, len(tcp)-thl
	s.seq = binary.BigEndian.Uint32(tcp[4:8])
	if s.payload > 0 && tcp[13]&^tcpPSH == tcpACK {
		s.kind = groSegment
	}
	return s
}

// sameFlow reports whether IPv4 datagrams a and b have the same protocol,
// addresses and (for TCP) ports.
func sameFlow(a, b []byte) bool {
	return len(a) >= HeaderLen+4 && len(b) >= HeaderLen+4 && a[9] == b[9] &&
		bytes.Equal(a[12:20], b[12:20]) && bytes.Equal(a[HeaderLen:HeaderLen+4], b[HeaderLen:HeaderLen+4])
}

// mayFollow reports whether segment p may follow last in the item that
// head starts, as far as their headers go.
func mayFollow(head, last, p []byte, thl int) bool {
	ht, lt, pt := head[HeaderLen:], last[HeaderLen:], p[HeaderLen:]
	return len(pt) >= thl && lt[13]&tcpPSH == 0 &&
		head[1] == p[1] && head[8] == p[8] && head[6]&0x40 == p[6]&0x40 && // TOS, TTL, DF
		bytes.Equal(ht[8:12], pt[8:12]) && // acknowledgment number
		ht[12] == pt[12] && bytes.Equal(ht[14:16], pt[14:16]) && // header length, window
		bytes.Equal(ht[tcpMinHeaderLen:thl], pt[tcpMinHeaderLen:thl]) // options
}

// buffers finishes item it of the last plan and returns the buffers of its
// write, the virtio-net header first: each points into pkts, whose offset
// bytes of room before each datagram (at least vnetHeaderLen) take the
// header. The first datagram's headers are rewritten to describe the
// super-packet. mtu is the tunnel's inner MTU: a super-packet the kernel
// coalesced is marked for segmentation at that size. The result is valid
// until the next call.
func (c *coalescer) buffers(pkts [][]byte, offset int, it groItem, mtu int) [][]byte {
	c.iovs = c.iovs[:0]
	first := pkts[it.first]
	p := first[offset:]
	s := &c.segs[it.first]
	var h vnetHeader
	switch s.kind {
	case groValid:
		h.flags = vnetDataValid
	case groSegment:
		if it.count == 1 {
			h.flags = vnetDataValid
			break
		}
		tcp := p[HeaderLen:]
		total := HeaderLen + s.thl + it.payload
		binary.BigEndian.PutUint16(p[2:4], uint16(total))
		p[10], p[11] = 0, 0
		binary.BigEndian.PutUint16(p[10:12], checksum(p[:HeaderLen], 0))
		tcp[13] |= pkts[it.last][offset+HeaderLen+13] & tcpPSH
		binary.BigEndian.PutUint16(tcp[tcpChecksumOffset:], pseudoSum(p, protocolTCP, s.thl+it.payload))
		h = vnetHeader{
			flags:   vnetNeedsCsum,
			gsoType: vnetGSOTCPv4,
			hdrLen:  uint16(HeaderLen + s.thl), gsoSize: uint16(s.payload),
			csumStart: HeaderLen, csumOffset: tcpChecksumOffset,
		}
	case groPartial:
		h = vnetHeader{flags: vnetNeedsCsum, hdrLen: uint16(HeaderLen + s.thl), csumStart: HeaderLen, csumOffset: tcpChecksumOffset}
		if mss := mtu - HeaderLen - s.thl; mss > 0 && s.payload > mss {
			h.gsoType, h.gsoSize = vnetGSOTCPv4, uint16(mss)
		}
	}
	h.marshal(first[offset-vnetHeaderLen : offset])
	c.iovs = append(c.iovs, first[offset-vnetHeaderLen:])
	for i := c.segs[it.first].next; i >= 0; i = c.segs[i].next {
		c.iovs = append(c.iovs, pkts[i][offset+HeaderLen+c.segs[i].thl:])
	}
	return c.iovs
}
