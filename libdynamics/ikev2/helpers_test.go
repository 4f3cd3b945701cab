package ikev2

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

func TestNotifyHelpers(t *testing.T) {
	if g, ok := InvalidKE(DHECP256).Group(); !ok || g != DHECP256 {
		t.Errorf("InvalidKE(19).Group() = %v, %v", g, ok)
	}
	if _, ok := NewNotify(NotifyCookie, []byte{0, 14}).Group(); ok {
		t.Error("Group of a COOKIE")
	}
	for _, s := range []string{"192.168.100.1", "2001:db8::1", "::ffff:10.0.0.1"} {
		a := netip.MustParseAddr(s)
		n := AdditionalAddress(a)
		got, ok := n.Addr()
		if !ok || got != a.Unmap() {
			t.Errorf("AdditionalAddress(%s).Addr() = %v, %v", s, got, ok)
		}
		if _, _, err := MarshalPayloads([]Payload{n}); err != nil {
			t.Errorf("AdditionalAddress(%s): %v", s, err)
		}
	}
	if n := AdditionalAddress(netip.MustParseAddr("10.0.0.1")); n.NotifyType != NotifyAdditionalIP4Address {
		t.Errorf("IPv4 address in %s", n.NotifyType)
	}
	r := RekeySA(ProtocolESP, 0xc0ffee01)
	if spi, ok := r.ChildSPI(); !ok || spi != 0xc0ffee01 {
		t.Errorf("RekeySA.ChildSPI() = %x, %v", spi, ok)
	}
	if _, ok := NewNotify(NotifyRekeySA, nil).ChildSPI(); ok {
		t.Error("ChildSPI without an SPI")
	}
	hs := SignatureHashAlgorithms(HashSHA2_256, HashIdentity)
	if got := hs.Hashes(); !reflect.DeepEqual(got, []HashAlgorithm{HashSHA2_256, HashIdentity}) {
		t.Errorf("Hashes() = %v", got)
	}
	if got := r.String(); got != "REKEY_SA ESP spi=c0ffee01" {
		t.Errorf("String() = %q", got)
	}
	ps := goldenMOBIKEPlainValue()
	if n := FindNotify(ps, NotifyCookie2); n == nil || len(n.Data) != 16 {
		t.Errorf("FindNotify(COOKIE2) = %v", n)
	}
	if n := FindNotify(ps, NotifyCookie); n != nil {
		t.Errorf("FindNotify(COOKIE) = %v", n)
	}
	if p := Find(goldenAuthPlainValue(), PayloadIDr); p == nil || !p.(*ID).Responder {
		t.Errorf("Find(IDr) = %v", p)
	}
	if p := Find([]Payload{(*ID)(nil), nil}, PayloadIDi); p != nil {
		t.Errorf("Find among nil payloads = %v", p)
	}
	if n := FindNotify([]Payload{(*Notify)(nil)}, 0); n != nil {
		t.Errorf("FindNotify among nil payloads = %v", n)
	}
	if s := Summary([]Payload{nil, (*TS)(nil)}); s != "nil nil" {
		t.Errorf("Summary of nil payloads = %q", s)
	}
	if p := Find(ps, PayloadSA); p != nil {
		t.Errorf("Find(SA) = %v", p)
	}
}

