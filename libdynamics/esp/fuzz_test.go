package esp

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/dynamics-go/dynamics/internal/memnet"
)

// fuzzOpeners are an opener of each algorithm and mode, all of SPI 0x1000.
func fuzzOpeners(t *testing.T) []*Opener {
	var out []*Opener
	for _, alg := range []Algorithm{AESGCM16, AESCBCHMACSHA256} {
		keys := gcmKey
		if alg == AESCBCHMACSHA256 {
			keys = cbcKey
		}
		for _, mode := range []Mode{ModeTunnel, ModeTransport} {
			_, in := pair(0x1000, mode, alg, keys)
			o, err := NewOpener(in)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, o)
		}
	}
	return out
}

// FuzzOpenPacket feeds arbitrary datagrams to the inbound path: Classify,
// every opener, and the userspace data path's ESP handler. Nothing may
// panic, and a packet that is not authentic must never be accepted.
func FuzzOpenPacket(f *testing.F) {
	s, _ := mustPair(f, 0x1000, ModeTunnel, AESGCM16, gcmKey)
	good, _ := s.SealPacket(nil, icmpEcho(innerA, innerB, "seed"))
	f.Add(good)
	f.Add([]byte{0xff})
	f.Add([]byte{0, 0, 0, 0, 1})
	f.Add([]byte{0, 0, 0x10, 0, 0, 0, 0, 0})
	f.Add(good[:20])
	e := fuzzEndpoint(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Classify(b)
		for _, o := range fuzzOpeners(t) {
			ip, err := o.OpenPacket(append([]byte{}, b...))
			if err == nil && !bytes.Equal(b, good) {
				t.Fatalf("accepted a packet never sealed: % x -> % x", b, ip)
			}
		}
		e.u.receive(append([]byte{}, b...), outerA)
	})
}

// fuzzEndpoint is a userspace data path with one inbound tunnel-mode SA
// (SPI 0x1000) on a fake device, for the fuzz targets.
func fuzzEndpoint(f *testing.F) *endpoint {
	e := &endpoint{dev: newFakeDevice(), rt: newFakeRouter()}
	conn, err := memnet.New().Listen(outerB.String())
	if err != nil {
		f.Fatal(err)
	}
	e.mux = NewMux(conn, MuxOptions{Logger: testLogger(f)})
	u, err := newUserspace(UserspaceOptions{Mux: e.mux, Logger: testLogger(f), BypassPorts: []uint16{}}, "fuzz", DefaultMTU, e.dev, e.rt)
	if err != nil {
		f.Fatal(err)
	}
	e.u = u
	_, in := pair(0x1000, ModeTunnel, AESGCM16, gcmKey)
	if err := u.AddSA(in); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { u.Close(); e.mux.Close() })
	return e
}

// FuzzOpenPlaintext seals arbitrary plaintext (payload, padding and
// trailer as the fuzzer makes them) with a valid ICV, so the fuzzer reaches
// what happens after decryption: pad length and padding checks, the inner
// datagram of tunnel mode, the rebuilt header of transport mode. Whatever
// is accepted must be a well-formed IPv4 datagram.
func FuzzOpenPlaintext(f *testing.F) {
	inner := icmpEcho(innerA, innerB, "seed")
	f.Add(append(append([]byte{}, inner...), 1, 2, 2, 4), uint32(1), false)
	f.Add(append(udpDatagram(outerA.Addr(), outerB.Addr(), 1, 2, "x")[20:], 1, 2, 2, 17), uint32(7), true)
	f.Add([]byte{0, 59}, uint32(1), false)
	f.Add([]byte{255, 4}, uint32(1), true)
	f.Fuzz(func(t *testing.T, plain []byte, seq uint32, transport bool) {
		mode := ModeTunnel
		if transport {
			mode = ModeTransport
		}
		for _, alg := range []Algorithm{AESGCM16, AESCBCHMACSHA256} {
			keys := gcmKey
			if alg == AESCBCHMACSHA256 {
				keys = cbcKey
			}
			s, o := mustPair(t, 0x1000, mode, alg, keys)
			pt := plain
			if a := s.t.align(); len(pt)%a != 0 || len(pt) == 0 {
				pt = append(make([]byte, a-len(pt)%a), pt...) // keep the fuzzer's trailer last
			}
			pkt := sealRaw(s, seq, pt)
			ip, err := o.OpenPacket(pkt)
			if err != nil {
				continue
			}
			if seq == 0 {
				t.Fatalf("%s: sequence 0 accepted", alg)
			}
			hl, total, err := ipv4Header(ip)
			if err != nil || total != len(ip) {
				t.Fatalf("%s %s: accepted % x, not an IPv4 datagram: %v", alg, mode, ip, err)
			}
			if transport && (hl != 20 || checksum(ip[:20], 0) != 0 ||
				netip.AddrFrom4([4]byte(ip[12:16])) != outerA.Addr() || netip.AddrFrom4([4]byte(ip[16:20])) != outerB.Addr()) {
				t.Fatalf("%s: rebuilt header % x", alg, ip[:20])
			}
		}
	})
}

// FuzzSealOpen requires that what is sealed opens to the same payload and
// Next Header, for every algorithm: the round trip of the packet format.
func FuzzSealOpen(f *testing.F) {
	f.Add([]byte("payload"), uint8(4))
	f.Add([]byte{}, uint8(59))
	f.Add(make([]byte, 1500), uint8(17))
	f.Fuzz(func(t *testing.T, payload []byte, nh uint8) {
		for _, alg := range []Algorithm{AESGCM16, AESCBCHMACSHA256} {
			keys := gcmKey
			if alg == AESCBCHMACSHA256 {
				keys = cbcKey
			}
			s, o := mustPair(t, 0x1000, ModeTunnel, alg, keys)
			pkt, err := s.Seal(nil, payload, nh)
			if err != nil {
				t.Fatal(err)
			}
			if len(pkt) != len(payload)+s.Overhead(len(payload)) || binary.BigEndian.Uint32(pkt[4:]) != 1 {
				t.Fatalf("%s: sealed %d octets for %d", alg, len(pkt), len(payload))
			}
			got, gotNH, err := o.Open(pkt)
			if err != nil || gotNH != nh || !bytes.Equal(got, payload) {
				t.Fatalf("%s: Open = % x, %d, %v; want % x, %d", alg, got, gotNH, err, payload, nh)
			}
		}
	})
}
