package ipip

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/dynamics-go/dynamics/internal/tsharktest"
)

// FuzzDecapsulate checks that Decapsulate never panics, that what it accepts
// survives Encapsulate then Decapsulate unchanged, and that the outer
// datagram Encapsulate builds is one Decapsulate accepts.
func FuzzDecapsulate(f *testing.F) {
	for _, inner := range [][]byte{echo(0x10, true), echo(0, false), bigEcho()} {
		outer, err := Encapsulate(nil, inner, outerA, outerB, 64)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(outer)
	}
	f.Fuzz(func(t *testing.T, outer []byte) {
		inner, src, dst, err := Decapsulate(outer)
		if err != nil {
			if inner != nil {
				t.Fatalf("error %v with %d inner bytes", err, len(inner))
			}
			return
		}
		again, err := Encapsulate(nil, inner, src, dst, outer[8])
		if err != nil {
			t.Fatalf("Encapsulate of accepted inner datagram: %v", err)
		}
		inner2, src2, dst2, err := Decapsulate(again)
		if err != nil {
			t.Fatalf("Decapsulate of re-encapsulated datagram: %v", err)
		}
		if src2 != src || dst2 != dst || !bytes.Equal(inner2, inner) {
			t.Fatalf("round trip changed %s > %s % x into %s > %s % x", src, dst, inner, src2, dst2, inner2)
		}
		if again[1] != inner[1] || again[6]&0x40 != inner[6]&0x40 {
			t.Fatalf("TOS or DF not copied: outer % x inner % x", again[:8], inner[:8])
		}
	})
}

// FuzzParseVnetHeader checks that parseVnetHeader never panics and that
// what it accepts marshals back to the same bytes and parses the same.
func FuzzParseVnetHeader(f *testing.F) {
	for _, h := range []vnetHeader{
		{},
		{flags: vnetDataValid},
		{flags: vnetNeedsCsum, csumStart: 20, csumOffset: 6},
		{flags: vnetNeedsCsum, gsoType: vnetGSOTCPv4 | vnetGSOECN, hdrLen: 52, gsoSize: 1428, csumStart: 20, csumOffset: 16},
	} {
		b := make([]byte, vnetHeaderLen)
		h.marshal(b)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseVnetHeader(b)
		if err != nil {
			return
		}
		out := make([]byte, vnetHeaderLen)
		h.marshal(out)
		if !bytes.Equal(out, b[:vnetHeaderLen]) {
			t.Fatalf("parse then marshal turned % x into % x", b[:vnetHeaderLen], out)
		}
		again, err := parseVnetHeader(out)
		if err != nil || again != h {
			t.Fatalf("reparse: %+v, %v; want %+v", again, err, h)
		}
	})
}

// FuzzSegment feeds the segmenter what a TUN device might return: it must
// never panic or write past a buffer, and a TCP super-packet it segments
// must come back, coalesced, with the same payload.
func FuzzSegment(f *testing.F) {
	hdr := func(h vnetHeader) []byte {
		b := make([]byte, vnetHeaderLen)
		h.marshal(b)
		return b
	}
	tso := vnetHeader{flags: vnetNeedsCsum, gsoType: vnetGSOTCPv4, hdrLen: 52, gsoSize: 500, csumStart: 20, csumOffset: 16}
	f.Add(hdr(tso), superPacket(1800, tcpACK|tcpPSH))
	f.Add(hdr(tso), superPacket(0, tcpACK))
	f.Add(hdr(vnetHeader{flags: vnetNeedsCsum, csumStart: 20, csumOffset: 6}), tsharktest.UDP(innerA, innerB, 1, 2, []byte("x")))
	f.Add(hdr(vnetHeader{}), echo(0, true))
	f.Fuzz(func(t *testing.T, vh, pkt []byte) {
		h, err := parseVnetHeader(vh)
		if err != nil {
			return
		}
		orig := append([]byte(nil), pkt...)
		var s segmenter
		s.start(h, pkt)
		var segs [][]byte
		for range 70000 {
			buf := make([]byte, 1600)
			n, ok := s.next(buf)
			if !ok {
				break
			}
			if n > len(buf) {
				t.Fatalf("segment of %d bytes in a %d-byte buffer", n, len(buf))
			}
			segs = append(segs, buf[:n])
		}
		if s.pending {
			t.Fatalf("segmenter never ran dry")
		}
		if s.mss == 0 || len(segs) < 2 || s.thl+s.ihl+s.mss > 1600 || s.ihl != HeaderLen {
			return
		}
		// Segmented: every segment verifies, and coalescing them (the
		// flags permitting) gives back the payload.
		var payload []byte
		for i, g := range segs {
			if !tcpChecksumOK(g) {
				t.Fatalf("segment %d does not verify", i)
			}
			payload = append(payload, g[s.ihl+s.thl:]...)
		}
		if !bytes.Equal(payload, orig[s.ihl+s.thl:]) {
			t.Fatalf("segments do not carry the payload")
		}
		hs, ps := writes(t, batch(segs...), 1480)
		if len(ps) == 1 && hs[0].gsoType == vnetGSOTCPv4 && !bytes.Equal(ps[0][s.ihl+s.thl:], payload) {
			t.Fatalf("coalesced super-packet does not carry the payload")
		}
	})
}

// FuzzCoalesce runs arbitrary datagrams through the coalescer: it must
// never panic, every datagram must be written exactly once, and the
// payload bytes must all be there.
func FuzzCoalesce(f *testing.F) {
	join := func(ps ...[]byte) []byte {
		var b []byte
		for _, p := range ps {
			b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
			b = append(b, p...)
		}
		return b
	}
	f.Add(join(tcpSegment(1, tcpACK, []byte("abc")), tcpSegment(4, tcpACK, []byte("def"))))
	f.Add(join(tcpSegment(1, tcpACK, []byte("abc")), echo(0, true), superPacket(3000, tcpACK)))
	f.Fuzz(func(t *testing.T, b []byte) {
		var pkts [][]byte
		for len(b) >= 2 && len(pkts) < batchSize {
			n := min(int(binary.BigEndian.Uint16(b)), len(b)-2)
			p := b[2 : 2+n]
			b = b[2+n:]
			// The receive path hands on only what decapsulate
			// accepted: trimmed to the total length.
			if _, total, err := checkHeader(p); err == nil {
				pkts = append(pkts, append(make([]byte, HeaderLen), p[:total]...))
			}
		}
		var c coalescer
		seen := make([]int, len(pkts))
		for _, it := range c.plan(pkts, HeaderLen) {
			n := 0
			for i := it.first; i >= 0; i = c.segs[i].next {
				seen[i]++
				n++
			}
			if n != it.count {
				t.Fatalf("item of %d datagrams lists %d", it.count, n)
			}
			bufs := c.buffers(pkts, HeaderLen, it, 1480)
			if _, err := parseVnetHeader(bufs[0]); err != nil {
				t.Fatalf("written header: %v", err)
			}
		}
		for i, n := range seen {
			if n != 1 {
				t.Fatalf("datagram %d written %d times", i, n)
			}
		}
	})
}
