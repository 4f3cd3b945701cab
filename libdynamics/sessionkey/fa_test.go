package sessionkey

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"net/netip"
	"testing"
)

var (
	home1 = netip.MustParseAddr("10.1.0.10")
	home2 = netip.MustParseAddr("10.1.0.11")
)

func TestLabel(t *testing.T) {
	want := append([]byte("dynamics-go session key v1\x00"), 10, 1, 0, 10)
	if got := Label(home1); !bytes.Equal(got, want) {
		t.Errorf("Label(%s) = %q, want %q", home1, got, want)
	}
	if got := Label(netip.AddrFrom16(home1.As16())); !bytes.Equal(got, want) {
		t.Errorf("Label(mapped %s) = %q, want %q", home1, got, want)
	}
	if bytes.Equal(Label(home1), Label(home2)) {
		t.Error("two home addresses share a label")
	}
}

func TestWrapUnwrap(t *testing.T) {
	a, b, _ := testKeys(t)
	key, err := Generate(nil, []byte("ha-secret"))
	if err != nil {
		t.Fatal(err)
	}
	ct, err := WrapForFA(nil, &a.PublicKey, key, Label(home1))
	if err != nil {
		t.Fatal(err)
	}
	if len(ct) != a.PublicKey.Size() {
		t.Errorf("ciphertext is %d octets, want %d", len(ct), a.PublicKey.Size())
	}
	got, err := UnwrapForFA(a, ct, Label(home1))
	if err != nil {
		t.Fatal(err)
	}
	if got != key {
		t.Fatal("UnwrapForFA returned a different key")
	}
	ct2, err := WrapForFA(rand.Reader, &a.PublicKey, key, Label(home1))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(ct, ct2) {
		t.Error("two wraps of one key gave the same ciphertext")
	}

	t.Run("wrong private key", func(t *testing.T) {
		if _, err := UnwrapForFA(b, ct, Label(home1)); !errors.Is(err, ErrDecrypt) {
			t.Errorf("err = %v, want ErrDecrypt", err)
		}
	})
	t.Run("wrong label", func(t *testing.T) {
		for _, l := range [][]byte{Label(home2), nil, Label(home1)[:len(Label(home1))-1]} {
			if _, err := UnwrapForFA(a, ct, l); !errors.Is(err, ErrDecrypt) {
				t.Errorf("label %q: err = %v, want ErrDecrypt", l, err)
			}
		}
	})
	t.Run("tampered", func(t *testing.T) {
		for _, i := range []int{0, 1, len(ct) / 2, len(ct) - 1} {
			bad := bytes.Clone(ct)
			bad[i] ^= 0x01
			if _, err := UnwrapForFA(a, bad, Label(home1)); !errors.Is(err, ErrDecrypt) {
				t.Errorf("flipped octet %d: err = %v, want ErrDecrypt", i, err)
			}
		}
		for _, bad := range [][]byte{nil, ct[:len(ct)-1], append(bytes.Clone(ct), 0)} {
			if _, err := UnwrapForFA(a, bad, Label(home1)); !errors.Is(err, ErrDecrypt) {
				t.Errorf("%d octets: err = %v, want ErrDecrypt", len(bad), err)
			}
		}
	})
	t.Run("not a session key", func(t *testing.T) {
		// Valid OAEP ciphertexts under the right key and label whose
		// plaintext is not 16 octets.
		for _, n := range []int{0, Len - 1, Len + 1} {
			ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &a.PublicKey, make([]byte, n), Label(home1))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := UnwrapForFA(a, ct, Label(home1)); !errors.Is(err, ErrDecrypt) {
				t.Errorf("%d-octet plaintext: err = %v, want ErrDecrypt", n, err)
			}
		}
	})
}

func TestWrapRejectsKeys(t *testing.T) {
	_, _, small := testKeys(t)
	if _, err := WrapForFA(nil, &small.PublicKey, Key{}, nil); !errors.Is(err, ErrKeySize) {
		t.Errorf("1024-bit key: err = %v, want ErrKeySize", err)
	}
	if _, err := WrapForFA(nil, nil, Key{}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil key: err = %v, want ErrInvalid", err)
	}
	if _, err := UnwrapForFA(small, make([]byte, 128), nil); !errors.Is(err, ErrKeySize) {
		t.Errorf("unwrap with 1024-bit key: err = %v, want ErrKeySize", err)
	}
	if _, err := UnwrapForFA(nil, make([]byte, 256), nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("unwrap with nil key: err = %v, want ErrInvalid", err)
	}
}
