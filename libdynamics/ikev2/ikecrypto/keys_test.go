package ikecrypto

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// The reference functions below write RFC 7296 sections 2.13, 2.14, 2.17
// and 2.18 out with crypto/hmac and fixed key sizes, independently of the
// package's PRF, KeyLens and key derivation.

func refPRF(h func() hash.Hash, key []byte, data ...[]byte) []byte {
	m := hmac.New(h, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

func refPlus(h func() hash.Hash, key, seed []byte, n int) []byte {
	var out, t []byte
	for i := byte(1); len(out) < n; i++ {
		t = refPRF(h, key, t, seed, []byte{i})
		out = append(out, t...)
	}
	return out[:n]
}

func refSPIs(spii, spir uint64) []byte {
	b := binary.BigEndian.AppendUint64(nil, spii)
	return binary.BigEndian.AppendUint64(b, spir)
}

// refSlice cuts km into the given sizes.
func refSlice(km []byte, sizes ...int) [][]byte {
	var out [][]byte
	for _, n := range sizes {
		out = append(out, km[:n])
		km = km[n:]
	}
	return out
}

func checkKey(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if len(want) == 0 {
		if len(got) != 0 {
			t.Errorf("%s = %x, want none", what, got)
		}
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s = %x, want %x", what, got, want)
	}
}

func checkIKEKeys(t *testing.T, k *IKEKeys, want [][]byte) {
	t.Helper()
	names := []string{"SK_d", "SK_ai", "SK_ar", "SK_ei", "SK_er", "SK_pi", "SK_pr"}
	got := [][]byte{k.SKd, k.SKai, k.SKar, k.SKei, k.SKer, k.SKpi, k.SKpr}
	for i := range names {
		checkKey(t, names[i], got[i], want[i])
	}
}

var (
	testNi  = bytes.Repeat([]byte{0x11}, 32)
	testNr  = bytes.Repeat([]byte{0x22}, 32)
	testGir = bytes.Repeat([]byte{0x33}, 32)
	testSPI = [2]uint64{0x0102030405060708, 0xa1a2a3a4a5a6a7a8}
)

func TestDeriveIKEKeys(t *testing.T) {
	cases := []struct {
		suite Suite
		h     func() hash.Hash
		sizes []int // SK_d, SK_ai, SK_ar, SK_ei, SK_er, SK_pi, SK_pr
	}{
		{Suite{EncrAESGCM16, 128, IntegNone, PRFHMACSHA256, GroupCurve25519}, sha256.New, []int{32, 0, 0, 20, 20, 32, 32}},
		{Suite{EncrAESGCM16, 256, IntegNone, PRFHMACSHA256, GroupECP256}, sha256.New, []int{32, 0, 0, 36, 36, 32, 32}},
		{Suite{EncrAESCBC, 128, IntegHMACSHA256128, PRFHMACSHA256, GroupMODP2048}, sha256.New, []int{32, 32, 32, 16, 16, 32, 32}},
		{Suite{EncrAESCBC, 256, IntegHMACSHA256128, PRFHMACSHA384, GroupMODP2048}, sha512.New384, []int{48, 32, 32, 32, 32, 48, 48}},
		{Suite{EncrAESCBC, 192, IntegHMACSHA512256, PRFHMACSHA512, GroupCurve25519}, sha512.New, []int{64, 64, 64, 24, 24, 64, 64}},
	}
	for _, tc := range cases {
		t.Run(tc.suite.String(), func(t *testing.T) {
			k, err := DeriveIKEKeys(tc.suite, testGir, testNi, testNr, ikev2.SPI(testSPI[0]), ikev2.SPI(testSPI[1]))
			if err != nil {
				t.Fatal(err)
			}
			skeyseed := refPRF(tc.h, append(append([]byte(nil), testNi...), testNr...), testGir)
			total := 0
			for _, n := range tc.sizes {
				total += n
			}
			seed := append(append(append([]byte(nil), testNi...), testNr...), refSPIs(testSPI[0], testSPI[1])...)
			checkIKEKeys(t, k, refSlice(refPlus(tc.h, skeyseed, seed, total), tc.sizes...))

			// The keys work: what the initiator seals the responder opens,
			// and not the other way round with the same direction's keys.
			iOut, iIn, err := k.Ciphers(tc.suite, true)
			if err != nil {
				t.Fatal(err)
			}
			rOut, rIn, err := k.Ciphers(tc.suite, false)
			if err != nil {
				t.Fatal(err)
			}
			ad := []byte("header")
			b, _ := iOut.Seal(ad, []byte("from the initiator"))
			if pt, err := rIn.Open(ad, b); err != nil || string(pt) != "from the initiator" {
				t.Errorf("responder opens the initiator's message: %q, %v", pt, err)
			}
			if _, err := iIn.Open(ad, b); !errors.Is(err, ErrIntegrity) {
				t.Errorf("initiator's inbound cipher opens its own outbound message: %v", err)
			}
			b, _ = rOut.Seal(ad, []byte("from the responder"))
			if pt, err := iIn.Open(ad, b); err != nil || string(pt) != "from the responder" {
				t.Errorf("initiator opens the responder's message: %q, %v", pt, err)
			}
		})
	}
}

// TestDeriveRekeyedIKEKeys rekeys an IKE SA whose PRF is HMAC-SHA2-256 into
// one with HMAC-SHA2-384: SKEYSEED must come from the old PRF (RFC 7296
// section 2.18), the expansion from the new one.
func TestDeriveRekeyedIKEKeys(t *testing.T) {
	oldSKd := bytes.Repeat([]byte{0x44}, 32)
	s := Suite{EncrAESCBC, 256, IntegHMACSHA256128, PRFHMACSHA384, GroupMODP2048}
	newSPI := [2]uint64{0xdeadbeef00000001, 0xdeadbeef00000002}
	k, err := DeriveRekeyedIKEKeys(PRFHMACSHA256, oldSKd, s, testGir, testNi, testNr, ikev2.SPI(newSPI[0]), ikev2.SPI(newSPI[1]))
	if err != nil {
		t.Fatal(err)
	}
	skeyseed := refPRF(sha256.New, oldSKd, testGir, testNi, testNr)
	sizes := []int{48, 32, 32, 32, 32, 48, 48}
	seed := append(append(append([]byte(nil), testNi...), testNr...), refSPIs(newSPI[0], newSPI[1])...)
	checkIKEKeys(t, k, refSlice(refPlus(sha512.New384, skeyseed, seed, 272), sizes...))

	// With the new PRF for SKEYSEED the keys would differ.
	wrong := refPRF(sha512.New384, oldSKd, testGir, testNi, testNr)
	if bytes.Equal(k.SKd, refPlus(sha512.New384, wrong, seed, 48)) {
		t.Error("SKEYSEED computed with the new PRF")
	}
	if _, err := DeriveRekeyedIKEKeys(PRFHMACSHA256, nil, s, testGir, testNi, testNr, 1, 2); !errors.Is(err, ErrInvalid) {
		t.Errorf("rekey without SK_d = %v, want ErrInvalid", err)
	}
	if _, err := DeriveRekeyedIKEKeys(ikev2.PRFHMACMD5, oldSKd, s, testGir, testNi, testNr, 1, 2); !errors.Is(err, ErrUnsupported) {
		t.Errorf("rekey with an old HMAC-MD5 PRF = %v, want ErrUnsupported", err)
	}
}

func TestDeriveChildKeys(t *testing.T) {
	skd := bytes.Repeat([]byte{0x55}, 32)
	cases := []struct {
		c           ChildSuite
		gir         []byte
		encr, integ int
	}{
		{ChildSuite{Encr: EncrAESGCM16, KeyBits: 128}, nil, 20, 0},
		{ChildSuite{Encr: EncrAESGCM16, KeyBits: 256, Group: GroupCurve25519}, testGir, 36, 0},
		{ChildSuite{Encr: EncrAESCBC, KeyBits: 128, Integ: IntegHMACSHA256128}, nil, 16, 32},
		{ChildSuite{Encr: EncrAESCBC, KeyBits: 256, Integ: IntegHMACSHA256128, Group: GroupMODP2048}, testGir, 32, 32},
	}
	for _, tc := range cases {
		k, err := DeriveChildKeys(PRFHMACSHA256, skd, tc.c, tc.gir, testNi, testNr)
		if err != nil {
			t.Fatalf("%v: %v", tc.c, err)
		}
		// KEYMAT = prf+(SK_d, [g^ir |] Ni | Nr), keys in the order
		// encryption, integrity; initiator to responder first.
		seed := append(append(append([]byte(nil), tc.gir...), testNi...), testNr...)
		want := refSlice(refPlus(sha256.New, skd, seed, 2*(tc.encr+tc.integ)), tc.encr, tc.integ, tc.encr, tc.integ)
		checkKey(t, tc.c.String()+" encr i->r", k.EncrI, want[0])
		checkKey(t, tc.c.String()+" integ i->r", k.IntegI, want[1])
		checkKey(t, tc.c.String()+" encr r->i", k.EncrR, want[2])
		checkKey(t, tc.c.String()+" integ r->i", k.IntegR, want[3])
	}
	// A PFS suite needs the new shared secret, and one without must not get one.
	if _, err := DeriveChildKeys(PRFHMACSHA256, skd, cases[1].c, nil, testNi, testNr); !errors.Is(err, ErrInvalid) {
		t.Errorf("PFS suite without a shared secret = %v, want ErrInvalid", err)
	}
	if _, err := DeriveChildKeys(PRFHMACSHA256, skd, cases[0].c, testGir, testNi, testNr); !errors.Is(err, ErrInvalid) {
		t.Errorf("suite without PFS with a shared secret = %v, want ErrInvalid", err)
	}
	if _, err := DeriveChildKeys(PRFHMACSHA256, skd, ChildSuite{Encr: EncrAESCBC, KeyBits: 128}, nil, testNi, testNr); !errors.Is(err, ErrUnsupported) {
		t.Errorf("CBC child suite without integrity = %v, want ErrUnsupported", err)
	}
}

func TestDeriveErrors(t *testing.T) {
	good := Suite{EncrAESGCM16, 128, IntegNone, PRFHMACSHA256, GroupCurve25519}
	bad := []Suite{
		{EncrAESGCM16, 128, IntegNone, PRFHMACSHA256, ikev2.DHMODP1024},
		{EncrAESGCM16, 128, IntegNone, ikev2.PRFHMACSHA1, GroupCurve25519},
		{EncrAESCBC, 128, IntegNone, PRFHMACSHA256, GroupCurve25519},
		{ikev2.EncrChaCha20Poly1305, 256, IntegNone, PRFHMACSHA256, GroupCurve25519},
	}
	for _, s := range bad {
		if _, err := DeriveIKEKeys(s, testGir, testNi, testNr, 1, 2); !errors.Is(err, ErrUnsupported) {
			t.Errorf("DeriveIKEKeys(%v) = %v, want ErrUnsupported", s, err)
		}
	}
	if _, err := DeriveIKEKeys(good, nil, testNi, testNr, 1, 2); !errors.Is(err, ErrInvalid) {
		t.Errorf("DeriveIKEKeys without g^ir = %v, want ErrInvalid", err)
	}
}

// TestKeysNotPrinted checks that formatting the key sets never shows a key.
func TestKeysNotPrinted(t *testing.T) {
	k, err := DeriveIKEKeys(Suite{EncrAESGCM16, 128, IntegNone, PRFHMACSHA256, GroupCurve25519}, testGir, testNi, testNr, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	c, err := DeriveChildKeys(PRFHMACSHA256, k.SKd, ChildSuite{Encr: EncrAESGCM16, KeyBits: 128}, nil, testNi, testNr)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{k, c} {
			out := fmt.Sprintf(f, v)
			for _, key := range [][]byte{k.SKd, k.SKei, k.SKpi, c.EncrI, c.EncrR} {
				if strings.Contains(out, hex.EncodeToString(key[:8])) || strings.Contains(out, fmt.Sprint(key[:4])[1:8]) {
					t.Errorf("%s of %T shows a key: %s", f, v, out)
				}
			}
		}
	}
}

func TestSuiteString(t *testing.T) {
	for s, want := range map[Suite]string{
		{EncrAESGCM16, 128, IntegNone, PRFHMACSHA256, GroupCurve25519}:      "aes128gcm16-prfsha256-x25519",
		{EncrAESCBC, 128, IntegHMACSHA256128, PRFHMACSHA256, GroupMODP2048}: "aes128-sha256-prfsha256-modp2048",
	} {
		if got := s.String(); got != want {
			t.Errorf("String = %q, want %q", got, want)
		}
	}
	if got := (ChildSuite{Encr: EncrAESCBC, KeyBits: 256, Integ: IntegHMACSHA256128, Group: GroupECP256, ESN: true}).String(); got != "aes256-sha256-ecp256-esn" {
		t.Errorf("ChildSuite String = %q", got)
	}
}
