// Package ikecrypto is the cryptography of IKEv2 (RFC 7296): the
// transforms an IKE SA negotiates, the derivation of its keys and of its
// child SAs' keys, the protection of the SK payload, the Diffie-Hellman
// groups with validation of the peer's public value, the AUTH payload for
// pre-shared keys and signatures, and the NAT detection, COOKIE and COOKIE2
// values. It knows nothing of sockets or of the message layout beyond the
// octets it is given; package ikev2 parses and marshals messages, package
// ike runs the exchanges.
//
// # Identifiers
//
// Transform, group, authentication method and hash identifiers are package
// ikev2's types; EncrID, PRFID, IntegID, Group, AuthMethod and
// HashAlgorithm are aliases of them, and the constants here (EncrAESGCM16,
// GroupCurve25519, ...) name the subset this package implements. SPIs are
// ikev2.SPI.
//
// # Transforms
//
// PRF (NewPRF) is HMAC-SHA2-256, -384 or -512 (RFC 4868 section 2.1), with
// prf+ of RFC 7296 section 2.13 (PRF.Plus, at most 255 blocks). Integ
// (NewInteg) is HMAC-SHA2-256-128, -384-192 or -512-256 (RFC 4868 section
// 2.2). Cipher (NewCipher) protects SK payloads:
//
//   - ENCR_AES_GCM_16 with 128, 192 or 256-bit keys (RFC 5282): the key
//     material is the AES key followed by a 4-octet salt, the nonce the salt
//     and an 8-octet explicit IV carried in front of the ciphertext, the
//     associated data the IKE header and the SK payload header (section
//     5.1), the ICV the 16-octet tag. GCM needs no padding: Seal adds only
//     the pad length octet (0). IVs are a counter from a random start, so
//     they never repeat under one key.
//   - ENCR_AES_CBC with 128, 192 or 256-bit keys (RFC 3602) and an HMAC-SHA2
//     integrity algorithm: a random 16-octet IV, zero padding to whole
//     blocks, and the ICV over the message from the IKE header to the end
//     of the ciphertext (RFC 7296 section 3.14).
//
// Open checks the ICV first, in constant time, and only then decrypts; a
// bad ICV is ErrIntegrity, and the message must be dropped without an
// answer (RFC 7296 section 2.21.2). Open accepts any padding.
//
// # Keys
//
// DeriveIKEKeys computes SKEYSEED = prf(Ni | Nr, g^ir) and SK_d, SK_ai,
// SK_ar, SK_ei, SK_er, SK_pi, SK_pr = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)
// (RFC 7296 section 2.14); SK_d, SK_pi and SK_pr are as long as the PRF's
// output, SK_e and SK_a as the cipher and integrity algorithm need (for
// AES-GCM the key and salt, and no SK_a). DeriveRekeyedIKEKeys computes the
// keys of an IKE SA made by rekeying: SKEYSEED = prf(SK_d (old), g^ir (new)
// | Ni | Nr) with the old SA's PRF, then the same expansion with the new
// one's (section 2.18). DeriveChildKeys computes KEYMAT = prf+(SK_d,
// [g^ir (new) |] Ni | Nr) (section 2.17) and takes from it the encryption
// and integrity keys of the initiator-to-responder SA, then those of the
// other direction.
//
// # Diffie-Hellman
//
// NewDH makes an ephemeral key pair in group 31 (Curve25519, RFC 8031, via
// crypto/ecdh), 19 (ECP-256, RFC 5903, via crypto/ecdh: the public value
// is x | y, the shared secret the x coordinate) or 14 (MODP-2048, RFC 3526:
// the public value and shared secret padded to 256 octets, a 512-bit
// private exponent). SharedSecret validates the peer's value first
// (ValidatePublicValue): the exact length for the group; for MODP 1 < y <
// p-1; for ECP coordinates below the prime, not the identity, on the
// curve; for Curve25519 not a point of small order (RFC 7748 requires
// accepting non-canonical encodings, which are reduced, so only those that
// reduce to a small-order point are refused). A shared secret that comes
// out zero is refused too. The MODP arithmetic uses math/big and is not
// constant-time; its keys are used for one exchange only.
//
// # Authentication
//
// SignedOctets builds the octets an AUTH payload covers (RFC 7296 section
// 2.15): the side's IKE_SA_INIT message, the peer's nonce and
// prf(SK_p, ID payload body). PSKAuth and VerifyPSKAuth compute and check
// the Shared Key Message Integrity Code, prf(prf(PSK, "Key Pad for IKEv2"),
// signed octets), comparing in constant time. SignAuth and VerifyAuth do
// the signature methods: Digital Signature (method 14, RFC 7427) with
// RSASSA-PSS (salt as long as the hash, MGF1 with the same hash),
// RSASSA-PKCS1-v1_5 or ECDSA (DER signature), each with SHA2-256, -384 or
// -512, named by the AlgorithmIdentifiers of RFC 7427 Appendix A; RSA
// Digital Signature (method 1, PKCS#1 v1.5 with SHA-1, for peers without
// RFC 7427); and ECDSA with SHA-256 on P-256 (method 9, RFC 4754, r | s).
// ChooseScheme picks a scheme from the hashes a peer announced in
// SIGNATURE_HASH_ALGORITHMS (MarshalHashAlgorithms, ParseHashAlgorithms);
// VerifyAuth refuses SHA-1 in method 14 and accepts RSASSA-PSS parameters
// with or without the default trailer field.
//
// # Proposals
//
// DefaultIKEProposals and DefaultESPProposals are the SA payload proposals
// offered and accepted by default; nothing weaker is offered:
// ENCR_AES_GCM_16 with 256 or 128-bit keys, PRF_HMAC_SHA2_256 and
// Curve25519 or ECP-256, then for compatibility ENCR_AES_CBC with 256 or
// 128-bit keys, AUTH_HMAC_SHA2_256_128, PRF_HMAC_SHA2_256 and MODP-2048;
// for ESP the same ciphers with NO_EXT_SEQ, and D-H groups only when
// perfect forward secrecy is asked for. A responder calls SelectIKE or
// SelectESP with its proposals and the peer's SA payload: the peer's
// proposals are tried in the peer's order, and within the first one that
// one of ours accepts, the peer's first acceptable transform of each type
// is taken (RFC 7296 section 2.7), except that SelectIKE prefers the group
// of the peer's KE payload when both sides accept it, saving an
// INVALID_KE_PAYLOAD round trip; the result is the proposal to answer with
// and the negotiated Suite or ChildSuite. A proposal with a transform
// type the package does not know is rejected, a transform with an attribute
// other than the key length skipped (section 3.3.6). An initiator checks
// the answer with AcceptedIKE or AcceptedESP: exactly one proposal, one of
// ours by number, one transform of each type taken from it.
//
// # Messages
//
// SealMessage marshals an encrypted message: the header, any clear
// payloads and an SK payload with the inner payloads sealed, the lengths
// written before sealing so that the associated data is the message as
// sent. OpenMessage checks and decrypts the SK payload of a parsed message
// and parses the payloads inside.
//
// # NAT detection and cookies
//
// NATDetectionHash is SHA-1(SPIi | SPIr | IP | Port) (RFC 7296 section
// 2.23). Cookies makes and checks the anti-clogging COOKIE of section 2.6
// from a rotating secret (version octet | HMAC-SHA-256(secret, Ni | IPi |
// SPIi)), accepting the previous secret's cookies after one rotation.
// NewCookie2 and CheckCookie2 make and check the COOKIE2 of MOBIKE (RFC 4555
// section 3.5), 16 random octets echoed by the peer.
//
// # Errors
//
// The errors the package makes wrap one of the sentinels in errors.go:
// ErrUnsupported, ErrInvalid, ErrPublicValue, ErrMalformed, ErrIntegrity,
// ErrAuthentication, ErrNoProposal; a failure of crypto/rand or of a
// caller's crypto.Signer is returned as it is. Nothing here panics on input
// from the network.
package ikecrypto
