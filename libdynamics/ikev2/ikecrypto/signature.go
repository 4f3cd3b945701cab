package ikecrypto

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"

	// The hashes the schemes name, linked for crypto.Hash.New.
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha512"
)

// SignatureScheme is a signature algorithm of the Digital Signature
// authentication method (RFC 7427): a key type, a padding and a hash,
// named on the wire by an ASN.1 AlgorithmIdentifier.
type SignatureScheme uint8

// Signature schemes. SHA-1 is not among them: it is accepted only inside
// the legacy method AuthRSASignature.
const (
	RSAPKCS1SHA256 SignatureScheme = iota + 1 // sha256WithRSAEncryption
	RSAPKCS1SHA384                            // sha384WithRSAEncryption
	RSAPKCS1SHA512                            // sha512WithRSAEncryption
	RSAPSSSHA256                              // RSASSA-PSS, SHA-256, MGF1 with SHA-256, salt 32
	RSAPSSSHA384                              // RSASSA-PSS, SHA-384, MGF1 with SHA-384, salt 48
	RSAPSSSHA512                              // RSASSA-PSS, SHA-512, MGF1 with SHA-512, salt 64
	ECDSASHA256                               // ecdsa-with-SHA256
	ECDSASHA384                               // ecdsa-with-SHA384
	ECDSASHA512                               // ecdsa-with-SHA512
)

type schemeInfo struct {
	name  string
	hash  crypto.Hash
	id    HashAlgorithm
	rsa   bool
	pss   bool
	algID string // DER AlgorithmIdentifier, hex
}

// The AlgorithmIdentifiers are those of RFC 7427 Appendix A: A.1 for
// RSASSA-PKCS1-v1_5, A.3 for ECDSA, A.4.3 for RSASSA-PSS with SHA-256 (with
// the trailerField present, as the RFC writes it) and the same layout with
// SHA-384 and SHA-512.
var schemes = map[SignatureScheme]schemeInfo{
	RSAPKCS1SHA256: {"RSA-PKCS1-SHA256", crypto.SHA256, HashSHA256, true, false, "300d06092a864886f70d01010b0500"},
	RSAPKCS1SHA384: {"RSA-PKCS1-SHA384", crypto.SHA384, HashSHA384, true, false, "300d06092a864886f70d01010c0500"},
	RSAPKCS1SHA512: {"RSA-PKCS1-SHA512", crypto.SHA512, HashSHA512, true, false, "300d06092a864886f70d01010d0500"},
	RSAPSSSHA256: {"RSA-PSS-SHA256", crypto.SHA256, HashSHA256, true, true,
		"304606092a864886f70d01010a3039a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120a303020101"},
	RSAPSSSHA384: {"RSA-PSS-SHA384", crypto.SHA384, HashSHA384, true, true,
		"304606092a864886f70d01010a3039a00f300d06096086480165030402020500a11c301a06092a864886f70d010108300d06096086480165030402020500a203020130a303020101"},
	RSAPSSSHA512: {"RSA-PSS-SHA512", crypto.SHA512, HashSHA512, true, true,
		"304606092a864886f70d01010a3039a00f300d06096086480165030402030500a11c301a06092a864886f70d010108300d06096086480165030402030500a203020140a303020101"},
	ECDSASHA256: {"ECDSA-SHA256", crypto.SHA256, HashSHA256, false, false, "300a06082a8648ce3d040302"},
	ECDSASHA384: {"ECDSA-SHA384", crypto.SHA384, HashSHA384, false, false, "300a06082a8648ce3d040303"},
	ECDSASHA512: {"ECDSA-SHA512", crypto.SHA512, HashSHA512, false, false, "300a06082a8648ce3d040304"},
}

// String returns the scheme's name, like "RSA-PSS-SHA256".
func (s SignatureScheme) String() string {
	if i, ok := schemes[s]; ok {
		return i.name
	}
	return fmt.Sprintf("SignatureScheme(%d)", uint8(s))
}

// Hash returns the RFC 7427 number of the scheme's hash, the one a peer
// must have announced in SIGNATURE_HASH_ALGORITHMS.
func (s SignatureScheme) Hash() HashAlgorithm { return schemes[s].id }

