package discovery

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"testing"
)

// withChecksum returns a copy of the ICMP message b with its checksum
// recomputed, so tests can reach the checks behind the checksum.
func withChecksum(b []byte) []byte {
	c := bytes.Clone(b)
	if len(c) >= 4 {
		c[2], c[3] = 0, 0
		putChecksum(c)
	}
	return c
}

func TestAdvertisementGolden(t *testing.T) {
	want := goldenAdvertisementValue()
	got, err := want.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if !bytes.Equal(got, goldenAdvertisement) {
		t.Errorf("Marshal:\n got % x\nwant % x", got, goldenAdvertisement)
	}
	parsed, err := ParseAdvertisement(goldenAdvertisement)
	if err != nil {
		t.Fatalf("ParseAdvertisement: %v", err)
	}
	if !reflect.DeepEqual(parsed, want) {
		t.Errorf("ParseAdvertisement:\n got %+v\nwant %+v", parsed, want)
	}
	if err := parsed.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestAdvertisementAppendMarshal(t *testing.T) {
	prefix := []byte{0xde, 0xad}
	b, err := goldenAdvertisementValue().AppendMarshal(bytes.Clone(prefix))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b[:2], prefix) || !bytes.Equal(b[2:], goldenAdvertisement) {
		t.Errorf("AppendMarshal: got % x, want % x then the golden message", b, prefix)
	}
}

func TestAdvertisementRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		adv  *Advertisement
	}{
		{"plain router advertisement", &Advertisement{
			Lifetime: 1800,
			Routers:  []RouterAddress{{Addr: netip.MustParseAddr("192.0.2.1"), Preference: 7}},
		}},
		{"home agent, not a router", &Advertisement{
			Code:     CodeMobilityOnly,
			Lifetime: 10,
			Extensions: []Extension{&MobilityAgent{
				Sequence: 0, RegistrationLifetime: InfiniteLifetime, Flags: FlagHomeAgent,
			}},
		}},
		{"every flag, reserved bits, not default router", &Advertisement{
			Lifetime: 9000,
			Routers:  []RouterAddress{{Addr: netip.MustParseAddr("10.3.0.1"), Preference: NotDefaultRouter}},
			Extensions: []Extension{
				&MobilityAgent{Sequence: 0xffff, RegistrationLifetime: 1, Flags: flagMask, Reserved: 0x1f,
					CareOfAddresses: []netip.Addr{netip.MustParseAddr("10.3.0.1")}},
				&PrefixLengths{Lengths: []uint8{32}},
			},
		}},
		{"most care-of addresses", &Advertisement{
			Extensions: []Extension{&MobilityAgent{Flags: FlagForeignAgent,
				CareOfAddresses: slices.Repeat([]netip.Addr{netip.MustParseAddr("198.51.100.7")}, MaxCareOfAddresses)}},
		}},
		{"unknown extensions kept in order", &Advertisement{
			Extensions: []Extension{
				&RawExtension{Type: 130},
				&Padding{},
				&RawExtension{Type: 24, Data: bytes.Repeat([]byte{0x5a}, 255)},
				&MobilityAgent{Sequence: 3},
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.adv.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			got, err := ParseAdvertisement(b)
			if err != nil {
				t.Fatalf("ParseAdvertisement: %v", err)
			}
			if !reflect.DeepEqual(got, tt.adv) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, tt.adv)
			}
			again, err := got.Marshal()
			if err != nil || !bytes.Equal(again, b) {
				t.Errorf("marshal after parse = % x, %v; want % x", again, err, b)
			}
		})
	}
}

func TestAdvertisementAccessors(t *testing.T) {
	a := goldenAdvertisementValue()
	m := a.MobilityAgent()
	if m == nil || m.Sequence != 258 || m.Flags.String() != "RBFT" {
		t.Fatalf("MobilityAgent() = %+v, want the extension with sequence 258 and flags RBFT", m)
	}
	if e, ok := a.Extension(200).(*RawExtension); !ok || !bytes.Equal(e.Data, []byte{0xab, 0xcd, 0xef}) {
		t.Errorf("Extension(200) = %#v, want the raw extension", a.Extension(200))
	}
	if e := a.Extension(24); e != nil {
		t.Errorf("Extension(24) = %#v, want nil", e)
	}
	for _, tt := range []struct {
		addr string
		n    int
		ok   bool
	}{
		{"10.2.0.1", 24, true},
		{"192.0.2.1", 28, true},
		{"10.2.0.2", 0, false}, // a care-of address, not a router address
	} {
		n, ok := a.PrefixLength(netip.MustParseAddr(tt.addr))
		if n != tt.n || ok != tt.ok {
			t.Errorf("PrefixLength(%s) = %d, %v; want %d, %v", tt.addr, n, ok, tt.n, tt.ok)
		}
	}
	wantPrefixes := []netip.Prefix{netip.MustParsePrefix("10.2.0.0/24"), netip.MustParsePrefix("192.0.2.0/28")}
	if got := a.Prefixes(); !slices.Equal(got, wantPrefixes) {
		t.Errorf("Prefixes() = %v, want %v", got, wantPrefixes)
	}

	plain := &Advertisement{Routers: a.Routers}
	if plain.MobilityAgent() != nil || plain.PrefixLengths() != nil || plain.Prefixes() != nil {
		t.Errorf("plain advertisement: accessors return extensions it does not have")
	}
	if _, ok := plain.PrefixLength(netip.MustParseAddr("10.2.0.1")); ok {
		t.Errorf("PrefixLength without a Prefix-Lengths extension reported ok")
	}
}

