package mip

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// The golden hierarchy messages' session security association. The
// authenticators and the masked key below were computed with Python's
// hmac and hashlib, independently of this package.
var (
	goldenSessionKey = []byte{0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf}
	goldenSASession  = SecurityAssociation{SPI: 0x1234, Alg: HMACMD5, Key: goldenSessionKey}
)

// goldenRequestMNGFA is a local-move request: the MN-GFA authenticator
// with the session key just before the Mobile-Home authenticator, and the
// FA Public Key extension the lowest foreign agent appended after it.
var goldenRequestMNGFA = []byte{
	1, 0x42, 0x02, 0x58, // request, flags B T, lifetime 600
	10, 1, 0, 10, // home address
	10, 1, 0, 1, // home agent
	10, 0, 0, 2, // care-of address: the highest foreign agent
	0xeb, 0x8f, 0x2f, 0x40, 0x12, 0x34, 0x56, 0x78, // identification
	// Generalized Authentication (RFC 3012), sub-type MN-GFA (RFC 4857)
	36, 3, // type, sub-type
	0x00, 0x14, // length 20
	0x00, 0x00, 0x12, 0x34, // SPI 0x1234
	0x6f, 0xcb, 0xe8, 0x65, 0xed, 0x24, 0xcb, 0x76, // HMAC-MD5 with the session key
	0x0d, 0xb8, 0x5f, 0x7f, 0x1f, 0x80, 0xa7, 0x56,
	// Mobile-Home
	32, 20, 0x00, 0x00, 0x03, 0xe8,
	0xa0, 0xca, 0x6d, 0x55, 0xb7, 0x16, 0xc2, 0xfc,
	0xe3, 0xff, 0xc7, 0x0a, 0x8a, 0x26, 0xb8, 0x82,
	// FA Public Key, one fragment
	255, 12, // experimental, length
	2,           // sub-type FA Public Key
	10, 0, 1, 2, // agent
	0, 1, // fragment 0 of 1
	0x30, 0x03, 0x02, 0x01, 0x01, // DER
}

// goldenReplySession is the home agent's reply to a hierarchical
// registration: the Mobile Session Key before the Mobile-Home
// authenticator, one FA Session Key after it.
var goldenReplySession = []byte{
	3, 0, 0x02, 0x58, // reply, accepted, lifetime 600
	10, 1, 0, 10, // home address
	10, 1, 0, 1, // home agent
	0xeb, 0x8f, 0x2f, 0x40, 0x12, 0x34, 0x56, 0x78, // identification
	// Mobile Session Key
	255, 25, 3,
	0x00, 0x00, 0x12, 0x34, // session SPI
	0x00, 0x00, 0x02, 0x58, // lifetime 600
	0x7a, 0xfd, 0x00, 0x04, 0x78, 0xb4, 0xb0, 0x07, // key XOR MD5(k | id | k)
	0x58, 0x7a, 0xed, 0x59, 0xc6, 0x21, 0x9d, 0xa3,
	// Mobile-Home
	32, 20, 0x00, 0x00, 0x03, 0xe8,
	0x82, 0xfd, 0x0a, 0x5e, 0x30, 0xdd, 0x24, 0x63,
	0x91, 0x09, 0x03, 0x41, 0x28, 0xc5, 0x24, 0xa9,
	// FA Session Key, one fragment
	255, 15, 4,
	10, 0, 1, 2, // agent
	0x00, 0x00, 0x12, 0x34, // SPI
	0, 1, // fragment 0 of 1
	0xde, 0xad, 0xbe, 0xef, // ciphertext
}

// goldenReplyLocal is a switching agent's answer to a local move: no
// Mobile-Home authenticator, an MN-GFA authenticator over the reply.
var goldenReplyLocal = []byte{
	3, 0, 0x01, 0x2c, // reply, accepted, lifetime 300
	10, 1, 0, 10,
	10, 1, 0, 1,
	0xeb, 0x8f, 0x2f, 0x40, 0x12, 0x34, 0x56, 0x79,
	36, 3, 0x00, 0x14, 0x00, 0x00, 0x12, 0x34,
	0x88, 0x56, 0xeb, 0xb7, 0xc0, 0x3d, 0x82, 0x11,
	0x45, 0x3f, 0x63, 0x19, 0x31, 0xc8, 0x9f, 0xc7,
}

