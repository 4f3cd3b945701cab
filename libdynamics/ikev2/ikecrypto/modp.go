package ikecrypto

import (
	"crypto/rand"
	"fmt"
	"math/big"
)

// modp2048Len is the length of the 2048-bit MODP group's modulus in octets.
const modp2048Len = 256

// modpExponentBits is the length of a private exponent in the MODP group.
// RFC 3526 section 8 estimates the 2048-bit group's strength at 110 to 160
// bits and asks for an exponent of at least twice that; 512 bits leave a
// wide margin at a quarter of the cost of a full-length exponent.
const modpExponentBits = 512

// modp2048P is the prime of the 2048-bit MODP group (RFC 3526 section 3),
// 2^2048 - 2^1984 - 1 + 2^64 * ( [2^1918 pi] + 124476 ); its generator is 2.
var modp2048P, _ = new(big.Int).SetString(
	"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"+
		"29024E088A67CC74020BBEA63B139B22514A08798E3404DD"+
		"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"+
		"E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"+
		"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D"+
		"C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"+
		"83655D23DCA3AD961C62F356208552BB9ED529077096966D"+
		"670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"+
		"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9"+
		"DE2BCBF6955817183995497CEA956AE515D2261898FA0510"+
		"15728E5A8AACAA68FFFFFFFFFFFFFFFF", 16)

var modp2048G = big.NewInt(2)

// modpExponent returns a random private exponent of modpExponentBits bits
// with the top bit set.
func modpExponent() (*big.Int, error) {
	b := make([]byte, modpExponentBits/8)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("ikecrypto: reading a random exponent: %w", err)
	}
	b[0] |= 0x80
	return new(big.Int).SetBytes(b), nil
}

// newMODP returns the key pair with private exponent x.
func newMODP(x *big.Int) *DH {
	y := new(big.Int).Exp(modp2048G, x, modp2048P)
	return &DH{group: GroupMODP2048, pub: y.FillBytes(make([]byte, modp2048Len)), x: x}
}

func validateMODP(b []byte) error {
	y := new(big.Int).SetBytes(b)
	pMinus1 := new(big.Int).Sub(modp2048P, big.NewInt(1))
	if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(pMinus1) >= 0 {
		return fmt.Errorf("%w: %v public value not in 1 < y < p-1", ErrPublicValue, GroupMODP2048)
	}
	return nil
}

func modpShared(x *big.Int, peer []byte) ([]byte, error) {
	y := new(big.Int).SetBytes(peer)
	s := new(big.Int).Exp(y, x, modp2048P)
	if s.Cmp(big.NewInt(1)) <= 0 {
		return nil, fmt.Errorf("%w: %v shared secret is %v", ErrPublicValue, GroupMODP2048, s)
	}
	return s.FillBytes(make([]byte, modp2048Len)), nil
}
