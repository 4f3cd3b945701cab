package ikecrypto

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
)

// MaxPlusBlocks is the number of PRF outputs prf+ may chain (RFC 7296
// section 2.13: the counter is one octet and starts at 0x01).
const MaxPlusBlocks = 255

// PRF is a pseudorandom function of RFC 7296 section 2.13: HMAC with
// SHA-256, SHA-384 or SHA-512 (RFC 4868 section 2.1), keyed with keys of any
// length. The zero PRF is unusable; get one from NewPRF.
type PRF struct {
	id   PRFID
	hash func() hash.Hash
	size int
}

// NewPRF returns the PRF with the given identifier, or an error wrapping
// ErrUnsupported.
func NewPRF(id PRFID) (PRF, error) {
	switch id {
	case PRFHMACSHA256:
		return PRF{id: id, hash: sha256.New, size: sha256.Size}, nil
	case PRFHMACSHA384:
		return PRF{id: id, hash: sha512.New384, size: sha512.Size384}, nil
	case PRFHMACSHA512:
		return PRF{id: id, hash: sha512.New, size: sha512.Size}, nil
	}
	return PRF{}, fmt.Errorf("%w: PRF %v", ErrUnsupported, id)
}

// ID returns the PRF's transform identifier.
func (p PRF) ID() PRFID { return p.id }

// Size returns the length of the PRF's output in octets, which is also its
// preferred key length: the length of SK_d, SK_pi and SK_pr (RFC 7296
// section 2.14).
func (p PRF) Size() int { return p.size }

// Sum returns prf(key, data...), the concatenation of data being the
// PRF's input. It panics on the zero PRF, a programming error.
func (p PRF) Sum(key []byte, data ...[]byte) []byte {
	m := hmac.New(p.hash, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(make([]byte, 0, p.size))
}

// Plus returns the first n octets of prf+(key, seed) (RFC 7296 section
// 2.13):
//
//	prf+ (K,S) = T1 | T2 | T3 | T4 | ...
//	T1 = prf (K, S | 0x01)
//	T2 = prf (K, T1 | S | 0x02)
//	...
//
// n may not exceed MaxPlusBlocks outputs of the PRF; asking for more is an
// error wrapping ErrInvalid.
func (p PRF) Plus(key, seed []byte, n int) ([]byte, error) {
	if p.size == 0 {
		return nil, fmt.Errorf("%w: the zero PRF", ErrInvalid)
	}
	if n < 0 || n > MaxPlusBlocks*p.size {
		return nil, fmt.Errorf("%w: %d octets of prf+ output with %v (at most %d)", ErrInvalid, n, p.id, MaxPlusBlocks*p.size)
	}
	out := make([]byte, 0, n+p.size)
	m := hmac.New(p.hash, key)
	var t []byte
	for i := 1; len(out) < n; i++ {
		m.Reset()
		m.Write(t)
		m.Write(seed)
		m.Write([]byte{byte(i)})
		t = m.Sum(t[:0])
		out = append(out, t...)
	}
	return out[:n], nil
}