// AlgorithmIdentifier returns the DER AlgorithmIdentifier naming the
// scheme in the AUTH data, nil for an unknown scheme.
func (s SignatureScheme) AlgorithmIdentifier() []byte {
	i, ok := schemes[s]
	if !ok {
		return nil
	}
	b, _ := hex.DecodeString(i.algID)
	return b
}

// SupportedHashAlgorithms returns the hash algorithms to announce in
// SIGNATURE_HASH_ALGORITHMS (RFC 7427 section 4; ikev2.SignatureHashAlgorithms
// makes the notification), strongest last.
func SupportedHashAlgorithms() []HashAlgorithm {
	return []HashAlgorithm{HashSHA256, HashSHA384, HashSHA512}
}

// ChooseScheme returns the signature scheme to sign with a key whose public
// half is pub, given the hash algorithms the peer announced: RSA-PSS for
// RSA keys, ECDSA with the hash matching the curve for ECDSA keys,
// falling back to another announced SHA-2 hash. No common hash (including
// a peer that announced none, which then expects a legacy method) is an
// error wrapping ErrUnsupported.
func ChooseScheme(pub crypto.PublicKey, peer []HashAlgorithm) (SignatureScheme, error) {
	announced := func(h HashAlgorithm) bool {
		for _, p := range peer {
			if p == h {
				return true
			}
		}
		return false
	}
	var order []SignatureScheme
	switch k := pub.(type) {
	case *rsa.PublicKey:
		order = []SignatureScheme{RSAPSSSHA256, RSAPSSSHA384, RSAPSSSHA512}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P384():
			order = []SignatureScheme{ECDSASHA384, ECDSASHA512, ECDSASHA256}
		case elliptic.P521():
			order = []SignatureScheme{ECDSASHA512, ECDSASHA384, ECDSASHA256}
		default:
			order = []SignatureScheme{ECDSASHA256, ECDSASHA384, ECDSASHA512}
		}
	default:
		return 0, fmt.Errorf("%w: signing key of type %T", ErrUnsupported, pub)
	}
	for _, s := range order {
		if announced(s.Hash()) {
			return s, nil
		}
	}
	return 0, fmt.Errorf("%w: no signature hash in common with the peer (it announced %v)", ErrUnsupported, peer)
}

// SignAuth returns the Authentication Data of an AUTH payload signed with
// key over signedOctets (see SignedOctets):
//
//   - AuthDigitalSignature (RFC 7427 section 3): the length of the
//     AlgorithmIdentifier (one octet), the AlgorithmIdentifier of scheme and
//     the signature; scheme must suit the key (see ChooseScheme).
//   - AuthRSASignature (RFC 7296 section 3.8): an RSASSA-PKCS1-v1_5
//     signature with SHA-1; scheme is ignored.
//   - AuthECDSASHA256 (RFC 4754): r and s of an ECDSA signature with
//     SHA-256 on P-256, 32 octets each; scheme is ignored.
func SignAuth(method AuthMethod, key crypto.Signer, scheme SignatureScheme, signedOctets []byte) ([]byte, error) {
	if key == nil {
		return nil, fmt.Errorf("%w: no signing key", ErrInvalid)
	}
	pub := key.Public()
	switch method {
	case AuthRSASignature:
		if _, ok := pub.(*rsa.PublicKey); !ok {
			return nil, fmt.Errorf("%w: %v with a %T key", ErrInvalid, method, pub)
		}
		return key.Sign(rand.Reader, digest(crypto.SHA1, signedOctets), crypto.SHA1)
	case AuthECDSASHA256:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: %v needs a P-256 key", ErrInvalid, method)
		}
		der, err := key.Sign(rand.Reader, digest(crypto.SHA256, signedOctets), crypto.SHA256)
		if err != nil {
			return nil, err
		}
		return derToFixed(der, 32)
	case AuthDigitalSignature:
		info, ok := schemes[scheme]
		if !ok {
			return nil, fmt.Errorf("%w: signature scheme %v", ErrUnsupported, scheme)
		}
		if err := checkKeyFits(info, pub); err != nil {
			return nil, err
		}
		var opts crypto.SignerOpts = info.hash
		if info.pss {
			opts = &rsa.PSSOptions{SaltLength: info.hash.Size(), Hash: info.hash}
		}
		sig, err := key.Sign(rand.Reader, digest(info.hash, signedOctets), opts)
		if err != nil {
			return nil, err
		}
		algID := scheme.AlgorithmIdentifier()
		out := make([]byte, 0, 1+len(algID)+len(sig))
		out = append(out, byte(len(algID)))
		out = append(out, algID...)
		return append(out, sig...), nil
	}
	return nil, fmt.Errorf("%w: signing with %v", ErrUnsupported, method)
}