// goldenMasked is the masked key of goldenReplySession.
var goldenMasked = [16]byte(goldenReplySession[31:47])

func TestGoldenRequestMNGFA(t *testing.T) {
	// Building it: the mobile's part, then the agent's appended bytes.
	r := goldenRequestValue()
	r.CareOf = netip.MustParseAddr("10.0.0.2")
	mustAuth(t, r, TypeGeneralizedAuth, goldenSASession)
	mustAuth(t, r, TypeMobileHome, goldenSAHMAC)
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	b, err = AppendFAPublicKey(b, FAPublicKey{Agent: netip.MustParseAddr("10.0.1.2"), DER: []byte{0x30, 0x03, 0x02, 0x01, 0x01}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, goldenRequestMNGFA) {
		t.Fatalf("built:\n got %x\nwant %x", b, goldenRequestMNGFA)
	}

	// Parsing it.
	p, err := ParseRequest(goldenRequestMNGFA)
	if err != nil {
		t.Fatal(err)
	}
	a, i := p.Auth(TypeGeneralizedAuth)
	want := &Auth{Type: TypeGeneralizedAuth, Subtype: SubtypeMNGFA, SPI: 0x1234, Authenticator: goldenRequestMNGFA[32:48]}
	if i != 0 || !reflect.DeepEqual(a, want) {
		t.Fatalf("Auth(36) = %+v, %d; want %+v, 0", a, i, want)
	}
	if mh, i := p.Auth(TypeMobileHome); mh == nil || i != 1 {
		t.Fatalf("Auth(32) at %d", i)
	}
	if got := p.ExtensionBytes(0); !bytes.Equal(got, goldenRequestMNGFA[24:48]) {
		t.Errorf("ExtensionBytes(0) = %x", got)
	}
	if !IsHierarchyExtension(p.Extensions[2]) || IsHierarchyExtension(p.Extensions[0]) || IsHierarchyExtension(p.Extensions[1]) {
		t.Error("IsHierarchyExtension: want only the FA Public Key extension")
	}
	keys, err := FAPublicKeys(p.Extensions)
	if err != nil || len(keys) != 1 || keys[0].Agent != netip.MustParseAddr("10.0.1.2") || !bytes.Equal(keys[0].DER, []byte{0x30, 0x03, 0x02, 0x01, 0x01}) {
		t.Fatalf("FAPublicKeys = %+v, %v", keys, err)
	}
	roundTrip(t, p, goldenRequestMNGFA)

	// Both authenticators verify on the received bytes, each with its own
	// association, and the session one fails with any other key.
	if err := VerifyRequest(goldenRequestMNGFA, TypeGeneralizedAuth, goldenSASession); err != nil {
		t.Errorf("VerifyRequest(36): %v", err)
	}
	if err := VerifyRequest(goldenRequestMNGFA, TypeMobileHome, goldenSAHMAC); err != nil {
		t.Errorf("VerifyRequest(32): %v", err)
	}
	wrong := goldenSASession
	wrong.Key = goldenKey
	if err := VerifyRequest(goldenRequestMNGFA, TypeGeneralizedAuth, wrong); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("VerifyRequest(36) with the wrong key = %v, want ErrAuthFailed", err)
	}
	if err := VerifyRequest(goldenRequestMNGFA, TypeGeneralizedAuth, goldenSAHMAC); !errors.Is(err, ErrSPIMismatch) {
		t.Errorf("VerifyRequest(36) with another SPI = %v, want ErrSPIMismatch", err)
	}
	if err := VerifyRequest(goldenRequestHMAC, TypeGeneralizedAuth, goldenSASession); !errors.Is(err, ErrAuthMissing) {
		t.Errorf("VerifyRequest(36) of a flat request = %v, want ErrAuthMissing", err)
	}
	tampered := bytes.Clone(goldenRequestMNGFA)
	tampered[3]++ // lifetime
	if err := VerifyRequest(tampered, TypeGeneralizedAuth, goldenSASession); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("VerifyRequest(36) of a changed lifetime = %v, want ErrAuthFailed", err)
	}
}

