package ikecrypto

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"math/big"
	"sync"
)

// SupportedGroup reports whether the package implements group g.
func SupportedGroup(g Group) bool {
	switch g {
	case GroupMODP2048, GroupECP256, GroupCurve25519:
		return true
	}
	return false
}

// PublicValueLen returns the length of the Key Exchange Data of a KE
// payload for group g: the modulus length for MODP groups (RFC 7296
// section 3.4), x and y for ECP groups (RFC 5903 section 7), the u
// coordinate for Curve25519 (RFC 8031 section 2).
func PublicValueLen(g Group) (int, error) {
	switch g {
	case GroupMODP2048:
		return modp2048Len, nil
	case GroupECP256:
		return 64, nil
	case GroupCurve25519:
		return 32, nil
	}
	return 0, fmt.Errorf("%w: Diffie-Hellman group %v", ErrUnsupported, g)
}

// DH is one side's ephemeral Diffie-Hellman key pair for one exchange.
// Make a new one for every IKE_SA_INIT and CREATE_CHILD_SA exchange.
type DH struct {
	group Group
	pub   []byte
	ec    *ecdh.PrivateKey // GroupECP256, GroupCurve25519
	x     *big.Int         // GroupMODP2048
}

// NewDH generates a key pair in group g from crypto/rand.
func NewDH(g Group) (*DH, error) {
	switch g {
	case GroupECP256, GroupCurve25519:
		k, err := ecdhCurve(g).GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("ikecrypto: generating a %v key: %w", g, err)
		}
		return newECDH(g, k), nil
	case GroupMODP2048:
		x, err := modpExponent()
		if err != nil {
			return nil, err
		}
		return newMODP(x), nil
	}
	return nil, fmt.Errorf("%w: Diffie-Hellman group %v", ErrUnsupported, g)
}

func ecdhCurve(g Group) ecdh.Curve {
	if g == GroupCurve25519 {
		return ecdh.X25519()
	}
	return ecdh.P256()
}

func newECDH(g Group, k *ecdh.PrivateKey) *DH {
	pub := k.PublicKey().Bytes()
	if g == GroupECP256 {
		pub = pub[1:] // drop the uncompressed-point octet 0x04: x | y
	}
	return &DH{group: g, pub: pub, ec: k}
}

// Group returns the key pair's group.
func (d *DH) Group() Group { return d.group }

// PublicValue returns the Key Exchange Data for this side's KE payload. The
// caller must not modify it.
func (d *DH) PublicValue() []byte { return d.pub }

// SharedSecret validates the peer's Key Exchange Data and returns g^ir as
// RFC 7296 section 2.14 feeds it to the key derivation: for MODP groups
// big-endian and padded with zeros to the modulus length, for ECP groups
// the x coordinate of the shared point (RFC 5903 section 7), for
// Curve25519 the 32-octet X25519 output (RFC 8031). A public value that
// fails validation, or a shared secret that is the identity or all zero,
// is an error wrapping ErrPublicValue.
func (d *DH) SharedSecret(peer []byte) ([]byte, error) {
	if d.group == GroupCurve25519 {
		// X25519 itself refuses points of small order (their output is
		// zero), so the separate probe of ValidatePublicValue is not needed.
		if len(peer) != 32 {
			return nil, fmt.Errorf("%w: %v public value of %d octets, want 32", ErrPublicValue, d.group, len(peer))
		}
	} else if err := ValidatePublicValue(d.group, peer); err != nil {
		return nil, err
	}
	switch d.group {
	case GroupMODP2048:
		return modpShared(d.x, peer)
	default:
		pub, err := ecdhPublic(d.group, peer)
		if err != nil {
			return nil, err
		}
		s, err := d.ec.ECDH(pub)
		if err != nil {
			// For X25519 a point of small order; P-256 has none.
			return nil, fmt.Errorf("%w: %v gives no shared secret (a point of small order)", ErrPublicValue, d.group)
		}
		if subtle.ConstantTimeCompare(s, make([]byte, len(s))) == 1 {
			return nil, fmt.Errorf("%w: %v shared secret is zero", ErrPublicValue, d.group)
		}
		return s, nil
	}
}