func TestDigitalSignature(t *testing.T) {
	alg := h("300a06082a8648ce3d040302")
	a, err := NewDigitalSignature(alg, []byte{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	gotAlg, sig, err := a.DigitalSignature()
	if err != nil || !reflect.DeepEqual(gotAlg, alg) || !reflect.DeepEqual(sig, []byte{1, 2, 3}) {
		t.Errorf("DigitalSignature() = %x, %x, %v", gotAlg, sig, err)
	}
	if _, err := NewDigitalSignature(nil, []byte{1}); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty AlgorithmIdentifier: %v", err)
	}
	if _, err := NewDigitalSignature(alg, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty signature: %v", err)
	}
	if _, _, err := (&Auth{Method: AuthSharedKeyMIC, Data: []byte{1}}).DigitalSignature(); !errors.Is(err, ErrInvalid) {
		t.Errorf("DigitalSignature of a PSK AUTH: %v", err)
	}
}

func TestSelectors(t *testing.T) {
	for _, tc := range []struct {
		prefix     string
		start, end string
		typ        TSType
	}{
		{"10.1.0.0/24", "10.1.0.0", "10.1.0.255", TSIPv4AddrRange},
		{"10.1.0.77/24", "10.1.0.0", "10.1.0.255", TSIPv4AddrRange},
		{"10.1.0.10/32", "10.1.0.10", "10.1.0.10", TSIPv4AddrRange},
		{"0.0.0.0/0", "0.0.0.0", "255.255.255.255", TSIPv4AddrRange},
		{"10.0.0.0/9", "10.0.0.0", "10.127.255.255", TSIPv4AddrRange},
		{"2001:db8::/64", "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff", TSIPv6AddrRange},
		{"::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", TSIPv6AddrRange},
	} {
		s := PrefixSelector(netip.MustParsePrefix(tc.prefix), 17)
		want := Selector{Type: tc.typ, Protocol: 17, EndPort: 0xffff,
			Start: netip.MustParseAddr(tc.start), End: netip.MustParseAddr(tc.end)}
		if !reflect.DeepEqual(s, want) {
			t.Errorf("PrefixSelector(%s) = %v, want %v", tc.prefix, s, want)
		}
	}
	ts := &TS{Selectors: []Selector{PrefixSelector(netip.MustParsePrefix("10.1.0.0/24"), 17)}}
	if got := ts.String(); got != "10.1.0.0-10.1.0.255 proto 17 ports 0-65535" {
		t.Errorf("String() = %q", got)
	}
}

func TestIDs(t *testing.T) {
	for _, s := range []string{"10.1.0.1", "2001:db8::1"} {
		a := netip.MustParseAddr(s)
		id := AddrID(true, a)
		if got, ok := id.Addr(); !ok || got != a || id.Type() != PayloadIDr {
			t.Errorf("AddrID(%s) = %v: %v %v", s, id, got, ok)
		}
		if id.String() != s {
			t.Errorf("String() = %q", id.String())
		}
	}
	id := NewID(false, IDRFC822Addr, []byte("mn@example.org"))
	if id.Type() != PayloadIDi || id.String() != "mn@example.org" {
		t.Errorf("NewID: %v %v", id.Type(), id)
	}
	if got := id.RestOfIDPayload(); !reflect.DeepEqual(got, h("03000000", "6d6e406578616d706c652e6f7267")) {
		t.Errorf("RestOfIDPayload() = %x", got)
	}
	if got := NewID(false, IDKeyID, []byte{0xab}).String(); got != "ID_KEY_ID:ab" {
		t.Errorf("key ID String() = %q", got)
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{ExchangeIKESAInit.String(), "IKE_SA_INIT"},
		{ExchangeType(99).String(), "EXCHANGE(99)"},
		{PayloadNonce.String(), "Nonce"},
		{PayloadType(200).String(), "PAYLOAD(200)"},
		{(FlagInitiator | FlagResponse).String(), "IR"},
		{Flags(0x01).String(), "+0x01"},
		{NotifyMOBIKESupported.String(), "MOBIKE_SUPPORTED"},
		{NotifyType(40000).String(), "NOTIFY(40000)"},
		{EncrTransform(EncrAESGCM16, 256).String(), "ENCR_AES_GCM_16/256"},
		{DHTransform(DHCurve25519).String(), "CURVE_25519"},
		{ESNTransform(ESNNone).String(), "NO_EXT_SEQ"},
		{Transform{Type: 99, ID: 3}.String(), "TRANSFORM(99):3"},
		{SPI(0xab).String(), "00000000000000ab"},
		{ProtocolESP.String(), "ESP"},
		{AuthDigitalSignature.String(), "DIGITAL_SIGNATURE"},
		{goldenInitRequestValue().String(), "IKE_SA_INIT request 0 [ SA KE Nonce N(NAT_DETECTION_SOURCE_IP) " +
			"N(NAT_DETECTION_DESTINATION_IP) N(IKEV2_FRAGMENTATION_SUPPORTED) N(SIGNATURE_HASH_ALGORITHMS) V ]"},
		{goldenInitResponseValue().Payloads[0].(*SA).Proposals[0].String(),
			"#1 IKE spi= ENCR_AES_GCM_16/128,PRF_HMAC_SHA2_256,CURVE_25519"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if !NotifyNoProposalChosen.IsError() || NotifyCookie.IsError() {
		t.Error("IsError")
	}
	if !EncrAESGCM16.AEAD() || EncrAESCBC.AEAD() {
		t.Error("AEAD")
	}
	if n, ok := KeyExchangeLen(DHMODP2048); !ok || n != 256 {
		t.Errorf("KeyExchangeLen(14) = %d, %v", n, ok)
	}
	p := goldenInitRequestValue().Payloads[0].(*SA).Proposals[1]
	if got := p.ByType(TransformInteg); len(got) != 1 || got[0].ID != uint16(IntegHMACSHA2_256_128) {
		t.Errorf("ByType(INTEG) = %v", got)
	}
	if bits, ok := p.Transforms[0].KeyLength(); !ok || bits != 128 {
		t.Errorf("KeyLength() = %d, %v", bits, ok)
	}
}