func TestGoldenReplySession(t *testing.T) {
	r := goldenReplyValue()
	r.Extensions = []Extension{&MobileSessionKey{SPI: 0x1234, Lifetime: 600, Masked: goldenMasked}}
	mustAuth(t, r, TypeMobileHome, goldenSAHMAC)
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	b, err = AppendFASessionKey(b, FASessionKey{Agent: netip.MustParseAddr("10.0.1.2"), SPI: 0x1234, Ciphertext: []byte{0xde, 0xad, 0xbe, 0xef}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, goldenReplySession) {
		t.Fatalf("built:\n got %x\nwant %x", b, goldenReplySession)
	}

	p, err := ParseReply(goldenReplySession)
	if err != nil {
		t.Fatal(err)
	}
	k, ok := FindMobileSessionKey(p.Extensions)
	if !ok || *k != (MobileSessionKey{SPI: 0x1234, Lifetime: 600, Masked: goldenMasked}) {
		t.Fatalf("FindMobileSessionKey = %+v, %v", k, ok)
	}
	// Unmasking with the mobile-home key and the identification gives
	// the session key (the mask is independent of this package).
	var key [16]byte
	mask := [16]byte{0xda, 0x5c, 0xa2, 0xa7, 0xdc, 0x11, 0x16, 0xa0, 0xf0, 0xd3, 0x47, 0xf2, 0x6a, 0x8c, 0x33, 0x0c}
	for i := range key {
		key[i] = k.Masked[i] ^ mask[i]
	}
	if !bytes.Equal(key[:], goldenSessionKey) {
		t.Errorf("unmasked key %x, want %x", key, goldenSessionKey)
	}
	fks, err := FASessionKeys(p.Extensions)
	want := []FASessionKey{{Agent: netip.MustParseAddr("10.0.1.2"), SPI: 0x1234, Ciphertext: []byte{0xde, 0xad, 0xbe, 0xef}}}
	if err != nil || !reflect.DeepEqual(fks, want) {
		t.Fatalf("FASessionKeys = %+v, %v; want %+v", fks, err, want)
	}
	if IsHierarchyExtension(p.Extensions[0]) || !IsHierarchyExtension(p.Extensions[2]) {
		t.Error("IsHierarchyExtension: want the FA Session Key extension only")
	}
	roundTrip(t, p, goldenReplySession)
	if err := VerifyReply(goldenReplySession, TypeMobileHome, goldenSAHMAC); err != nil {
		t.Errorf("VerifyReply: %v", err)
	}
	// The Mobile-Home authenticator covers the masked key.
	tampered := bytes.Clone(goldenReplySession)
	tampered[31] ^= 1
	if err := VerifyReply(tampered, TypeMobileHome, goldenSAHMAC); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("VerifyReply of a changed masked key = %v, want ErrAuthFailed", err)
	}
}

func TestGoldenReplyLocal(t *testing.T) {
	r := goldenReplyValue()
	r.Lifetime = 300
	r.ID = goldenID + 1
	mustAuth(t, r, TypeGeneralizedAuth, goldenSASession)
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, goldenReplyLocal) {
		t.Fatalf("built:\n got %x\nwant %x", b, goldenReplyLocal)
	}
	// AppendAuth gives the same bytes from the fixed part.
	if b, err := AppendAuth(goldenReplyLocal[:ReplyLen], TypeGeneralizedAuth, goldenSASession); err != nil || !bytes.Equal(b, goldenReplyLocal) {
		t.Fatalf("AppendAuth = %x, %v", b, err)
	}
	p, err := ParseReply(goldenReplyLocal)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, p, goldenReplyLocal)
	if err := VerifyReply(goldenReplyLocal, TypeGeneralizedAuth, goldenSASession); err != nil {
		t.Errorf("VerifyReply(36): %v", err)
	}
	if err := VerifyReply(goldenReplyLocal, TypeMobileHome, goldenSAHMAC); !errors.Is(err, ErrAuthMissing) {
		t.Errorf("VerifyReply(32) = %v, want ErrAuthMissing", err)
	}
}

