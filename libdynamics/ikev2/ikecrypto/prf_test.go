package ikecrypto

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"testing"
)

// rfc4231 holds the test cases of RFC 4231 section 4 (keys and data), with
// the HMAC-SHA-256, -384 and -512 outputs. Case 5 is truncated to 128 bits
// in the RFC.
var rfc4231 = []struct {
	name                   string
	key, data              []byte
	sha256, sha384, sha512 string
	truncated              bool
}{
	{
		name: "case 1", key: repeat(0x0b, 20), data: []byte("Hi There"),
		sha256: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
		sha384: "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
		sha512: "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
	},
	{
		name: "case 2", key: []byte("Jefe"), data: []byte("what do ya want for nothing?"),
		sha256: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
		sha384: "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
		sha512: "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
	},
	{
		name: "case 3", key: repeat(0xaa, 20), data: repeat(0xdd, 50),
		sha256: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
		sha384: "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b2a5ab39dc13814b94e3ab6e101a34f27",
		sha512: "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb",
	},
	{
		name: "case 4", key: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25}, data: repeat(0xcd, 50),
		sha256: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
		sha384: "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb",
		sha512: "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd",
	},
	{
		name: "case 5", key: repeat(0x0c, 20), data: []byte("Test With Truncation"), truncated: true,
		sha256: "a3b6167473100ee06e0c796c2955552b",
		sha384: "3abf34c3503b2a23a46efc619baef897",
		sha512: "415fad6271580a531d4179bc891d87a6",
	},
	{
		name: "case 6", key: repeat(0xaa, 131), data: []byte("Test Using Larger Than Block-Size Key - Hash Key First"),
		sha256: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
		sha384: "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952",
		sha512: "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
	},
	{
		name: "case 7", key: repeat(0xaa, 131),
		data:   []byte("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm."),
		sha256: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
		sha384: "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e",
		sha512: "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58",
	},
}

// TestPRFRFC4231 runs the PRFs on the HMAC-SHA-2 test vectors of RFC 4231,
// which RFC 4868 section 2.7.1 names as the PRF test vectors.
func TestPRFRFC4231(t *testing.T) {
	for _, tc := range rfc4231 {
		for _, h := range []struct {
			id   PRFID
			want string
		}{{PRFHMACSHA256, tc.sha256}, {PRFHMACSHA384, tc.sha384}, {PRFHMACSHA512, tc.sha512}} {
			p, err := NewPRF(h.id)
			if err != nil {
				t.Fatal(err)
			}
			got := p.Sum(tc.key, tc.data)
			if len(got) != p.Size() {
				t.Errorf("%s %v: output of %d octets, Size says %d", tc.name, h.id, len(got), p.Size())
			}
			want := unhex(t, h.want)
			if tc.truncated {
				got = got[:len(want)]
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s %v = %x, want %x", tc.name, h.id, got, want)
			}
			// The data split in two gives the same output.
			if split := p.Sum(tc.key, tc.data[:3], tc.data[3:]); !bytes.HasPrefix(split, want) {
				t.Errorf("%s %v over split data = %x", tc.name, h.id, split)
			}
		}
	}
}

