package ikecrypto

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"math/big"
	"sync"
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// pskExchange is the material of one IKE_SA_INIT and IKE_AUTH as both
// sides see it.
type pskExchange struct {
	keys       *IKEKeys
	msg1, msg2 []byte // the IKE_SA_INIT request and response as sent
	ni, nr     []byte
	idi, idr   *ikev2.ID
}

func newPSKExchange(t *testing.T) pskExchange {
	t.Helper()
	keys, err := DeriveIKEKeys(Suite{EncrAESGCM16, 128, IntegNone, PRFHMACSHA256, GroupCurve25519}, testGir, testNi, testNr, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	return pskExchange{
		keys: keys,
		msg1: bytes.Repeat([]byte("IKE_SA_INIT request "), 10),
		msg2: bytes.Repeat([]byte("IKE_SA_INIT response "), 10),
		ni:   testNi, nr: testNr,
		idi: ikev2.NewID(false, ikev2.IDRFC822Addr, []byte("mn@example.org")),
		idr: ikev2.NewID(true, ikev2.IDRFC822Addr, []byte("ha@example.org")),
	}
}

// refPSKAuth is RFC 7296 section 2.15 written out with crypto/hmac.
func refPSKAuth(psk, msg, peerNonce, skp, idBody []byte) []byte {
	pad := refPRF(sha256.New, psk, []byte("Key Pad for IKEv2"))
	return refPRF(sha256.New, pad, msg, peerNonce, refPRF(sha256.New, skp, idBody))
}

// TestPSKAuthBothDirections computes the initiator's and the responder's
// AUTH payloads, checks each against the written-out formula, and verifies
// each on the other side; then the failures: a wrong key, a message
// changed in transit, an AUTH reflected back to its sender.
func TestPSKAuthBothDirections(t *testing.T) {
	x := newPSKExchange(t)
	psk := []byte("testtesttesttesttesttest")
	idiBody, idrBody := x.idi.RestOfIDPayload(), x.idr.RestOfIDPayload()
	if want := append([]byte{byte(ikev2.IDRFC822Addr), 0, 0, 0}, "mn@example.org"...); !bytes.Equal(idiBody, want) {
		t.Fatalf("RestOfIDPayload = %x, want %x", idiBody, want)
	}

	// The initiator signs its request, the responder's nonce and IDi.
	iOctets, err := SignedOctets(PRFHMACSHA256, x.msg1, x.nr, x.keys.SKpi, idiBody)
	if err != nil {
		t.Fatal(err)
	}
	authI, err := PSKAuth(PRFHMACSHA256, psk, iOctets)
	if err != nil {
		t.Fatal(err)
	}
	if want := refPSKAuth(psk, x.msg1, x.nr, x.keys.SKpi, idiBody); !bytes.Equal(authI, want) {
		t.Fatalf("initiator AUTH = %x, want %x", authI, want)
	}
	// The responder signs its response, the initiator's nonce and IDr.
	rOctets, err := SignedOctets(PRFHMACSHA256, x.msg2, x.ni, x.keys.SKpr, idrBody)
	if err != nil {
		t.Fatal(err)
	}
	authR, err := PSKAuth(PRFHMACSHA256, psk, rOctets)
	if err != nil {
		t.Fatal(err)
	}
	if want := refPSKAuth(psk, x.msg2, x.ni, x.keys.SKpr, idrBody); !bytes.Equal(authR, want) {
		t.Fatalf("responder AUTH = %x, want %x", authR, want)
	}

	// Each side rebuilds the other's signed octets from what it saw.
	if err := VerifyPSKAuth(PRFHMACSHA256, psk, iOctets, authI); err != nil {
		t.Errorf("responder rejects the initiator's AUTH: %v", err)
	}
	if err := VerifyPSKAuth(PRFHMACSHA256, psk, rOctets, authR); err != nil {
		t.Errorf("initiator rejects the responder's AUTH: %v", err)
	}

	// Failures.
	if err := VerifyPSKAuth(PRFHMACSHA256, []byte("testtesttesttesttesttesX"), iOctets, authI); !errors.Is(err, ErrAuthentication) {
		t.Errorf("wrong PSK: %v, want ErrAuthentication", err)
	}
	changed := append([]byte(nil), x.msg1...)
	changed[5] ^= 1
	cOctets, _ := SignedOctets(PRFHMACSHA256, changed, x.nr, x.keys.SKpi, idiBody)
	if err := VerifyPSKAuth(PRFHMACSHA256, psk, cOctets, authI); !errors.Is(err, ErrAuthentication) {
		t.Errorf("request changed in transit: %v, want ErrAuthentication", err)
	}
	otherID, _ := SignedOctets(PRFHMACSHA256, x.msg1, x.nr, x.keys.SKpi, ikev2.NewID(false, ikev2.IDRFC822Addr, []byte("evil@example.org")).RestOfIDPayload())
	if err := VerifyPSKAuth(PRFHMACSHA256, psk, otherID, authI); !errors.Is(err, ErrAuthentication) {
		t.Errorf("another identity: %v, want ErrAuthentication", err)
	}
	if err := VerifyPSKAuth(PRFHMACSHA256, psk, rOctets, authI); !errors.Is(err, ErrAuthentication) {
		t.Errorf("the initiator's AUTH reflected as the responder's: %v, want ErrAuthentication", err)
	}
	if err := VerifyPSKAuth(PRFHMACSHA256, psk, iOctets, authI[:31]); !errors.Is(err, ErrAuthentication) {
		t.Errorf("truncated AUTH: %v, want ErrAuthentication", err)
	}
	if _, err := PSKAuth(PRFHMACSHA256, nil, iOctets); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty PSK: %v, want ErrInvalid", err)
	}
	if _, err := SignedOctets(PRFHMACSHA256, x.msg1, x.nr, x.keys.SKpi, []byte{3, 0, 0}); !errors.Is(err, ErrInvalid) {
		t.Errorf("short ID body: %v, want ErrInvalid", err)
	}
	if _, err := PSKAuth(ikev2.PRFHMACSHA1, psk, iOctets); !errors.Is(err, ErrUnsupported) {
		t.Errorf("HMAC-SHA1 PRF: %v, want ErrUnsupported", err)
	}
}