func TestParseAdvertisementTruncated(t *testing.T) {
	// Cutting the golden message at an extension boundary leaves a shorter
	// valid message; cutting anywhere else must fail.
	boundaries := map[int]bool{24: true, 40: true, 44: true, 49: true}
	for n := range len(goldenAdvertisement) {
		b := goldenAdvertisement[:n]
		// Dropping the final zero octet (the padding) leaves the
		// checksum valid: the checksum pads odd lengths with zero.
		if _, err := ParseAdvertisement(b); err == nil && n != 49 {
			t.Errorf("length %d with the original checksum: parsed, want an error", n)
		}
		fixed := withChecksum(b)
		_, err := ParseAdvertisement(fixed)
		switch {
		case boundaries[n] && err != nil:
			t.Errorf("length %d (extension boundary): %v", n, err)
		case !boundaries[n] && !errors.Is(err, ErrTruncated):
			t.Errorf("length %d: err = %v, want ErrTruncated", n, err)
		}
	}
}

func TestParseAdvertisementErrors(t *testing.T) {
	hdr := []byte{9, 0, 0, 0, 0, 2, 0, 30} // no router addresses
	ma := func(length byte, data ...byte) []byte {
		return append(append(bytes.Clone(hdr), 16, length), data...)
	}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"wrong type", withChecksum([]byte{10, 0, 0, 0, 0, 2, 0, 30}), ErrType},
		{"wrong code", withChecksum([]byte{9, 1, 0, 0, 0, 2, 0, 30}), ErrCode},
		{"entry size 1", withChecksum([]byte{9, 0, 0, 0, 0, 1, 0, 30}), ErrEntrySize},
		{"entry size 3", withChecksum([]byte{9, 0, 0, 0, 0, 3, 0, 30}), ErrEntrySize},
		{"router addresses missing", withChecksum([]byte{9, 0, 0, 0, 1, 2, 0, 30, 10, 0, 0, 1}), ErrTruncated},
		{"mobility length 0", withChecksum(ma(0)), ErrExtensionLength},
		{"mobility length 5", withChecksum(ma(5, 0, 0, 0, 0, 0)), ErrExtensionLength},
		{"mobility length 7", withChecksum(ma(7, 0, 0, 0, 0, 0, 0, 1)), ErrExtensionLength},
		{"mobility length 13", withChecksum(ma(13, make([]byte, 13)...)), ErrExtensionLength},
		{"mobility length beyond message", withChecksum(ma(10, 0, 0, 0, 0, 0, 0)), ErrTruncated},
		{"prefix lengths without routers", withChecksum(append(bytes.Clone(hdr), 19, 1, 24)), ErrExtensionLength},
		{"prefix length 33", withChecksum([]byte{9, 0, 0, 0, 1, 2, 0, 30, 10, 0, 0, 1, 0, 0, 0, 0, 19, 1, 33}), ErrInvalid},
		{"raw extension without length", withChecksum(append(bytes.Clone(hdr), 200)), ErrTruncated},
		{"raw extension longer than message", withChecksum(append(bytes.Clone(hdr), 200, 4, 1, 2, 3)), ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseAdvertisement(tt.b)
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if a != nil {
				t.Errorf("returned %+v with the error", a)
			}
		})
	}
	// Prefix-Lengths must count exactly the router addresses.
	golden := bytes.Clone(goldenAdvertisement)
	golden[41] = 3 // length 3 for two router addresses; the next octet is 200
	if _, err := ParseAdvertisement(withChecksum(golden)); !errors.Is(err, ErrExtensionLength) {
		t.Errorf("prefix lengths length 3 for 2 routers: err = %v, want ErrExtensionLength", err)
	}
}

