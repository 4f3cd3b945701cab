package mip

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// TestHMACMD5Vectors checks the HMAC-MD5 primitive against the test
// vectors of RFC 2104's appendix.
func TestHMACMD5Vectors(t *testing.T) {
	for _, tt := range []struct {
		key, data []byte
		digest    string
	}{
		{bytes.Repeat([]byte{0x0b}, 16), []byte("Hi There"), "9294727a3638bb1c13f48ef8158bfc9d"},
		{[]byte("Jefe"), []byte("what do ya want for nothing?"), "750c783e6ab0b503eaa86e310a5db738"},
		{bytes.Repeat([]byte{0xaa}, 16), bytes.Repeat([]byte{0xdd}, 50), "56be34521d144c88dbb8c733f0e8b3f6"},
	} {
		sa := SecurityAssociation{Alg: HMACMD5, Key: tt.key}
		got, err := sa.Authenticator(tt.data)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got) != tt.digest {
			t.Errorf("HMAC-MD5(%x, %q) = %x, want %s", tt.key, tt.data, got, tt.digest)
		}
	}
}

// TestPrefixSuffix checks that keyed MD5 puts the key both before and after
// the data: MD5(key | data | key).
func TestPrefixSuffix(t *testing.T) {
	for _, tt := range []struct {
		key, data, digest string
	}{
		// MD5("abca") and MD5("aba"), from coreutils md5sum.
		{"a", "bc", "95dd4c8065d82b2ac5a3a6ede5956f7c"},
		{"a", "b", "79af87723dc295f95bdb277a61189a2a"},
	} {
		sa := SecurityAssociation{Alg: KeyedMD5PrefixSuffix, Key: []byte(tt.key)}
		got, err := sa.Authenticator([]byte(tt.data))
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got) != tt.digest {
			t.Errorf("MD5(%q|%q|%q) = %x, want %s", tt.key, tt.data, tt.key, got, tt.digest)
		}
	}
}

func TestAlgorithmNames(t *testing.T) {
	for _, a := range []Algorithm{HMACMD5, KeyedMD5PrefixSuffix} {
		got, err := ParseAlgorithm(a.String())
		if err != nil || got != a {
			t.Errorf("ParseAlgorithm(%q) = %v, %v", a.String(), got, err)
		}
	}
	if HMACMD5.String() != "hmac-md5" || KeyedMD5PrefixSuffix.String() != "prefix-suffix" {
		t.Errorf("names %q %q", HMACMD5, KeyedMD5PrefixSuffix)
	}
	if _, err := ParseAlgorithm("md5"); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParseAlgorithm(md5) = %v", err)
	}
}

func TestAuthenticatorErrors(t *testing.T) {
	if _, err := (SecurityAssociation{SPI: 5}).Authenticator([]byte("x")); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty key: %v", err)
	}
	if _, err := (SecurityAssociation{Alg: 9, Key: []byte("k")}).Authenticator([]byte("x")); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown algorithm: %v", err)
	}
	r := goldenRequestValue()
	if err := r.Authenticate(TypeNAI, goldenSAHMAC); !errors.Is(err, ErrInvalid) {
		t.Errorf("Authenticate(NAI) = %v", err)
	}
	if err := r.Authenticate(TypeMobileHome, SecurityAssociation{SPI: 1}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Authenticate with empty key = %v", err)
	}
	if len(r.Extensions) != 0 {
		t.Errorf("failed Authenticate left %d extensions", len(r.Extensions))
	}
}