// RFC 7427 Appendix A, as printed there.
var rfc7427 = map[string]string{
	"sha1WithRSAEncryption":   "300d06092a864886f70d0101050500",
	"sha256WithRSAEncryption": "300d06092a864886f70d01010b0500",
	"sha384WithRSAEncryption": "300d06092a864886f70d01010c0500",
	"sha512WithRSAEncryption": "300d06092a864886f70d01010d0500",
	"ecdsa-with-sha1":         "3009 06072a8648ce3d0401",
	"ecdsa-with-sha256":       "300a 06082a8648ce3d040302",
	"ecdsa-with-sha384":       "300a 06082a8648ce3d040303",
	"ecdsa-with-sha512":       "300a 06082a8648ce3d040304",
	"RSASSA-PSS with SHA-256": "30 46 06 09 2a 86 48 86 f7 0d 01 01 0a 30 39 a0 0f 30 0d 06 09 60 86 48 01 65 03 04 02 01 05 00" +
		"a1 1c 30 1a 06 09 2a 86 48 86 f7 0d 01 01 08 30 0d 06 09 60 86 48 01 65 03 04 02 01 05 00 a2 03 02 01 20 a3 03 02 01 01",
}

var (
	keysOnce            sync.Once
	rsaKey, rsaKey2     *rsa.PrivateKey
	ecKey, ecKey2, p384 *ecdsa.PrivateKey
)

// testSigningKeys generates the keys of the signature tests once: two RSA
// 2048-bit keys, two ECDSA P-256 keys and one P-384 key.
func testSigningKeys(t testing.TB) {
	keysOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if rsaKey2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		ecKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ecKey2, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		p384, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	})
}