func TestParseAdvertisementChecksum(t *testing.T) {
	bad := bytes.Clone(goldenAdvertisement)
	binary.BigEndian.PutUint16(bad[2:], 0x9b91)
	if _, err := ParseAdvertisement(bad); !errors.Is(err, ErrChecksum) {
		t.Errorf("checksum off by one: err = %v, want ErrChecksum", err)
	}
	// The Internet checksum catches every single-bit error; the type and
	// code octets are checked before it.
	for i := range len(goldenAdvertisement) * 8 {
		b := bytes.Clone(goldenAdvertisement)
		b[i/8] ^= 0x80 >> (i % 8)
		_, err := ParseAdvertisement(b)
		if err == nil {
			t.Fatalf("bit %d flipped: parsed", i)
		}
		if i >= 16 && !errors.Is(err, ErrChecksum) {
			t.Errorf("bit %d flipped: err = %v, want ErrChecksum", i, err)
		}
	}
}

func TestAdvertisementMarshalErrors(t *testing.T) {
	v4 := netip.MustParseAddr("10.2.0.1")
	tests := []struct {
		name string
		adv  *Advertisement
		want error
	}{
		{"code 5", &Advertisement{Code: 5}, ErrCode},
		{"IPv6 router address", &Advertisement{Routers: []RouterAddress{{Addr: netip.MustParseAddr("2001:db8::1")}}}, ErrInvalid},
		{"IPv4-mapped router address", &Advertisement{Routers: []RouterAddress{{Addr: netip.MustParseAddr("::ffff:10.2.0.1")}}}, ErrInvalid},
		{"zero router address", &Advertisement{Routers: []RouterAddress{{}}}, ErrInvalid},
		{"256 routers", &Advertisement{Routers: make([]RouterAddress, 256)}, ErrInvalid},
		{"nil extension", &Advertisement{Extensions: []Extension{nil}}, ErrInvalid},
		{"prefix lengths count", &Advertisement{Routers: []RouterAddress{{Addr: v4}},
			Extensions: []Extension{&PrefixLengths{Lengths: []uint8{24, 24}}}}, ErrExtensionLength},
		{"prefix length 33", &Advertisement{Routers: []RouterAddress{{Addr: v4}},
			Extensions: []Extension{&PrefixLengths{Lengths: []uint8{33}}}}, ErrInvalid},
		{"undefined flag bit", &Advertisement{Extensions: []Extension{&MobilityAgent{Flags: 0x0010}}}, ErrInvalid},
		{"reserved above five bits", &Advertisement{Extensions: []Extension{&MobilityAgent{Reserved: 0x20}}}, ErrInvalid},
		{"too many care-of addresses", &Advertisement{Extensions: []Extension{&MobilityAgent{
			CareOfAddresses: slices.Repeat([]netip.Addr{v4}, MaxCareOfAddresses+1)}}}, ErrInvalid},
		{"IPv6 care-of address", &Advertisement{Extensions: []Extension{&MobilityAgent{
			CareOfAddresses: []netip.Addr{netip.MustParseAddr("2001:db8::1")}}}}, ErrInvalid},
		{"raw data too long", &Advertisement{Extensions: []Extension{&RawExtension{Type: 200, Data: make([]byte, 256)}}}, ErrInvalid},
		{"raw type 0", &Advertisement{Extensions: []Extension{&RawExtension{Type: 0}}}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.adv.Marshal()
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if b != nil {
				t.Errorf("returned % x with the error", b)
			}
		})
	}
}

func TestAdvertisementValidate(t *testing.T) {
	coa := netip.MustParseAddr("10.2.0.1")
	tests := []struct {
		name string
		exts []Extension
		want error // nil: valid
	}{
		{"router advertisement", nil, nil},
		{"skippable unknown", []Extension{&MobilityAgent{}, &RawExtension{Type: 128}}, nil},
		{"non-skippable unknown", []Extension{&MobilityAgent{}, &RawExtension{Type: 127}}, ErrUnknownExtension},
		{"challenge is not decoded here", []Extension{&RawExtension{Type: 24, Data: []byte{1, 2, 3, 4}}}, ErrUnknownExtension},
		{"two mobility extensions", []Extension{&MobilityAgent{}, &MobilityAgent{}}, ErrInvalid},
		{"two prefix-lengths extensions", []Extension{&PrefixLengths{}, &PrefixLengths{}}, ErrInvalid},
		{"F without care-of address", []Extension{&MobilityAgent{Flags: FlagForeignAgent}}, ErrInvalid},
		{"F with care-of address", []Extension{&MobilityAgent{Flags: FlagForeignAgent, CareOfAddresses: []netip.Addr{coa}}}, nil},
		{"H without care-of address", []Extension{&MobilityAgent{Flags: FlagHomeAgent}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := (&Advertisement{Extensions: tt.exts}).Validate()
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Validate() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseAdvertisementDoesNotAlias(t *testing.T) {
	b := bytes.Clone(goldenAdvertisement)
	a, err := ParseAdvertisement(b)
	if err != nil {
		t.Fatal(err)
	}
	clear(b)
	if !reflect.DeepEqual(a, goldenAdvertisementValue()) {
		t.Errorf("parsed value changed when the input buffer was reused: %+v", a)
	}
}