// VerifyAuth checks the Authentication Data of a peer's AUTH payload with a
// signature method against the peer's public key (from its certificate or
// configuration) and its signed octets. With AuthDigitalSignature the
// AlgorithmIdentifier in the data chooses the scheme; only the SHA-2
// schemes of this package are accepted, RSASSA-PSS with the MGF1 hash equal
// to the message hash. A signature that does not verify is an error
// wrapping ErrAuthentication; data that does not parse one wrapping
// ErrMalformed; an algorithm the package does not accept or that does not
// suit the key one wrapping ErrUnsupported.
func VerifyAuth(method AuthMethod, pub crypto.PublicKey, signedOctets, authData []byte) error {
	switch method {
	case AuthRSASignature:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%w: %v with a %T key", ErrUnsupported, method, pub)
		}
		if err := rsa.VerifyPKCS1v15(k, crypto.SHA1, digest(crypto.SHA1, signedOctets), authData); err != nil {
			return fmt.Errorf("%w: %v: %v", ErrAuthentication, method, err)
		}
		return nil
	case AuthECDSASHA256:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || k.Curve != elliptic.P256() {
			return fmt.Errorf("%w: %v needs a P-256 key", ErrUnsupported, method)
		}
		if len(authData) != 64 {
			return fmt.Errorf("%w: %v signature of %d octets, want 64", ErrMalformed, method, len(authData))
		}
		r := new(big.Int).SetBytes(authData[:32])
		s := new(big.Int).SetBytes(authData[32:])
		if !ecdsa.Verify(k, digest(crypto.SHA256, signedOctets), r, s) {
			return fmt.Errorf("%w: %v signature does not verify", ErrAuthentication, method)
		}
		return nil
	case AuthDigitalSignature:
		if len(authData) < 1 || len(authData) < 1+int(authData[0]) {
			return fmt.Errorf("%w: Digital Signature data of %d octets", ErrMalformed, len(authData))
		}
		n := int(authData[0])
		algID, sig := authData[1:1+n], authData[1+n:]
		info, pssSalt, err := parseAlgorithmIdentifier(algID)
		if err != nil {
			return err
		}
		if err := checkKeyFits(info, pub); err != nil {
			return err
		}
		d := digest(info.hash, signedOctets)
		switch k := pub.(type) {
		case *rsa.PublicKey:
			if info.pss {
				err = rsa.VerifyPSS(k, info.hash, d, sig, &rsa.PSSOptions{SaltLength: pssSalt, Hash: info.hash})
			} else {
				err = rsa.VerifyPKCS1v15(k, info.hash, d, sig)
			}
			if err != nil {
				return fmt.Errorf("%w: %s: %v", ErrAuthentication, info.name, err)
			}
		case *ecdsa.PublicKey:
			if !ecdsa.VerifyASN1(k, d, sig) {
				return fmt.Errorf("%w: %s signature does not verify", ErrAuthentication, info.name)
			}
		}
		return nil
	}
	return fmt.Errorf("%w: verifying %v", ErrUnsupported, method)
}

func digest(h crypto.Hash, data []byte) []byte {
	w := h.New()
	w.Write(data)
	return w.Sum(nil)
}

func checkKeyFits(info schemeInfo, pub crypto.PublicKey) error {
	switch pub.(type) {
	case *rsa.PublicKey:
		if info.rsa {
			return nil
		}
	case *ecdsa.PublicKey:
		if !info.rsa {
			return nil
		}
	}
	return fmt.Errorf("%w: %s with a %T key", ErrUnsupported, info.name, pub)
}

