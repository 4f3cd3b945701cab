package mobikex

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// unhex decodes hexadecimal with spaces and "|" separators for fields.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "|", "", "\n", "", "\t", "").Replace(s))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

var (
	v4a = netip.MustParseAddr("192.0.2.1")
	v4b = netip.MustParseAddr("192.0.2.2")
	v6a = netip.MustParseAddr("2001:db8::1")
	v6b = netip.MustParseAddr("2001:db8::2")
)

// TestGoldenParams writes every parameter type field by field from the
// layouts in docs/IPSEC.md and checks the constructors produce those
// octets and the readers give the values back.
func TestGoldenParams(t *testing.T) {
	for _, c := range []struct {
		name string
		p    Param
		wire string // C|type, reserved, value length, value
		read func(Param) (any, error)
		want any
	}{
		{"VERSION 2 critical", VersionParam(VersionMOBIKEX, true), "81 | 00 | 0001 | 02",
			func(p Param) (any, error) { return p.Version() }, VersionMOBIKEX},
		{"VERSION 1", VersionParam(VersionMOBIKE, false), "01 | 00 | 0001 | 01",
			func(p Param) (any, error) { return p.Version() }, VersionMOBIKE},
		{"SPI ESP", SPIParam(ChildSPI(0xc0ffee01)), "02 | 00 | 0006 | 03 | 04 | c0ffee01",
			func(p Param) (any, error) { return p.SPI() }, SPI{Protocol: ikev2.ProtocolESP, Value: []byte{0xc0, 0xff, 0xee, 0x01}}},
		{"SPI AH", SPIParam(SPI{Protocol: ikev2.ProtocolAH, Value: []byte{0, 0, 1, 0}}), "02 | 00 | 0006 | 02 | 04 | 00000100",
			func(p Param) (any, error) { return p.SPI() }, SPI{Protocol: ikev2.ProtocolAH, Value: []byte{0, 0, 1, 0}}},
		{"SPI IKE current", SPIParam(CurrentIKE()), "02 | 00 | 0002 | 01 | 00",
			func(p Param) (any, error) { return p.SPI() }, SPI{Protocol: ikev2.ProtocolIKE}},
		{"SPI IKE other", SPIParam(IKESPI(0x0102030405060708, 0x1112131415161718)),
			"02 | 00 | 0012 | 01 | 10 | 0102030405060708 1112131415161718",
			func(p Param) (any, error) { return p.SPI() }, IKESPI(0x0102030405060708, 0x1112131415161718)},
		{"IP v4 OLD", IPParam(IP{Addr: v4a, Old: true}), "03 | 00 | 0006 | 10 | 00 | c0000201",
			func(p Param) (any, error) { return p.IP() }, IP{Addr: v4a, Old: true}},
		{"IP v4 NEW receiver's, child SAs, with M",
			IPParam(IP{Addr: v4b, New: true, Receiver: true, Child: true,
				Info: &Info{Preference: 10, Class: ClassWLAN, Reachability: Reachable, Start: 5 * time.Second, Lifetime: time.Hour}}),
			"03 | 00 | 0012 | ac | 00 | c0000202 | 0a | 02 | 01 | 00 | 00000005 | 00000e10",
			func(p Param) (any, error) { return p.IP() },
			IP{Addr: v4b, New: true, Receiver: true, Child: true,
				Info: &Info{Preference: 10, Class: ClassWLAN, Reachability: Reachable, Start: 5 * time.Second, Lifetime: time.Hour}}},
		{"IP v6 NEW IKE SA", IPParam(IP{Addr: v6a, New: true, IKE: true}),
			"03 | 00 | 0012 | 4a | 00 | 20010db8000000000000000000000001",
			func(p Param) (any, error) { return p.IP() }, IP{Addr: v6a, New: true, IKE: true}},
		{"IP v6 with M", IPParam(IP{Addr: v6b, Info: &Info{Preference: 255, Class: ClassCellular, Reachability: Unreachable}}),
			"03 | 00 | 001e | c0 | 00 | 20010db8000000000000000000000002 | ff | 03 | 02 | 00 | 00000000 | 00000000",
			func(p Param) (any, error) { return p.IP() },
			IP{Addr: v6b, Info: &Info{Preference: 255, Class: ClassCellular, Reachability: Unreachable}}},
		{"IPSEC_MODE tunnel", ModeParam(1), "04 | 00 | 0001 | 01",
			func(p Param) (any, error) { return p.Mode() }, ModeTunnel},
		{"IPSEC_MODE transport", ModeParam(2), "04 | 00 | 0001 | 02",
			func(p Param) (any, error) { return p.Mode() }, ModeTransport},
		{"IPSEC_PROTO ESP", ProtoParam(ikev2.ProtocolESP), "05 | 00 | 0001 | 03",
			func(p Param) (any, error) { return p.Proto() }, ikev2.ProtocolESP},
		{"SELECTOR_SPECIFIC_VALUE v4",
			SelectorParam(ikev2.Selector{Type: ikev2.TSIPv4AddrRange, Protocol: 17, StartPort: 434, EndPort: 434,
				Start: netip.MustParseAddr("10.1.0.0"), End: netip.MustParseAddr("10.1.0.255")}),
			"06 | 00 | 0010 | 07 | 11 | 0010 | 01b2 | 01b2 | 0a010000 | 0a0100ff",
			func(p Param) (any, error) { return p.Selector() },
			ikev2.Selector{Type: ikev2.TSIPv4AddrRange, Protocol: 17, StartPort: 434, EndPort: 434,
				Start: netip.MustParseAddr("10.1.0.0"), End: netip.MustParseAddr("10.1.0.255")}},
		{"SELECTOR_SPECIFIC_VALUE v6",
			SelectorParam(ikev2.PrefixSelector(netip.MustParsePrefix("2001:db8::/64"), 0)),
			"06 | 00 | 0028 | 08 | 00 | 0028 | 0000 | ffff | 20010db8000000000000000000000000 | 20010db800000000ffffffffffffffff",
			func(p Param) (any, error) { return p.Selector() },
			ikev2.PrefixSelector(netip.MustParsePrefix("2001:db8::/64"), 0)},
		{"SELECTOR_SPECIFIC_VALUE other type", SelectorParam(ikev2.Selector{Type: ikev2.TSSecLabel, Data: []byte("lbl")}),
			"06 | 00 | 0007 | 0a | 00 | 0007 | 6c626c",
			func(p Param) (any, error) { return p.Selector() }, ikev2.Selector{Type: ikev2.TSSecLabel, Data: []byte("lbl")}},
		{"ID", IDParam(0x01020304), "07 | 00 | 0004 | 01020304",
			func(p Param) (any, error) { return p.ID() }, uint32(0x01020304)},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := unhex(t, c.wire)
			got := MarshalParams([]Param{c.p})
			if !bytes.Equal(got, want) {
				t.Fatalf("marshal\n got %x\nwant %x", got, want)
			}
			ps, err := ParseParams(want)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if len(ps) != 1 || !reflect.DeepEqual(ps[0], c.p) {
				t.Fatalf("parse: %#v, want %#v", ps, c.p)
			}
			v, err := c.read(ps[0])
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !reflect.DeepEqual(v, c.want) {
				t.Fatalf("read %#v, want %#v", v, c.want)
			}
			if s := ps[0].String(); strings.Contains(s, "(") && !strings.HasPrefix(strings.TrimPrefix(s, "!"), ps[0].Type.String()) {
				t.Errorf("String %q does not name the type", s)
			}
		})
	}
}

