package ipip

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"

	"github.com/dynamics-go/dynamics/internal/tsharktest"
)

// Addresses of the two-host testbed: A and B on a veth, each with a tunnel
// to the other and an inner address routed through it.
var (
	outerA = netip.MustParseAddr("192.0.2.1")
	outerB = netip.MustParseAddr("192.0.2.2")
	innerA = netip.MustParseAddr("10.99.0.1")
	innerB = netip.MustParseAddr("10.99.0.2")
)

// echo is an ICMP echo request from innerA to innerB with the given TOS and
// DF bit and a 56-byte payload, as ping sends it.
func echo(tos byte, df bool) []byte {
	msg := make([]byte, 8+56)
	msg[0] = 8 // echo request
	binary.BigEndian.PutUint16(msg[4:], 0x1234)
	binary.BigEndian.PutUint16(msg[6:], 1)
	for i := 8; i < len(msg); i++ {
		msg[i] = byte(i)
	}
	binary.BigEndian.PutUint16(msg[2:], tsharktest.Checksum(msg))
	p := tsharktest.IPv4(innerA, innerB, 1, msg)
	p[1] = tos
	if df {
		p[6] |= 0x40
	}
	p[10], p[11] = 0, 0
	binary.BigEndian.PutUint16(p[10:], tsharktest.Checksum(p[:20]))
	return p
}

func TestInnerMTU(t *testing.T) {
	if got := InnerMTU(1500); got != 1480 {
		t.Errorf("InnerMTU(1500) = %d, want 1480", got)
	}
}

func TestEncapsulateHeader(t *testing.T) {
	inner := echo(0x10, true)
	prefix := []byte("keep")
	out, err := Encapsulate(append([]byte(nil), prefix...), inner, outerA, outerB, 33)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, prefix) {
		t.Fatalf("Encapsulate did not append to dst: % x", out[:4])
	}
	outer := out[len(prefix):]
	// Every field but the identification (bytes 4-5) and the checksum,
	// which depends on it, is fixed.
	want, _ := hex.DecodeString("4510" + "0068" + "0000" + "4000" + "21" + "04" + "0000" + "c0000201" + "c0000202")
	got := append([]byte(nil), outer[:HeaderLen]...)
	got[4], got[5], got[10], got[11] = 0, 0, 0, 0
	if !bytes.Equal(got, want) {
		t.Errorf("outer header\n got % x\nwant % x", got, want)
	}
	if checksum(outer[:HeaderLen], 0) != 0 {
		t.Errorf("outer header checksum does not verify: % x", outer[:HeaderLen])
	}
	if !bytes.Equal(outer[HeaderLen:], inner) {
		t.Errorf("payload is not the inner datagram")
	}

	again, err := Encapsulate(nil, inner, outerA, outerB, 33)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(again[4:6], outer[4:6]) {
		t.Errorf("two datagrams share identification %x", outer[4:6])
	}
}

func TestEncapsulateCopiesInnerFields(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tos      byte
		df       bool
		ttl      uint8
		wantFlag byte
		wantTTL  byte
	}{
		{"DF set", 0xb8, true, 64, 0x40, 64},
		{"DF clear", 0x00, false, 200, 0x00, 200},
		{"TTL 0 means default", 0x04, true, 0, 0x40, DefaultTTL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Encapsulate(nil, echo(tc.tos, tc.df), outerA, outerB, tc.ttl)
			if err != nil {
				t.Fatal(err)
			}
			if out[1] != tc.tos || out[6] != tc.wantFlag || out[8] != tc.wantTTL {
				t.Errorf("tos %#x flags %#x ttl %d, want %#x %#x %d", out[1], out[6], out[8], tc.tos, tc.wantFlag, tc.wantTTL)
			}
		})
	}
}

func TestEncapsulateTrimsToTotalLength(t *testing.T) {
	inner := echo(0, true)
	out, err := Encapsulate(nil, append(append([]byte(nil), inner...), 0xee, 0xee), outerA, outerB, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out[HeaderLen:], inner) {
		t.Errorf("trailing bytes were encapsulated")
	}
}

