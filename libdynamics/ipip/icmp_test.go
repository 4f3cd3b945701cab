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

// bigEcho is a 1628-byte echo request with DF set, as `ping -M do -s 1600`
// sends it.
func bigEcho() []byte { return sizedEcho(1628, true) }

// sizedEcho is an echo request of total bytes from innerA to innerB.
func sizedEcho(total int, df bool) []byte {
	msg := make([]byte, total-HeaderLen)
	msg[0] = 8
	binary.BigEndian.PutUint16(msg[2:], tsharktest.Checksum(msg))
	p := tsharktest.IPv4(innerA, innerB, 1, msg)
	if df {
		p[6] = 0x40
	}
	p[10], p[11] = 0, 0
	binary.BigEndian.PutUint16(p[10:], tsharktest.Checksum(p[:20]))
	return p
}

func TestFragmentationNeeded(t *testing.T) {
	inner := bigEcho()
	got, err := FragmentationNeeded([]byte("x"), inner, outerA, 1480)
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != 'x' {
		t.Fatalf("did not append to dst")
	}
	p := got[1:]
	if len(p) != HeaderLen+ICMPHeaderLen+HeaderLen+QuotedPayloadLen {
		t.Fatalf("length %d, want header, ICMP header, quoted header and 8 bytes", len(p))
	}
	hdr := append([]byte(nil), p[:HeaderLen]...)
	hdr[4], hdr[5], hdr[10], hdr[11] = 0, 0, 0, 0
	want, _ := hex.DecodeString("45c0" + "0038" + "0000" + "0000" + "40" + "01" + "0000" + "c0000201" + "0a630001")
	if !bytes.Equal(hdr, want) {
		t.Errorf("IP header\n got % x\nwant % x", hdr, want)
	}
	if checksum(p[:HeaderLen], 0) != 0 {
		t.Errorf("IP header checksum does not verify")
	}
	msg := p[HeaderLen:]
	if msg[0] != 3 || msg[1] != 4 || binary.BigEndian.Uint16(msg[6:8]) != 1480 || msg[4] != 0 || msg[5] != 0 {
		t.Errorf("ICMP header % x, want type 3 code 4 mtu 1480", msg[:8])
	}
	if checksum(msg, 0) != 0 {
		t.Errorf("ICMP checksum does not verify")
	}
	if !bytes.Equal(msg[ICMPHeaderLen:], inner[:HeaderLen+QuotedPayloadLen]) {
		t.Errorf("quote % x, want the inner header and 8 bytes", msg[ICMPHeaderLen:])
	}
}

func TestFragmentationNeededTshark(t *testing.T) {
	tsharktest.Require(t)
	p, err := FragmentationNeeded(nil, bigEcho(), outerA, 1480)
	if err != nil {
		t.Fatal(err)
	}
	pcap := tsharktest.WritePcap(t, [][]byte{p})
	rows := tsharktest.Fields(t, pcap, nil, "ip.src", "ip.dst", "icmp.type", "icmp.code", "icmp.mtu", "icmp.checksum.status")
	// The second values are the quoted echo request's; its checksum
	// cannot be verified from a quote (status 2, unverified).
	want := []string{"192.0.2.1,10.99.0.1", "10.99.0.1,10.99.0.2", "3,8", "4,0", "1480", "1,2"}
	if len(rows) != 1 || len(rows[0]) != len(want) {
		t.Fatalf("tshark fields %q", rows)
	}
	for i := range want {
		if rows[0][i] != want[i] {
			t.Errorf("field %d = %q, want %q (row %q)", i, rows[0][i], want[i], rows[0])
		}
	}
	if problems := tsharktest.Expert(t, pcap); len(problems) > 0 {
		t.Errorf("tshark: %v", problems)
	}
}

func TestFragmentationNeededShortQuote(t *testing.T) {
	inner := bigEcho()[:HeaderLen+3]
	p, err := FragmentationNeeded(nil, inner, outerA, 576)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p[HeaderLen+ICMPHeaderLen:], inner) {
		t.Errorf("quote % x, want all %d bytes given", p[HeaderLen+ICMPHeaderLen:], len(inner))
	}
	if binary.BigEndian.Uint16(p[2:4]) != uint16(len(p)) {
		t.Errorf("total length %d, packet %d", binary.BigEndian.Uint16(p[2:4]), len(p))
	}
}

func TestFragmentationNeededRefuses(t *testing.T) {
	mutate := func(f func(p []byte)) []byte {
		p := bigEcho()
		f(p)
		return p
	}
	for _, tc := range []struct {
		name  string
		inner []byte
		from  netip.Addr
		mtu   int
		want  error
	}{
		{"IPv6 from", bigEcho(), netip.MustParseAddr("2001:db8::1"), 1480, ErrAddress},
		{"mtu 67", bigEcho(), outerA, 67, ErrMTU},
		{"mtu 65536", bigEcho(), outerA, 65536, ErrMTU},
		{"short", bigEcho()[:19], outerA, 1480, ErrTruncated},
		{"IPv6 inner", mutate(func(p []byte) { p[0] = 0x60 }), outerA, 1480, ErrVersion},
		{"IHL 2", mutate(func(p []byte) { p[0] = 0x42 }), outerA, 1480, ErrHeaderLength},
		{"IHL past end", mutate(func(p []byte) { p[0] = 0x4f })[:40], outerA, 1480, ErrTruncated},
		{"later fragment", mutate(func(p []byte) { p[7] = 1 }), outerA, 1480, ErrNoICMP},
		{"source 0.0.0.0", mutate(func(p []byte) { copy(p[12:], []byte{0, 0, 0, 0}) }), outerA, 1480, ErrNoICMP},
		{"multicast source", mutate(func(p []byte) { p[12] = 224 }), outerA, 1480, ErrNoICMP},
		{"broadcast destination", mutate(func(p []byte) { copy(p[16:], []byte{255, 255, 255, 255}) }), outerA, 1480, ErrNoICMP},
		{"multicast destination", mutate(func(p []byte) { p[16] = 239 }), outerA, 1480, ErrNoICMP},
		{"ICMP error", mutate(func(p []byte) { p[20] = 3 }), outerA, 1480, ErrNoICMP},
		{"ICMP time exceeded", mutate(func(p []byte) { p[20] = 11 }), outerA, 1480, ErrNoICMP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FragmentationNeeded(nil, tc.inner, tc.from, tc.mtu)
			if !errors.Is(err, tc.want) || len(got) != 0 {
				t.Errorf("err = %v (%d bytes), want %v", err, len(got), tc.want)
			}
		})
	}
	// A first fragment (MF set, offset 0) and an echo reply may be answered.
	for _, p := range [][]byte{mutate(func(p []byte) { p[6] |= 0x20 }), mutate(func(p []byte) { p[20] = 0 })} {
		if _, err := FragmentationNeeded(nil, p, outerA, 1480); err != nil {
			t.Errorf("refused % x: %v", p[:24], err)
		}
	}
}
