package sessionkey

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
)

// Len is the length of a session key in octets.
const Len = 16

// randomLen is the number of random octets Generate hashes.
const randomLen = 16

// Key is a 128-bit session key. Its String method does not print the key,
// so that it does not end up in logs by accident; use the array itself
// where the octets are needed.
type Key [Len]byte

// String returns a placeholder, never the key.
func (Key) String() string { return "sessionkey.Key(redacted)" }

// GoString returns a placeholder, never the key.
func (k Key) GoString() string { return k.String() }

// Generate returns a new session key MD5(secret || R || secret), R being
// 16 octets read from random (crypto/rand.Reader when random is nil).
// secret is the home agent's key-generation secret and must not be empty.
func Generate(random io.Reader, secret []byte) (Key, error) {
	if len(secret) == 0 {
		return Key{}, fmt.Errorf("%w: empty key-generation secret", ErrInvalid)
	}
	if random == nil {
		random = rand.Reader
	}
	var r [randomLen]byte
	if _, err := io.ReadFull(random, r[:]); err != nil {
		return Key{}, fmt.Errorf("sessionkey: reading %d random octets: %w", randomLen, err)
	}
	return Key(prefixSuffix(secret, r[:])), nil
}

// ForMobile masks key for the mobile node: key XOR MD5(secret || id ||
// secret), where secret is the mobile-home shared secret and id the
// Identification of the Registration Reply that carries it. An empty
// secret gives a mask anyone can compute; callers pass the configured
// mobile-home key.
func ForMobile(key Key, secret []byte, id uint64) [Len]byte {
	return xor(key, mobileMask(secret, id))
}

// FromMobile recovers the session key from the masked value a mobile node
// received, with its mobile-home secret and the Identification of the
// reply that carried it. A wrong secret or identification gives a
// different key, which the mobile notices only when the key fails to
// authenticate.
func FromMobile(masked [Len]byte, secret []byte, id uint64) Key {
	return Key(xor(masked, mobileMask(secret, id)))
}

// mobileMask returns MD5(secret || id || secret), id in network byte order.
func mobileMask(secret []byte, id uint64) [Len]byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], id)
	return prefixSuffix(secret, b[:])
}

// prefixSuffix returns MD5(secret || data || secret).
func prefixSuffix(secret, data []byte) [Len]byte {
	h := md5.New()
	h.Write(secret)
	h.Write(data)
	h.Write(secret)
	var out [Len]byte
	h.Sum(out[:0])
	return out
}

func xor(a, b [Len]byte) [Len]byte {
	var out [Len]byte
	for i := range out {
		out[i] = a[i] ^ b[i]
	}
	return out
}