func TestGeneralizedAuthOtherSubtype(t *testing.T) {
	// An MN-AAA (sub-type 1) extension parses and round-trips, but is not
	// the MN-GFA authenticator Auth and VerifyRequest look for.
	b := append(bytes.Clone(goldenRequestHMAC[:RequestLen]),
		36, 1, 0, 8, 0, 0, 0, 9, 1, 2, 3, 4)
	r, err := ParseRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	want := &Auth{Type: TypeGeneralizedAuth, Subtype: 1, SPI: 9, Authenticator: []byte{1, 2, 3, 4}}
	if !reflect.DeepEqual(r.Extensions[0], want) {
		t.Fatalf("parsed %+v, want %+v", r.Extensions[0], want)
	}
	roundTrip(t, r, b)
	if a, i := r.Auth(TypeGeneralizedAuth); a != nil || i != -1 {
		t.Errorf("Auth(36) = %+v, %d; want none", a, i)
	}
	if err := VerifyRequest(b, TypeGeneralizedAuth, goldenSASession); !errors.Is(err, ErrAuthMissing) {
		t.Errorf("VerifyRequest = %v, want ErrAuthMissing", err)
	}
}

func TestGeneralizedAuthMalformed(t *testing.T) {
	fixed := goldenRequestHMAC[:RequestLen]
	tests := []struct {
		name string
		ext  []byte
		want error
	}{
		{"type only", []byte{36}, ErrTruncated},
		{"no length", []byte{36, 3, 0}, ErrTruncated},
		{"length past end", []byte{36, 3, 0, 20, 0, 0, 0, 1}, ErrTruncated},
		{"shorter than SPI", []byte{36, 3, 0, 3, 0, 0, 1}, ErrExtensionLength},
		{"long length past end", []byte{36, 3, 0xff, 0xff, 0, 0, 0, 1}, ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := append(bytes.Clone(fixed), tt.ext...)
			if _, err := ParseRequest(b); !errors.Is(err, tt.want) {
				t.Fatalf("ParseRequest = %v, want %v", err, tt.want)
			}
			if err := VerifyRequest(b, TypeGeneralizedAuth, goldenSASession); !errors.Is(err, tt.want) {
				t.Fatalf("VerifyRequest = %v, want %v", err, tt.want)
			}
		})
	}
	// A sub-type on a type without one cannot be marshalled.
	if _, err := (&Auth{Type: TypeMobileHome, Subtype: 3, Authenticator: make([]byte, 16)}).AppendMarshal(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Auth 32 with a sub-type: %v, want ErrInvalid", err)
	}
	// A long authenticator needs the 16-bit length.
	long := &Auth{Type: TypeGeneralizedAuth, Subtype: 3, Authenticator: make([]byte, 300)}
	b, err := long.AppendMarshal(nil)
	if err != nil || len(b) != 4+4+300 || b[2] != 0x01 || b[3] != 0x30 {
		t.Fatalf("long 36 = %x, %v", b[:4], err)
	}
}

func TestFAPublicKeyFragments(t *testing.T) {
	// A 2048-bit key's DER is 294 bytes: two fragments. A 700-byte value
	// takes three.
	for _, n := range []int{1, MaxFAPublicKeyFragment, MaxFAPublicKeyFragment + 1, 294, 700} {
		der := make([]byte, n)
		for i := range der {
			der[i] = byte(i * 7)
		}
		k1 := FAPublicKey{Agent: netip.MustParseAddr("10.0.1.2"), DER: der}
		k2 := FAPublicKey{Agent: netip.MustParseAddr("10.0.0.2"), DER: []byte{1, 2, 3}}
		b := bytes.Clone(goldenRequestHMAC)
		var err error
		if b, err = AppendFAPublicKey(b, k1); err != nil {
			t.Fatal(err)
		}
		if b, err = AppendFAPublicKey(b, k2); err != nil {
			t.Fatal(err)
		}
		r, err := ParseRequest(b)
		if err != nil {
			t.Fatal(err)
		}
		wantFrags := (n+MaxFAPublicKeyFragment-1)/MaxFAPublicKeyFragment + 1
		if got := len(r.Extensions) - 1; got != wantFrags {
			t.Errorf("%d bytes: %d fragments, want %d", n, got, wantFrags)
		}
		for i := 1; i < len(r.Extensions); i++ {
			if !IsHierarchyExtension(r.Extensions[i]) {
				t.Errorf("extension %d is not a hierarchy extension", i)
			}
		}
		keys, err := FAPublicKeys(r.Extensions)
		if err != nil || !reflect.DeepEqual(keys, []FAPublicKey{k1, k2}) {
			t.Fatalf("%d bytes: FAPublicKeys = %d keys, %v", n, len(keys), err)
		}
		roundTrip(t, r, b)
		// The Mobile-Home authenticator still verifies: the fragments
		// come after it.
		if err := VerifyRequest(b, TypeMobileHome, goldenSAHMAC); err != nil {
			t.Errorf("VerifyRequest: %v", err)
		}
	}
}

