package esp

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"net/netip"
	"testing"
)

var (
	outerA = netip.MustParseAddrPort("192.0.2.1:4500")
	outerB = netip.MustParseAddrPort("192.0.2.2:4500")
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// Fixed keys for the golden tests.
var (
	gcmKey = Keys{Enc: unhex("feffe9928665731c6d6a8f9467308308" + "cafebabe")} // key | salt
	cbcKey = Keys{
		Enc:  unhex("000102030405060708090a0b0c0d0e0f"),
		Auth: unhex("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"),
	}
)

// pair returns the outbound SA from A to B with spi, alg and keys, and the
// matching inbound SA at B.
func pair(spi uint32, mode Mode, alg Algorithm, keys Keys) (out, in SA) {
	out = SA{SPI: spi, Direction: Outbound, Mode: mode, ReqID: 1, Local: outerA, Remote: outerB, Algorithm: alg, Keys: keys}
	in = out
	in.Direction = Inbound
	in.Local, in.Remote = outerB, outerA
	return out, in
}

func mustPair(t testing.TB, spi uint32, mode Mode, alg Algorithm, keys Keys) (*Sealer, *Opener) {
	t.Helper()
	o, i := pair(spi, mode, alg, keys)
	s, err := NewSealer(o)
	if err != nil {
		t.Fatal(err)
	}
	op, err := NewOpener(i)
	if err != nil {
		t.Fatal(err)
	}
	return s, op
}

// TestGCMPacketLayout checks a sealed AES-GCM packet field by field against
// RFC 4303 section 2 and RFC 4106, decrypting it with crypto/cipher directly
// as an independent oracle, then opens it back.
func TestGCMPacketLayout(t *testing.T) {
	s, o := mustPair(t, 0x01020304, ModeTunnel, AESGCM16, gcmKey)
	payload := []byte("abcdefghijklm") // 13 octets: 13+2 = 15, so 1 octet of padding
	pkt, err := s.Seal(nil, payload, 4)
	if err != nil {
		t.Fatal(err)
	}
	if want := 8 + 8 + 13 + 1 + 2 + 16; len(pkt) != want {
		t.Fatalf("packet of %d octets, want %d", len(pkt), want)
	}
	if got := binary.BigEndian.Uint32(pkt[0:4]); got != 0x01020304 {
		t.Errorf("SPI %#x", got)
	}
	if got := binary.BigEndian.Uint32(pkt[4:8]); got != 1 {
		t.Errorf("first sequence number %d, want 1", got)
	}
	if iv := pkt[8:16]; !bytes.Equal(iv, []byte{0, 0, 0, 0, 0, 0, 0, 1}) {
		t.Errorf("IV % x, want the 64-bit sequence number", iv)
	}
	// Independent decryption: nonce = salt | IV, AAD = SPI | seq.
	block, _ := aes.NewCipher(gcmKey.Enc[:16])
	aead, _ := cipher.NewGCM(block)
	nonce := append(append([]byte{}, gcmKey.Enc[16:]...), pkt[8:16]...)
	pt, err := aead.Open(nil, nonce, pkt[16:], pkt[:8])
	if err != nil {
		t.Fatalf("independent AES-GCM open: %v", err)
	}
	if want := append(append([]byte{}, payload...), 1, 1, 4); !bytes.Equal(pt, want) {
		t.Errorf("plaintext % x, want % x (payload, padding 1, pad length 1, next header 4)", pt, want)
	}
	got, nh, err := o.Open(pkt)
	if err != nil || nh != 4 || !bytes.Equal(got, payload) {
		t.Errorf("Open = %q, %d, %v", got, nh, err)
	}
	// The second packet has sequence number and IV 2.
	pkt2, _ := s.Seal(nil, payload, 4)
	if binary.BigEndian.Uint32(pkt2[4:8]) != 2 || pkt2[15] != 2 {
		t.Errorf("second packet: seq %d, IV % x", binary.BigEndian.Uint32(pkt2[4:8]), pkt2[8:16])
	}
}

// TestGCMKnownAnswer pins the bytes of one packet, computed independently
// with Python's cryptography package (AESGCM(key).encrypt(salt|IV, payload
// | padding | trailer, SPI|seq)): a change of the nonce, AAD or padding rules
// shows here even if both sides change alike.
func TestGCMKnownAnswer(t *testing.T) {
	s, o := mustPair(t, 0x00004321, ModeTunnel, AESGCM16, gcmKey)
	payload := []byte{0x45, 0x00, 0x00, 0x14, 0, 0, 0, 0, 64, 1, 0, 0, 10, 1, 0, 1, 10, 2, 0, 1}
	pkt, err := s.Seal(nil, payload, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := unhex("00004321" + "00000001" + "0000000000000001" +
		"c944aa8df44e7cb944bbb16ae880614355d0d496d0c30132" + // ciphertext of payload | 01 02 | 02 | 04
		"7cca68017c63938a338f1bef8c2e98a2") // ICV
	if !bytes.Equal(pkt, want) {
		t.Errorf("packet\n% x\nwant\n% x", pkt, want)
	}
	got, nh, err := o.Open(pkt)
	if err != nil || nh != 4 || !bytes.Equal(got, payload) {
		t.Errorf("Open = % x, %d, %v", got, nh, err)
	}
}

// TestCBCPacketLayout does for AES-CBC with HMAC-SHA-256-128 what
// TestGCMPacketLayout does for AES-GCM.
func TestCBCPacketLayout(t *testing.T) {
	s, o := mustPair(t, 0xa0b0c0d0, ModeTransport, AESCBCHMACSHA256, cbcKey)
	payload := bytes.Repeat([]byte{0x5a}, 30) // 30+2 = 32: no padding
	pkt, err := s.Seal(nil, payload, 17)
	if err != nil {
		t.Fatal(err)
	}
	if want := 8 + 16 + 32 + 16; len(pkt) != want {
		t.Fatalf("packet of %d octets, want %d", len(pkt), want)
	}
	if binary.BigEndian.Uint32(pkt[0:4]) != 0xa0b0c0d0 || binary.BigEndian.Uint32(pkt[4:8]) != 1 {
		t.Errorf("header % x", pkt[:8])
	}
	mac := hmac.New(sha256.New, cbcKey.Auth)
	mac.Write(pkt[:len(pkt)-16])
	if icv := mac.Sum(nil)[:16]; !bytes.Equal(icv, pkt[len(pkt)-16:]) {
		t.Errorf("ICV % x, want HMAC-SHA-256 truncated to 128 bits % x", pkt[len(pkt)-16:], icv)
	}
	block, _ := aes.NewCipher(cbcKey.Enc)
	pt := make([]byte, 32)
	cipher.NewCBCDecrypter(block, pkt[8:24]).CryptBlocks(pt, pkt[24:56])
	if want := append(append([]byte{}, payload...), 0, 17); !bytes.Equal(pt, want) {
		t.Errorf("plaintext % x, want % x", pt, want)
	}
	got, nh, err := o.Open(pkt)
	if err != nil || nh != 17 || !bytes.Equal(got, payload) {
		t.Errorf("Open = %x, %d, %v", got, nh, err)
	}
	// IVs are random: two packets of the same payload differ there.
	pkt2, _ := s.Seal(nil, payload, 17)
	if bytes.Equal(pkt[8:24], pkt2[8:24]) {
		t.Error("two packets share a CBC IV")
	}
}

func TestPaddingLengths(t *testing.T) {
	for _, tc := range []struct {
		alg       Algorithm
		keys      Keys
		n, padLen int
	}{
		{AESGCM16, gcmKey, 0, 2}, {AESGCM16, gcmKey, 1, 1}, {AESGCM16, gcmKey, 2, 0}, {AESGCM16, gcmKey, 5, 1},
		{AESCBCHMACSHA256, cbcKey, 0, 14}, {AESCBCHMACSHA256, cbcKey, 14, 0}, {AESCBCHMACSHA256, cbcKey, 15, 15},
		{AESCBCHMACSHA256, cbcKey, 100, 10},
	} {
		s, _ := mustPair(t, 0x1000, ModeTunnel, tc.alg, tc.keys)
		pkt, err := s.Seal(nil, make([]byte, tc.n), 4)
		if err != nil {
			t.Fatal(err)
		}
		if want := s.Headroom() + tc.n + tc.padLen + 2 + 16; len(pkt) != want || s.Overhead(tc.n) != want-tc.n {
			t.Errorf("%s payload %d: packet %d octets, overhead %d; want %d", tc.alg, tc.n, len(pkt), s.Overhead(tc.n), want)
		}
	}
}

func TestRoundTrips(t *testing.T) {
	keys := map[string]struct {
		alg  Algorithm
		keys Keys
	}{
		"gcm128": {AESGCM16, gcmKey},
		"gcm256": {AESGCM16, Keys{Enc: bytes.Repeat([]byte{7}, 36)}},
		"gcm192": {AESGCM16, Keys{Enc: bytes.Repeat([]byte{8}, 28)}},
		"cbc128": {AESCBCHMACSHA256, cbcKey},
		"cbc256": {AESCBCHMACSHA256, Keys{Enc: bytes.Repeat([]byte{9}, 32), Auth: bytes.Repeat([]byte{1}, 32)}},
	}
	for name, k := range keys {
		t.Run(name, func(t *testing.T) {
			s, o := mustPair(t, 0x2000, ModeTunnel, k.alg, k.keys)
			for n := 0; n < 300; n += 7 {
				payload := make([]byte, n)
				for i := range payload {
					payload[i] = byte(i * n)
				}
				pkt, err := s.Seal(nil, payload, 41)
				if err != nil {
					t.Fatal(err)
				}
				got, nh, err := o.Open(pkt)
				if err != nil || nh != 41 || !bytes.Equal(got, payload) {
					t.Fatalf("payload of %d: Open = %d octets, next header %d, %v", n, len(got), nh, err)
				}
			}
			st := o.Stats()
			if st.Packets != 43 || st.Seq != 43 || st.Auth+st.Replay+st.Malformed != 0 {
				t.Errorf("opener stats %+v", st)
			}
		})
	}
}

// TestSealInPlace seals a payload already at the packet's payload offset in
// dst's spare capacity, as the data path may.
func TestSealInPlace(t *testing.T) {
	for _, alg := range []Algorithm{AESGCM16, AESCBCHMACSHA256} {
		keys := gcmKey
		if alg == AESCBCHMACSHA256 {
			keys = cbcKey
		}
		s, o := mustPair(t, 0x3000, ModeTunnel, alg, keys)
		buf := make([]byte, 2048)
		payload := []byte("in place payload of some length")
		copy(buf[s.Headroom():], payload)
		pkt, err := s.Seal(buf[:0], buf[s.Headroom():s.Headroom()+len(payload)], 4)
		if err != nil {
			t.Fatal(err)
		}
		if &pkt[0] != &buf[0] {
			t.Errorf("%s: sealed into a new buffer", alg)
		}
		first := append([]byte{}, pkt...)
		// Overlapping the header's place: payload at offset 0.
		copy(buf, payload)
		pkt2, err := s.Seal(buf[:0], buf[:len(payload)], 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range [][]byte{first, pkt2} {
			got, _, err := o.Open(append([]byte{}, p...))
			if err != nil || !bytes.Equal(got, payload) {
				t.Errorf("%s: Open = %q, %v", alg, got, err)
			}
		}
	}
}

// TestTamperingDetected flips every bit of a packet: each copy is refused,
// and none moves the replay window, so the original still opens.
func TestTamperingDetected(t *testing.T) {
	for _, alg := range []Algorithm{AESGCM16, AESCBCHMACSHA256} {
		keys := gcmKey
		if alg == AESCBCHMACSHA256 {
			keys = cbcKey
		}
		s, o := mustPair(t, 0x4000, ModeTunnel, alg, keys)
		pkt, err := s.Seal(nil, []byte("attack at dawn, bring coffee"), 4)
		if err != nil {
			t.Fatal(err)
		}
		for i := range len(pkt) * 8 {
			bad := append([]byte{}, pkt...)
			bad[i/8] ^= 1 << (i % 8)
			_, _, err := o.Open(bad)
			switch {
			case i/8 < 4:
				if !errors.Is(err, ErrSPI) {
					t.Fatalf("%s: bit %d (SPI) flipped: %v, want ErrSPI", alg, i, err)
				}
			case err == nil:
				t.Fatalf("%s: bit %d flipped: accepted", alg, i)
			case !errors.Is(err, ErrAuth) && !errors.Is(err, ErrSequence):
				t.Fatalf("%s: bit %d flipped: %v, want ErrAuth", alg, i, err)
			}
		}
		if _, _, err := o.Open(pkt); err != nil {
			t.Errorf("%s: original after tampered copies: %v", alg, err)
		}
		// Truncated packets, down to nothing.
		for n := range len(pkt) {
			if _, _, err := o.Open(append([]byte{}, pkt[:n]...)); err == nil {
				t.Fatalf("%s: packet cut to %d octets accepted", alg, n)
			}
		}
		if st := o.Stats(); st.Auth == 0 || st.Malformed == 0 || st.Packets != 1 {
			t.Errorf("%s: stats %+v", alg, st)
		}
	}
}

func TestWrongKeyRefused(t *testing.T) {
	s, _ := mustPair(t, 0x5000, ModeTunnel, AESGCM16, gcmKey)
	other := Keys{Enc: append(append([]byte{}, gcmKey.Enc[:19]...), 0)} // salt differs
	_, o := mustPair(t, 0x5000, ModeTunnel, AESGCM16, other)
	pkt, _ := s.Seal(nil, []byte("x"), 4)
	if _, _, err := o.Open(pkt); !errors.Is(err, ErrAuth) {
		t.Errorf("other salt: %v, want ErrAuth", err)
	}
}

func TestReplayedPacketRefused(t *testing.T) {
	s, o := mustPair(t, 0x6000, ModeTunnel, AESGCM16, gcmKey)
	pkt, _ := s.Seal(nil, []byte("once"), 4)
	copy1 := append([]byte{}, pkt...)
	if _, _, err := o.Open(pkt); err != nil {
		t.Fatal(err)
	}
	if _, _, err := o.Open(copy1); !errors.Is(err, ErrReplay) {
		t.Errorf("replay: %v, want ErrReplay", err)
	}
	if st := o.Stats(); st.Replay != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestSequenceOverflowRefused: after sequence number 2^32-1 the sealer
// refuses instead of cycling (RFC 4303 section 3.3.3).
func TestSequenceOverflowRefused(t *testing.T) {
	s, o := mustPair(t, 0x7000, ModeTunnel, AESGCM16, gcmKey)
	s.seq.Store(math.MaxUint32 - 2)
	for _, want := range []uint32{math.MaxUint32 - 1, math.MaxUint32} {
		pkt, err := s.Seal(nil, []byte("late"), 4)
		if err != nil {
			t.Fatalf("sequence %d: %v", want, err)
		}
		if got := binary.BigEndian.Uint32(pkt[4:8]); got != want {
			t.Errorf("sequence %d, want %d", got, want)
		}
		if _, _, err := o.Open(pkt); err != nil {
			t.Errorf("open sequence %d: %v", want, err)
		}
	}
	for range 3 {
		if pkt, err := s.Seal(nil, []byte("wrapped"), 4); !errors.Is(err, ErrSeqOverflow) || len(pkt) != 0 {
			t.Fatalf("Seal past 2^32-1 = %d octets, %v; want ErrSeqOverflow", len(pkt), err)
		}
	}
	if st := s.Stats(); st.Overflow != 3 || st.Seq != math.MaxUint32 || st.Packets != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestSequenceZeroRefused(t *testing.T) {
	s, o := mustPair(t, 0x8000, ModeTunnel, AESGCM16, gcmKey)
	pkt := sealRaw(s, 0, []byte{1, 2, 2, 4})
	if _, _, err := o.Open(pkt); !errors.Is(err, ErrSequence) {
		t.Errorf("sequence 0: %v, want ErrSequence", err)
	}
}

// sealRaw seals plaintext (payload, padding and trailer as given, already
// aligned) with sequence number seq, to build packets Seal never would.
func sealRaw(s *Sealer, seq uint32, plaintext []byte) []byte {
	pkt := make([]byte, s.Headroom()+len(plaintext)+ICVLen)
	binary.BigEndian.PutUint32(pkt, s.spi)
	binary.BigEndian.PutUint32(pkt[4:], seq)
	copy(pkt[s.Headroom():], plaintext)
	s.t.seal(pkt, seq)
	return pkt
}

func TestPaddingChecked(t *testing.T) {
	s, o := mustPair(t, 0x9000, ModeTunnel, AESGCM16, gcmKey)
	for i, tc := range []struct {
		pt   []byte
		want error
	}{
		{[]byte{'a', 'b', 1, 2, 2, 4}, nil},
		{[]byte{'a', 'b', 1, 3, 2, 4}, ErrPadding},  // padding not 1, 2
		{[]byte{'a', 'b', 0, 0, 2, 4}, ErrPadding},  // zero padding
		{[]byte{'a', 'b', 1, 2, 5, 4}, ErrPadding},  // pad length past the plaintext
		{[]byte{1, 2, 3, 4, 4, 4}, nil},             // all padding, empty payload
		{[]byte{1, 2, 3, 4, 255, 4}, ErrPadding},    // pad length 255 in 6 octets
		{[]byte{'a', 'b', 'c', 'd', 0, 59}, nil},    // next header 59, no padding
		{[]byte{'a', 'b', 'c', 1, 1, 4, 0, 0}, nil}, // pad length 0
	} {
		pkt := sealRaw(s, uint32(i+1), tc.pt)
		_, _, err := o.Open(pkt)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("plaintext % x: %v, want %v", tc.pt, err, tc.want)
		}
	}
}

func TestKeysChecked(t *testing.T) {
	good, _ := pair(0x1000, ModeTunnel, AESGCM16, gcmKey)
	for _, tc := range []struct {
		name string
		edit func(*SA)
		want error
	}{
		{"gcm key without salt", func(sa *SA) { sa.Keys.Enc = sa.Keys.Enc[:16] }, ErrKey},
		{"gcm with integrity key", func(sa *SA) { sa.Keys.Auth = make([]byte, 32) }, ErrKey},
		{"cbc short integrity key", func(sa *SA) {
			sa.Algorithm, sa.Keys = AESCBCHMACSHA256, Keys{Enc: make([]byte, 16), Auth: make([]byte, 20)}
		}, ErrKey},
		{"cbc odd key", func(sa *SA) {
			sa.Algorithm, sa.Keys = AESCBCHMACSHA256, Keys{Enc: make([]byte, 17), Auth: make([]byte, 32)}
		}, ErrKey},
		{"unknown algorithm", func(sa *SA) { sa.Algorithm = 9 }, ErrAlgorithm},
		{"reserved SPI", func(sa *SA) { sa.SPI = 255 }, ErrInvalid},
		{"no direction", func(sa *SA) { sa.Direction = 0 }, ErrInvalid},
		{"no mode", func(sa *SA) { sa.Mode = 0 }, ErrInvalid},
		{"IPv6 outer", func(sa *SA) { sa.Remote = netip.MustParseAddrPort("[2001:db8::1]:4500") }, ErrInvalid},
		{"one port", func(sa *SA) { sa.Remote = netip.AddrPortFrom(sa.Remote.Addr(), 0) }, ErrInvalid},
		{"window too big", func(sa *SA) { sa.ReplayWindow = MaxReplayWindow + 1 }, ErrInvalid},
	} {
		sa := good
		sa.Keys = Keys{Enc: append([]byte{}, good.Keys.Enc...)}
		tc.edit(&sa)
		if _, err := NewSealer(sa); !errors.Is(err, tc.want) {
			t.Errorf("%s: NewSealer: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := NewOpener(good); !errors.Is(err, ErrInvalid) {
		t.Errorf("NewOpener of an outbound SA: %v", err)
	}
	if _, err := NewSealer(good); err != nil {
		t.Errorf("good SA: %v", err)
	}
}

func TestAlgorithmFor(t *testing.T) {
	for _, tc := range []struct {
		encr, integ uint16
		want        Algorithm
	}{
		{20, 0, AESGCM16},
		{12, 12, AESCBCHMACSHA256},
		{12, 0, 0},  // CBC without integrity
		{20, 12, 0}, // AEAD with integrity
		{3, 2, 0},   // 3DES with SHA-1: never
	} {
		got, err := AlgorithmFor(tc.encr, tc.integ)
		if got != tc.want || (tc.want == 0) != errors.Is(err, ErrAlgorithm) {
			t.Errorf("AlgorithmFor(%d, %d) = %s, %v; want %s", tc.encr, tc.integ, got, err, tc.want)
		}
	}
}

// TestSplitKEYMAT checks the order of RFC 7296 section 2.17: initiator to
// responder first, encryption key (with salt) before integrity key.
func TestSplitKEYMAT(t *testing.T) {
	keymat := make([]byte, 200)
	for i := range keymat {
		keymat[i] = byte(i)
	}
	n, _ := KEYMATLen(AESCBCHMACSHA256, 128)
	if n != 2*(16+32) {
		t.Errorf("KEYMATLen(cbc, 128) = %d", n)
	}
	i2r, r2i, err := SplitKEYMAT(AESCBCHMACSHA256, 128, keymat)
	if err != nil {
		t.Fatal(err)
	}
	if i2r.Enc[0] != 0 || len(i2r.Enc) != 16 || i2r.Auth[0] != 16 || len(i2r.Auth) != 32 ||
		r2i.Enc[0] != 48 || r2i.Auth[0] != 64 || len(r2i.Auth) != 32 {
		t.Errorf("cbc split: %x %x / %x %x", i2r.Enc, i2r.Auth, r2i.Enc, r2i.Auth)
	}
	i2r, r2i, err = SplitKEYMAT(AESGCM16, 256, keymat)
	if err != nil {
		t.Fatal(err)
	}
	if len(i2r.Enc) != 36 || i2r.Auth != nil || r2i.Enc[0] != 36 || len(r2i.Enc) != 36 {
		t.Errorf("gcm split: %x / %x", i2r.Enc, r2i.Enc)
	}
	keymat[0] = 0xff
	if i2r.Enc[0] != 0 {
		t.Error("split keys alias KEYMAT")
	}
	if _, _, err := SplitKEYMAT(AESGCM16, 128, keymat[:39]); !errors.Is(err, ErrKey) {
		t.Errorf("short KEYMAT: %v", err)
	}
	if _, _, err := SplitKEYMAT(AESGCM16, 100, keymat); !errors.Is(err, ErrKey) {
		t.Errorf("100-bit key: %v", err)
	}
}