// ValidatePublicValue checks a peer's Key Exchange Data for group g (RFC
// 6989 and the group's RFC), so that an exchange never proceeds with a
// value that would leak the private key or force a predictable secret:
//
//   - MODP-2048: exactly 256 octets and 1 < y < p-1, which for a safe prime
//     excludes every element of small order (RFC 6989 section 2.1).
//   - ECP-256: exactly 64 octets (x | y), both coordinates below the field
//     prime, not the all-zero encoding, and a point on the curve; the curve
//     has prime order, so every other point is of full order (RFC 6989
//     section 2.3, RFC 5903 section 7).
//   - Curve25519: exactly 32 octets and not a point of small order, that is
//     X25519 with it is not all zero (RFC 8031 section 2, RFC 7748 section
//     6.1). As RFC 7748 section 5 requires, the top bit is ignored and
//     non-canonical values are reduced modulo the field prime; those that
//     reduce to a point of small order are rejected.
//
// A failure wraps ErrPublicValue; an unsupported group ErrUnsupported.
func ValidatePublicValue(g Group, b []byte) error {
	n, err := PublicValueLen(g)
	if err != nil {
		return err
	}
	if len(b) != n {
		return fmt.Errorf("%w: %v public value of %d octets, want %d", ErrPublicValue, g, len(b), n)
	}
	switch g {
	case GroupMODP2048:
		return validateMODP(b)
	case GroupECP256:
		x := new(big.Int).SetBytes(b[:32])
		y := new(big.Int).SetBytes(b[32:])
		p := ecdhP256Prime()
		if x.Cmp(p) >= 0 || y.Cmp(p) >= 0 {
			return fmt.Errorf("%w: %v coordinate out of range", ErrPublicValue, g)
		}
		if x.Sign() == 0 && y.Sign() == 0 {
			return fmt.Errorf("%w: %v identity point", ErrPublicValue, g)
		}
		_, err := ecdhPublic(g, b)
		return err
	case GroupCurve25519:
		pub, err := ecdhPublic(g, b)
		if err != nil {
			return err
		}
		probe, err := x25519Probe()
		if err != nil {
			return err
		}
		if _, err := probe.ECDH(pub); err != nil {
			return fmt.Errorf("%w: %v point of small order", ErrPublicValue, g)
		}
		return nil
	}
	return nil
}

// ecdhPublic converts Key Exchange Data to a crypto/ecdh public key.
func ecdhPublic(g Group, b []byte) (*ecdh.PublicKey, error) {
	enc := b
	if g == GroupECP256 {
		enc = make([]byte, 0, 1+len(b))
		enc = append(enc, 4)
		enc = append(enc, b...)
	}
	pub, err := ecdhCurve(g).NewPublicKey(enc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v: not a point on the curve", ErrPublicValue, g)
	}
	return pub, nil
}

var p256Prime, _ = new(big.Int).SetString("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff", 16)

func ecdhP256Prime() *big.Int { return p256Prime }

// x25519Probe returns a fixed-for-the-process X25519 key used to test
// peer values for small order: X25519 clamps every scalar to a multiple of
// the cofactor 8, so any scalar maps a point of small order to zero.
func x25519Probe() (*ecdh.PrivateKey, error) {
	probeOnce.Do(func() {
		probeKey, probeErr = ecdh.X25519().GenerateKey(rand.Reader)
	})
	if probeErr != nil {
		return nil, fmt.Errorf("ikecrypto: generating an X25519 key: %w", probeErr)
	}
	return probeKey, nil
}

var (
	probeOnce sync.Once
	probeKey  *ecdh.PrivateKey
	probeErr  error
)
