package sessionkey

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
)

// RSA key size limits in bits. Keys arrive in registration extensions from
// the network; the upper bound keeps the cost of using one bounded.
const (
	MinBits = 2048
	MaxBits = 16384
)

// checkPublic rejects nil keys and keys outside MinBits..MaxBits.
func checkPublic(pub *rsa.PublicKey) error {
	if pub == nil || pub.N == nil {
		return fmt.Errorf("%w: nil public key", ErrInvalid)
	}
	if n := pub.N.BitLen(); n < MinBits || n > MaxBits {
		return fmt.Errorf("%w: %d bits, want %d to %d", ErrKeySize, n, MinBits, MaxBits)
	}
	return nil
}

// MarshalPublicKey returns pub as PKIX (SubjectPublicKeyInfo) DER, the
// form a foreign agent's key takes in a registration extension.
func MarshalPublicKey(pub *rsa.PublicKey) ([]byte, error) {
	if err := checkPublic(pub); err != nil {
		return nil, fmt.Errorf("sessionkey: marshal public key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("sessionkey: marshal public key: %w", err)
	}
	return der, nil
}

// ParsePublicKey parses a PKIX DER RSA public key, as received in a
// registration extension. It rejects trailing data, other key types and
// keys outside MinBits..MaxBits, and never panics on arbitrary input.
func ParsePublicKey(der []byte) (*rsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("sessionkey: parse public key: %w: %w", ErrKeyFormat, err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("sessionkey: parse public key: %w: %T, want RSA", ErrKeyFormat, k)
	}
	if err := checkPublic(pub); err != nil {
		return nil, fmt.Errorf("sessionkey: parse public key: %w", err)
	}
	return pub, nil
}

// Fingerprint returns "SHA256:" and the lower-case hex SHA-256 of pub's
// PKIX DER, the name under which a home agent's configuration can list a
// foreign agent's key.
func Fingerprint(pub *rsa.PublicKey) (string, error) {
	der, err := MarshalPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return "SHA256:" + hex.EncodeToString(sum[:]), nil
}
