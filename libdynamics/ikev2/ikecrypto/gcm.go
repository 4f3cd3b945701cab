package ikecrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync/atomic"
)

// AES-GCM sizes of RFC 5282 section 3 and 7.1.
const (
	gcmSaltLen = 4  // the salt, the last 4 octets of the key material
	gcmIVLen   = 8  // the explicit IV carried in the SK payload
	gcmICVLen  = 16 // ENCR_AES_GCM_16
)

// gcmCipher is AES-GCM with a 16-octet ICV as RFC 5282 applies it to the
// SK payload. The nonce is the salt followed by the explicit IV; the IVs
// are a counter started at a random value, so an IV never repeats under
// one key within 2^64 messages.
type gcmCipher struct {
	aead    cipher.AEAD
	salt    [gcmSaltLen]byte
	counter atomic.Uint64
}

func newGCM(key []byte) (*gcmCipher, error) {
	n := len(key) - gcmSaltLen
	block, err := aes.NewCipher(key[:n])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	c := &gcmCipher{aead: aead}
	copy(c.salt[:], key[n:])
	var start [8]byte
	if _, err := rand.Read(start[:]); err != nil {
		return nil, fmt.Errorf("ikecrypto: reading a random IV start: %w", err)
	}
	c.counter.Store(binary.BigEndian.Uint64(start[:]))
	return c, nil
}

// SealedLen returns IV, plaintext, a pad length octet (GCM needs no
// padding) and ICV.
func (c *gcmCipher) SealedLen(n int) int { return gcmIVLen + n + 1 + gcmICVLen }

func (c *gcmCipher) Seal(ad, plaintext []byte) ([]byte, error) {
	var iv [gcmIVLen]byte
	binary.BigEndian.PutUint64(iv[:], c.counter.Add(1))
	padded := make([]byte, len(plaintext)+1) // pad length 0
	copy(padded, plaintext)
	return c.seal(iv, ad, padded), nil
}

// seal encrypts an already padded plaintext under the given explicit IV.
func (c *gcmCipher) seal(iv [gcmIVLen]byte, ad, padded []byte) []byte {
	out := make([]byte, gcmIVLen, gcmIVLen+len(padded)+gcmICVLen)
	copy(out, iv[:])
	return c.aead.Seal(out, c.nonce(iv[:]), padded, ad)
}

func (c *gcmCipher) nonce(iv []byte) []byte {
	n := make([]byte, 0, gcmSaltLen+gcmIVLen)
	n = append(n, c.salt[:]...)
	return append(n, iv...)
}

func (c *gcmCipher) Open(ad, body []byte) ([]byte, error) {
	if len(body) < gcmIVLen+1+gcmICVLen {
		return nil, fmt.Errorf("%w: AES-GCM SK payload body of %d octets, need at least %d", ErrMalformed, len(body), gcmIVLen+1+gcmICVLen)
	}
	iv := body[:gcmIVLen]
	pt, err := c.aead.Open(nil, c.nonce(iv), body[gcmIVLen:], ad)
	if err != nil {
		return nil, fmt.Errorf("%w: AES-GCM tag mismatch", ErrIntegrity)
	}
	return unpad(pt)
}

// unpad removes the padding and pad length octet from a decrypted SK
// payload plaintext.
func unpad(pt []byte) ([]byte, error) {
	if len(pt) == 0 {
		return nil, fmt.Errorf("%w: empty SK payload plaintext", ErrMalformed)
	}
	padLen := int(pt[len(pt)-1])
	if padLen+1 > len(pt) {
		return nil, fmt.Errorf("%w: pad length %d in a plaintext of %d octets", ErrMalformed, padLen, len(pt))
	}
	return pt[:len(pt)-1-padLen], nil
}
