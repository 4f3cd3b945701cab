package discovery

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/dynamics-go/dynamics/internal/tsharktest"
)

// goldenFAPathAdvertisement is a lowest foreign agent's advertisement in a
// hierarchy: the highest agent's address as care-of address and the FA
// Path extension. The checksum was computed with Python, independently of
// this package.
var goldenFAPathAdvertisement = []byte{
	9, 0, // router advertisement, code 0
	0xde, 0x82, // checksum
	1, 2, 0x07, 0x08, // one address, entry size 2, lifetime 1800
	10, 2, 0, 1, 0, 0, 0, 0, // router 10.2.0.1, preference 0
	16, 10, // Mobility Agent Advertisement
	0x00, 0x05, // sequence 5
	0x02, 0x58, // registration lifetime 600
	0x91, 0x00, // flags R F T
	10, 0, 0, 2, // care-of address: the highest agent
	19, 1, 24, // Prefix-Lengths
	255, 13, // experimental (RFC 4064), length
	1,           // sub-type FA Path
	10, 0, 1, 2, // the advertising agent
	10, 0, 1, 1, // its upper agent
	10, 0, 0, 2, // the highest agent
}

func goldenFAPathValue() *Advertisement {
	return &Advertisement{
		Code:     CodeRouter,
		Lifetime: 1800,
		Routers:  []RouterAddress{{Addr: netip.MustParseAddr("10.2.0.1")}},
		Extensions: []Extension{
			&MobilityAgent{Sequence: 5, RegistrationLifetime: 600,
				Flags:           FlagRegistrationRequired | FlagForeignAgent | FlagReverseTunnel,
				CareOfAddresses: []netip.Addr{netip.MustParseAddr("10.0.0.2")}},
			&PrefixLengths{Lengths: []uint8{24}},
			&FAPath{Addrs: []netip.Addr{
				netip.MustParseAddr("10.0.1.2"), netip.MustParseAddr("10.0.1.1"), netip.MustParseAddr("10.0.0.2"),
			}},
		},
	}
}

func TestFAPathGolden(t *testing.T) {
	b, err := goldenFAPathValue().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, goldenFAPathAdvertisement) {
		t.Fatalf("Marshal:\n got % x\nwant % x", b, goldenFAPathAdvertisement)
	}
	a, err := ParseAdvertisement(goldenFAPathAdvertisement)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, goldenFAPathValue()) {
		t.Fatalf("Parse:\n got %+v\nwant %+v", a, goldenFAPathValue())
	}
	if err := a.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if p := a.FAPath(); p == nil || len(p.Addrs) != 3 || p.Addrs[2] != netip.MustParseAddr("10.0.0.2") {
		t.Errorf("FAPath() = %+v", p)
	}
	if p := goldenAdvertisementValue().FAPath(); p != nil {
		t.Errorf("FAPath() of a flat advertisement = %+v, want nil", p)
	}
	checkAdvertisement(t, goldenFAPathAdvertisement)
}

func TestFAPathKeptRaw(t *testing.T) {
	// Type-255 extensions that are not a whole FA Path stay raw and
	// round-trip.
	for _, data := range [][]byte{
		{1, 10, 0, 0},                // short address
		{1},                          // no address
		{2, 10, 0, 0, 1, 0, 1, 0x30}, // another sub-type
		{1, 10, 0, 0, 1, 10},         // trailing octet
	} {
		adv := &Advertisement{Code: CodeMobilityOnly, Lifetime: 9, Extensions: []Extension{
			&RawExtension{Type: ExtensionExperimental, Data: data},
		}}
		b, err := adv.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		a, err := ParseAdvertisement(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, adv) {
			t.Errorf("%x parsed as %+v", data, a.Extensions[0])
		}
		if a.FAPath() != nil {
			t.Errorf("%x: FAPath() found one", data)
		}
		checkAdvertisement(t, b)
	}
	if ExtensionExperimental.String() != "experimental" || !ExtensionExperimental.Skippable() {
		t.Error("ExtensionExperimental's String or Skippable")
	}
}

func TestFAPathMarshalErrors(t *testing.T) {
	many := make([]netip.Addr, MaxFAPathAddrs+1)
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
	}
	for name, p := range map[string]*FAPath{
		"empty":    {},
		"IPv6":     {Addrs: []netip.Addr{netip.MustParseAddr("2001:db8::1")}},
		"zero":     {Addrs: []netip.Addr{{}}},
		"too many": {Addrs: many},
	} {
		if b, err := p.AppendMarshal(nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %x, %v; want ErrInvalid", name, b, err)
		}
	}
	b, err := (&FAPath{Addrs: many[:MaxFAPathAddrs]}).AppendMarshal(nil)
	if err != nil || len(b) != 2+1+4*MaxFAPathAddrs {
		t.Errorf("the most addresses: %d bytes, %v", len(b), err)
	}
}

// TestTsharkDecodesFAPath has tshark decode an advertisement with the FA
// Path extension: the standard fields as ours, the extension seen as type
// 255, no malformed packet or expert warning.
func TestTsharkDecodesFAPath(t *testing.T) {
	tsharktest.Require(t)
	adv := goldenFAPathValue()
	b, err := adv.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	pcap := tsharktest.WritePcap(t, [][]byte{linkLocal("10.2.0.1", "224.0.0.1", b)})
	rows := tsharktest.Fields(t, pcap, nil, tsharkAdvFields...)
	if len(rows) != 1 {
		t.Fatalf("tshark decoded %d packets, want 1", len(rows))
	}
	want := expectedTshark(adv)
	got := rows[0]
	for len(got) < len(want) {
		got = append(got, "")
	}
	for j, field := range tsharkAdvFields {
		if got[j] != want[j] {
			t.Errorf("%s = %q, want %q", field, got[j], want[j])
		}
	}
	for _, p := range tsharktest.Expert(t, pcap) {
		t.Errorf("tshark: %s", p)
	}
}
