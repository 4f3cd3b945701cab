package ikecrypto

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// gcmVectors are test cases 3, 4, 15 and 16 of "The Galois/Counter Mode of
// Operation (GCM)" (McGrew and Viega), the AES-GCM reference vectors with a
// 96-bit IV. For RFC 5282 the IV splits into the salt (the last 4 octets of
// the key material) and the explicit IV carried in the SK payload.
var gcmVectors = []struct {
	name, key, iv, aad, pt, ct, tag string
}{
	{
		name: "test case 3 (128-bit key)",
		key:  "feffe9928665731c6d6a8f9467308308",
		iv:   "cafebabefacedbaddecaf888",
		pt:   "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
		ct:   "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
		tag:  "4d5c2af327cd64a62cf35abd2ba6fab4",
	},
	{
		name: "test case 4 (128-bit key, associated data)",
		key:  "feffe9928665731c6d6a8f9467308308",
		iv:   "cafebabefacedbaddecaf888",
		aad:  "feedfacedeadbeeffeedfacedeadbeefabaddad2",
		pt:   "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
		ct:   "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
		tag:  "5bc94fbc3221a5db94fae95ae7121a47",
	},
	{
		name: "test case 15 (256-bit key)",
		key:  "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
		iv:   "cafebabefacedbaddecaf888",
		pt:   "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
		ct:   "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
		tag:  "b094dac5d93471bdec1a502270e3cc6c",
	},
	{
		name: "test case 16 (256-bit key, associated data)",
		key:  "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
		iv:   "cafebabefacedbaddecaf888",
		aad:  "feedfacedeadbeeffeedfacedeadbeefabaddad2",
		pt:   "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
		ct:   "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
		tag:  "76fc6ece0f4e1768cddf8853bb2d551b",
	},
}

func TestGCMVectors(t *testing.T) {
	for _, v := range gcmVectors {
		key, iv, aad, pt := unhex(t, v.key), unhex(t, v.iv), unhex(t, v.aad), unhex(t, v.pt)
		want := append(append(append([]byte(nil), iv[4:]...), unhex(t, v.ct)...), unhex(t, v.tag)...)
		// RFC 5282 key material: the AES key, then the salt.
		material := append(append([]byte(nil), key...), iv[:4]...)
		c, err := NewCipher(EncrAESGCM16, len(key)*8, IntegNone, material, nil)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		g := c.(*gcmCipher)
		var explicit [gcmIVLen]byte
		copy(explicit[:], iv[4:])
		if got := g.seal(explicit, aad, pt); !bytes.Equal(got, want) {
			t.Errorf("%s: sealed\n%x\nwant\n%x", v.name, got, want)
		}
		// Open removes what the last octet calls padding, or refuses a
		// pad length longer than the plaintext although the tag is right.
		got, err := c.Open(aad, want)
		if n := len(pt) - 1 - int(pt[len(pt)-1]); n < 0 {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: Open with pad length %d of %d octets = %v, want ErrMalformed", v.name, pt[len(pt)-1], len(pt), err)
			}
		} else if err != nil || !bytes.Equal(got, pt[:n]) {
			t.Errorf("%s: Open = %x, %v; want %x", v.name, got, err, pt[:n])
		}
	}
}

