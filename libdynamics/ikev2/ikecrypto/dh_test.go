package ikecrypto

import (
	"bytes"
	"crypto/ecdh"
	"errors"
	"math/big"
	"testing"
)

// x25519Key returns the DH of a fixed X25519 scalar.
func x25519Key(t *testing.T, scalar []byte) *DH {
	t.Helper()
	k, err := ecdh.X25519().NewPrivateKey(scalar)
	if err != nil {
		t.Fatal(err)
	}
	return newECDH(GroupCurve25519, k)
}

// TestX25519RFC7748 runs the scalar multiplication vectors of RFC 7748
// section 5.2 (the second has the top bit of u set, which must be ignored),
// the iterated vector after 1 and 1000 iterations, and the Diffie-Hellman
// example of section 6.1.
func TestX25519RFC7748(t *testing.T) {
	for _, v := range []struct{ scalar, u, out string }{
		{"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
			"e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
			"c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
		{"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
			"e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
			"95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
	} {
		got, err := x25519Key(t, unhex(t, v.scalar)).SharedSecret(unhex(t, v.u))
		if err != nil {
			t.Fatal(err)
		}
		if want := unhex(t, v.out); !bytes.Equal(got, want) {
			t.Errorf("X25519(%s..., %s...) = %x, want %x", v.scalar[:8], v.u[:8], got, want)
		}
	}

	k := make([]byte, 32)
	k[0] = 9
	u := append([]byte(nil), k...)
	for i := 1; i <= 1000; i++ {
		out, err := x25519Key(t, k).SharedSecret(u)
		if err != nil {
			t.Fatalf("iteration %d: %v", i, err)
		}
		k, u = out, k
		switch i {
		case 1:
			if want := unhex(t, "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"); !bytes.Equal(k, want) {
				t.Fatalf("after 1 iteration %x, want %x", k, want)
			}
		case 1000:
			if want := unhex(t, "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"); !bytes.Equal(k, want) {
				t.Fatalf("after 1000 iterations %x, want %x", k, want)
			}
		}
	}

	alice := x25519Key(t, unhex(t, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
	bob := x25519Key(t, unhex(t, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"))
	if want := unhex(t, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"); !bytes.Equal(alice.PublicValue(), want) {
		t.Errorf("Alice's public value %x, want %x", alice.PublicValue(), want)
	}
	if want := unhex(t, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"); !bytes.Equal(bob.PublicValue(), want) {
		t.Errorf("Bob's public value %x, want %x", bob.PublicValue(), want)
	}
	want := unhex(t, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
	for name, pair := range map[string][2]*DH{"Alice": {alice, bob}, "Bob": {bob, alice}} {
		got, err := pair[0].SharedSecret(pair[1].PublicValue())
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s's shared secret %x, %v; want %x", name, got, err, want)
		}
	}
}

// TestECP256RFC5903 runs the 256-bit random ECP group example of RFC 5903
// section 8.1: the KE data is x | y, the shared secret the x coordinate.
func TestECP256RFC5903(t *testing.T) {
	mk := func(hexKey string) *DH {
		k, err := ecdh.P256().NewPrivateKey(unhex(t, hexKey))
		if err != nil {
			t.Fatal(err)
		}
		return newECDH(GroupECP256, k)
	}
	i := mk("C88F01F5 10D9AC3F 70A292DA A2316DE5 44E9AAB8 AFE84049 C62A9C57 862D1433")
	r := mk("C6EF9C5D 78AE012A 011164AC B397CE20 88685D8F 06BF9BE0 B283AB46 476BEE53")
	gi := unhex(t, "DAD0B653 94221CF9 B051E1FE CA5787D0 98DFE637 FC90B9EF 945D0C37 72581180"+
		"5271A046 1CDB8252 D61F1C45 6FA3E59A B1F45B33 ACCF5F58 389E0577 B8990BB3")
	gr := unhex(t, "D12DFB52 89C8D4F8 1208B702 70398C34 2296970A 0BCCB74C 736FC755 4494BF63"+
		"56FBF3CA 366CC23E 8157854C 13C58D6A AC23F046 ADA30F83 53E74F33 039872AB")
	gir := unhex(t, "D6840F6B 42F6EDAF D13116E0 E1256520 2FEF8E9E CE7DCE03 812464D0 4B9442DE")
	if !bytes.Equal(i.PublicValue(), gi) {
		t.Errorf("g^i = %x, want %x", i.PublicValue(), gi)
	}
	if !bytes.Equal(r.PublicValue(), gr) {
		t.Errorf("g^r = %x, want %x", r.PublicValue(), gr)
	}
	for name, got := range map[string]func() ([]byte, error){
		"initiator": func() ([]byte, error) { return i.SharedSecret(gr) },
		"responder": func() ([]byte, error) { return r.SharedSecret(gi) },
	} {
		s, err := got()
		if err != nil || !bytes.Equal(s, gir) {
			t.Errorf("%s's g^ir = %x, %v; want %x", name, s, err, gir)
		}
	}
}

// TestMODP2048 checks the prime (2048 bits, a safe prime, the RFC 3526
// form with 64 one bits at each end), that two sides agree, and that
// public values and shared secrets are padded to 256 octets.
func TestMODP2048(t *testing.T) {
	p := modp2048P
	if p.BitLen() != 2048 || !p.ProbablyPrime(20) {
		t.Fatal("the MODP-2048 prime is not a 2048-bit prime")
	}
	q := new(big.Int).Rsh(p, 1)
	if !q.ProbablyPrime(20) {
		t.Fatal("(p-1)/2 is not prime: not the safe prime of RFC 3526")
	}
	ones := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 64), big.NewInt(1))
	if new(big.Int).And(p, ones).Cmp(ones) != 0 || new(big.Int).Rsh(p, 2048-64).Cmp(ones) != 0 {
		t.Fatal("the prime does not start and end with 64 one bits")
	}

	a, err := NewDH(GroupMODP2048)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewDH(GroupMODP2048)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.PublicValue()) != 256 || len(b.PublicValue()) != 256 {
		t.Fatalf("public values of %d and %d octets", len(a.PublicValue()), len(b.PublicValue()))
	}
	sa, err := a.SharedSecret(b.PublicValue())
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.SharedSecret(a.PublicValue())
	if err != nil || !bytes.Equal(sa, sb) || len(sa) != 256 {
		t.Fatalf("the sides disagree (%d and %d octets, %v)", len(sa), len(sb), err)
	}
	// 2^100 is far below the modulus: the shared secret must keep its
	// leading zeros, and so must a public value.
	small := newMODP(big.NewInt(100))
	two := make([]byte, 256)
	two[255] = 2
	s, err := small.SharedSecret(two)
	if err != nil {
		t.Fatal(err)
	}
	want := new(big.Int).Lsh(big.NewInt(1), 100).FillBytes(make([]byte, 256))
	if !bytes.Equal(s, want) {
		t.Errorf("2^100 as a shared secret = %x", s)
	}
	if pub := newMODP(big.NewInt(8)).PublicValue(); len(pub) != 256 || pub[255] != 0 || pub[254] != 1 {
		t.Errorf("public value 2^8 = %x", pub)
	}
}

func TestNewDHGroups(t *testing.T) {
	for _, g := range []Group{GroupCurve25519, GroupECP256, GroupMODP2048} {
		a, err := NewDH(g)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := NewDH(g)
		n, _ := PublicValueLen(g)
		if a.Group() != g || len(a.PublicValue()) != n {
			t.Errorf("%v: group %v, public value of %d octets, want %d", g, a.Group(), len(a.PublicValue()), n)
		}
		if err := ValidatePublicValue(g, a.PublicValue()); err != nil {
			t.Errorf("%v: own public value invalid: %v", g, err)
		}
		sa, err1 := a.SharedSecret(b.PublicValue())
		sb, err2 := b.SharedSecret(a.PublicValue())
		if err1 != nil || err2 != nil || !bytes.Equal(sa, sb) {
			t.Errorf("%v: shared secrets differ (%v, %v)", g, err1, err2)
		}
		if bytes.Equal(a.PublicValue(), b.PublicValue()) {
			t.Errorf("%v: two key pairs with the same public value", g)
		}
	}
	for _, g := range []Group{GroupNone, 1, 2, 5, 20, 32} {
		if _, err := NewDH(g); !errors.Is(err, ErrUnsupported) {
			t.Errorf("NewDH(%v) = %v, want ErrUnsupported", g, err)
		}
		if SupportedGroup(g) {
			t.Errorf("SupportedGroup(%v)", g)
		}
	}
}

// TestValidatePublicValue feeds every group the values RFC 6989 and the
// curves' RFCs say a peer must not get away with.
func TestValidatePublicValue(t *testing.T) {
	pad := func(x *big.Int, n int) []byte { return x.FillBytes(make([]byte, n)) }
	p := modp2048P
	one := big.NewInt(1)
	fieldP256 := p256Prime
	x25519P, _ := new(big.Int).SetString("7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffed", 16)
	le := func(x *big.Int) []byte { // little-endian, as X25519 encodes u
		b := pad(x, 32)
		for i, j := 0, 31; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		return b
	}
	g19, _ := NewDH(GroupECP256)
	gx, gy := g19.PublicValue()[:32], g19.PublicValue()[32:]
	cat := func(a, b []byte) []byte { return append(append([]byte(nil), a...), b...) }

	bad := []struct {
		name string
		g    Group
		b    []byte
	}{
		{"MODP y = 0", GroupMODP2048, pad(big.NewInt(0), 256)},
		{"MODP y = 1", GroupMODP2048, pad(one, 256)},
		{"MODP y = p-1", GroupMODP2048, pad(new(big.Int).Sub(p, one), 256)},
		{"MODP y = p", GroupMODP2048, pad(p, 256)},
		{"MODP y = p+1", GroupMODP2048, pad(new(big.Int).Add(p, one), 256)},
		{"MODP all ones", GroupMODP2048, bytes.Repeat([]byte{0xff}, 256)},
		{"MODP 255 octets", GroupMODP2048, pad(big.NewInt(2), 255)},
		{"MODP 257 octets", GroupMODP2048, pad(big.NewInt(2), 257)},
		{"ECP identity (all zero)", GroupECP256, make([]byte, 64)},
		{"ECP x = p", GroupECP256, cat(pad(fieldP256, 32), gy)},
		{"ECP y = p", GroupECP256, cat(gx, pad(fieldP256, 32))},
		{"ECP y + p overflow", GroupECP256, cat(gx, bytes.Repeat([]byte{0xff}, 32))},
		{"ECP not on the curve", GroupECP256, cat(pad(one, 32), pad(one, 32))},
		{"ECP point with a flipped bit", GroupECP256, cat(gx, func() []byte { y := append([]byte(nil), gy...); y[31] ^= 1; return y }())},
		{"ECP uncompressed with 0x04", GroupECP256, cat([]byte{4}, g19.PublicValue())},
		{"ECP 63 octets", GroupECP256, g19.PublicValue()[:63]},
		{"X25519 u = 0", GroupCurve25519, le(big.NewInt(0))},
		{"X25519 u = 1", GroupCurve25519, le(one)},
		{"X25519 u = p-1 (order 2)", GroupCurve25519, le(new(big.Int).Sub(x25519P, one))},
		{"X25519 u = p (non-canonical 0)", GroupCurve25519, le(x25519P)},
		{"X25519 u = p+1 (non-canonical 1)", GroupCurve25519, le(new(big.Int).Add(x25519P, one))},
		{"X25519 order 8", GroupCurve25519, unhex(t, "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")},
		{"X25519 order 8 (other)", GroupCurve25519, unhex(t, "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157")},
		{"X25519 order 8 with top bit", GroupCurve25519, unhex(t, "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880")},
		{"X25519 31 octets", GroupCurve25519, make([]byte, 31)},
		{"X25519 33 octets", GroupCurve25519, make([]byte, 33)},
		{"X25519 empty", GroupCurve25519, nil},
	}
	own := map[Group]*DH{}
	for _, g := range []Group{GroupMODP2048, GroupECP256, GroupCurve25519} {
		own[g], _ = NewDH(g)
	}
	for _, tc := range bad {
		if err := ValidatePublicValue(tc.g, tc.b); !errors.Is(err, ErrPublicValue) {
			t.Errorf("%s: ValidatePublicValue = %v, want ErrPublicValue", tc.name, err)
		}
		if s, err := own[tc.g].SharedSecret(tc.b); !errors.Is(err, ErrPublicValue) || s != nil {
			t.Errorf("%s: SharedSecret = %x, %v; want ErrPublicValue", tc.name, s, err)
		}
	}
	good := []struct {
		name string
		g    Group
		b    []byte
	}{
		{"MODP y = 2", GroupMODP2048, pad(big.NewInt(2), 256)},
		{"MODP y = p-2", GroupMODP2048, pad(new(big.Int).Sub(p, big.NewInt(2)), 256)},
		{"X25519 u = 9 (base point)", GroupCurve25519, le(big.NewInt(9))},
	}
	for _, tc := range good {
		if err := ValidatePublicValue(tc.g, tc.b); err != nil {
			t.Errorf("%s: ValidatePublicValue = %v, want nil", tc.name, err)
		}
	}
	if err := ValidatePublicValue(GroupNone, nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ValidatePublicValue(NONE) = %v, want ErrUnsupported", err)
	}
}