func TestEncapsulateErrors(t *testing.T) {
	good := echo(0, true)
	mutate := func(f func(p []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	v6 := netip.MustParseAddr("2001:db8::1")
	for _, tc := range []struct {
		name          string
		inner         []byte
		local, remote netip.Addr
		want          error
	}{
		{"IPv6 local", good, v6, outerB, ErrAddress},
		{"IPv4-mapped remote", good, outerA, netip.AddrFrom16(outerB.As16()), ErrAddress},
		{"invalid local", good, netip.Addr{}, outerB, ErrAddress},
		{"short inner", good[:19], outerA, outerB, ErrTruncated},
		{"IPv6 inner", mutate(func(p []byte) []byte { p[0] = 0x60; return p }), outerA, outerB, ErrVersion},
		{"IHL 4", mutate(func(p []byte) []byte { p[0] = 0x44; return p }), outerA, outerB, ErrHeaderLength},
		{"IHL past end", mutate(func(p []byte) []byte { p[0] = 0x4f; return p[:40] }), outerA, outerB, ErrTruncated},
		{"total below header", mutate(func(p []byte) []byte { p[2], p[3] = 0, 19; return p }), outerA, outerB, ErrTotalLength},
		{"total past end", mutate(func(p []byte) []byte { return p[:50] }), outerA, outerB, ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Encapsulate([]byte{1}, tc.inner, tc.local, tc.remote, 0)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if len(out) != 1 {
				t.Errorf("dst changed on error: % x", out)
			}
		})
	}
}

func TestEncapsulateTooBig(t *testing.T) {
	inner := make([]byte, MaxInnerLen+1)
	inner[0] = 0x45
	binary.BigEndian.PutUint16(inner[2:], uint16(len(inner)))
	if _, err := Encapsulate(nil, inner, outerA, outerB, 0); !errors.Is(err, ErrTooBig) {
		t.Errorf("err = %v, want ErrTooBig", err)
	}
	inner = inner[:MaxInnerLen]
	binary.BigEndian.PutUint16(inner[2:], uint16(len(inner)))
	out, err := Encapsulate(nil, inner, outerA, outerB, 0)
	if err != nil || len(out) != MaxPacketLen || binary.BigEndian.Uint16(out[2:]) != MaxPacketLen {
		t.Errorf("largest inner datagram: len %d, err %v", len(out), err)
	}
}

func TestDecapsulate(t *testing.T) {
	inner := echo(0x10, true)
	outer, err := Encapsulate(nil, inner, outerA, outerB, 64)
	if err != nil {
		t.Fatal(err)
	}
	got, src, dst, err := Decapsulate(append(outer, 0, 0, 0, 0)) // link padding
	if err != nil {
		t.Fatal(err)
	}
	if src != outerA || dst != outerB || !bytes.Equal(got, inner) {
		t.Errorf("got %s > %s % x", src, dst, got)
	}
}

func TestDecapsulateOuterOptions(t *testing.T) {
	inner := echo(0, false)
	// An outer header with one 4-byte option (NOP NOP NOP EOL).
	h := []byte{0x46, 0, 0, 0, 0, 1, 0, 0, 64, Protocol, 0, 0, 192, 0, 2, 9, 192, 0, 2, 1, 1, 1, 1, 0}
	binary.BigEndian.PutUint16(h[2:], uint16(len(h)+len(inner)))
	binary.BigEndian.PutUint16(h[10:], checksum(h, 0))
	got, src, _, err := Decapsulate(append(h, inner...))
	if err != nil {
		t.Fatal(err)
	}
	if src != netip.MustParseAddr("192.0.2.9") || !bytes.Equal(got, inner) {
		t.Errorf("got %s % x", src, got)
	}
}

func TestDecapsulateErrors(t *testing.T) {
	good, err := Encapsulate(nil, echo(0, true), outerA, outerB, 64)
	if err != nil {
		t.Fatal(err)
	}
	// mutate edits a copy of good and, unless raw, fixes the checksum.
	mutate := func(raw bool, f func(p []byte) []byte) []byte {
		p := f(append([]byte(nil), good...))
		if !raw && len(p) >= HeaderLen {
			p[10], p[11] = 0, 0
			binary.BigEndian.PutUint16(p[10:], checksum(p[:HeaderLen], 0))
		}
		return p
	}
	for _, tc := range []struct {
		name  string
		outer []byte
		want  error
	}{
		{"empty", nil, ErrTruncated},
		{"19 bytes", good[:19], ErrTruncated},
		{"IPv6", mutate(false, func(p []byte) []byte { p[0] = 0x65; return p }), ErrVersion},
		{"IHL 0", mutate(false, func(p []byte) []byte { p[0] = 0x40; return p }), ErrHeaderLength},
		{"IHL past end", mutate(true, func(p []byte) []byte { p[0] = 0x4f; return p[:50] }), ErrTruncated},
		{"total below IHL", mutate(false, func(p []byte) []byte { p[2], p[3] = 0, 10; return p }), ErrTotalLength},
		{"total past end", mutate(false, func(p []byte) []byte { return p[:len(p)-1] }), ErrTruncated},
		{"checksum", mutate(true, func(p []byte) []byte { p[8]--; return p }), ErrChecksum},
		{"first fragment", mutate(false, func(p []byte) []byte { p[6] |= 0x20; return p }), ErrFragment},
		{"later fragment", mutate(false, func(p []byte) []byte { p[7] = 1; return p }), ErrFragment},
		{"protocol 41", mutate(false, func(p []byte) []byte { p[9] = 41; return p }), ErrProtocol},
		{"UDP", mutate(false, func(p []byte) []byte { p[9] = 17; return p }), ErrProtocol},
		{"no inner", mutate(false, func(p []byte) []byte { p[2], p[3] = 0, 20; return p[:20] }), ErrTruncated},
		{"inner IPv6", mutate(false, func(p []byte) []byte { p[20] = 0x60; return p }), ErrVersion},
		{"inner IHL 3", mutate(false, func(p []byte) []byte { p[20] = 0x43; return p }), ErrHeaderLength},
		{"inner total past outer", mutate(false, func(p []byte) []byte { p[22]++; return p }), ErrTruncated},
		{"inner total below IHL", mutate(false, func(p []byte) []byte { p[22], p[23] = 0, 4; return p }), ErrTotalLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner, _, _, err := Decapsulate(tc.outer)
			if !errors.Is(err, tc.want) || inner != nil {
				t.Errorf("err = %v, inner %d bytes; want %v", err, len(inner), tc.want)
			}
		})
	}
}

