package ha

import (
	"bytes"
	"errors"
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// TestMobileMAC checks the kept HMAC state against package mip: the same
// verdict (and the same sentinel error) on requests with and without
// extensions before the authenticator, a wrong key, a wrong SPI, a
// truncated authenticator, no authenticator, and the keyed-MD5 algorithm;
// the same reply bytes; and a new key after a reload.
func TestMobileMAC(t *testing.T) {
	hm := mip.SecurityAssociation{SPI: 300, Alg: mip.HMACMD5, Key: []byte("sixteen byte key")}
	ps := mip.SecurityAssociation{SPI: 301, Alg: mip.KeyedMD5PrefixSuffix, Key: []byte("prefix-suffix key")}
	other := mip.SecurityAssociation{SPI: 300, Alg: mip.HMACMD5, Key: []byte("another key")}
	build := func(sa mip.SecurityAssociation, exts ...mip.Extension) *mip.Request {
		t.Helper()
		r := &mip.Request{Lifetime: 600, Home: home, HomeAgent: haAddr, CareOf: fa1Addr, ID: 42, Extensions: exts}
		if err := r.Authenticate(mip.TypeMobileHome, sa); err != nil {
			t.Fatal(err)
		}
		raw, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		p, err := mip.ParseRequest(raw)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	nai := &mip.NAI{Name: "mn@example.org"}
	raw := &mip.RawExtension{Type: 200, Data: []byte{1, 2, 3}}
	noAuth, err := mip.ParseRequest(mustMarshal(t, &mip.Request{Lifetime: 600, Home: home, HomeAgent: haAddr, CareOf: fa1Addr, ID: 42}))
	if err != nil {
		t.Fatal(err)
	}
	short := build(hm)
	shortRaw := append([]byte(nil), short.Raw()[:mip.RequestLen]...)
	shortRaw = append(shortRaw, byte(mip.TypeMobileHome), 4+8, 0, 0, 1, 44, 1, 2, 3, 4, 5, 6, 7, 8)
	if short, err = mip.ParseRequest(shortRaw); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		sa   mip.SecurityAssociation
		req  *mip.Request
	}{
		{"hmac", hm, build(hm)},
		{"hmac after extensions", hm, build(hm, nai, raw)},
		{"wrong key", hm, build(other)},
		{"wrong SPI", hm, build(mip.SecurityAssociation{SPI: 999, Key: hm.Key})},
		{"short authenticator", hm, short},
		{"no authenticator", hm, noAuth},
		{"prefix-suffix", ps, build(ps, nai)},
		{"prefix-suffix, wrong key", ps, build(mip.SecurityAssociation{SPI: 301, Alg: mip.KeyedMD5PrefixSuffix, Key: []byte("x")})},
	}
	m := &mobile{}
	for _, tt := range tests {
		m.sa = tt.sa
		for range 2 { // the second time with the state kept
			got, want := m.verifyRequest(tt.req), mip.VerifyRequest(tt.req.Raw(), mip.TypeMobileHome, tt.sa)
			if (got == nil) != (want == nil) || (want != nil && got.Error() != want.Error()) {
				t.Errorf("%s: verifyRequest = %v, mip.VerifyRequest = %v", tt.name, got, want)
			}
			for _, sentinel := range []error{mip.ErrAuthFailed, mip.ErrAuthMissing, mip.ErrSPIMismatch} {
				if errors.Is(got, sentinel) != errors.Is(want, sentinel) {
					t.Errorf("%s: errors.Is(%v, %v) differs from mip", tt.name, got, sentinel)
				}
			}
		}
		msg := mustMarshal(t, &mip.Reply{Code: mip.CodeAccepted, Lifetime: 600, Home: home, HomeAgent: haAddr, ID: 42})
		got, err := m.appendAuth(bytes.Clone(msg))
		if err != nil {
			t.Fatal(err)
		}
		want, err := mip.AppendAuth(bytes.Clone(msg), mip.TypeMobileHome, tt.sa)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: appendAuth\n%x\nwant\n%x", tt.name, got, want)
		}
	}
}

func mustMarshal(t *testing.T, m mip.Message) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