// TestParamsRoundTrip parses a sequence of every type, unknown
// non-critical parameters included, and marshals it back to the same
// octets.
func TestParamsRoundTrip(t *testing.T) {
	ps := []Param{
		IDParam(9),
		VersionParam(VersionMOBIKEX, true),
		SPIParam(ChildSPI(1)),
		SPIParam(CurrentIKE()),
		IPParam(IP{Addr: v6a, Old: true, Info: &Info{Preference: 1}}),
		{Type: 42, Value: []byte{1, 2, 3}}, // unknown, not critical: kept
		{Type: 0},                          // type 0 is unknown too
		ModeParam(2),
		ProtoParam(ikev2.ProtocolAH),
		SelectorParam(ikev2.PrefixSelector(netip.MustParsePrefix("10.0.0.0/8"), 17)),
	}
	b := MarshalParams(ps)
	got, err := ParseParams(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, ps) {
		t.Fatalf("got %v\nwant %v", got, ps)
	}
	if b2 := MarshalParams(got); !bytes.Equal(b2, b) {
		t.Fatalf("remarshal %x\nwant %x", b2, b)
	}
	if ps, err := ParseParams(nil); err != nil || len(ps) != 0 {
		t.Fatalf("empty data: %v %v", ps, err)
	}
}

// TestReservedIgnored: the header's reserved octet, the IP parameter's
// reserved octet and its reserved flag bit are ignored on receipt and
// sent as zero.
func TestReservedIgnored(t *testing.T) {
	b := unhex(t, "07 | 5a | 0004 | 00000007   03 | ff | 0006 | 11 | 77 | c0000201  03 | 00 | 0012 | 81 | 00 | c0000201 | 01 | 00 | 00 | ee | 00000000 | 00000000")
	ps, err := ParseParams(b)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := ps[0].ID(); err != nil || id != 7 {
		t.Fatalf("ID %d %v", id, err)
	}
	ip, err := ps[1].IP()
	if err != nil || !reflect.DeepEqual(ip, IP{Addr: v4a, Old: true}) {
		t.Fatalf("IP %v %v", ip, err)
	}
	ip, err = ps[2].IP()
	if err != nil || !reflect.DeepEqual(ip, IP{Addr: v4a, Info: &Info{Preference: 1}}) {
		t.Fatalf("IP with M %v %v", ip, err)
	}
	if got := MarshalParams(ps[:1]); !bytes.Equal(got, unhex(t, "07 00 0004 00000007")) {
		t.Fatalf("reserved octet not sent as zero: %x", got)
	}
	if got := MarshalParams([]Param{IPParam(ip)}); got[ParamHeaderLen]&flagReserved != 0 || got[ParamHeaderLen+1] != 0 {
		t.Fatalf("IP reserved bits not sent as zero: %x", got)
	}
}

