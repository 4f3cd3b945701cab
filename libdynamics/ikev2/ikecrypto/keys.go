package ikecrypto

import (
	"encoding/binary"
	"fmt"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// IKEKeys are the secrets of an IKE SA derived from SKEYSEED (RFC 7296
// section 2.14). SK_d derives child SA keys, SK_ai/SK_ar and SK_ei/SK_er
// protect the SK payloads the original initiator and responder send, and
// SK_pi/SK_pr enter the AUTH payloads. SK_ai and SK_ar are empty with an
// AEAD cipher.
//
// String does not print the keys; use the fields where the octets are
// needed (for example to log them for a decrypting packet analyser).
type IKEKeys struct {
	SKd, SKai, SKar, SKei, SKer, SKpi, SKpr []byte
}

// String returns a placeholder, never the keys.
func (*IKEKeys) String() string { return "ikecrypto.IKEKeys(redacted)" }

// GoString returns a placeholder, never the keys.
func (k *IKEKeys) GoString() string { return k.String() }

// DeriveIKEKeys computes the keys of a new IKE SA from its IKE_SA_INIT
// exchange (RFC 7296 section 2.14):
//
//	SKEYSEED = prf(Ni | Nr, g^ir)
//	{SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
//	         = prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr)
//
// gir is the Diffie-Hellman shared secret as DH.SharedSecret returns it,
// ni and nr the nonces without payload headers, spii and spir the SPIs of
// the IKE header.
func DeriveIKEKeys(s Suite, gir, ni, nr []byte, spii, spir ikev2.SPI) (*IKEKeys, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if len(gir) == 0 || len(ni) == 0 || len(nr) == 0 {
		return nil, fmt.Errorf("%w: empty shared secret or nonce", ErrInvalid)
	}
	prf, _ := NewPRF(s.PRF)
	seed := prf.Sum(concat(ni, nr), gir)
	return expandIKEKeys(s, prf, seed, ni, nr, spii, spir)
}

// DeriveRekeyedIKEKeys computes the keys of the IKE SA that replaces an
// existing one in a CREATE_CHILD_SA exchange (RFC 7296 section 2.18):
//
//	SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)
//
// computed with the old IKE SA's PRF oldPRF and SK_d oldSKd, then expanded
// as in DeriveIKEKeys with the new suite's PRF and the new SPIs (those of
// the proposals of the exchange's SA payloads).
func DeriveRekeyedIKEKeys(oldPRF PRFID, oldSKd []byte, s Suite, gir, ni, nr []byte, spii, spir ikev2.SPI) (*IKEKeys, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	old, err := NewPRF(oldPRF)
	if err != nil {
		return nil, fmt.Errorf("old IKE SA: %w", err)
	}
	if len(oldSKd) == 0 || len(gir) == 0 || len(ni) == 0 || len(nr) == 0 {
		return nil, fmt.Errorf("%w: empty SK_d, shared secret or nonce", ErrInvalid)
	}
	seed := old.Sum(oldSKd, gir, ni, nr)
	prf, _ := NewPRF(s.PRF)
	return expandIKEKeys(s, prf, seed, ni, nr, spii, spir)
}

func expandIKEKeys(s Suite, prf PRF, skeyseed, ni, nr []byte, spii, spir ikev2.SPI) (*IKEKeys, error) {
	encLen, integLen, _ := KeyLens(s.Encr, s.KeyBits, s.Integ)
	var spis [16]byte
	binary.BigEndian.PutUint64(spis[:8], uint64(spii))
	binary.BigEndian.PutUint64(spis[8:], uint64(spir))
	sizes := []int{prf.Size(), integLen, integLen, encLen, encLen, prf.Size(), prf.Size()}
	total := 0
	for _, n := range sizes {
		total += n
	}
	km, err := prf.Plus(skeyseed, concat(ni, nr, spis[:]), total)
	if err != nil {
		return nil, err
	}
	parts := split(km, sizes)
	return &IKEKeys{
		SKd: parts[0], SKai: parts[1], SKar: parts[2],
		SKei: parts[3], SKer: parts[4], SKpi: parts[5], SKpr: parts[6],
	}, nil
}

// Ciphers returns the Ciphers of an IKE SA with suite s: out seals the
// messages this side sends, in opens the peer's. The initiator (the
// original initiator of the IKE SA, RFC 7296 section 2.2) sends with
// SK_ei/SK_ai.
func (k *IKEKeys) Ciphers(s Suite, initiator bool) (out, in Cipher, err error) {
	ie, ia, re, ra := k.SKei, k.SKai, k.SKer, k.SKar
	if !initiator {
		ie, ia, re, ra = re, ra, ie, ia
	}
	if out, err = NewCipher(s.Encr, s.KeyBits, s.Integ, ie, ia); err != nil {
		return nil, nil, err
	}
	if in, err = NewCipher(s.Encr, s.KeyBits, s.Integ, re, ra); err != nil {
		return nil, nil, err
	}
	return out, in, nil
}

// ChildKeys are the keys of a child SA pair (RFC 7296 section 2.17). EncrI
// and IntegI protect the traffic from the exchange's initiator to its
// responder (the ESP SA whose SPI the responder chose), EncrR and IntegR
// the other direction. The encryption keys of AES-GCM include the 4-octet
// salt at their end (RFC 4106 section 8.1); the integrity keys are empty.
//
// String does not print the keys.
type ChildKeys struct {
	EncrI, IntegI, EncrR, IntegR []byte
}

// String returns a placeholder, never the keys.
func (*ChildKeys) String() string { return "ikecrypto.ChildKeys(redacted)" }

// GoString returns a placeholder, never the keys.
func (k *ChildKeys) GoString() string { return k.String() }

// DeriveChildKeys computes the keys of a child SA (RFC 7296 section 2.17):
//
//	KEYMAT = prf+(SK_d, Ni | Nr)
//	KEYMAT = prf+(SK_d, g^ir (new) | Ni | Nr)   with perfect forward secrecy
//
// prf and skd are the IKE SA's PRF and SK_d; gir is the shared secret of
// the CREATE_CHILD_SA exchange's own Diffie-Hellman exchange, nil without
// one; ni and nr are the nonces of the exchange that created the child SA
// (IKE_SA_INIT's for the first child SA made in IKE_AUTH). The keys are
// taken in the order encryption then integrity, initiator-to-responder
// direction first.
func DeriveChildKeys(prf PRFID, skd []byte, c ChildSuite, gir, ni, nr []byte) (*ChildKeys, error) {
	p, err := NewPRF(prf)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if len(skd) == 0 || len(ni) == 0 || len(nr) == 0 {
		return nil, fmt.Errorf("%w: empty SK_d or nonce", ErrInvalid)
	}
	if (c.Group != GroupNone) != (len(gir) > 0) {
		return nil, fmt.Errorf("%w: child suite %v with a shared secret of %d octets", ErrInvalid, c, len(gir))
	}
	encLen, integLen, _ := c.KeyLens()
	sizes := []int{encLen, integLen, encLen, integLen}
	km, err := p.Plus(skd, concat(gir, ni, nr), 2*(encLen+integLen))
	if err != nil {
		return nil, err
	}
	parts := split(km, sizes)
	return &ChildKeys{EncrI: parts[0], IntegI: parts[1], EncrR: parts[2], IntegR: parts[3]}, nil
}

// concat returns the concatenation of bs in a new slice.
func concat(bs ...[]byte) []byte {
	n := 0
	for _, b := range bs {
		n += len(b)
	}
	out := make([]byte, 0, n)
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// split cuts b into consecutive pieces of the given sizes, each its own
// copy; a zero size gives nil.
func split(b []byte, sizes []int) [][]byte {
	out := make([][]byte, len(sizes))
	for i, n := range sizes {
		if n > 0 {
			out[i] = append([]byte(nil), b[:n]...)
		}
		b = b[n:]
	}
	return out
}
