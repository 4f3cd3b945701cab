package sessionkey

import (
	"errors"
	"testing"
)

// FuzzParsePublicKey requires that ParsePublicKey never panics, fails only
// with the package's errors, and that whatever it accepts marshals and
// parses back to the same key. Seeds are under testdata/fuzz/ (an RSA key
// of 2048 bits, one of 1024, an Ed25519 key, truncated and trailing forms)
// and a key generated here.
func FuzzParsePublicKey(f *testing.F) {
	a, _, _ := testKeys(f)
	der, err := MarshalPublicKey(&a.PublicKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(der)
	f.Fuzz(func(t *testing.T, b []byte) {
		pub, err := ParsePublicKey(b)
		if err != nil {
			if pub != nil {
				t.Fatal("ParsePublicKey returned a key with an error")
			}
			if !errors.Is(err, ErrKeyFormat) && !errors.Is(err, ErrKeySize) {
				t.Fatalf("error %v wraps neither ErrKeyFormat nor ErrKeySize", err)
			}
			return
		}
		if n := pub.N.BitLen(); n < MinBits || n > MaxBits {
			t.Fatalf("accepted a %d-bit key", n)
		}
		again, err := MarshalPublicKey(pub)
		if err != nil {
			t.Fatalf("MarshalPublicKey of a parsed key: %v", err)
		}
		pub2, err := ParsePublicKey(again)
		if err != nil {
			t.Fatalf("ParsePublicKey of a marshalled key: %v", err)
		}
		if !pub.Equal(pub2) {
			t.Fatal("parse -> marshal -> parse changed the key")
		}
		if _, err := Fingerprint(pub); err != nil {
			t.Fatalf("Fingerprint of a parsed key: %v", err)
		}
	})
}
