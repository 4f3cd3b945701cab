package ikecrypto

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
)

// Integ is an integrity algorithm of RFC 4868 section 2.2: HMAC with a
// SHA-2 hash, keyed with a key as long as the hash output and truncated to
// half of it. The zero Integ is unusable; get one from NewInteg.
type Integ struct {
	id     IntegID
	hash   func() hash.Hash
	keyLen int
	icvLen int
}

// NewInteg returns the integrity algorithm with the given identifier, or an
// error wrapping ErrUnsupported (also for IntegNone, which has no
// algorithm).
func NewInteg(id IntegID) (Integ, error) {
	switch id {
	case IntegHMACSHA256128:
		return Integ{id: id, hash: sha256.New, keyLen: 32, icvLen: 16}, nil
	case IntegHMACSHA384192:
		return Integ{id: id, hash: sha512.New384, keyLen: 48, icvLen: 24}, nil
	case IntegHMACSHA512256:
		return Integ{id: id, hash: sha512.New, keyLen: 64, icvLen: 32}, nil
	}
	return Integ{}, fmt.Errorf("%w: integrity algorithm %v", ErrUnsupported, id)
}

// ID returns the algorithm's transform identifier.
func (i Integ) ID() IntegID { return i.id }

// KeyLen returns the key length in octets (RFC 4868 section 2.1.1).
func (i Integ) KeyLen() int { return i.keyLen }

// ICVLen returns the length of the truncated output, the ICV, in octets.
func (i Integ) ICVLen() int { return i.icvLen }

// Sum returns the truncated HMAC of the concatenation of data under key. It
// panics on the zero Integ, a programming error.
func (i Integ) Sum(key []byte, data ...[]byte) []byte {
	m := hmac.New(i.hash, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)[:i.icvLen]
}

// Verify reports, in constant time, whether icv is the truncated HMAC of
// the concatenation of data under key.
func (i Integ) Verify(key, icv []byte, data ...[]byte) bool {
	if i.icvLen == 0 || len(icv) != i.icvLen {
		return false
	}
	return hmac.Equal(icv, i.Sum(key, data...))
}
