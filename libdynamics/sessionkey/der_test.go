package sessionkey

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestPublicKeyDER(t *testing.T) {
	a, b, small := testKeys(t)
	der, err := MarshalPublicKey(&a.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&a.PublicKey) || pub.Equal(&b.PublicKey) {
		t.Fatal("ParsePublicKey(MarshalPublicKey(k)) is not k")
	}

	if _, err := MarshalPublicKey(&small.PublicKey); !errors.Is(err, ErrKeySize) {
		t.Errorf("marshal 1024-bit key: err = %v, want ErrKeySize", err)
	}
	if _, err := MarshalPublicKey(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("marshal nil key: err = %v, want ErrInvalid", err)
	}
	smallDER, err := x509.MarshalPKIXPublicKey(&small.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	edDER, err := x509.MarshalPKIXPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		der  []byte
		want error
	}{
		{"empty", nil, ErrKeyFormat},
		{"garbage", []byte("not a key at all"), ErrKeyFormat},
		{"truncated", der[:len(der)-1], ErrKeyFormat},
		{"trailing data", append(append([]byte{}, der...), 0), ErrKeyFormat},
		{"ed25519", edDER, ErrKeyFormat},
		{"1024 bits", smallDER, ErrKeySize},
	} {
		if _, err := ParsePublicKey(tc.der); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	a, b, _ := testKeys(t)
	der, err := MarshalPublicKey(&a.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	fa, err := Fingerprint(&a.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if want := "SHA256:" + hex.EncodeToString(sum[:]); fa != want {
		t.Errorf("Fingerprint = %q, want %q", fa, want)
	}
	fb, err := Fingerprint(&b.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if fa == fb || !strings.HasPrefix(fb, "SHA256:") {
		t.Errorf("fingerprints %q and %q", fa, fb)
	}
}
