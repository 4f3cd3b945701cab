package discovery

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/internal/tsharktest"
)

// tsharkFlagFields are tshark's fields for the flags, in wire order. tshark
// 4.0 calls r "VJ Comp" (its RFC 2002 meaning) and has no field for I,
// which it shows inside icmp.mip.reserved.
var tsharkFlagFields = []struct {
	field string
	flag  Flags
}{
	{"icmp.mip.r", FlagRegistrationRequired},
	{"icmp.mip.b", FlagBusy},
	{"icmp.mip.h", FlagHomeAgent},
	{"icmp.mip.f", FlagForeignAgent},
	{"icmp.mip.m", FlagMinimalEncapsulation},
	{"icmp.mip.g", FlagGRE},
	{"icmp.mip.v", FlagReserved},
	{"icmp.mip.rt", FlagReverseTunnel},
	{"icmp.mip.u", FlagUDPTunnel},
	{"icmp.mip.x", FlagRevocation},
}

// tsharkAdvertisements are the advertisements tshark must decode: the
// golden one, one per flag and one with every flag and reserved bit.
//
// The golden message's unknown extension has three data octets on purpose:
// tshark 4.0 sizes an unknown extension's content as length-4 octets, so
// lengths 1 and 2 make it report a malformed packet (and 4 a missing
// field) although the encoding is right (RFC 5944 section 1.10).
func tsharkAdvertisements() []*Advertisement {
	advs := []*Advertisement{goldenAdvertisementValue()}
	for i := range len(flagLetters) {
		f := Flags(1 << (15 - i))
		advs = append(advs, &Advertisement{
			Code:     CodeMobilityOnly,
			Lifetime: uint16(100 + i),
			Routers:  []RouterAddress{{Addr: netip.AddrFrom4([4]byte{10, 3, 0, byte(1 + i)}), Preference: int32(i) - 5}},
			Extensions: []Extension{
				&MobilityAgent{Sequence: uint16(i), RegistrationLifetime: uint16(1000 + i), Flags: f,
					CareOfAddresses: []netip.Addr{netip.AddrFrom4([4]byte{10, 3, 0, byte(1 + i)})}},
				&PrefixLengths{Lengths: []uint8{uint8(16 + i)}},
			},
		})
	}
	advs = append(advs, &Advertisement{
		Code:     CodeMobilityOnly,
		Lifetime: 0xffff,
		Extensions: []Extension{&MobilityAgent{Sequence: 0xffff, RegistrationLifetime: InfiniteLifetime,
			Flags: flagMask, Reserved: 0x1f}},
	})
	return advs
}

// expectedTshark renders a's fields as tshark prints them, in the order of
// tsharkAdvFields.
func expectedTshark(a *Advertisement) []string {
	var addrs, prefs, exts, coas, plens []string
	for _, r := range a.Routers {
		addrs = append(addrs, r.Addr.String())
		prefs = append(prefs, strconv.Itoa(int(r.Preference)))
	}
	for _, e := range a.Extensions {
		exts = append(exts, strconv.Itoa(int(e.Kind())))
	}
	m := a.MobilityAgent()
	for _, c := range m.CareOfAddresses {
		coas = append(coas, c.String())
	}
	if p := a.PrefixLengths(); p != nil {
		for _, l := range p.Lengths {
			plens = append(plens, strconv.Itoa(int(l)))
		}
	}
	row := []string{
		"9", strconv.Itoa(int(a.Code)), "1", // type, code, checksum good
		strconv.Itoa(len(a.Routers)), "2", strconv.Itoa(int(a.Lifetime)),
		strings.Join(addrs, ","), strings.Join(prefs, ","),
		strings.Join(exts, ","),
		strconv.Itoa(int(m.Sequence)), strconv.Itoa(int(m.RegistrationLifetime)),
		fmt.Sprintf("0x%04x", uint16(m.Flags)|uint16(m.Reserved)),
		// tshark's reserved field is the low six bits: I and the five
		// reserved bits.
		fmt.Sprintf("0x%04x", uint16(m.Flags&FlagRegional)|uint16(m.Reserved)),
		strings.Join(coas, ","), strings.Join(plens, ","),
	}
	for _, ff := range tsharkFlagFields {
		if m.Flags&ff.flag != 0 {
			row = append(row, "1")
		} else {
			row = append(row, "0")
		}
	}
	return row
}

var tsharkAdvFields = func() []string {
	f := []string{
		"icmp.type", "icmp.code", "icmp.checksum.status",
		"icmp.num_addrs", "icmp.addr_entry_size", "icmp.lifetime",
		"icmp.router_address", "icmp.pref_level",
		"icmp.mip.type",
		"icmp.mip.seq", "icmp.mip.life", "icmp.mip.flags", "icmp.mip.reserved",
		"icmp.mip.coa", "icmp.mip.prefixlength",
	}
	for _, ff := range tsharkFlagFields {
		f = append(f, ff.field)
	}
	return f
}()

// linkLocal wraps an ICMP message in IPv4 the way agent discovery sends it
// to 224.0.0.1 or 224.0.0.2: with TTL 1 (RFC 5944 sections 2.1 and 2.2).
func linkLocal(src, dst string, icmp []byte) []byte {
	p := tsharktest.IPv4(netip.MustParseAddr(src), netip.MustParseAddr(dst), 1, icmp)
	p[8] = 1 // TTL
	p[10], p[11] = 0, 0
	binary.BigEndian.PutUint16(p[10:], tsharktest.Checksum(p[:20]))
	return p
}

func TestTsharkDecodesAdvertisements(t *testing.T) {
	tsharktest.Require(t)
	advs := tsharkAdvertisements()
	var pkts [][]byte
	for _, a := range advs {
		b, err := a.Marshal()
		if err != nil {
			t.Fatalf("Marshal %+v: %v", a, err)
		}
		pkts = append(pkts, linkLocal("10.2.0.1", "224.0.0.1", b))
	}
	pcap := tsharktest.WritePcap(t, pkts)
	rows := tsharktest.Fields(t, pcap, nil, tsharkAdvFields...)
	if len(rows) != len(advs) {
		t.Fatalf("tshark decoded %d packets, want %d", len(rows), len(advs))
	}
	for i, a := range advs {
		want := expectedTshark(a)
		got := rows[i]
		for len(got) < len(want) {
			got = append(got, "")
		}
		for j, field := range tsharkAdvFields {
			if got[j] != want[j] {
				t.Errorf("packet %d (flags %s): %s = %q, want %q", i+1, a.MobilityAgent().Flags, field, got[j], want[j])
			}
		}
	}
	for _, p := range tsharktest.Expert(t, pcap) {
		t.Errorf("tshark: %s", p)
	}
}

func TestTsharkDecodesSolicitation(t *testing.T) {
	tsharktest.Require(t)
	b, err := (&Solicitation{}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	pcap := tsharktest.WritePcap(t, [][]byte{
		linkLocal("10.2.0.10", "224.0.0.2", b),
	})
	rows := tsharktest.Fields(t, pcap, nil, "icmp.type", "icmp.code", "icmp.checksum.status")
	want := []string{"10", "0", "1"}
	if len(rows) != 1 || strings.Join(rows[0], " ") != strings.Join(want, " ") {
		t.Errorf("tshark: %q, want %q", rows, want)
	}
	for _, p := range tsharktest.Expert(t, pcap) {
		t.Errorf("tshark: %s", p)
	}
}