func TestFASessionKeyFragments(t *testing.T) {
	ct := make([]byte, 512) // a 4096-bit key's ciphertext: three fragments
	for i := range ct {
		ct[i] = byte(i)
	}
	keys := []FASessionKey{
		{Agent: netip.MustParseAddr("10.0.1.2"), SPI: 300, Ciphertext: ct[:256]},
		{Agent: netip.MustParseAddr("10.0.0.2"), SPI: 300, Ciphertext: ct},
	}
	b := bytes.Clone(goldenReply)
	for _, k := range keys {
		var err error
		if b, err = AppendFASessionKey(b, k); err != nil {
			t.Fatal(err)
		}
	}
	r, err := ParseReply(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(r.Extensions); got != 1+2+3 {
		t.Errorf("%d extensions, want 6", got)
	}
	got, err := FASessionKeys(r.Extensions)
	if err != nil || !reflect.DeepEqual(got, keys) {
		t.Fatalf("FASessionKeys = %+v, %v", got, err)
	}
	roundTrip(t, r, b)
}

// fragment builds one raw fragment extension.
func fragment(sub uint8, agent byte, spi bool, idx, cnt byte, payload ...byte) Extension {
	d := []byte{sub, 10, 0, 1, agent}
	if spi {
		d = append(d, 0, 0, 1, 0)
	}
	d = append(d, idx, cnt)
	return &RawExtension{Type: TypeExperimental, Data: append(d, payload...)}
}

func TestBrokenFragments(t *testing.T) {
	pk := func(agent, idx, cnt byte, payload ...byte) Extension {
		return fragment(SubtypeFAPublicKey, agent, false, idx, cnt, payload...)
	}
	tests := []struct {
		name string
		exts []Extension
		want []string // agents' last octet . DER, of the complete keys
		bad  bool
	}{
		{"whole", []Extension{pk(2, 0, 2, 1), pk(2, 1, 2, 2), pk(1, 0, 1, 3)}, []string{"2:0102", "1:03"}, false},
		{"other extensions between", []Extension{pk(2, 0, 2, 1), &NAI{Name: "x"}, &MobileSessionKey{}, pk(2, 1, 2, 2)}, []string{"2:0102"}, false},
		{"missing middle", []Extension{pk(2, 0, 3, 1), pk(2, 2, 3, 3), pk(1, 0, 1, 4)}, []string{"1:04"}, true},
		{"missing end", []Extension{pk(1, 0, 1, 4), pk(2, 0, 2, 1)}, []string{"1:04"}, true},
		{"missing start", []Extension{pk(2, 1, 2, 2), pk(1, 0, 1, 4)}, []string{"1:04"}, true},
		{"agent changes", []Extension{pk(2, 0, 2, 1), pk(3, 1, 2, 2)}, nil, true},
		{"count changes", []Extension{pk(2, 0, 2, 1), pk(2, 1, 3, 2)}, nil, true},
		{"restart after break", []Extension{pk(2, 0, 2, 1), pk(1, 0, 1, 4)}, []string{"1:04"}, true},
		{"count zero", []Extension{pk(2, 0, 0, 1)}, nil, true},
		{"empty value", []Extension{pk(2, 0, 2), pk(2, 1, 2), pk(1, 0, 1, 4)}, []string{"1:04"}, true},
		{"short header", []Extension{&RawExtension{Type: TypeExperimental, Data: []byte{2, 10, 0}}}, nil, true},
		{"other sub-types ignored", []Extension{&RawExtension{Type: TypeExperimental, Data: []byte{9}}, fragment(SubtypeFASessionKey, 2, true, 0, 1, 5)}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := FAPublicKeys(tt.exts)
			if tt.bad != (err != nil) || (err != nil && !errors.Is(err, ErrMalformed)) {
				t.Errorf("error %v, want broken=%v wrapping ErrMalformed", err, tt.bad)
			}
			var got []string
			for _, k := range keys {
				got = append(got, strings.TrimPrefix(k.Agent.String(), "10.0.1.")+":"+hexString(k.DER))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("keys %v, want %v", got, tt.want)
			}
		})
	}
	// Session key fragments must agree on the SPI too.
	a := fragment(SubtypeFASessionKey, 2, true, 0, 2, 1)
	b := fragment(SubtypeFASessionKey, 2, true, 1, 2, 2).(*RawExtension)
	b.Data[8] = 7 // SPI 0x107
	if keys, err := FASessionKeys([]Extension{a, b}); !errors.Is(err, ErrMalformed) || len(keys) != 0 {
		t.Errorf("SPI change: %v, %v; want ErrMalformed and no key", keys, err)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

func TestHierarchyAppendErrors(t *testing.T) {
	agent := netip.MustParseAddr("10.0.1.2")
	tests := []struct {
		name string
		f    func() ([]byte, error)
	}{
		{"empty DER", func() ([]byte, error) { return AppendFAPublicKey(nil, FAPublicKey{Agent: agent}) }},
		{"IPv6 agent", func() ([]byte, error) {
			return AppendFAPublicKey(nil, FAPublicKey{Agent: netip.MustParseAddr("2001:db8::1"), DER: []byte{1}})
		}},
		{"no agent", func() ([]byte, error) { return AppendFASessionKey(nil, FASessionKey{Ciphertext: []byte{1}}) }},
		{"too many fragments", func() ([]byte, error) {
			return AppendFAPublicKey(nil, FAPublicKey{Agent: agent, DER: make([]byte, 256*MaxFAPublicKeyFragment)})
		}},
		{"empty ciphertext", func() ([]byte, error) { return AppendFASessionKey(nil, FASessionKey{Agent: agent}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := tt.f(); !errors.Is(err, ErrInvalid) || b != nil {
				t.Fatalf("= %x, %v; want nil, ErrInvalid", b, err)
			}
		})
	}
	// The most fragments a count octet numbers is fine.
	b, err := AppendFAPublicKey(nil, FAPublicKey{Agent: agent, DER: make([]byte, 255*MaxFAPublicKeyFragment)})
	if err != nil || len(b) != 255*257 {
		t.Fatalf("255 fragments: %d bytes, %v", len(b), err)
	}
}

func TestExperimentalKeptRaw(t *testing.T) {
	// Type-255 extensions that are not a whole Mobile Session Key stay
	// raw and marshal back unchanged.
	for _, data := range [][]byte{
		{},
		{3},
		append([]byte{3}, make([]byte, MobileSessionKeyLen)...), // one byte too long
		make([]byte, MobileSessionKeyLen),                       // sub-type 0
		{1, 10, 0, 0, 2},                                        // FA Path belongs in advertisements
		{200, 1, 2},
	} {
		b := append(bytes.Clone(goldenReply[:ReplyLen]), 255, byte(len(data)))
		b = append(b, data...)
		r, err := ParseReply(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := r.Extensions[0].(*RawExtension); !ok {
			t.Errorf("%x parsed as %T", data, r.Extensions[0])
		}
		if _, ok := FindMobileSessionKey(r.Extensions); ok {
			t.Errorf("%x: FindMobileSessionKey found one", data)
		}
		roundTrip(t, r, b)
	}
	if TypeExperimental.String() != "experimental" || TypeGeneralizedAuth.String() != "generalized-auth" {
		t.Error("String of the new types")
	}
	if !TypeExperimental.Skippable() || TypeGeneralizedAuth.Skippable() || !TypeGeneralizedAuth.IsAuth() {
		t.Error("type classes")
	}
}