func TestAlgorithmIdentifiersRFC7427(t *testing.T) {
	for s, name := range map[SignatureScheme]string{
		RSAPKCS1SHA256: "sha256WithRSAEncryption", RSAPKCS1SHA384: "sha384WithRSAEncryption",
		RSAPKCS1SHA512: "sha512WithRSAEncryption", ECDSASHA256: "ecdsa-with-sha256",
		ECDSASHA384: "ecdsa-with-sha384", ECDSASHA512: "ecdsa-with-sha512",
		RSAPSSSHA256: "RSASSA-PSS with SHA-256",
	} {
		if got, want := s.AlgorithmIdentifier(), unhex(t, rfc7427[name]); !bytes.Equal(got, want) {
			t.Errorf("%v: AlgorithmIdentifier %x, RFC 7427 has %s %x", s, got, name, want)
		}
	}
	// The PSS identifiers with SHA-384 and SHA-512 parse to their own
	// scheme and salt.
	for _, s := range []SignatureScheme{RSAPSSSHA256, RSAPSSSHA384, RSAPSSSHA512} {
		info, salt, err := parseAlgorithmIdentifier(s.AlgorithmIdentifier())
		if err != nil || info.name != s.String() || salt != schemes[s].hash.Size() {
			t.Errorf("%v parses as %s salt %d, %v", s, info.name, salt, err)
		}
	}
	if SignatureScheme(0).AlgorithmIdentifier() != nil {
		t.Error("unknown scheme has an AlgorithmIdentifier")
	}
}

// TestDigitalSignatureAuth signs with every scheme (RSA and ECDSA keys
// generated here), checks the AUTH data layout and the signature with the
// standard library directly, verifies it, and refuses it for changed
// octets, another key and a damaged signature.
func TestDigitalSignatureAuth(t *testing.T) {
	testSigningKeys(t)
	octets := []byte("InitiatorSignedOctets: RealMessage1 | NonceRData | MACedIDForI")
	cases := []struct {
		scheme     SignatureScheme
		key, other crypto.Signer
	}{
		{RSAPKCS1SHA256, rsaKey, rsaKey2}, {RSAPKCS1SHA384, rsaKey, rsaKey2}, {RSAPKCS1SHA512, rsaKey, rsaKey2},
		{RSAPSSSHA256, rsaKey, rsaKey2}, {RSAPSSSHA384, rsaKey, rsaKey2}, {RSAPSSSHA512, rsaKey, rsaKey2},
		{ECDSASHA256, ecKey, ecKey2}, {ECDSASHA384, ecKey, ecKey2}, {ECDSASHA512, p384, ecKey2},
	}
	for _, tc := range cases {
		data, err := SignAuth(AuthDigitalSignature, tc.key, tc.scheme, octets)
		if err != nil {
			t.Fatalf("%v: SignAuth: %v", tc.scheme, err)
		}
		algID := tc.scheme.AlgorithmIdentifier()
		if int(data[0]) != len(algID) || !bytes.Equal(data[1:1+len(algID)], algID) {
			t.Fatalf("%v: AUTH data does not start with the length and AlgorithmIdentifier: %x", tc.scheme, data[:1+len(algID)])
		}
		sig := data[1+len(algID):]
		// Package ikev2 splits the same data the same way.
		a, err := ikev2.NewDigitalSignature(algID, sig)
		if err != nil || !bytes.Equal(a.Data, data) {
			t.Fatalf("%v: ikev2.NewDigitalSignature disagrees on the layout (%v)", tc.scheme, err)
		}
		h := schemes[tc.scheme].hash
		d := h.New()
		d.Write(octets)
		digest := d.Sum(nil)
		var ok bool
		switch k := tc.key.Public().(type) {
		case *rsa.PublicKey:
			if schemes[tc.scheme].pss {
				ok = rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: h.Size(), Hash: h}) == nil
			} else {
				ok = rsa.VerifyPKCS1v15(k, h, digest, sig) == nil
			}
		case *ecdsa.PublicKey:
			ok = ecdsa.VerifyASN1(k, digest, sig)
		}
		if !ok {
			t.Errorf("%v: the standard library does not verify the signature", tc.scheme)
		}
		if err := VerifyAuth(AuthDigitalSignature, tc.key.Public(), octets, data); err != nil {
			t.Errorf("%v: VerifyAuth: %v", tc.scheme, err)
		}
		changed := append([]byte(nil), octets...)
		changed[0] ^= 1
		if err := VerifyAuth(AuthDigitalSignature, tc.key.Public(), changed, data); !errors.Is(err, ErrAuthentication) {
			t.Errorf("%v: changed octets: %v, want ErrAuthentication", tc.scheme, err)
		}
		if err := VerifyAuth(AuthDigitalSignature, tc.other.Public(), octets, data); !errors.Is(err, ErrAuthentication) {
			t.Errorf("%v: another key: %v, want ErrAuthentication", tc.scheme, err)
		}
		bad := append([]byte(nil), data...)
		bad[len(bad)-1] ^= 1
		if err := VerifyAuth(AuthDigitalSignature, tc.key.Public(), octets, bad); !errors.Is(err, ErrAuthentication) {
			t.Errorf("%v: damaged signature: %v, want ErrAuthentication", tc.scheme, err)
		}
	}
}