func TestVerifyErrors(t *testing.T) {
	sa := goldenSAHMAC
	other := SecurityAssociation{SPI: 1000, Alg: HMACMD5, Key: []byte("another key")}
	wrongAlg := SecurityAssociation{SPI: 1000, Alg: KeyedMD5PrefixSuffix, Key: goldenKey}
	tests := []struct {
		name string
		raw  []byte
		typ  Type
		sa   SecurityAssociation
		want error
	}{
		{"no foreign-home", goldenRequestHMAC, TypeForeignHome, sa, ErrAuthMissing},
		{"no auth at all", goldenRequestHMAC[:RequestLen], TypeMobileHome, sa, ErrAuthMissing},
		{"other SPI", goldenRequestHMAC, TypeMobileHome, goldenSAPrefix, ErrSPIMismatch},
		{"wrong key", goldenRequestHMAC, TypeMobileHome, other, ErrAuthFailed},
		{"wrong algorithm", goldenRequestHMAC, TypeMobileHome, wrongAlg, ErrAuthFailed},
		{"truncated authenticator", shortAuth(goldenRequestHMAC), TypeMobileHome, sa, ErrAuthFailed},
		{"malformed", goldenRequestHMAC[:30], TypeMobileHome, sa, ErrTruncated},
		{"not a request", goldenReply, TypeMobileHome, sa, ErrUnknownMessage},
		{"short", goldenReply[:RequestLen-1], TypeMobileHome, sa, ErrTruncated},
		{"not an auth type", goldenRequestHMAC, TypeNAI, sa, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := VerifyRequest(tt.raw, tt.typ, tt.sa); !errors.Is(err, tt.want) {
				t.Errorf("VerifyRequest = %v, want %v", err, tt.want)
			}
		})
	}
	if err := VerifyReply(goldenRequestHMAC, TypeMobileHome, sa); !errors.Is(err, ErrUnknownMessage) {
		t.Errorf("VerifyReply(request) = %v", err)
	}
}

// shortAuth returns a copy of msg, whose last extension is an
// authentication extension, with the authenticator's last byte removed.
func shortAuth(msg []byte) []byte {
	b := append([]byte(nil), msg[:len(msg)-1]...)
	b[len(b)-AuthenticatorLen-spiLen] -= 1 // the length octet
	return b
}

// TestVerifyCoversEveryByte flips each bit of every byte an authenticator
// covers, and of the authenticator itself: each change must fail
// verification. Bytes after the extension are not covered.
func TestVerifyCoversEveryByte(t *testing.T) {
	for name, tt := range map[string]struct {
		raw    []byte
		sa     SecurityAssociation
		verify func([]byte, Type, SecurityAssociation) error
	}{
		"request hmac":          {goldenRequestHMAC, goldenSAHMAC, VerifyRequest},
		"request prefix-suffix": {goldenRequestPrefixSuffix, goldenSAPrefix, VerifyRequest},
		"request nai":           {goldenRequestNAI, goldenSAHMAC, VerifyRequest},
		"reply":                 {goldenReply, goldenSAHMAC, VerifyReply},
	} {
		for i := range tt.raw {
			for bit := range 8 {
				b := append([]byte(nil), tt.raw...)
				b[i] ^= 1 << bit
				if err := tt.verify(b, TypeMobileHome, tt.sa); err == nil {
					t.Errorf("%s: byte %d bit %d flipped, still verifies", name, i, bit)
				}
			}
		}
		// An extension after the authenticator is outside it.
		b := append(append([]byte(nil), tt.raw...), 200, 1, 0)
		if err := tt.verify(b, TypeMobileHome, tt.sa); err != nil {
			t.Errorf("%s: trailing extension: %v", name, err)
		}
	}
}