func TestEncapsulatedTshark(t *testing.T) {
	tsharktest.Require(t)
	var pkts [][]byte
	for _, df := range []bool{true, false} {
		p, err := Encapsulate(nil, echo(0x10, df), outerA, outerB, 33)
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, p)
	}
	pcap := tsharktest.WritePcap(t, pkts)
	if problems := tsharktest.Expert(t, pcap); len(problems) > 0 {
		t.Errorf("tshark: %v", problems)
	}
	rows := tsharktest.Fields(t, pcap, nil, "ip.proto", "ip.src", "ip.dst", "ip.ttl", "ip.dsfield", "ip.flags.df", "icmp.type")
	for i, r := range rows {
		df := "1,1"
		if i == 1 {
			df = "0,0"
		}
		want := []string{"4,1", "192.0.2.1,10.99.0.1", "192.0.2.2,10.99.0.2", "33,64", "0x10,0x10", df, "8"}
		if len(r) != len(want) {
			t.Fatalf("packet %d: tshark fields %q", i, r)
		}
		for j := range want {
			if r[j] != want[j] {
				t.Errorf("packet %d: field %d = %q, want %q (row %q)", i, j, r[j], want[j], r)
			}
		}
	}
}

func BenchmarkEncapsulate(b *testing.B) {
	inner := make([]byte, 1480)
	copy(inner, echo(0, true))
	binary.BigEndian.PutUint16(inner[2:], uint16(len(inner)))
	buf := make([]byte, 0, MaxPacketLen)
	b.SetBytes(int64(len(inner)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encapsulate(buf, inner, outerA, outerB, 64); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecapsulate(b *testing.B) {
	inner := make([]byte, 1480)
	copy(inner, echo(0, true))
	binary.BigEndian.PutUint16(inner[2:], uint16(len(inner)))
	outer, err := Encapsulate(nil, inner, outerA, outerB, 64)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(inner)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := Decapsulate(outer); err != nil {
			b.Fatal(err)
		}
	}
}