// TestDigitalSignatureRefusals checks what VerifyAuth must not accept and
// what it must accept besides its own output.
func TestDigitalSignatureRefusals(t *testing.T) {
	testSigningKeys(t)
	octets := []byte("signed octets")
	authData := func(algID, sig []byte) []byte {
		return append(append([]byte{byte(len(algID))}, algID...), sig...)
	}
	sum := func(h crypto.Hash) []byte { d := h.New(); d.Write(octets); return d.Sum(nil) }

	// RSASSA-PSS in plain DER, without the default trailerField.
	noTrailer := unhex(t, "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120")
	sig, _ := rsa.SignPSS(rand.Reader, rsaKey, crypto.SHA256, sum(crypto.SHA256), &rsa.PSSOptions{SaltLength: 32})
	if err := VerifyAuth(AuthDigitalSignature, &rsaKey.PublicKey, octets, authData(noTrailer, sig)); err != nil {
		t.Errorf("RSASSA-PSS without trailerField: %v", err)
	}
	// SHA-1 is refused in the Digital Signature method.
	sig1, _ := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA1, sum(crypto.SHA1))
	if err := VerifyAuth(AuthDigitalSignature, &rsaKey.PublicKey, octets, authData(unhex(t, rfc7427["sha1WithRSAEncryption"]), sig1)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("sha1WithRSAEncryption: %v, want ErrUnsupported", err)
	}
	esig1, _ := ecdsa.SignASN1(rand.Reader, ecKey, sum(crypto.SHA1))
	if err := VerifyAuth(AuthDigitalSignature, &ecKey.PublicKey, octets, authData(unhex(t, rfc7427["ecdsa-with-sha1"]), esig1)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ecdsa-with-sha1: %v, want ErrUnsupported", err)
	}
	// PSS with MGF1 over SHA-1 while the message hash is SHA-256.
	mgfSHA1 := unhex(t, "303d06092a864886f70d01010a3030a00f300d06096086480165030402010500a118301606092a864886f70d010108300906052b0e03021a0500a203020120")
	if err := VerifyAuth(AuthDigitalSignature, &rsaKey.PublicKey, octets, authData(mgfSHA1, sig)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("PSS with MGF1-SHA1: %v, want ErrUnsupported", err)
	}
	// An algorithm that does not suit the key.
	ecData, _ := SignAuth(AuthDigitalSignature, ecKey, ECDSASHA256, octets)
	if err := VerifyAuth(AuthDigitalSignature, &rsaKey.PublicKey, octets, ecData); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ECDSA data with an RSA key: %v, want ErrUnsupported", err)
	}
	if _, err := SignAuth(AuthDigitalSignature, ecKey, RSAPSSSHA256, octets); !errors.Is(err, ErrUnsupported) {
		t.Errorf("signing RSA-PSS with an ECDSA key: %v, want ErrUnsupported", err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := SignAuth(AuthDigitalSignature, edKey, ECDSASHA256, octets); !errors.Is(err, ErrUnsupported) {
		t.Errorf("signing with an Ed25519 key: %v, want ErrUnsupported", err)
	}
	// Malformed data.
	for name, data := range map[string][]byte{
		"empty":                  nil,
		"length beyond the data": {20, 0x30, 0x0a},
		"garbage identifier":     authData([]byte{0x30, 0x03, 0x02, 0x01}, []byte{1, 2, 3}),
		"identifier with rest":   authData(append(unhex(t, rfc7427["ecdsa-with-sha256"]), 0), []byte{1}),
	} {
		err := VerifyAuth(AuthDigitalSignature, &ecKey.PublicKey, octets, data)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	if err := VerifyAuth(AuthSharedKey, &rsaKey.PublicKey, octets, []byte{1}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("VerifyAuth of the PSK method: %v, want ErrUnsupported", err)
	}
	if _, err := SignAuth(AuthDigitalSignature, nil, RSAPSSSHA256, octets); !errors.Is(err, ErrInvalid) {
		t.Errorf("SignAuth without a key: %v, want ErrInvalid", err)
	}
}

// TestLegacySignatureMethods covers RSA Digital Signature (method 1,
// PKCS#1 v1.5 with SHA-1) and ECDSA with SHA-256 on P-256 (method 9, r | s).
func TestLegacySignatureMethods(t *testing.T) {
	testSigningKeys(t)
	octets := []byte("ResponderSignedOctets")
	data, err := SignAuth(AuthRSASignature, rsaKey, 0, octets)
	if err != nil {
		t.Fatal(err)
	}
	d := sha1.Sum(octets)
	if err := rsa.VerifyPKCS1v15(&rsaKey.PublicKey, crypto.SHA1, d[:], data); err != nil {
		t.Errorf("method 1 is not PKCS#1 v1.5 with SHA-1: %v", err)
	}
	if err := VerifyAuth(AuthRSASignature, &rsaKey.PublicKey, octets, data); err != nil {
		t.Errorf("method 1: %v", err)
	}
	if err := VerifyAuth(AuthRSASignature, &rsaKey2.PublicKey, octets, data); !errors.Is(err, ErrAuthentication) {
		t.Errorf("method 1 with another key: %v, want ErrAuthentication", err)
	}
	if _, err := SignAuth(AuthRSASignature, ecKey, 0, octets); !errors.Is(err, ErrInvalid) {
		t.Errorf("method 1 with an ECDSA key: %v, want ErrInvalid", err)
	}

	data, err = SignAuth(AuthECDSASHA256, ecKey, 0, octets)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != 64 {
		t.Fatalf("method 9 signature of %d octets, want 64", len(data))
	}
	h := sha256.Sum256(octets)
	if !ecdsa.Verify(&ecKey.PublicKey, h[:], new(big.Int).SetBytes(data[:32]), new(big.Int).SetBytes(data[32:])) {
		t.Error("method 9 is not r | s of ECDSA with SHA-256")
	}
	if err := VerifyAuth(AuthECDSASHA256, &ecKey.PublicKey, octets, data); err != nil {
		t.Errorf("method 9: %v", err)
	}
	if err := VerifyAuth(AuthECDSASHA256, &ecKey2.PublicKey, octets, data); !errors.Is(err, ErrAuthentication) {
		t.Errorf("method 9 with another key: %v, want ErrAuthentication", err)
	}
	if err := VerifyAuth(AuthECDSASHA256, &ecKey.PublicKey, octets, data[:63]); !errors.Is(err, ErrMalformed) {
		t.Errorf("method 9 with 63 octets: %v, want ErrMalformed", err)
	}
	if _, err := SignAuth(AuthECDSASHA256, p384, 0, octets); !errors.Is(err, ErrInvalid) {
		t.Errorf("method 9 with a P-384 key: %v, want ErrInvalid", err)
	}
	if _, err := SignAuth(AuthSharedKey, ecKey, 0, octets); !errors.Is(err, ErrUnsupported) {
		t.Errorf("SignAuth of the PSK method: %v, want ErrUnsupported", err)
	}
}

func TestChooseScheme(t *testing.T) {
	testSigningKeys(t)
	all := SupportedHashAlgorithms()
	cases := []struct {
		name string
		pub  crypto.PublicKey
		peer []HashAlgorithm
		want SignatureScheme
	}{
		{"RSA, all", &rsaKey.PublicKey, all, RSAPSSSHA256},
		{"RSA, SHA-512 only", &rsaKey.PublicKey, []HashAlgorithm{HashSHA1, HashSHA512}, RSAPSSSHA512},
		{"P-256, all", &ecKey.PublicKey, all, ECDSASHA256},
		{"P-256, SHA-384 and 512", &ecKey.PublicKey, []HashAlgorithm{HashSHA512, HashSHA384}, ECDSASHA384},
		{"P-384, all", &p384.PublicKey, all, ECDSASHA384},
	}
	for _, tc := range cases {
		if got, err := ChooseScheme(tc.pub, tc.peer); err != nil || got != tc.want {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	for name, peer := range map[string][]HashAlgorithm{"none": nil, "SHA-1 only": {HashSHA1}} {
		if _, err := ChooseScheme(&rsaKey.PublicKey, peer); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", name, err)
		}
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := ChooseScheme(pub, all); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Ed25519: %v, want ErrUnsupported", err)
	}
}