// TestForeignAgentRelay follows a request through a foreign agent: the
// mobile node adds Mobile-Home then Mobile-Foreign; the agent verifies
// Mobile-Foreign, strips it, and adds Foreign-Home over the bytes it
// relays. The home agent verifies both of its authenticators.
func TestForeignAgentRelay(t *testing.T) {
	mnha := goldenSAHMAC
	mnfa := SecurityAssociation{SPI: 3000, Alg: KeyedMD5PrefixSuffix, Key: []byte("mobile-foreign")}
	faha := SecurityAssociation{SPI: 2001, Alg: HMACMD5, Key: []byte("foreign-home key")}

	r := goldenRequestValue()
	if err := r.Authenticate(TypeMobileHome, mnha); err != nil {
		t.Fatal(err)
	}
	if err := r.Authenticate(TypeMobileForeign, mnfa); err != nil {
		t.Fatal(err)
	}
	sent, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}

	// Foreign agent.
	if err := VerifyRequest(sent, TypeMobileForeign, mnfa); err != nil {
		t.Fatalf("FA: Mobile-Foreign: %v", err)
	}
	got, err := ParseRequest(sent)
	if err != nil {
		t.Fatal(err)
	}
	_, mh := got.Auth(TypeMobileHome)
	if mh < 0 {
		t.Fatal("no Mobile-Home extension")
	}
	relayed := append([]byte(nil), got.Raw()[:RequestLen]...)
	for i := 0; i <= mh; i++ {
		relayed = append(relayed, got.ExtensionBytes(i)...)
	}
	relayed, err = AppendAuth(relayed, TypeForeignHome, faha)
	if err != nil {
		t.Fatal(err)
	}
	// The same through the value: truncate and re-authenticate.
	got.Extensions = got.Extensions[:mh+1]
	if err := got.Authenticate(TypeForeignHome, faha); err != nil {
		t.Fatal(err)
	}
	if b, _ := got.Marshal(); !bytes.Equal(b, relayed) {
		t.Errorf("relay by value:\n got %x\nwant %x", b, relayed)
	}

	// Home agent.
	if err := VerifyRequest(relayed, TypeMobileHome, mnha); err != nil {
		t.Errorf("HA: Mobile-Home: %v", err)
	}
	if err := VerifyRequest(relayed, TypeForeignHome, faha); err != nil {
		t.Errorf("HA: Foreign-Home: %v", err)
	}
	if err := VerifyRequest(relayed, TypeMobileForeign, mnfa); !errors.Is(err, ErrAuthMissing) {
		t.Errorf("HA: Mobile-Foreign still present: %v", err)
	}
	if err := VerifyRequest(relayed, TypeForeignHome, mnha); !errors.Is(err, ErrSPIMismatch) {
		t.Errorf("HA: Foreign-Home with the mobile's SA: %v", err)
	}
}

// TestReplyRelay follows a reply back through a foreign agent: the home
// agent adds Mobile-Home then Foreign-Home; the agent verifies
// Foreign-Home and removes it; the mobile node verifies Mobile-Home on what
// it receives.
func TestReplyRelay(t *testing.T) {
	faha := SecurityAssociation{SPI: 2001, Alg: HMACMD5, Key: []byte("foreign-home key")}
	r := goldenReplyValue()
	if err := r.Authenticate(TypeMobileHome, goldenSAHMAC); err != nil {
		t.Fatal(err)
	}
	if err := r.Authenticate(TypeForeignHome, faha); err != nil {
		t.Fatal(err)
	}
	sent, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyReply(sent, TypeForeignHome, faha); err != nil {
		t.Fatalf("FA: Foreign-Home: %v", err)
	}
	got, err := ParseReply(sent)
	if err != nil {
		t.Fatal(err)
	}
	if a, i := got.Auth(TypeForeignHome); a == nil || i != 1 || a.SPI != 2001 {
		t.Fatalf("Auth(foreign-home) = %+v, %d", a, i)
	}
	_, mh := got.Auth(TypeMobileHome)
	got.Extensions = got.Extensions[:mh+1]
	relayed, err := got.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(relayed, goldenReply) {
		t.Fatalf("relayed reply:\n got %x\nwant %x", relayed, goldenReply)
	}
	if err := VerifyReply(relayed, TypeMobileHome, goldenSAHMAC); err != nil {
		t.Errorf("MN: Mobile-Home: %v", err)
	}
	if a, i := got.Auth(TypeMobileForeign); a != nil || i != -1 {
		t.Errorf("Auth(mobile-foreign) = %+v, %d; want none", a, i)
	}
}
