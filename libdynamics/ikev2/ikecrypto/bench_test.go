package ikecrypto

import (
	"testing"
)

// BenchmarkDH measures one side's work in a Diffie-Hellman exchange: a key
// pair and the shared secret with the peer's value.
func BenchmarkDH(b *testing.B) {
	for _, g := range []Group{GroupCurve25519, GroupECP256, GroupMODP2048} {
		peer, err := NewDH(g)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(g.String(), func(b *testing.B) {
			for b.Loop() {
				d, err := NewDH(g)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := d.SharedSecret(peer.PublicValue()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSealOpen measures protecting and opening a 200-octet SK payload.
func BenchmarkSealOpen(b *testing.B) {
	pt := make([]byte, 200)
	ad := make([]byte, 32)
	for name, cs := range testCiphers(b) {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				body, err := cs[0].Seal(ad, pt)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := cs[1].Open(ad, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
