package ikecrypto

import "github.com/dynamics-go/dynamics/libdynamics/ikev2"

// The identifiers are package ikev2's IANA "IKEv2 Parameters" types; the
// aliases and constants below name the subset this package implements, so
// callers can write either ikecrypto.EncrAESGCM16 or ikev2.EncrAESGCM16.

// EncrID is an encryption algorithm (Transform Type 1) identifier.
type EncrID = ikev2.EncrID

// Encryption algorithms.
const (
	// EncrAESCBC is ENCR_AES_CBC (RFC 3602), with a Key Length attribute
	// of 128, 192 or 256 bits; it needs an integrity algorithm.
	EncrAESCBC = ikev2.EncrAESCBC
	// EncrAESGCM16 is ENCR_AES_GCM_16 (RFC 5282 for IKE, RFC 4106 for
	// ESP), an AEAD cipher with a 16-octet ICV, with a Key Length attribute
	// of 128, 192 or 256 bits; it takes no integrity algorithm.
	EncrAESGCM16 = ikev2.EncrAESGCM16
)

// PRFID is a pseudorandom function (Transform Type 2) identifier.
type PRFID = ikev2.PRFID

// Pseudorandom functions (RFC 4868 section 2.1).
const (
	PRFHMACSHA256 = ikev2.PRFHMACSHA2_256 // PRF_HMAC_SHA2_256
	PRFHMACSHA384 = ikev2.PRFHMACSHA2_384 // PRF_HMAC_SHA2_384
	PRFHMACSHA512 = ikev2.PRFHMACSHA2_512 // PRF_HMAC_SHA2_512
)

// IntegID is an integrity algorithm (Transform Type 3) identifier.
type IntegID = ikev2.IntegID

// Integrity algorithms (RFC 4868 section 2.2).
const (
	IntegNone          = ikev2.IntegNone             // NONE, with an AEAD cipher
	IntegHMACSHA256128 = ikev2.IntegHMACSHA2_256_128 // AUTH_HMAC_SHA2_256_128
	IntegHMACSHA384192 = ikev2.IntegHMACSHA2_384_192 // AUTH_HMAC_SHA2_384_192
	IntegHMACSHA512256 = ikev2.IntegHMACSHA2_512_256 // AUTH_HMAC_SHA2_512_256
)

// Group is a Diffie-Hellman group (Transform Type 4) identifier.
type Group = ikev2.DHGroup

// Diffie-Hellman groups.
const (
	// GroupNone is NONE: no Diffie-Hellman exchange (a child SA without
	// perfect forward secrecy).
	GroupNone = ikev2.DHNone
	// GroupMODP2048 is the 2048-bit MODP group (RFC 3526 section 3).
	GroupMODP2048 = ikev2.DHMODP2048
	// GroupECP256 is the 256-bit random ECP group, NIST P-256 (RFC 5903).
	GroupECP256 = ikev2.DHECP256
	// GroupCurve25519 is Curve25519 (RFC 8031, RFC 7748).
	GroupCurve25519 = ikev2.DHCurve25519
)

// AuthMethod is the Auth Method field of an AUTH payload.
type AuthMethod = ikev2.AuthMethod

// Authentication methods.
const (
	// AuthRSASignature is RSA Digital Signature (RFC 7296 section 3.8):
	// RSASSA-PKCS1-v1_5 with SHA-1.
	AuthRSASignature = ikev2.AuthRSASignature
	// AuthSharedKey is Shared Key Message Integrity Code (RFC 7296
	// section 2.15).
	AuthSharedKey = ikev2.AuthSharedKeyMIC
	// AuthECDSASHA256 is ECDSA with SHA-256 on the P-256 curve (RFC
	// 4754): the signature is r and s, 32 octets each.
	AuthECDSASHA256 = ikev2.AuthECDSASHA256P256
	// AuthDigitalSignature is Digital Signature (RFC 7427): the AUTH data
	// names its algorithm with an ASN.1 AlgorithmIdentifier.
	AuthDigitalSignature = ikev2.AuthDigitalSignature
)

// HashAlgorithm is a hash algorithm number of the SIGNATURE_HASH_ALGORITHMS
// notification (RFC 7427 section 4).
type HashAlgorithm = ikev2.HashAlgorithm

// Hash algorithms.
const (
	HashSHA1   = ikev2.HashSHA1
	HashSHA256 = ikev2.HashSHA2_256
	HashSHA384 = ikev2.HashSHA2_384
	HashSHA512 = ikev2.HashSHA2_512
)
