package ikecrypto

import "strconv"

// The identifiers below are IANA "IKEv2 Parameters" numbers: Transform Type
// 1 (encryption), 2 (PRF), 3 (integrity) and 4 (Diffie-Hellman group)
// identifiers, the Authentication Method of the AUTH payload and the hash
// algorithm numbers of SIGNATURE_HASH_ALGORITHMS (RFC 7427 section 7).
// Only the ones this package implements are named.

// EncrID is an encryption algorithm (Transform Type 1) identifier.
type EncrID uint16

// Encryption algorithms.
const (
	// EncrAESCBC is ENCR_AES_CBC (RFC 3602), with a Key Length attribute
	// of 128, 192 or 256 bits; it needs an integrity algorithm.
	EncrAESCBC EncrID = 12
	// EncrAESGCM16 is ENCR_AES_GCM_16 (RFC 5282 for IKE, RFC 4106 for
	// ESP), an AEAD cipher with a 16-octet ICV, with a Key Length attribute
	// of 128, 192 or 256 bits; it takes no integrity algorithm.
	EncrAESGCM16 EncrID = 20
)

// AEAD reports whether e is a combined-mode cipher, which takes no separate
// integrity algorithm.
func (e EncrID) AEAD() bool { return e == EncrAESGCM16 }

// String returns the IANA name of e.
func (e EncrID) String() string {
	switch e {
	case EncrAESCBC:
		return "ENCR_AES_CBC"
	case EncrAESGCM16:
		return "ENCR_AES_GCM_16"
	}
	return "ENCR_" + strconv.Itoa(int(e))
}

// PRFID is a pseudorandom function (Transform Type 2) identifier.
type PRFID uint16

// Pseudorandom functions (RFC 4868 section 2.1).
const (
	PRFHMACSHA256 PRFID = 5 // PRF_HMAC_SHA2_256
	PRFHMACSHA384 PRFID = 6 // PRF_HMAC_SHA2_384
	PRFHMACSHA512 PRFID = 7 // PRF_HMAC_SHA2_512
)

// String returns the IANA name of p.
func (p PRFID) String() string {
	switch p {
	case PRFHMACSHA256:
		return "PRF_HMAC_SHA2_256"
	case PRFHMACSHA384:
		return "PRF_HMAC_SHA2_384"
	case PRFHMACSHA512:
		return "PRF_HMAC_SHA2_512"
	}
	return "PRF_" + strconv.Itoa(int(p))
}

// IntegID is an integrity algorithm (Transform Type 3) identifier.
type IntegID uint16

// Integrity algorithms (RFC 4868 section 2.2).
const (
	IntegNone          IntegID = 0  // NONE, with an AEAD cipher
	IntegHMACSHA256128 IntegID = 12 // AUTH_HMAC_SHA2_256_128
	IntegHMACSHA384192 IntegID = 13 // AUTH_HMAC_SHA2_384_192
	IntegHMACSHA512256 IntegID = 14 // AUTH_HMAC_SHA2_512_256
)

// String returns the IANA name of i.
func (i IntegID) String() string {
	switch i {
	case IntegNone:
		return "NONE"
	case IntegHMACSHA256128:
		return "AUTH_HMAC_SHA2_256_128"
	case IntegHMACSHA384192:
		return "AUTH_HMAC_SHA2_384_192"
	case IntegHMACSHA512256:
		return "AUTH_HMAC_SHA2_512_256"
	}
	return "AUTH_" + strconv.Itoa(int(i))
}

// Group is a Diffie-Hellman group (Transform Type 4) identifier.
type Group uint16

// Diffie-Hellman groups.
const (
	// GroupNone is NONE: no Diffie-Hellman exchange (a child SA without
	// perfect forward secrecy).
	GroupNone Group = 0
	// GroupMODP2048 is the 2048-bit MODP group (RFC 3526 section 3).
	GroupMODP2048 Group = 14
	// GroupECP256 is the 256-bit random ECP group, NIST P-256 (RFC 5903).
	GroupECP256 Group = 19
	// GroupCurve25519 is Curve25519 (RFC 8031, RFC 7748).
	GroupCurve25519 Group = 31
)

// String returns the IANA name of g.
func (g Group) String() string {
	switch g {
	case GroupNone:
		return "NONE"
	case GroupMODP2048:
		return "MODP_2048"
	case GroupECP256:
		return "ECP_256"
	case GroupCurve25519:
		return "CURVE25519"
	}
	return "GROUP_" + strconv.Itoa(int(g))
}

// AuthMethod is the Auth Method field of an AUTH payload.
type AuthMethod uint8

// Authentication methods.
const (
	// AuthRSASignature is RSA Digital Signature (RFC 7296 section 3.8):
	// RSASSA-PKCS1-v1_5 with SHA-1.
	AuthRSASignature AuthMethod = 1
	// AuthSharedKey is Shared Key Message Integrity Code (RFC 7296
	// section 2.15).
	AuthSharedKey AuthMethod = 2
	// AuthECDSASHA256 is ECDSA with SHA-256 on the P-256 curve (RFC
	// 4754): the signature is r and s, 32 octets each.
	AuthECDSASHA256 AuthMethod = 9
	// AuthDigitalSignature is Digital Signature (RFC 7427): the AUTH data
	// names its algorithm with an ASN.1 AlgorithmIdentifier.
	AuthDigitalSignature AuthMethod = 14
)

// String returns the IANA name of m.
func (m AuthMethod) String() string {
	switch m {
	case AuthRSASignature:
		return "RSA Digital Signature"
	case AuthSharedKey:
		return "Shared Key Message Integrity Code"
	case AuthECDSASHA256:
		return "ECDSA with SHA-256 on the P-256 curve"
	case AuthDigitalSignature:
		return "Digital Signature"
	}
	return "auth method " + strconv.Itoa(int(m))
}

// HashAlgorithm is a hash algorithm number of the SIGNATURE_HASH_ALGORITHMS
// notification (RFC 7427 section 4).
type HashAlgorithm uint16

// Hash algorithms.
const (
	HashSHA1   HashAlgorithm = 1
	HashSHA256 HashAlgorithm = 2
	HashSHA384 HashAlgorithm = 3
	HashSHA512 HashAlgorithm = 4
)

// String returns the IANA name of h.
func (h HashAlgorithm) String() string {
	switch h {
	case HashSHA1:
		return "SHA1"
	case HashSHA256:
		return "SHA2-256"
	case HashSHA384:
		return "SHA2-384"
	case HashSHA512:
		return "SHA2-512"
	}
	return "hash " + strconv.Itoa(int(h))
}
