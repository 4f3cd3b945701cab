package ikecrypto

import (
	"fmt"
	"strings"
)

// Suite is the set of transforms negotiated for an IKE SA.
type Suite struct {
	Encr    EncrID
	KeyBits int     // the encryption transform's Key Length attribute
	Integ   IntegID // IntegNone with an AEAD cipher
	PRF     PRFID
	Group   Group
}

// Validate reports whether the package implements every transform of s and
// they fit together (an integrity algorithm with AES-CBC, none with
// AES-GCM, a Diffie-Hellman group).
func (s Suite) Validate() error {
	if _, _, err := KeyLens(s.Encr, s.KeyBits, s.Integ); err != nil {
		return fmt.Errorf("IKE suite %v: %w", s, err)
	}
	if _, err := NewPRF(s.PRF); err != nil {
		return fmt.Errorf("IKE suite %v: %w", s, err)
	}
	if !SupportedGroup(s.Group) {
		return fmt.Errorf("%w: IKE suite %v: Diffie-Hellman group %v", ErrUnsupported, s, s.Group)
	}
	return nil
}

// String names the suite the way strongSwan's proposal strings do, for
// example "aes128gcm16-prfsha256-x25519" or "aes128-sha256-prfsha256-modp2048".
func (s Suite) String() string {
	parts := []string{encrName(s.Encr, s.KeyBits)}
	if s.Integ != IntegNone {
		parts = append(parts, integName(s.Integ))
	}
	parts = append(parts, prfName(s.PRF), groupName(s.Group))
	return strings.Join(parts, "-")
}

// ChildSuite is the set of transforms negotiated for an ESP child SA.
type ChildSuite struct {
	Encr    EncrID
	KeyBits int     // the encryption transform's Key Length attribute
	Integ   IntegID // IntegNone with an AEAD cipher
	// Group is the Diffie-Hellman group of a CREATE_CHILD_SA exchange
	// with perfect forward secrecy, GroupNone without.
	Group Group
	// ESN is whether extended sequence numbers were chosen.
	ESN bool
}

// Validate reports whether the package implements every transform of c
// and they fit together.
func (c ChildSuite) Validate() error {
	if _, _, err := KeyLens(c.Encr, c.KeyBits, c.Integ); err != nil {
		return fmt.Errorf("ESP suite %v: %w", c, err)
	}
	if c.Group != GroupNone && !SupportedGroup(c.Group) {
		return fmt.Errorf("%w: ESP suite %v: Diffie-Hellman group %v", ErrUnsupported, c, c.Group)
	}
	return nil
}

// KeyLens returns the lengths of the child SA's encryption key (with the
// salt for AES-GCM) and integrity key, per direction.
func (c ChildSuite) KeyLens() (encLen, integLen int, err error) {
	return KeyLens(c.Encr, c.KeyBits, c.Integ)
}

// String names the suite the way strongSwan's proposal strings do, for
// example "aes128gcm16" or "aes128-sha256-modp2048-esn".
func (c ChildSuite) String() string {
	parts := []string{encrName(c.Encr, c.KeyBits)}
	if c.Integ != IntegNone {
		parts = append(parts, integName(c.Integ))
	}
	if c.Group != GroupNone {
		parts = append(parts, groupName(c.Group))
	}
	if c.ESN {
		parts = append(parts, "esn")
	}
	return strings.Join(parts, "-")
}

func encrName(e EncrID, bits int) string {
	switch e {
	case EncrAESCBC:
		return fmt.Sprintf("aes%d", bits)
	case EncrAESGCM16:
		return fmt.Sprintf("aes%dgcm16", bits)
	}
	return fmt.Sprintf("encr%d-%d", e, bits)
}

func integName(i IntegID) string {
	switch i {
	case IntegHMACSHA256128:
		return "sha256"
	case IntegHMACSHA384192:
		return "sha384"
	case IntegHMACSHA512256:
		return "sha512"
	}
	return fmt.Sprintf("integ%d", i)
}

func prfName(p PRFID) string {
	switch p {
	case PRFHMACSHA256:
		return "prfsha256"
	case PRFHMACSHA384:
		return "prfsha384"
	case PRFHMACSHA512:
		return "prfsha512"
	}
	return fmt.Sprintf("prf%d", p)
}

func groupName(g Group) string {
	switch g {
	case GroupMODP2048:
		return "modp2048"
	case GroupECP256:
		return "ecp256"
	case GroupCurve25519:
		return "x25519"
	}
	return fmt.Sprintf("dh%d", g)
}