// TestIntegRFC4868 runs the integrity algorithms on the authenticator test
// vectors of RFC 4868 section 2.7.2 (keys as long as the hash output),
// truncated to 128, 192 and 256 bits.
func TestIntegRFC4868(t *testing.T) {
	seq := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i + 1)
		}
		return b
	}
	cases := []struct {
		id        IntegID
		key, data []byte
		prf       string // the full PRF output the RFC also lists
	}{
		{IntegHMACSHA256128, repeat(0x0b, 32), []byte("Hi There"), "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7"},
		{IntegHMACSHA256128, []byte("JefeJefeJefeJefeJefeJefeJefeJefe"), []byte("what do ya want for nothing?"), "167f928588c5cc2eef8e3093caa0e87c9ff566a14794aa61648d81621a2a40c6"},
		{IntegHMACSHA256128, repeat(0xaa, 32), repeat(0xdd, 50), "cdcb1220d1ecccea91e53aba3092f962e549fe6ce9ed7fdc43191fbde45c30b0"},
		{IntegHMACSHA256128, seq(32), repeat(0xcd, 50), "372efcf9b40b35c2115b1346903d2ef42fced46f0846e7257bb156d3d7b30d3f"},
		{IntegHMACSHA384192, repeat(0x0b, 48), []byte("Hi There"), "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee9737a959796489bddbc4c5df61d5b3297b4fb68dab9f1b582c2"},
		{IntegHMACSHA384192, []byte("JefeJefeJefeJefeJefeJefeJefeJefeJefeJefeJefeJefe"), []byte("what do ya want for nothing?"), "2c7353974f1842fd66d53c452ca42122b28c0b594cfb184da86a368e9b8e16f5349524ca4e82400cbde0686d403371c9"},
		{IntegHMACSHA384192, repeat(0xaa, 48), repeat(0xdd, 50), "809f439be00274321d4a538652164b53554a508184a0c3160353e3428597003d35914a18770f9443987054944b7c4b4a"},
		{IntegHMACSHA384192, append(seq(32), unhex(t, "0a0b0c0d0e0f10111213141516171819")...), repeat(0xcd, 50), "5b540085c6e6358096532b2493609ed1cb298f774f87bb5c2ebf182c83cc7428707fb92eab2536a5812258228bc96687"},
		{IntegHMACSHA512256, repeat(0x0b, 64), []byte("Hi There"), "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8ac2878ebd5803f6f0b61dbce5e251ff8789a4722c1be65aea45fd464e89f8f5b"},
		{IntegHMACSHA512256, []byte("JefeJefeJefeJefeJefeJefeJefeJefeJefeJefeJefeJefeJefeJefeJefeJefe"), []byte("what do ya want for nothing?"), "cb370917ae8a7ce28cfd1d8f4705d6141c173b2a9362c15df235dfb251b154546aa334ae9fb9afc2184932d8695e397bfa0ffb93466cfcceaae38c833b7dba38"},
		{IntegHMACSHA512256, repeat(0xaa, 64), repeat(0xdd, 50), "2ee7acd783624ca9398710f3ee05ae41b9f9b0510c87e49e586cc9bf961733d8623c7b55cebefccf02d5581acc1c9d5fb1ff68a1de45509fbe4da9a433922655"},
		{IntegHMACSHA512256, seq(64), repeat(0xcd, 50), "5e6688e5a3daec826ca32eaea224eff5e700628947470e13ad01302561bab108b8c48cbc6b807dcfbd850521a685babc7eae4a2a2e660dc0e86b931d65503fd2"},
	}
	for _, tc := range cases {
		in, err := NewInteg(tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if len(tc.key) != in.KeyLen() {
			t.Fatalf("%v: test key of %d octets, KeyLen %d", tc.id, len(tc.key), in.KeyLen())
		}
		full := unhex(t, tc.prf)
		want := full[:len(full)/2]
		got := in.Sum(tc.key, tc.data)
		if !bytes.Equal(got, want) || len(got) != in.ICVLen() {
			t.Errorf("%v(%x) = %x, want %x", tc.id, tc.key[:4], got, want)
		}
		if !in.Verify(tc.key, want, tc.data) {
			t.Errorf("%v: Verify rejects the RFC's ICV", tc.id)
		}
		bad := append([]byte(nil), want...)
		bad[len(bad)-1] ^= 1
		if in.Verify(tc.key, bad, tc.data) || in.Verify(tc.key, want[:len(want)-1], tc.data) || in.Verify(tc.key, full, tc.data) {
			t.Errorf("%v: Verify accepts a modified, short or untruncated ICV", tc.id)
		}
		// The full PRF output is the PRF of the same number.
		p, err := NewPRF(PRFID(tc.id - IntegHMACSHA256128 + IntegID(PRFHMACSHA256)))
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Sum(tc.key, tc.data); !bytes.Equal(got, full) {
			t.Errorf("%v = %x, want %x", p.ID(), got, full)
		}
	}
}

// plusReference is prf+ written out from RFC 7296 section 2.13 with
// crypto/hmac and SHA-256, independent of PRF.Plus.
func plusReference(key, seed []byte, blocks int) []byte {
	var out, t []byte
	for i := 1; i <= blocks; i++ {
		m := hmac.New(sha256.New, key)
		m.Write(t)
		m.Write(seed)
		m.Write([]byte{byte(i)})
		t = m.Sum(nil)
		out = append(out, t...)
	}
	return out
}

func TestPRFPlus(t *testing.T) {
	p, _ := NewPRF(PRFHMACSHA256)
	key, seed := []byte("key"), []byte("seed octets")
	ref := plusReference(key, seed, MaxPlusBlocks)
	for _, n := range []int{0, 1, 31, 32, 33, 64, 100, 255 * 32} {
		got, err := p.Plus(key, seed, n)
		if err != nil {
			t.Fatalf("Plus(%d): %v", n, err)
		}
		if !bytes.Equal(got, ref[:n]) {
			t.Errorf("Plus(%d) differs from the reference", n)
		}
	}
	for _, n := range []int{255*32 + 1, -1} {
		if _, err := p.Plus(key, seed, n); !errors.Is(err, ErrInvalid) {
			t.Errorf("Plus(%d) = %v, want ErrInvalid", n, err)
		}
	}
	if _, err := (PRF{}).Plus(key, seed, 1); !errors.Is(err, ErrInvalid) {
		t.Errorf("zero PRF Plus = %v, want ErrInvalid", err)
	}
}

func TestUnsupportedTransforms(t *testing.T) {
	if _, err := NewPRF(2); !errors.Is(err, ErrUnsupported) { // PRF_HMAC_SHA1
		t.Errorf("NewPRF(PRF_HMAC_SHA1) = %v, want ErrUnsupported", err)
	}
	for _, id := range []IntegID{IntegNone, 2, 5} {
		if _, err := NewInteg(id); !errors.Is(err, ErrUnsupported) {
			t.Errorf("NewInteg(%v) = %v, want ErrUnsupported", id, err)
		}
	}
}