// TestMalformedParams feeds every malformed-input rule to ParseParams.
func TestMalformedParams(t *testing.T) {
	for _, c := range []struct {
		name, wire string
	}{
		{"truncated header", "07 00 00"},
		{"header after a parameter", "07 00 0004 00000001 | 01"},
		{"length past end", "07 00 0004 000000"},
		{"length past end, second", "01 00 0001 02 | 07 00 0005 00000001"},
		{"VERSION empty", "01 00 0000"},
		{"VERSION two octets", "01 00 0002 0102"},
		{"SPI one octet", "02 00 0001 03"},
		{"SPI size past value", "02 00 0005 03 04 010203"},
		{"SPI size short of value", "02 00 0007 03 04 0102030405"},
		{"SPI ESP of 8", "02 00 000a 03 08 0102030405060708"},
		{"SPI IKE of 8", "02 00 000a 01 08 0102030405060708"},
		{"SPI unknown protocol", "02 00 0006 05 04 01020304"},
		{"SPI protocol none", "02 00 0006 00 04 01020304"},
		{"IP too short", "03 00 0001 10"},
		{"IP v4 short", "03 00 0005 10 00 c00002"},
		{"IP v4 long", "03 00 0007 10 00 c000020100"},
		{"IP V with 4 octets", "03 00 0006 50 00 c0000201"},
		{"IP M without room", "03 00 0006 90 00 c0000201"},
		{"IP M short", "03 00 0011 90 00 c0000201 0000000000000000000000"},
		{"IP O and N", "03 00 0006 18 00 c0000201"},
		{"IPSEC_MODE empty", "04 00 0000"},
		{"IPSEC_MODE 0", "04 00 0001 00"},
		{"IPSEC_MODE 3", "04 00 0001 03"},
		{"IPSEC_MODE long", "04 00 0002 0100"},
		{"IPSEC_PROTO IKE", "05 00 0001 01"},
		{"IPSEC_PROTO 0", "05 00 0001 00"},
		{"IPSEC_PROTO long", "05 00 0002 0300"},
		{"SELECTOR_SPECIFIC_VALUE short", "06 00 0003 070000"},
		{"SELECTOR_SPECIFIC_VALUE length mismatch", "06 00 0010 07 11 0014 01b201b2 0a010000 0a0100ff"},
		{"SELECTOR_SPECIFIC_VALUE v4 of 20", "06 00 0014 07 11 0014 01b201b2 0a010000 0a0100ff 00000000"},
		{"SELECTOR_SPECIFIC_VALUE v6 of 16", "06 00 0010 08 11 0010 01b201b2 0a010000 0a0100ff"},
		{"ID short", "07 00 0003 000001"},
		{"ID long", "07 00 0005 0000000100"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ps, err := ParseParams(unhex(t, c.wire))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, %v; want ErrMalformed", ps, err)
			}
			if errors.Is(err, ErrUnknownCritical) {
				t.Fatalf("%v is not about an unknown critical parameter", err)
			}
		})
	}
}

// TestUnknownCritical: an unknown parameter with C fails the parse naming
// its type; without C it is kept.
func TestUnknownCritical(t *testing.T) {
	_, err := ParseParams(unhex(t, "07 00 0004 00000001 | ff 00 0002 abcd"))
	var uc *UnknownCriticalError
	if !errors.As(err, &uc) || uc.Type != 0x7f {
		t.Fatalf("got %v, want UnknownCriticalError for type 127", err)
	}
	if !errors.Is(err, ErrUnknownCritical) || !errors.Is(err, ErrMalformed) {
		t.Fatalf("%v: want ErrUnknownCritical and ErrMalformed", err)
	}
	b := unhex(t, "07 00 0004 00000001 | 7f 00 0002 abcd")
	ps, err := ParseParams(b)
	if err != nil || len(ps) != 2 || ps[1].Type != 0x7f || ps[1].Critical || !bytes.Equal(ps[1].Value, []byte{0xab, 0xcd}) {
		t.Fatalf("non-critical unknown: %v %v", ps, err)
	}
	if !bytes.Equal(MarshalParams(ps), b) {
		t.Fatal("unknown parameter not kept as it was")
	}
	// A critical VERSION naming an unknown version parses: the
	// negotiation judges it.
	ps, err = ParseParams(unhex(t, "81 00 0001 09"))
	if err != nil || len(ps) != 1 {
		t.Fatalf("critical VERSION 9: %v %v", ps, err)
	}
	if v, _ := ps[0].Version(); v != 9 {
		t.Fatalf("version %d", v)
	}
}