// derToFixed converts a DER ECDSA-Sig-Value to r | s, each n octets.
func derToFixed(der []byte, n int) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 || sig.R.Sign() <= 0 || sig.S.Sign() <= 0 ||
		sig.R.BitLen() > 8*n || sig.S.BitLen() > 8*n {
		return nil, errors.New("ikecrypto: signer returned a malformed ECDSA signature")
	}
	out := make([]byte, 2*n)
	sig.R.FillBytes(out[:n])
	sig.S.FillBytes(out[n:])
	return out, nil
}

// ASN.1 structures of an AlgorithmIdentifier (RFC 5280) and RSASSA-PSS
// parameters (RFC 8017 Appendix A.2.3).
type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type pssParameters struct {
	Hash         algorithmIdentifier `asn1:"explicit,tag:0,optional"`
	MGF          algorithmIdentifier `asn1:"explicit,tag:1,optional"`
	SaltLength   int                 `asn1:"explicit,tag:2,optional,default:20"`
	TrailerField int                 `asn1:"explicit,tag:3,optional,default:1"`
}

var (
	oidRSAPSS = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidHashes = map[string]crypto.Hash{
		"2.16.840.1.101.3.4.2.1": crypto.SHA256,
		"2.16.840.1.101.3.4.2.2": crypto.SHA384,
		"2.16.840.1.101.3.4.2.3": crypto.SHA512,
	}
)

// parseAlgorithmIdentifier returns the scheme an AlgorithmIdentifier names
// and, for RSASSA-PSS, its salt length. The fixed identifiers are compared
// whole; RSASSA-PSS parameters are parsed, so that their DER form (without
// the default trailerField) and the RFC 7427 form (with it) are both
// accepted.
func parseAlgorithmIdentifier(b []byte) (schemeInfo, int, error) {
	for s, info := range schemes {
		if !info.pss && bytes.Equal(b, s.AlgorithmIdentifier()) {
			return info, 0, nil
		}
	}
	var ai algorithmIdentifier
	rest, err := asn1.Unmarshal(b, &ai)
	if err != nil || len(rest) != 0 {
		return schemeInfo{}, 0, fmt.Errorf("%w: Digital Signature AlgorithmIdentifier does not parse", ErrMalformed)
	}
	if !ai.Algorithm.Equal(oidRSAPSS) {
		return schemeInfo{}, 0, fmt.Errorf("%w: signature algorithm %v", ErrUnsupported, ai.Algorithm)
	}
	var p pssParameters
	rest, err = asn1.Unmarshal(ai.Parameters.FullBytes, &p)
	if err != nil || len(rest) != 0 {
		return schemeInfo{}, 0, fmt.Errorf("%w: RSASSA-PSS parameters do not parse", ErrMalformed)
	}
	h, ok := oidHashes[p.Hash.Algorithm.String()]
	if !ok {
		return schemeInfo{}, 0, fmt.Errorf("%w: RSASSA-PSS with hash %v", ErrUnsupported, p.Hash.Algorithm)
	}
	var mgfHash algorithmIdentifier
	if !p.MGF.Algorithm.Equal(oidMGF1) {
		return schemeInfo{}, 0, fmt.Errorf("%w: RSASSA-PSS with mask generation %v", ErrUnsupported, p.MGF.Algorithm)
	}
	if rest, err := asn1.Unmarshal(p.MGF.Parameters.FullBytes, &mgfHash); err != nil || len(rest) != 0 {
		return schemeInfo{}, 0, fmt.Errorf("%w: RSASSA-PSS MGF1 parameters do not parse", ErrMalformed)
	}
	if mh, ok := oidHashes[mgfHash.Algorithm.String()]; !ok || mh != h {
		return schemeInfo{}, 0, fmt.Errorf("%w: RSASSA-PSS with MGF1 hash %v", ErrUnsupported, mgfHash.Algorithm)
	}
	if p.TrailerField != 1 || p.SaltLength < 0 {
		return schemeInfo{}, 0, fmt.Errorf("%w: RSASSA-PSS trailer field %d, salt length %d", ErrUnsupported, p.TrailerField, p.SaltLength)
	}
	for _, info := range schemes {
		if info.pss && info.hash == h {
			return info, p.SaltLength, nil
		}
	}
	return schemeInfo{}, 0, fmt.Errorf("%w: RSASSA-PSS with %v", ErrUnsupported, h)
}
