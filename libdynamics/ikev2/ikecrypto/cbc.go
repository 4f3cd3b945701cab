package ikecrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
)

// cbcCipher is AES-CBC (RFC 3602) with a random IV per message, followed
// by an HMAC-SHA2 integrity check (RFC 4868) over the message up to the
// ICV, as RFC 7296 section 3.14 applies them to the SK payload.
type cbcCipher struct {
	block    cipher.Block
	integ    Integ
	integKey []byte
}

func newCBC(key []byte, integ Integ, integKey []byte) (*cbcCipher, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return &cbcCipher{block: block, integ: integ, integKey: append([]byte(nil), integKey...)}, nil
}

// SealedLen returns IV, the plaintext with the pad length octet padded to
// whole blocks, and ICV.
func (c *cbcCipher) SealedLen(n int) int {
	return aes.BlockSize + paddedLen(n) + c.integ.ICVLen()
}

// paddedLen returns the length of n octets of plaintext followed by the
// fewest octets of padding and the pad length octet that make whole AES
// blocks.
func paddedLen(n int) int {
	return (n + 1 + aes.BlockSize - 1) / aes.BlockSize * aes.BlockSize
}

func (c *cbcCipher) Seal(ad, plaintext []byte) ([]byte, error) {
	var iv [aes.BlockSize]byte
	if _, err := rand.Read(iv[:]); err != nil {
		return nil, fmt.Errorf("ikecrypto: reading a random IV: %w", err)
	}
	n := paddedLen(len(plaintext))
	padded := make([]byte, n) // zero padding
	copy(padded, plaintext)
	padded[n-1] = byte(n - 1 - len(plaintext))
	return c.seal(iv, ad, padded), nil
}

// seal encrypts an already padded plaintext under the given IV and
// appends the ICV.
func (c *cbcCipher) seal(iv [aes.BlockSize]byte, ad, padded []byte) []byte {
	out := make([]byte, aes.BlockSize+len(padded), aes.BlockSize+len(padded)+c.integ.ICVLen())
	copy(out, iv[:])
	cipher.NewCBCEncrypter(c.block, iv[:]).CryptBlocks(out[aes.BlockSize:], padded)
	return append(out, c.integ.Sum(c.integKey, ad, out)...)
}

func (c *cbcCipher) Open(ad, body []byte) ([]byte, error) {
	icvLen := c.integ.ICVLen()
	if len(body) < aes.BlockSize+aes.BlockSize+icvLen {
		return nil, fmt.Errorf("%w: AES-CBC SK payload body of %d octets, need at least %d", ErrMalformed, len(body), 2*aes.BlockSize+icvLen)
	}
	ctLen := len(body) - aes.BlockSize - icvLen
	if ctLen%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: AES-CBC ciphertext of %d octets is not whole blocks", ErrMalformed, ctLen)
	}
	signed, icv := body[:len(body)-icvLen], body[len(body)-icvLen:]
	if !c.integ.Verify(c.integKey, icv, ad, signed) {
		return nil, fmt.Errorf("%w: %v ICV mismatch", ErrIntegrity, c.integ.ID())
	}
	pt := make([]byte, ctLen)
	cipher.NewCBCDecrypter(c.block, body[:aes.BlockSize]).CryptBlocks(pt, body[aes.BlockSize:aes.BlockSize+ctLen])
	return unpad(pt)
}
