package ipip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/dynamics-go/dynamics/internal/tsharktest"
)

// tcpOpts is a TCP timestamps option padded as Linux sends it.
var tcpOpts = []byte{1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78}

// tcpSegment is a TCP/IPv4 datagram from innerA:40000 to innerB:5201 with
// the given sequence number, flags and payload, the timestamps option,
// DF set, and both checksums computed by the reference implementation.
func tcpSegment(seq uint32, flags byte, payload []byte) []byte {
	return tcpFrom(innerA, 40000, seq, flags, payload)
}

func tcpFrom(src netip.Addr, sport uint16, seq uint32, flags byte, payload []byte) []byte {
	thl := tcpMinHeaderLen + len(tcpOpts)
	tcp := make([]byte, thl, thl+len(payload))
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], 0xa0b0c0d0)
	tcp[12] = byte(thl/4) << 4
	tcp[13] = flags
	binary.BigEndian.PutUint16(tcp[14:], 502)
	copy(tcp[tcpMinHeaderLen:], tcpOpts)
	tcp = append(tcp, payload...)
	p := tsharktest.IPv4(src, innerB, protocolTCP, tcp)
	p[1] = 0x08 // TOS
	p[6] = 0x40 // DF
	binary.BigEndian.PutUint16(p[4:], 0x1000)
	fixTCP(p)
	return p
}

// fixTCP recomputes both checksums of a TCP/IPv4 datagram with the
// reference implementation.
func fixTCP(p []byte) {
	p[10], p[11] = 0, 0
	binary.BigEndian.PutUint16(p[10:], tsharktest.Checksum(p[:HeaderLen]))
	tcp := p[HeaderLen:]
	tcp[16], tcp[17] = 0, 0
	binary.BigEndian.PutUint16(tcp[16:], tsharktest.Checksum(append(pseudoHeader(p, len(tcp)), tcp...)))
}

// pseudoHeader is the TCP/IPv4 pseudo-header of a segment of n bytes.
func pseudoHeader(p []byte, n int) []byte {
	return append(append([]byte{}, p[12:20]...), 0, protocolTCP, byte(n>>8), byte(n))
}

// tcpChecksumOK verifies a TCP/IPv4 datagram's checksums with the reference
// implementation.
func tcpChecksumOK(p []byte) bool {
	tcp := p[HeaderLen:]
	return tsharktest.Checksum(p[:HeaderLen]) == 0 && tsharktest.Checksum(append(pseudoHeader(p, len(tcp)), tcp...)) == 0
}

func payloadOf(n, seed int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), uint64(seed)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestChecksumMatchesReference(t *testing.T) {
	for n := range 200 {
		b := payloadOf(n, 1)
		if got, want := checksum(b, 0), tsharktest.Checksum(b); got != want {
			t.Fatalf("%d bytes: checksum %#04x, reference %#04x", n, got, want)
		}
	}
	// All ones and all zeros, where folding carries matter.
	for _, b := range [][]byte{bytes.Repeat([]byte{0xff}, 64), make([]byte, 64), bytes.Repeat([]byte{0xff}, 65537)} {
		if got, want := checksum(b, 0), tsharktest.Checksum(b); got != want {
			t.Errorf("%d bytes of %#x: checksum %#04x, reference %#04x", len(b), b[0], got, want)
		}
	}
	// An initial sum of 0x1ffff folds to 1.
	b := payloadOf(100, 2)
	if got, want := checksum(b, 0x1ffff), tsharktest.Checksum(append([]byte{0, 1}, b...)); got != want {
		t.Errorf("with an initial sum: %#04x, want %#04x", got, want)
	}
}

