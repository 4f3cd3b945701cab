package esp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/dynamics-go/dynamics/internal/tsharktest"
)

var (
	innerA = netip.MustParseAddr("10.1.0.1")
	innerB = netip.MustParseAddr("10.2.0.1")
)

// icmpEcho is an IPv4 ICMP echo request from src to dst.
func icmpEcho(src, dst netip.Addr, data string) []byte {
	icmp := append([]byte{8, 0, 0, 0, 0x12, 0x34, 0, 1}, data...)
	binary.BigEndian.PutUint16(icmp[2:], tsharktest.Checksum(icmp))
	return tsharktest.IPv4(src, dst, 1, icmp)
}

func TestTunnelMode(t *testing.T) {
	for _, alg := range []Algorithm{AESGCM16, AESCBCHMACSHA256} {
		keys := gcmKey
		if alg == AESCBCHMACSHA256 {
			keys = cbcKey
		}
		s, o := mustPair(t, 0x1100, ModeTunnel, alg, keys)
		inner := icmpEcho(innerA, innerB, "ping through the tunnel")
		pkt, err := s.SealPacket(nil, append(append([]byte{}, inner...), 0xde, 0xad)) // octets past total length ignored
		if err != nil {
			t.Fatal(err)
		}
		if want := len(inner) + s.Overhead(len(inner)); len(pkt) != want {
			t.Errorf("%s: sealed %d octets, want %d", alg, len(pkt), want)
		}
		// Next Header 4: the last plaintext octet.
		plain := append([]byte{}, pkt...)
		payload, nh, err := o.Open(plain)
		if err != nil || nh != NextHeaderIPv4 || !bytes.Equal(payload, inner) {
			t.Fatalf("%s: Open = %d octets, next header %d, %v", alg, len(payload), nh, err)
		}
		s2, o2 := mustPair(t, 0x1100, ModeTunnel, alg, keys)
		pkt, _ = s2.SealPacket(nil, inner)
		got, err := o2.OpenPacket(pkt)
		if err != nil || !bytes.Equal(got, inner) {
			t.Errorf("%s: OpenPacket = % x, %v", alg, got, err)
		}
	}
}

func TestTunnelModeInnerChecked(t *testing.T) {
	inner := icmpEcho(innerA, innerB, "x")
	for _, tc := range []struct {
		name    string
		payload []byte
		nh      uint8
		want    error
		wantLen int
	}{
		{"tfc padding dropped", append(append([]byte{}, inner...), make([]byte, 40)...), 4, nil, len(inner)},
		{"next header udp", inner, 17, ErrNextHeader, 0},
		{"dummy", []byte("chaff"), 59, ErrDummy, 0},
		{"not ipv4", append([]byte{0x60}, inner[1:]...), 4, ErrInner, 0},
		{"short", inner[:19], 4, ErrInner, 0},
		{"total past payload", inner[:len(inner)-1], 4, ErrInner, 0},
	} {
		s, o := mustPair(t, 0x1200, ModeTunnel, AESGCM16, gcmKey)
		pkt, err := s.Seal(nil, tc.payload, tc.nh)
		if err != nil {
			t.Fatal(err)
		}
		got, err := o.OpenPacket(pkt)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) || len(got) != tc.wantLen {
			t.Errorf("%s: OpenPacket = %d octets, %v; want %d, %v", tc.name, len(got), err, tc.wantLen, tc.want)
		}
	}
}

func TestSealPacketRefusesMalformed(t *testing.T) {
	s, _ := mustPair(t, 0x1300, ModeTunnel, AESGCM16, gcmKey)
	for _, ip := range [][]byte{nil, {0x45}, append([]byte{0x65}, make([]byte, 30)...), {0x45, 0, 0, 10, 0, 0, 0, 0, 64, 1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}} {
		if _, err := s.SealPacket(nil, ip); !errors.Is(err, ErrInner) {
			t.Errorf("SealPacket(% x) = %v", ip, err)
		}
	}
	if st := s.Stats(); st.Packets != 0 || st.Seq != 0 {
		t.Errorf("refused datagrams used sequence numbers: %+v", st)
	}
}

// udpDatagram is an IPv4 UDP datagram with a correct checksum.
func udpDatagram(src, dst netip.Addr, sport, dport uint16, data string) []byte {
	return tsharktest.UDP(src, dst, sport, dport, []byte(data))
}

// transportChecksumOK reports whether the TCP or UDP checksum of ip verifies
// over its pseudo-header.
func transportChecksumOK(ip []byte) bool {
	hl := int(ip[0]&0x0f) * 4
	seg := ip[hl:]
	pseudo := append(append(append([]byte{}, ip[12:20]...), 0, ip[9]), byte(len(seg)>>8), byte(len(seg)))
	return tsharktest.Checksum(append(pseudo, seg...)) == 0
}

