package ikecrypto

import (
	"fmt"
)

// Cipher protects the inner payloads of an SK payload (RFC 7296 section
// 3.14) in one direction of an IKE SA. The SK payload body it makes and
// reads is
//
//	IV | ciphertext of (inner payloads | padding | pad length) | ICV
//
// and the associated data is the message from the first octet of the IKE
// header to the last octet of the SK payload's generic header, with the
// length fields already counting the whole message. An AEAD cipher
// authenticates the associated data directly (RFC 5282 section 5.1); with
// AES-CBC the ICV is the integrity algorithm's output over the associated
// data, the IV and the ciphertext (RFC 7296 section 3.14), that is the
// message up to the ICV.
//
// A Cipher is safe for concurrent use.
type Cipher interface {
	// SealedLen returns the length of the SK payload body Seal makes of
	// n octets of inner payloads, so the caller can write the IKE header
	// and SK payload lengths before sealing.
	SealedLen(n int) int
	// Seal encrypts and integrity-protects plaintext, the marshalled
	// inner payloads, with a fresh IV and returns the SK payload body.
	Seal(ad, plaintext []byte) ([]byte, error)
	// Open checks and decrypts an SK payload body and returns the inner
	// payloads, padding and pad length removed. An ICV that does not match
	// is an error wrapping ErrIntegrity; a body too short or of the wrong
	// shape, or a pad length longer than the plaintext, one wrapping
	// ErrMalformed. The returned slice does not alias body.
	Open(ad, body []byte) ([]byte, error)
}

// KeyLens returns the key lengths in octets of an encryption algorithm with
// the given Key Length attribute (in bits) and an integrity algorithm: the
// lengths of SK_e and SK_a in RFC 7296 section 2.14, and of the encryption
// and integrity keys of a child SA in section 2.17. For AES-GCM the
// encryption key includes the 4-octet salt (RFC 5282 section 7.1, RFC 4106
// section 8.1). An AEAD cipher takes IntegNone and an integrity key length
// of 0; AES-CBC needs an integrity algorithm.
func KeyLens(encr EncrID, keyBits int, integ IntegID) (encLen, integLen int, err error) {
	switch keyBits {
	case 128, 192, 256:
	default:
		return 0, 0, fmt.Errorf("%w: %v with a %d-bit key", ErrUnsupported, encr, keyBits)
	}
	switch encr {
	case EncrAESGCM16:
		if integ != IntegNone {
			return 0, 0, fmt.Errorf("%w: %v with integrity algorithm %v", ErrInvalid, encr, integ)
		}
		return keyBits/8 + gcmSaltLen, 0, nil
	case EncrAESCBC:
		in, err := NewInteg(integ)
		if err != nil {
			return 0, 0, fmt.Errorf("%v needs an integrity algorithm: %w", encr, err)
		}
		return keyBits / 8, in.KeyLen(), nil
	}
	return 0, 0, fmt.Errorf("%w: encryption algorithm %v", ErrUnsupported, encr)
}

// NewCipher returns the Cipher for an encryption algorithm with a Key
// Length attribute of keyBits and an integrity algorithm (IntegNone with
// AES-GCM), keyed with encKey and integKey (nil with AES-GCM), whose
// lengths must be those KeyLens gives: SK_ei and SK_ai for the messages the
// original initiator sends, SK_er and SK_ar for the responder's.
func NewCipher(encr EncrID, keyBits int, integ IntegID, encKey, integKey []byte) (Cipher, error) {
	encLen, integLen, err := KeyLens(encr, keyBits, integ)
	if err != nil {
		return nil, err
	}
	if len(encKey) != encLen || len(integKey) != integLen {
		return nil, fmt.Errorf("%w: %v-%d keys of %d and %d octets, want %d and %d",
			ErrInvalid, encr, keyBits, len(encKey), len(integKey), encLen, integLen)
	}
	switch encr {
	case EncrAESGCM16:
		return newGCM(encKey)
	default:
		in, _ := NewInteg(integ)
		return newCBC(encKey, in, integKey)
	}
}
