package ikev2

import (
	"encoding/binary"
	"fmt"
)

// KE is the Key Exchange payload (RFC 7296 section 3.4): the sender's
// Diffie-Hellman public value in a group.
type KE struct {
	Group DHGroup
	// Data is the public value. For the groups of KeyExchangeLen its length
	// is fixed: a MODP value is as long as the prime, zero-padded on the
	// left (RFC 7296 section 3.4); an ECP value is x then y (RFC 5903
	// section 7); Curve25519 and Curve448 are RFC 8031's octet strings.
	Data []byte
}

// keHeaderLen is the group number and reserved octets.
const keHeaderLen = 4

// Type returns PayloadKE.
func (*KE) Type() PayloadType { return PayloadKE }

var keLens = map[DHGroup]int{
	DHMODP768: 96, DHMODP1024: 128, DHMODP1536: 192, DHMODP2048: 256, DHMODP3072: 384,
	DHMODP4096: 512, DHMODP6144: 768, DHMODP8192: 1024,
	DHECP256: 64, DHECP384: 96, DHECP521: 132,
	DHMODP1024S160: 128, DHMODP2048S224: 256, DHMODP2048S256: 256,
	DHECP192: 48, DHECP224: 56,
	DHBrainpoolP224: 56, DHBrainpoolP256: 64, DHBrainpoolP384: 96, DHBrainpoolP512: 128,
	DHCurve25519: 32, DHCurve448: 56,
}

// KeyExchangeLen returns the length in octets of a public value of group g
// in a KE payload; ok is false for groups the package does not size.
func KeyExchangeLen(g DHGroup) (n int, ok bool) {
	n, ok = keLens[g]
	return n, ok
}

func (k *KE) check() error {
	if len(k.Data) == 0 {
		return fmt.Errorf("group %s: no key exchange data: %w", k.Group, ErrInvalid)
	}
	if n, ok := keLens[k.Group]; ok && len(k.Data) != n {
		return fmt.Errorf("group %s: %d octets of key exchange data, want %d: %w", k.Group, len(k.Data), n, ErrInvalid)
	}
	return nil
}

func parseKE(b []byte) (*KE, error) {
	if len(b) < keHeaderLen {
		return nil, fmt.Errorf("%d bytes, want at least %d: %w", len(b), keHeaderLen, ErrLength)
	}
	k := &KE{Group: DHGroup(binary.BigEndian.Uint16(b)), Data: clone(b[keHeaderLen:])}
	if err := k.check(); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *KE) appendBody(b []byte) ([]byte, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	b = binary.BigEndian.AppendUint16(b, uint16(k.Group))
	b = append(b, 0, 0)
	return append(b, k.Data...), nil
}