// TestCBCVectors encrypts the multi-block cases of RFC 3602 section 4 and
// checks the ICV against HMAC-SHA-256-128 computed here over the associated
// data, IV and ciphertext (RFC 7296 section 3.14).
func TestCBCVectors(t *testing.T) {
	cases := []struct {
		name, key, iv, pt, ct string
	}{
		{"case 2", "c286696d887c9aa0611bbb3e2025a45a", "562e17996d093d28ddb3ba695a2e6f58",
			"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
			"d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1"},
		{"case 3", "6c3ea0477630ce21a2ce334aa746c2cd", "c782dc4c098c66cbd9cd27d825682c81",
			fmt.Sprintf("%x", "This is a 48-byte message (exactly 3 AES blocks)"),
			"d0a02b3836451753d493665d33f0e8862dea54cdb293abc7506939276772f8d5021c19216bad525c8579695d83ba2684"},
		{"case 4", "56e47a38c5598974bc46903dba290349", "8ce82eefbea0da3c44699ed7db51b7d9",
			"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf",
			"c30e32ffedc0774e6aff6af0869f71aa0f3af07a9a31a9c684db207eb0ef8e4e35907aa632c3ffdf868bb7b29d3d46ad83ce9f9a102ee99d49a53e87f4c3da55"},
	}
	integKey := bytes.Repeat([]byte{0x5a}, 32)
	ad := []byte("IKE header and SK payload header")
	for _, tc := range cases {
		key, ivb, pt, ct := unhex(t, tc.key), unhex(t, tc.iv), unhex(t, tc.pt), unhex(t, tc.ct)
		c, err := NewCipher(EncrAESCBC, 128, IntegHMACSHA256128, key, integKey)
		if err != nil {
			t.Fatal(err)
		}
		var iv [16]byte
		copy(iv[:], ivb)
		got := c.(*cbcCipher).seal(iv, ad, pt)
		m := hmac.New(sha256.New, integKey)
		m.Write(ad)
		m.Write(ivb)
		m.Write(ct)
		want := append(append(append([]byte(nil), ivb...), ct...), m.Sum(nil)[:16]...)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: sealed\n%x\nwant\n%x", tc.name, got, want)
		}
		// The vectors' last octet, read as a pad length, is too long in
		// case 4: Open must say so although the ICV is right.
		out, err := c.Open(ad, want)
		if n := len(pt) - 1 - int(pt[len(pt)-1]); n < 0 {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: Open with pad length %d of %d octets = %v, want ErrMalformed", tc.name, pt[len(pt)-1], len(pt), err)
			}
		} else if err != nil || !bytes.Equal(out, pt[:n]) {
			t.Errorf("%s: Open = %x, %v; want %x", tc.name, out, err, pt[:n])
		}
	}
}

// testCiphers returns sender and receiver Ciphers (one key, two instances)
// of every supported combination.
func testCiphers(t testing.TB) map[string][2]Cipher {
	out := map[string][2]Cipher{}
	for _, s := range []struct {
		encr  EncrID
		bits  int
		integ IntegID
	}{
		{EncrAESGCM16, 128, IntegNone}, {EncrAESGCM16, 192, IntegNone}, {EncrAESGCM16, 256, IntegNone},
		{EncrAESCBC, 128, IntegHMACSHA256128}, {EncrAESCBC, 256, IntegHMACSHA256128},
		{EncrAESCBC, 192, IntegHMACSHA384192}, {EncrAESCBC, 256, IntegHMACSHA512256},
	} {
		el, il, err := KeyLens(s.encr, s.bits, s.integ)
		if err != nil {
			t.Fatal(err)
		}
		ek, ik := bytes.Repeat([]byte{7}, el), bytes.Repeat([]byte{9}, il)
		if il == 0 {
			ik = nil
		}
		a, err := NewCipher(s.encr, s.bits, s.integ, ek, ik)
		if err != nil {
			t.Fatal(err)
		}
		b, err := NewCipher(s.encr, s.bits, s.integ, ek, ik)
		if err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprintf("%v-%d-%v", s.encr, s.bits, s.integ)] = [2]Cipher{a, b}
	}
	return out
}

func TestCipherRoundTrip(t *testing.T) {
	for name, cs := range testCiphers(t) {
		for n := 0; n <= 70; n++ {
			pt := bytes.Repeat([]byte{byte(n)}, n)
			ad := []byte(fmt.Sprintf("associated data %d", n))
			body, err := cs[0].Seal(ad, pt)
			if err != nil {
				t.Fatalf("%s: Seal(%d): %v", name, n, err)
			}
			if len(body) != cs[0].SealedLen(n) {
				t.Fatalf("%s: Seal(%d) made %d octets, SealedLen says %d", name, n, len(body), cs[0].SealedLen(n))
			}
			got, err := cs[1].Open(ad, body)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("%s: Open(Seal(%d)) = %x, %v", name, n, got, err)
			}
			again, _ := cs[0].Seal(ad, pt)
			if bytes.Equal(again, body) {
				t.Fatalf("%s: two seals of the same plaintext are equal: the IV repeats", name)
			}
		}
	}
}

