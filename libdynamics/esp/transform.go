package esp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"hash"
	"sync"
)

// transform protects the packets of one SA with its algorithm and keys. A
// packet is laid out as RFC 4303 section 2 draws it:
//
//	SPI (4) | Sequence Number (4) | IV | payload | padding | pad length | next header | ICV (16)
//
// Both methods work in place and are safe for concurrent use.
type transform interface {
	// ivLen is the length of the explicit IV.
	ivLen() int
	// align is the length the encrypted part (payload, padding, pad
	// length, next header) must be a multiple of.
	align() int
	// seal fills in the IV, encrypts pkt[HeaderLen+ivLen:len(pkt)-ICVLen]
	// in place and writes the ICV into the last ICVLen octets. The ESP
	// header is already in place.
	seal(pkt []byte, seq uint32)
	// open checks the ICV of pkt and decrypts it in place, returning the
	// plaintext (payload, padding, pad length, next header) as a subslice
	// of pkt. The caller has checked that pkt is long enough.
	open(pkt []byte) ([]byte, error)
	// minLen is the length of the shortest well-formed packet.
	minLen() int
}

// newTransform checks keys against alg and makes its transform.
func newTransform(alg Algorithm, keys Keys) (transform, error) {
	if err := checkKeys(alg, keys); err != nil {
		return nil, err
	}
	switch alg {
	case AESGCM16:
		n := len(keys.Enc) - saltLenGCM
		block, err := aes.NewCipher(keys.Enc[:n])
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKey, err)
		}
		aead, err := cipher.NewGCM(block) // 12-octet nonce, 16-octet tag
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKey, err)
		}
		g := &gcm{aead: aead}
		copy(g.salt[:], keys.Enc[n:])
		return g, nil
	case AESCBCHMACSHA256:
		block, err := aes.NewCipher(keys.Enc)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKey, err)
		}
		c := &cbcHMAC{block: block}
		key := append([]byte(nil), keys.Auth...)
		c.macs.New = func() any { return hmac.New(sha256.New, key) }
		return c, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrAlgorithm, alg)
}

// gcm is AES-GCM with a 16-octet ICV as ESP uses it (RFC 4106): the nonce is
// the 4-octet salt followed by the 8-octet explicit IV, and the additional
// authenticated data is the SPI and the 32-bit sequence number (section 5).
// The IV is the sequence number as a 64-bit counter, which never repeats
// under one key because the sequence number never cycles (section 3.1
// requires only uniqueness).
type gcm struct {
	aead cipher.AEAD
	salt [saltLenGCM]byte
}

func (g *gcm) ivLen() int  { return ivLenGCM }
func (g *gcm) align() int  { return 4 }
func (g *gcm) minLen() int { return HeaderLen + ivLenGCM + 4 + ICVLen }

func (g *gcm) seal(pkt []byte, seq uint32) {
	iv := pkt[HeaderLen : HeaderLen+ivLenGCM]
	binary.BigEndian.PutUint64(iv, uint64(seq))
	var nonce [12]byte
	copy(nonce[:4], g.salt[:])
	copy(nonce[4:], iv)
	body := pkt[HeaderLen+ivLenGCM : len(pkt)-ICVLen]
	g.aead.Seal(body[:0], nonce[:], body, pkt[:HeaderLen])
}

func (g *gcm) open(pkt []byte) ([]byte, error) {
	var nonce [12]byte
	copy(nonce[:4], g.salt[:])
	copy(nonce[4:], pkt[HeaderLen:HeaderLen+ivLenGCM])
	body := pkt[HeaderLen+ivLenGCM:]
	pt, err := g.aead.Open(body[:0], nonce[:], body, pkt[:HeaderLen])
	if err != nil {
		return nil, ErrAuth
	}
	return pt, nil
}

// cbcHMAC is AES-CBC (RFC 3602) with a random IV per packet, and an ICV of
// HMAC-SHA-256 truncated to 128 bits (RFC 4868) over the ESP header, IV and
// ciphertext (RFC 4303 section 3.3.4, encrypt then MAC).
type cbcHMAC struct {
	block cipher.Block
	macs  sync.Pool // of hash.Hash keyed with the integrity key
}

func (c *cbcHMAC) ivLen() int  { return ivLenCBC }
func (c *cbcHMAC) align() int  { return aes.BlockSize }
func (c *cbcHMAC) minLen() int { return HeaderLen + ivLenCBC + aes.BlockSize + ICVLen }

func (c *cbcHMAC) seal(pkt []byte, seq uint32) {
	iv := pkt[HeaderLen : HeaderLen+ivLenCBC]
	// crypto/rand.Read never returns an error: it ends the program
	// rather than hand out predictable bytes.
	_, _ = rand.Read(iv)
	body := pkt[HeaderLen+ivLenCBC : len(pkt)-ICVLen]
	cipher.NewCBCEncrypter(c.block, iv).CryptBlocks(body, body)
	c.mac(pkt[len(pkt)-ICVLen:], pkt[:len(pkt)-ICVLen])
}

func (c *cbcHMAC) open(pkt []byte) ([]byte, error) {
	authed := pkt[:len(pkt)-ICVLen]
	if (len(authed)-HeaderLen-ivLenCBC)%aes.BlockSize != 0 {
		return nil, ErrTruncated
	}
	var icv [ICVLen]byte
	c.mac(icv[:], authed)
	if subtle.ConstantTimeCompare(icv[:], pkt[len(authed):]) != 1 {
		return nil, ErrAuth
	}
	iv := pkt[HeaderLen : HeaderLen+ivLenCBC]
	body := authed[HeaderLen+ivLenCBC:]
	cipher.NewCBCDecrypter(c.block, iv).CryptBlocks(body, body)
	return body, nil
}

// mac writes the truncated HMAC of data into icv.
func (c *cbcHMAC) mac(icv, data []byte) {
	h := c.macs.Get().(hash.Hash)
	h.Reset()
	h.Write(data)
	var sum [sha256.Size]byte
	copy(icv, h.Sum(sum[:0]))
	c.macs.Put(h)
}