func TestTransportModeUDP(t *testing.T) {
	for _, alg := range []Algorithm{AESGCM16, AESCBCHMACSHA256} {
		keys := gcmKey
		if alg == AESCBCHMACSHA256 {
			keys = cbcKey
		}
		s, o := mustPair(t, 0x1400, ModeTransport, alg, keys)
		ip := udpDatagram(outerA.Addr(), outerB.Addr(), 434, 434, "registration request")
		pkt, err := s.SealPacket(nil, ip)
		if err != nil {
			t.Fatal(err)
		}
		// The payload is the UDP datagram, Next Header 17.
		peek := append([]byte{}, pkt...)
		_, o2 := mustPair(t, 0x1400, ModeTransport, alg, keys)
		payload, nh, err := o2.Open(peek)
		if err != nil || nh != protoUDP || !bytes.Equal(payload, ip[20:]) {
			t.Fatalf("%s: Open = % x, %d, %v", alg, payload, nh, err)
		}
		got, err := o.OpenPacket(pkt)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ip) || got[9] != protoUDP || !bytes.Equal(got[12:20], ip[12:20]) || !bytes.Equal(got[20:], ip[20:]) {
			t.Errorf("%s: rebuilt\n% x\nwant\n% x", alg, got, ip)
		}
		if tsharktest.Checksum(got[:20]) != 0 || !transportChecksumOK(got) {
			t.Errorf("%s: rebuilt datagram has a bad checksum: % x", alg, got)
		}
	}
}

// TestTransportModeChecksumRecomputed: the receiver's SA names other
// addresses than the sender used (a NAT between them), and the UDP and TCP
// checksums are made right for the rebuilt header.
func TestTransportModeChecksumRecomputed(t *testing.T) {
	natted := netip.MustParseAddrPort("203.0.113.9:31000")
	out, in := pair(0x1500, ModeTransport, AESGCM16, gcmKey)
	in.Remote = natted // B knows A by its NAT's address
	s, _ := NewSealer(out)
	o, _ := NewOpener(in)

	tcp := make([]byte, 20+5)
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 80)
	tcp[12] = 5 << 4
	copy(tcp[20:], "hello")
	for _, ip := range [][]byte{
		udpDatagram(outerA.Addr(), outerB.Addr(), 434, 434, "request"),
		tsharktest.IPv4(outerA.Addr(), outerB.Addr(), protoTCP, tcp),
	} {
		pkt, err := s.SealPacket(nil, ip)
		if err != nil {
			t.Fatal(err)
		}
		got, err := o.OpenPacket(pkt)
		if err != nil {
			t.Fatal(err)
		}
		if src := netip.AddrFrom4([4]byte(got[12:16])); src != natted.Addr() {
			t.Errorf("rebuilt source %s, want the SA's remote %s", src, natted.Addr())
		}
		if !transportChecksumOK(got) {
			t.Errorf("protocol %d: checksum not fixed for the rebuilt header", got[9])
		}
	}
	// A UDP checksum of zero means none and stays zero.
	ip := udpDatagram(outerA.Addr(), outerB.Addr(), 434, 434, "no checksum")
	ip[26], ip[27] = 0, 0
	pkt, _ := s.SealPacket(nil, ip)
	got, err := o.OpenPacket(pkt)
	if err != nil || got[26] != 0 || got[27] != 0 {
		t.Errorf("zero UDP checksum: % x, %v", got, err)
	}
	// ICMP's checksum covers no addresses and is kept.
	echo := icmpEcho(outerA.Addr(), outerB.Addr(), "icmp")
	pkt, _ = s.SealPacket(nil, echo)
	got, err = o.OpenPacket(pkt)
	if err != nil || !bytes.Equal(got[20:], echo[20:]) || got[9] != 1 {
		t.Errorf("icmp: % x, %v", got, err)
	}
}

func TestTransportModeRefusesOthers(t *testing.T) {
	s, _ := mustPair(t, 0x1600, ModeTransport, AESGCM16, gcmKey)
	if _, err := s.SealPacket(nil, udpDatagram(innerA, outerB.Addr(), 1, 2, "x")); !errors.Is(err, ErrInner) {
		t.Errorf("datagram from another host: %v", err)
	}
	frag := udpDatagram(outerA.Addr(), outerB.Addr(), 1, 2, "x")
	frag[6] = 0x20 // more fragments
	if _, err := s.SealPacket(nil, frag); !errors.Is(err, ErrInner) {
		t.Errorf("fragment: %v", err)
	}
}

func TestParseFlowAndSelector(t *testing.T) {
	f, err := ParseFlow(udpDatagram(innerA, innerB, 1234, 434, "x"))
	if err != nil {
		t.Fatal(err)
	}
	if f != (Flow{Src: innerA, Dst: innerB, Protocol: 17, SrcPort: 1234, DstPort: 434}) {
		t.Errorf("flow %+v", f)
	}
	frag := udpDatagram(innerA, innerB, 1234, 434, "x")
	frag[7] = 1 // offset 8: a non-first fragment has no ports
	if g, _ := ParseFlow(frag); g.SrcPort != 0 || g.DstPort != 0 {
		t.Errorf("non-first fragment flow %+v", g)
	}
	sel := Selector{Src: netip.MustParsePrefix("10.1.0.0/24"), Dst: netip.MustParsePrefix("10.2.0.1/32"), Protocol: 17, DstPort: 434}
	for _, tc := range []struct {
		f    Flow
		want bool
	}{
		{f, true},
		{Flow{Src: innerA, Dst: innerB, Protocol: 17, DstPort: 435}, false},
		{Flow{Src: innerA, Dst: innerB, Protocol: 6, DstPort: 434}, false},
		{Flow{Src: innerB, Dst: innerB, Protocol: 17, DstPort: 434}, false},
	} {
		if got := sel.Matches(tc.f); got != tc.want {
			t.Errorf("%s matches %+v = %t", sel, tc.f, got)
		}
	}
}
