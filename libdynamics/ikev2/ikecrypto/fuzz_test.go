package ikecrypto

import (
	"bytes"
	"errors"
	"testing"
)

// fuzzCiphers are one Cipher of each kind under fixed keys.
func fuzzCiphers(f *testing.F) []Cipher {
	var cs []Cipher
	for _, s := range []struct {
		encr  EncrID
		bits  int
		integ IntegID
	}{
		{EncrAESGCM16, 128, IntegNone},
		{EncrAESGCM16, 256, IntegNone},
		{EncrAESCBC, 128, IntegHMACSHA256128},
		{EncrAESCBC, 256, IntegHMACSHA512256},
	} {
		el, il, _ := KeyLens(s.encr, s.bits, s.integ)
		var ik []byte
		if il > 0 {
			ik = bytes.Repeat([]byte{0x42}, il)
		}
		c, err := NewCipher(s.encr, s.bits, s.integ, bytes.Repeat([]byte{0x24}, el), ik)
		if err != nil {
			f.Fatal(err)
		}
		cs = append(cs, c)
	}
	return cs
}

// FuzzOpen requires of every Cipher that Open never panics on any
// associated data and body, fails only with ErrIntegrity or ErrMalformed,
// and returns less than it was given when it succeeds; that whatever
// plaintext is sealed opens to itself; and that flipping any one bit of
// the associated data or of the sealed body makes Open fail with
// ErrIntegrity. The seeds are sealed messages of each cipher, their
// truncations and bodies of the boundary lengths.
func FuzzOpen(f *testing.F) {
	cs := fuzzCiphers(f)
	ad := []byte("IKE header and SK payload header")
	for i, c := range cs {
		for _, pt := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte{7}, 15), bytes.Repeat([]byte{8}, 16), bytes.Repeat([]byte{9}, 100)} {
			body, err := c.Seal(ad, pt)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(i), ad, body, pt, uint32(len(pt)))
			f.Add(uint8(i), ad, body[:len(body)-1], pt, uint32(0))
			f.Add(uint8(i), ad[:3], body, pt, uint32(9))
		}
		for _, n := range []int{0, 1, 24, 25, 47, 48, 64} {
			f.Add(uint8(i), []byte{}, make([]byte, n), []byte{}, uint32(n))
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, ad, body, pt []byte, flip uint32) {
		c := cs[int(kind)%len(cs)]

		out, err := c.Open(ad, body)
		if err != nil {
			if out != nil {
				t.Fatal("Open returned payloads with an error")
			}
			if !errors.Is(err, ErrIntegrity) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("Open error %v wraps neither ErrIntegrity nor ErrMalformed", err)
			}
		} else if len(out) >= len(body) {
			t.Fatalf("Open returned %d octets from a body of %d", len(out), len(body))
		}

		sealed, err := c.Seal(ad, pt)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		if len(sealed) != c.SealedLen(len(pt)) {
			t.Fatalf("Seal made %d octets, SealedLen says %d", len(sealed), c.SealedLen(len(pt)))
		}
		opened, err := c.Open(ad, sealed)
		if err != nil || !bytes.Equal(opened, pt) {
			t.Fatalf("Open(Seal(%x)) = %x, %v", pt, opened, err)
		}

		a, b := append([]byte(nil), ad...), append([]byte(nil), sealed...)
		bit := int(flip % uint32(8*(len(a)+len(b))))
		if bit < 8*len(a) {
			a[bit/8] ^= 1 << (bit % 8)
		} else {
			bit -= 8 * len(a)
			b[bit/8] ^= 1 << (bit % 8)
		}
		if _, err := c.Open(a, b); !errors.Is(err, ErrIntegrity) {
			t.Fatalf("one bit flipped: Open = %v, want ErrIntegrity", err)
		}
	})
}