// TestOpenRejectsModification flips every bit of the associated data and
// of the SK payload body (IV, ciphertext, ICV) in turn: Open must refuse
// each with ErrIntegrity. It also cuts the body short.
func TestOpenRejectsModification(t *testing.T) {
	for name, cs := range testCiphers(t) {
		ad := []byte("0123456789abcdef0123456789abcdef")
		body, err := cs[0].Seal(ad, []byte("inner payloads of an IKE message"))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 8*(len(ad)+len(body)); i++ {
			a, b := append([]byte(nil), ad...), append([]byte(nil), body...)
			if i < 8*len(a) {
				a[i/8] ^= 1 << (i % 8)
			} else {
				j := i - 8*len(a)
				b[j/8] ^= 1 << (j % 8)
			}
			if _, err := cs[1].Open(a, b); !errors.Is(err, ErrIntegrity) {
				t.Fatalf("%s: bit %d flipped: Open = %v, want ErrIntegrity", name, i, err)
			}
		}
		for n := 0; n < len(body); n++ {
			_, err := cs[1].Open(ad, body[:n])
			if !errors.Is(err, ErrIntegrity) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s: body cut to %d octets: Open = %v", name, n, err)
			}
		}
		if _, err := cs[1].Open(ad, append(append([]byte(nil), body...), 0)); err == nil {
			t.Fatalf("%s: Open accepts an octet appended", name)
		}
	}
}

func TestNewCipherErrors(t *testing.T) {
	cases := []struct {
		encr        EncrID
		bits        int
		integ       IntegID
		encKey, ik  int
		wantErr     error
		description string
	}{
		{EncrAESGCM16, 128, IntegNone, 16, 0, ErrInvalid, "GCM key without salt"},
		{EncrAESGCM16, 128, IntegHMACSHA256128, 20, 32, ErrInvalid, "GCM with an integrity algorithm"},
		{EncrAESCBC, 128, IntegNone, 16, 0, ErrUnsupported, "CBC without integrity"},
		{EncrAESCBC, 128, IntegHMACSHA256128, 16, 16, ErrInvalid, "short integrity key"},
		{EncrAESCBC, 100, IntegHMACSHA256128, 13, 32, ErrUnsupported, "100-bit key"},
		{EncrAESCBC, 0, IntegHMACSHA256128, 16, 32, ErrUnsupported, "no key length"},
		{ikev2.Encr3DES, 192, IntegHMACSHA256128, 24, 32, ErrUnsupported, "3DES"},
		{EncrAESCBC, 128, ikev2.IntegHMACSHA1_96, 16, 20, ErrUnsupported, "HMAC-SHA1-96"},
	}
	for _, tc := range cases {
		_, err := NewCipher(tc.encr, tc.bits, tc.integ, make([]byte, tc.encKey), make([]byte, tc.ik))
		if !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: NewCipher = %v, want %v", tc.description, err, tc.wantErr)
		}
	}
	lens := []struct {
		encr            EncrID
		bits            int
		integ           IntegID
		encLen, integLn int
	}{
		{EncrAESGCM16, 128, IntegNone, 20, 0},
		{EncrAESGCM16, 256, IntegNone, 36, 0},
		{EncrAESCBC, 128, IntegHMACSHA256128, 16, 32},
		{EncrAESCBC, 256, IntegHMACSHA384192, 32, 48},
		{EncrAESCBC, 192, IntegHMACSHA512256, 24, 64},
	}
	for _, l := range lens {
		e, i, err := KeyLens(l.encr, l.bits, l.integ)
		if err != nil || e != l.encLen || i != l.integLn {
			t.Errorf("KeyLens(%v, %d, %v) = %d, %d, %v; want %d, %d", l.encr, l.bits, l.integ, e, i, err, l.encLen, l.integLn)
		}
	}
}