func TestVnetHeader(t *testing.T) {
	h := vnetHeader{flags: vnetNeedsCsum, gsoType: vnetGSOTCPv4 | vnetGSOECN, hdrLen: 52, gsoSize: 1428, csumStart: 20, csumOffset: 16}
	b := make([]byte, vnetHeaderLen)
	h.marshal(b)
	var want [vnetHeaderLen]byte
	want[0], want[1] = 1, 0x81
	binary.NativeEndian.PutUint16(want[2:], 52)
	binary.NativeEndian.PutUint16(want[4:], 1428)
	binary.NativeEndian.PutUint16(want[6:], 20)
	binary.NativeEndian.PutUint16(want[8:], 16)
	if !bytes.Equal(b, want[:]) {
		t.Errorf("marshal: % x, want % x", b, want)
	}
	got, err := parseVnetHeader(b)
	if err != nil || got != h {
		t.Errorf("parse: %+v, %v; want %+v", got, err, h)
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"short", b[:9]},
		{"unknown flag", []byte{0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"unknown segmentation", []byte{0, 2, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"ECN alone", []byte{0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0}},
	} {
		if _, err := parseVnetHeader(tc.b); !errors.Is(err, ErrVnetHeader) {
			t.Errorf("%s: err = %v, want ErrVnetHeader", tc.name, err)
		}
	}
}

// segmentAll hands out everything s holds into buffers of size bytes.
func segmentAll(s *segmenter, size int) [][]byte {
	var out [][]byte
	for {
		buf := make([]byte, size)
		n, ok := s.next(buf)
		if !ok {
			return out
		}
		out = append(out, buf[:n])
	}
}

// superPacket is a TCP super-packet of n payload bytes with the given flags,
// and its checksum field left holding the pseudo-header sum as the kernel
// leaves it.
func superPacket(n int, flags byte) []byte {
	p := tcpSegment(1000, flags, payloadOf(n, 3))
	binary.BigEndian.PutUint16(p[HeaderLen+16:], pseudoSum(p, protocolTCP, len(p)-HeaderLen))
	return p
}

func TestSegmentTCP(t *testing.T) {
	const mss = 1000
	super := superPacket(3500, tcpACK|tcpPSH|tcpFIN|tcpCWR)
	orig := append([]byte(nil), super...)
	var s segmenter
	s.start(vnetHeader{flags: vnetNeedsCsum, gsoType: vnetGSOTCPv4 | vnetGSOECN, hdrLen: 52, gsoSize: mss, csumStart: 20, csumOffset: 16}, super)
	segs := segmentAll(&s, 1500)
	if len(segs) != 4 {
		t.Fatalf("%d segments, want 4", len(segs))
	}
	var payload []byte
	for i, g := range segs {
		n := min(mss, 3500-i*mss)
		if len(g) != 52+n || int(binary.BigEndian.Uint16(g[2:4])) != len(g) {
			t.Errorf("segment %d: %d bytes, total length %d, want %d", i, len(g), binary.BigEndian.Uint16(g[2:4]), 52+n)
		}
		if !tcpChecksumOK(g) {
			t.Errorf("segment %d: checksums do not verify with the reference", i)
		}
		if id := binary.BigEndian.Uint16(g[4:6]); id != 0x1000+uint16(i) {
			t.Errorf("segment %d: IP id %#x, want %#x", i, id, 0x1000+i)
		}
		if seq := binary.BigEndian.Uint32(g[HeaderLen+4:]); seq != 1000+uint32(i*mss) {
			t.Errorf("segment %d: seq %d", i, seq)
		}
		flags := g[HeaderLen+13]
		want := byte(tcpACK)
		if i == 0 {
			want |= tcpCWR
		}
		if i == len(segs)-1 {
			want |= tcpPSH | tcpFIN
		}
		if flags != want {
			t.Errorf("segment %d: flags %#x, want %#x", i, flags, want)
		}
		// Everything else in the headers is the super-packet's.
		if !bytes.Equal(g[:2], orig[:2]) || !bytes.Equal(g[6:10], orig[6:10]) || !bytes.Equal(g[12:20], orig[12:20]) ||
			!bytes.Equal(g[HeaderLen:HeaderLen+4], orig[HeaderLen:HeaderLen+4]) || !bytes.Equal(g[HeaderLen+8:HeaderLen+13], orig[HeaderLen+8:HeaderLen+13]) ||
			!bytes.Equal(g[HeaderLen+14:HeaderLen+16], orig[HeaderLen+14:HeaderLen+16]) || !bytes.Equal(g[HeaderLen+18:52], orig[HeaderLen+18:52]) {
			t.Errorf("segment %d: headers differ from the super-packet's:\n% x\n% x", i, g[:52], orig[:52])
		}
		payload = append(payload, g[52:]...)
	}
	if !bytes.Equal(payload, orig[52:]) {
		t.Errorf("segments do not carry the super-packet's payload")
	}
	if !bytes.Equal(super, orig) {
		t.Errorf("segmenting changed the super-packet")
	}
}

func TestSegmentCutShort(t *testing.T) {
	var s segmenter
	s.start(vnetHeader{gsoType: vnetGSOTCPv4, gsoSize: 1400}, superPacket(2800, tcpACK))
	segs := segmentAll(&s, 1000)
	if len(segs) != 2 || len(segs[0]) != 1000 || binary.BigEndian.Uint16(segs[0][2:4]) != 1452 {
		t.Errorf("segments into short buffers: %d, first %d bytes claiming %d", len(segs), len(segs[0]), binary.BigEndian.Uint16(segs[0][2:4]))
	}
}

func TestSegmentPassesOn(t *testing.T) {
	udp := tsharktest.UDP(innerA, innerB, 1, 2, []byte("hello"))
	for _, tc := range []struct {
		name string
		h    vnetHeader
		p    []byte
	}{
		{"plain", vnetHeader{}, echo(0, true)},
		{"UDP offload", vnetHeader{gsoType: vnetGSOUDPL4, gsoSize: 100}, udp},
		{"TCP offload on UDP", vnetHeader{gsoType: vnetGSOTCPv4, gsoSize: 100}, udp},
		{"zero segment size", vnetHeader{gsoType: vnetGSOTCPv4}, superPacket(100, tcpACK)},
		{"total length lies", vnetHeader{gsoType: vnetGSOTCPv4, gsoSize: 10}, superPacket(100, tcpACK)[:120]},
		{"checksum offsets past the end", vnetHeader{flags: vnetNeedsCsum, csumStart: 20, csumOffset: 200}, echo(0, true)},
	} {
		var s segmenter
		orig := append([]byte(nil), tc.p...)
		s.start(tc.h, tc.p)
		segs := segmentAll(&s, 2000)
		if len(segs) != 1 || !bytes.Equal(segs[0], orig) {
			t.Errorf("%s: handed out %d datagrams, want it whole", tc.name, len(segs))
		}
	}
}

func TestSegmentFinishesChecksum(t *testing.T) {
	udp := tsharktest.UDP(innerA, innerB, 1, 2, []byte("hello, world"))
	want := append([]byte(nil), udp...)
	// Leave the pseudo-header sum in the checksum field, as the kernel
	// does with the checksum offload on.
	binary.BigEndian.PutUint16(udp[HeaderLen+6:], pseudoSum(udp, 17, len(udp)-HeaderLen))
	var s segmenter
	s.start(vnetHeader{flags: vnetNeedsCsum, csumStart: HeaderLen, csumOffset: 6}, udp)
	if segs := segmentAll(&s, 2000); len(segs) != 1 || !bytes.Equal(segs[0], want) {
		t.Errorf("finished UDP datagram\n got % x\nwant % x", segs, want)
	}

	// A sum of zero goes out as 0xffff.
	p := make([]byte, 8)
	binary.BigEndian.PutUint16(p[6:], 0xffff)
	if !finishChecksum(p, 0, 6) || binary.BigEndian.Uint16(p[6:]) != 0xffff {
		t.Errorf("zero checksum written as %#04x", binary.BigEndian.Uint16(p[6:]))
	}
}

// batch lays datagrams out as the receive path hands them to a device:
// each behind room for the virtio-net header.
func batch(pkts ...[]byte) [][]byte {
	out := make([][]byte, len(pkts))
	for i, p := range pkts {
		out[i] = append(make([]byte, HeaderLen), p...)
	}
	return out
}

// writes runs a write batch through a coalescer and returns each write as
// its virtio-net header and its datagram.
func writes(t *testing.T, pkts [][]byte, mtu int) ([]vnetHeader, [][]byte) {
	t.Helper()
	var c coalescer
	var hs []vnetHeader
	var ps [][]byte
	total := 0
	for _, it := range c.plan(pkts, HeaderLen) {
		bufs := c.buffers(pkts, HeaderLen, it, mtu)
		b := bytes.Join(bufs, nil)
		h, err := parseVnetHeader(b)
		if err != nil {
			t.Fatalf("write %d: %v", len(hs), err)
		}
		hs = append(hs, h)
		ps = append(ps, b[vnetHeaderLen:])
		total += it.count
	}
	if total != len(pkts) {
		t.Fatalf("items hold %d datagrams, batch has %d", total, len(pkts))
	}
	return hs, ps
}

func TestCoalesce(t *testing.T) {
	const mss = 1000
	var segs [][]byte
	for i := range 4 {
		flags := byte(tcpACK)
		if i == 3 {
			flags |= tcpPSH
		}
		segs = append(segs, tcpSegment(1000+uint32(i*mss), flags, payloadOf(mss-i/3*400, i)))
	}
	hs, ps := writes(t, batch(segs...), 1480)
	if len(ps) != 1 {
		t.Fatalf("%d writes, want one super-packet", len(ps))
	}
	h, p := hs[0], ps[0]
	if h != (vnetHeader{flags: vnetNeedsCsum, gsoType: vnetGSOTCPv4, hdrLen: 52, gsoSize: mss, csumStart: 20, csumOffset: 16}) {
		t.Errorf("header %+v", h)
	}
	var payload []byte
	for _, g := range segs {
		payload = append(payload, g[52:]...)
	}
	if len(p) != 52+len(payload) || int(binary.BigEndian.Uint16(p[2:4])) != len(p) || !bytes.Equal(p[52:], payload) {
		t.Fatalf("super-packet of %d bytes (total length %d), want %d", len(p), binary.BigEndian.Uint16(p[2:4]), 52+len(payload))
	}
	if p[HeaderLen+13] != tcpACK|tcpPSH {
		t.Errorf("flags %#x, want ACK|PSH from the last segment", p[HeaderLen+13])
	}
	// The kernel finishes the checksum; then it verifies.
	done := append([]byte(nil), p...)
	if !finishChecksum(done, int(h.csumStart), int(h.csumOffset)) || !tcpChecksumOK(done) {
		t.Errorf("finished super-packet does not verify with the reference")
	}
	// Segmenting it again, as the kernel will, gives back the segments.
	var s segmenter
	s.start(h, p)
	again := segmentAll(&s, 1500)
	if len(again) != len(segs) {
		t.Fatalf("%d segments again, want %d", len(again), len(segs))
	}
	for i := range segs {
		if !bytes.Equal(again[i], segs[i]) && !bytes.Equal(again[i][HeaderLen:], segs[i][HeaderLen:]) {
			t.Errorf("segment %d differs after coalescing and segmenting", i)
		}
	}
}

func TestCoalesceKeepsApart(t *testing.T) {
	pl := func(n int) []byte { return payloadOf(n, 7) }
	seg := func(seq uint32, n int) []byte { return tcpSegment(seq, tcpACK, pl(n)) }
	with := func(p []byte, edit func(p []byte)) []byte {
		p = append([]byte(nil), p...)
		edit(p)
		fixTCP(p)
		return p
	}
	badSum := seg(1100, 100)
	badSum[60] ^= 0xff
	big := make([][]byte, 0, maxCoalesce+1)
	for i := range maxCoalesce + 1 {
		big = append(big, seg(uint32(1000+i*10), 10))
	}
	for _, tc := range []struct {
		name   string
		pkts   [][]byte
		counts []int // datagrams per write
	}{
		{"sequence gap", [][]byte{seg(1000, 100), seg(1200, 100)}, []int{1, 1}},
		{"out of order", [][]byte{seg(1100, 100), seg(1000, 100)}, []int{1, 1}},
		{"other flow", [][]byte{seg(1000, 100), tcpFrom(innerA, 40001, 1100, tcpACK, pl(100))}, []int{1, 1}},
		{"other acknowledgment", [][]byte{seg(1000, 100), with(seg(1100, 100), func(p []byte) { p[HeaderLen+11]++ })}, []int{1, 1}},
		{"other window", [][]byte{seg(1000, 100), with(seg(1100, 100), func(p []byte) { p[HeaderLen+15]++ })}, []int{1, 1}},
		{"other options", [][]byte{seg(1000, 100), with(seg(1100, 100), func(p []byte) { p[HeaderLen+27]++ })}, []int{1, 1}},
		{"other TOS", [][]byte{seg(1000, 100), with(seg(1100, 100), func(p []byte) { p[1] = 0 })}, []int{1, 1}},
		{"other TTL", [][]byte{seg(1000, 100), with(seg(1100, 100), func(p []byte) { p[8]-- })}, []int{1, 1}},
		{"after PSH", [][]byte{tcpSegment(1000, tcpACK|tcpPSH, pl(100)), seg(1100, 100)}, []int{1, 1}},
		{"FIN", [][]byte{seg(1000, 100), tcpSegment(1100, tcpACK|tcpFIN, pl(100))}, []int{1, 1}},
		{"CWR", [][]byte{tcpSegment(1000, tcpACK|tcpCWR, pl(100)), seg(1100, 100)}, []int{1, 1}},
		{"larger than the first", [][]byte{seg(1000, 100), seg(1100, 200)}, []int{1, 1}},
		{"after a short one", [][]byte{seg(1000, 100), seg(1100, 50), seg(1150, 50)}, []int{2, 1}},
		{"bad checksum", [][]byte{seg(1000, 100), badSum}, []int{1, 1}},
		{"no payload", [][]byte{seg(1000, 0), seg(1000, 100)}, []int{1, 1}},
		{"not TCP", [][]byte{echo(0, true), echo(0, true)}, []int{1, 1}},
		{"too many", big, []int{maxCoalesce, 1}},
		{"too long", [][]byte{seg(1000, 40000), seg(41000, 40000)}, []int{1, 1}},
		{"interleaved flows", [][]byte{seg(1000, 100), tcpFrom(innerA, 40001, 5, tcpACK, pl(100)), seg(1100, 100), tcpFrom(innerA, 40001, 105, tcpACK, pl(100))}, []int{2, 2}},
		{"flow resumed after a break", [][]byte{seg(1000, 100), seg(5000, 100), seg(1100, 100)}, []int{1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c coalescer
			pkts := batch(tc.pkts...)
			var counts []int
			for _, it := range c.plan(pkts, HeaderLen) {
				counts = append(counts, it.count)
			}
			if fmt.Sprint(counts) != fmt.Sprint(tc.counts) {
				t.Errorf("writes of %v datagrams, want %v", counts, tc.counts)
			}
		})
	}
}

func TestCoalesceMarks(t *testing.T) {
	good := tcpSegment(1000, tcpACK|tcpSYN, nil)
	bad := tcpSegment(1000, tcpACK, payloadOf(10, 1))
	bad[HeaderLen+16] ^= 1
	hs, ps := writes(t, batch(good, bad, echo(0, true)), 1480)
	if hs[0] != (vnetHeader{flags: vnetDataValid}) || !bytes.Equal(ps[0], good) {
		t.Errorf("checked segment written with %+v", hs[0])
	}
	if hs[1] != (vnetHeader{}) || !bytes.Equal(ps[1], bad) {
		t.Errorf("damaged segment written with %+v, or changed", hs[1])
	}
	if hs[2] != (vnetHeader{}) {
		t.Errorf("ICMP written with %+v", hs[2])
	}
}

// TestCoalesceKernelGRO: a datagram the kernel coalesced before the raw
// socket carries the pseudo-header sum where its checksum goes; it is
// written for the kernel to finish and, if longer than the tunnel MTU, to
// segment.
func TestCoalesceKernelGRO(t *testing.T) {
	super := superPacket(5000, tcpACK)
	hs, ps := writes(t, batch(super), 1480)
	want := vnetHeader{flags: vnetNeedsCsum, gsoType: vnetGSOTCPv4, hdrLen: 52, gsoSize: 1480 - 52, csumStart: 20, csumOffset: 16}
	if hs[0] != want || !bytes.Equal(ps[0], super) {
		t.Errorf("header %+v, want %+v", hs[0], want)
	}
	small := superPacket(500, tcpACK)
	hs, _ = writes(t, batch(small), 1480)
	if want := (vnetHeader{flags: vnetNeedsCsum, hdrLen: 52, csumStart: 20, csumOffset: 16}); hs[0] != want {
		t.Errorf("short one: header %+v, want %+v", hs[0], want)
	}
}

func TestCoalesceAllocations(t *testing.T) {
	var segs [][]byte
	for i := range 40 {
		segs = append(segs, tcpSegment(uint32(1000+i*1000), tcpACK, payloadOf(1000, i)))
	}
	pkts := batch(segs...)
	var c coalescer
	run := func() {
		for _, it := range c.plan(pkts, HeaderLen) {
			c.buffers(pkts, HeaderLen, it, 1480)
		}
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("%v allocations per batch", n)
	}
	var s segmenter
	super := superPacket(60000, tcpACK)
	buf := make([]byte, 1500)
	if n := testing.AllocsPerRun(100, func() {
		s.start(vnetHeader{gsoType: vnetGSOTCPv4, gsoSize: 1428}, super)
		for {
			if _, ok := s.next(buf); !ok {
				break
			}
		}
	}); n != 0 {
		t.Errorf("%v allocations per super-packet", n)
	}
}

func BenchmarkSegment(b *testing.B) {
	super := superPacket(65000, tcpACK)
	buf := make([]byte, 1500)
	b.SetBytes(int64(len(super)))
	var s segmenter
	for b.Loop() {
		s.start(vnetHeader{gsoType: vnetGSOTCPv4, gsoSize: 1428}, super)
		for {
			if _, ok := s.next(buf); !ok {
				break
			}
		}
	}
}

func BenchmarkCoalesce(b *testing.B) {
	var segs [][]byte
	for i := range 45 {
		segs = append(segs, tcpSegment(uint32(1000+i*1428), tcpACK, payloadOf(1428, i)))
	}
	pkts := batch(segs...)
	orig := make([][]byte, len(pkts))
	for i := range pkts {
		orig[i] = append([]byte(nil), pkts[i]...)
	}
	b.SetBytes(45 * 1480)
	var c coalescer
	for b.Loop() {
		for i := range pkts {
			copy(pkts[i], orig[i]) // buffers rewrote the first datagram
		}
		for _, it := range c.plan(pkts, HeaderLen) {
			c.buffers(pkts, HeaderLen, it, 1480)
		}
	}
}