// TestReadersCheckType: a typed reader refuses a parameter of another
// type.
func TestReadersCheckType(t *testing.T) {
	p := IDParam(1)
	if _, err := p.Version(); !errors.Is(err, ErrMalformed) {
		t.Error("Version of an ID")
	}
	if _, err := p.SPI(); !errors.Is(err, ErrMalformed) {
		t.Error("SPI of an ID")
	}
	if _, err := p.IP(); !errors.Is(err, ErrMalformed) {
		t.Error("IP of an ID")
	}
	if _, err := p.Mode(); !errors.Is(err, ErrMalformed) {
		t.Error("Mode of an ID")
	}
	if _, err := p.Proto(); !errors.Is(err, ErrMalformed) {
		t.Error("Proto of an ID")
	}
	if _, err := p.Selector(); !errors.Is(err, ErrMalformed) {
		t.Error("Selector of an ID")
	}
	if _, err := VersionParam(1, false).ID(); !errors.Is(err, ErrMalformed) {
		t.Error("ID of a VERSION")
	}
}

// TestInfoSeconds: durations go on the wire as whole seconds, capped.
func TestInfoSeconds(t *testing.T) {
	p := IPParam(IP{Addr: v4a, Info: &Info{Start: 1500 * time.Millisecond, Lifetime: 1 << 62}})
	ip, err := p.IP()
	if err != nil {
		t.Fatal(err)
	}
	if ip.Info.Start != time.Second || ip.Info.Lifetime != 0xffffffff*time.Second {
		t.Fatalf("start %v lifetime %v", ip.Info.Start, ip.Info.Lifetime)
	}
	p = IPParam(IP{Addr: v4a, Info: &Info{Start: -time.Second}})
	if ip, _ := p.IP(); ip.Info.Start != 0 {
		t.Fatalf("negative start sent as %v", ip.Info.Start)
	}
}

// TestSPIHelpers covers the SPI accessors.
func TestSPIHelpers(t *testing.T) {
	if v, ok := ChildSPI(0xdeadbeef).Child(); !ok || v != 0xdeadbeef {
		t.Fatalf("Child %x %v", v, ok)
	}
	if _, ok := CurrentIKE().Child(); ok {
		t.Fatal("IKE SPI read as a child's")
	}
	if _, _, cur, ok := CurrentIKE().IKE(); !ok || !cur {
		t.Fatal("CurrentIKE")
	}
	if i, r, cur, ok := IKESPI(1, 2).IKE(); !ok || cur || i != 1 || r != 2 {
		t.Fatalf("IKESPI %v %v %v %v", i, r, cur, ok)
	}
	if _, _, _, ok := ChildSPI(1).IKE(); ok {
		t.Fatal("ESP SPI read as an IKE SA's")
	}
	if !ChildSPI(5).Equal(ChildSPI(5)) || ChildSPI(5).Equal(ChildSPI(6)) {
		t.Fatal("Equal")
	}
}

// TestNames checks the String methods users see in logs.
func TestNames(t *testing.T) {
	for got, want := range map[string]string{
		VersionNone.String():                          "none",
		VersionMOBIKE.String():                        "MOBIKE",
		VersionMOBIKEX.String():                       "MOBIKE-X",
		ParamSelectorValue.String():                   "SELECTOR_SPECIFIC_VALUE",
		ParamType(99).String():                        "PARAM(99)",
		StateEstablished.String():                     "ESTABLISHED",
		ActionRemove.String():                         "REMOVE_SA_ADDRESS",
		ikev2.NotifyClosingSA.String():                "CLOSING_SA",
		ikev2.NotifyUnmatchedSelectorSet.String():     "UNMATCHED_SELECTOR_SET",
		ikev2.NotifyMOBIKEUnsupportedVersion.String(): "MOBIKE_UNSUPPORTED_VERSION",
		ModeTransport.String():                        "transport",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	if ikev2.NotifyMOBIKEUnsupportedVersion.IsError() || !ikev2.NotifyUnacceptableAddress.IsError() {
		t.Error("MOBIKE_UNSUPPORTED_VERSION must be a status type and UNACCEPTABLE_ADDRESS an error")
	}
}

func netipPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