// TestSealMessage seals an INFORMATIONAL request, parses it with package
// ikev2 and opens it: the inner payloads come back, and a change to the
// IKE header (outside the SK payload) is detected.
func TestSealMessage(t *testing.T) {
	for name, cs := range testCiphers(t) {
		m := &ikev2.Message{Header: ikev2.Header{
			SPIi: 0x0102030405060708, SPIr: 0x1112131415161718,
			Exchange: ikev2.ExchangeInformational, Flags: ikev2.FlagInitiator, MessageID: 7,
		}}
		inner := []ikev2.Payload{
			ikev2.NewNotify(ikev2.NotifyNoAdditionalAddresses, nil),
			&ikev2.Nonce{Data: bytes.Repeat([]byte{0xab}, 32)},
		}
		b, err := SealMessage(cs[0], m, inner)
		if err != nil {
			t.Fatalf("%s: SealMessage: %v", name, err)
		}
		parsed, err := ikev2.Parse(b)
		if err != nil {
			t.Fatalf("%s: ikev2.Parse of a sealed message: %v", name, err)
		}
		got, err := OpenMessage(cs[1], b, parsed)
		if err != nil {
			t.Fatalf("%s: OpenMessage: %v", name, err)
		}
		if ikev2.Summary(got) != ikev2.Summary(inner) {
			t.Fatalf("%s: opened [%s], sealed [%s]", name, ikev2.Summary(got), ikev2.Summary(inner))
		}
		if n, ok := got[1].(*ikev2.Nonce); !ok || !bytes.Equal(n.Data, inner[1].(*ikev2.Nonce).Data) {
			t.Fatalf("%s: nonce did not survive", name)
		}
		// An empty INFORMATIONAL (a liveness check) seals and opens too.
		empty, err := SealMessage(cs[0], m, nil)
		if err != nil {
			t.Fatal(err)
		}
		pe, err := ikev2.Parse(empty)
		if err != nil {
			t.Fatalf("%s: parse of an empty sealed message: %v", name, err)
		}
		if got, err := OpenMessage(cs[1], empty, pe); err != nil || len(got) != 0 {
			t.Fatalf("%s: OpenMessage of an empty message = %v, %v", name, got, err)
		}
		// The message ID is authenticated.
		bad := append([]byte(nil), b...)
		bad[23] ^= 1
		pb, err := ikev2.Parse(bad)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := OpenMessage(cs[1], bad, pb); !errors.Is(err, ErrIntegrity) {
			t.Fatalf("%s: changed message ID: OpenMessage = %v, want ErrIntegrity", name, err)
		}
	}
	// A message without an SK payload cannot be opened.
	m := &ikev2.Message{Header: ikev2.Header{SPIi: 1, Exchange: ikev2.ExchangeIKESAInit}, Payloads: []ikev2.Payload{&ikev2.Nonce{Data: make([]byte, 16)}}}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c := testCiphers(t)["ENCR_AES_GCM_16-128-NONE"][0]
	if c == nil {
		t.Fatal("test cipher missing")
	}
	if _, err := OpenMessage(c, b, m); !errors.Is(err, ErrMalformed) {
		t.Errorf("OpenMessage without SK = %v, want ErrMalformed", err)
	}
	if _, err := SealMessage(c, &ikev2.Message{Header: m.Header, Payloads: []ikev2.Payload{&ikev2.SK{}}}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("SealMessage of a message with an SK payload = %v, want ErrInvalid", err)
	}
}

// TestCipherConcurrent seals from several goroutines at once: every body
// opens, and no two AES-GCM messages share an IV.
func TestCipherConcurrent(t *testing.T) {
	for name, cs := range testCiphers(t) {
		const workers, each = 4, 200
		ivs := make(chan string, workers*each)
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			go func() {
				for i := 0; i < each; i++ {
					body, err := cs[0].Seal([]byte("ad"), []byte("payloads"))
					if err == nil {
						_, err = cs[1].Open([]byte("ad"), body)
					}
					if err != nil {
						errs <- err
						return
					}
					ivs <- string(body[:8])
				}
				errs <- nil
			}()
		}
		for w := 0; w < workers; w++ {
			if err := <-errs; err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		close(ivs)
		seen := map[string]bool{}
		for iv := range ivs {
			if seen[iv] {
				t.Fatalf("%s: IV %x used twice", name, iv)
			}
			seen[iv] = true
		}
	}
}
