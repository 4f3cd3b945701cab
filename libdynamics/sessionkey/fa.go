package sessionkey

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"io"
	"net/netip"
)

// labelPrefix starts every OAEP label; the zero octet ends it.
const labelPrefix = "dynamics-go session key v1\x00"

// Label returns the OAEP label that binds a wrapped session key to the
// mobile node with the given home address: labelPrefix followed by the
// address's octets (4 for an IPv4 address; an IPv4-mapped IPv6 address
// counts as IPv4). An invalid address gives the prefix alone.
func Label(home netip.Addr) []byte {
	return append([]byte(labelPrefix), home.Unmap().AsSlice()...)
}

// WrapForFA encrypts key for the foreign agent holding pub's private key,
// with RSA-OAEP (SHA-256) and label (normally Label of the mobile's home
// address). random defaults to crypto/rand.Reader. The ciphertext is as
// long as pub's modulus.
func WrapForFA(random io.Reader, pub *rsa.PublicKey, key Key, label []byte) ([]byte, error) {
	if err := checkPublic(pub); err != nil {
		return nil, fmt.Errorf("sessionkey: wrap: %w", err)
	}
	if random == nil {
		random = rand.Reader
	}
	ct, err := rsa.EncryptOAEP(sha256.New(), random, pub, key[:], label)
	if err != nil {
		return nil, fmt.Errorf("sessionkey: wrap: %w", err)
	}
	return ct, nil
}

// UnwrapForFA decrypts a session key wrapped by WrapForFA. It fails with
// ErrDecrypt for a ciphertext made for another key or label, or altered.
func UnwrapForFA(priv *rsa.PrivateKey, ct, label []byte) (Key, error) {
	if priv == nil {
		return Key{}, fmt.Errorf("sessionkey: unwrap: %w: nil private key", ErrInvalid)
	}
	if err := checkPublic(&priv.PublicKey); err != nil {
		return Key{}, fmt.Errorf("sessionkey: unwrap: %w", err)
	}
	if want := priv.PublicKey.Size(); len(ct) != want {
		return Key{}, fmt.Errorf("sessionkey: unwrap: %w: ciphertext is %d octets, want %d", ErrDecrypt, len(ct), want)
	}
	pt, err := rsa.DecryptOAEP(sha256.New(), nil, priv, ct, label)
	if err != nil {
		return Key{}, fmt.Errorf("sessionkey: unwrap: %w", ErrDecrypt)
	}
	if len(pt) != Len {
		return Key{}, fmt.Errorf("sessionkey: unwrap: %w: plaintext is %d octets, want %d", ErrDecrypt, len(pt), Len)
	}
	return Key(pt), nil
}
