// Package ikev2 encodes and decodes IKEv2 messages (RFC 7296): the IKE
// header and every payload of section 3, with the numbers of IANA's "IKEv2
// Parameters" registries, including those of MOBIKE (RFC 4555), NAT
// traversal (RFC 7296 section 2.23) and signature authentication (RFC
// 7427). It is a codec only: it opens no socket and does no cryptography.
// Package ikecrypto protects SK payloads and computes AUTH; package ike
// runs the exchanges.
//
// # Messages
//
// Parse reads one IKE message (a UDP payload to or from port 500, or to or
// from 4500 after the non-ESP marker of RFC 3948) into a *Message: the
// Header (section 3.1: SPIs, exchange type, flags I/V/R, message ID) and
// the Payloads in order. (*Message).Marshal writes it, computing the
// header's Next Payload and Length. ParseHeader reads the header alone, so
// a receiver can find its IKE SA before parsing or decrypting the rest.
//
// Each payload (section 3.2 onwards) is a Go type implementing Payload:
// *SA (3.3, with its proposals, transforms and attributes), *KE (3.4), *ID
// for IDi and IDr (3.5), *Cert (3.6), *CertReq (3.7), *Auth (3.8), *Nonce
// (3.9), *Notify (3.10), *Delete (3.11), *VendorID (3.12), *TS for TSi and
// TSr (3.13), *SK (3.14), *CP (3.15) and *EAP (3.16, kept raw).
//
// The SK payload is kept as the bytes on the wire: NextPayload names the
// first payload inside, Data holds IV | ciphertext | ICV. ParsePayloads
// parses the decrypted plaintext given that type, MarshalPayloads produces
// the plaintext to encrypt and its first type. The SK payload is the last
// of a message (section 3.14), so the associated data that protects it is
// the message up to the end of its generic header: b[:len(b)-len(sk.Data)].
//
// # Unknown payloads
//
// Section 2.5: a payload of a type the package does not decode (anything
// outside 33-48) is skipped when its critical bit is clear and kept as a
// *RawPayload, so parsing and marshalling a message reproduces it byte for
// byte; with the critical bit set, parsing fails with a
// *CriticalPayloadError (errors.Is ErrUnsupportedCritical) naming the
// type, whose Notify method builds the UNSUPPORTED_CRITICAL_PAYLOAD answer.
// ErrorNotify maps any parse error to the notification a responder sends:
// that one, INVALID_MAJOR_VERSION for ErrVersion, INVALID_SYNTAX otherwise.
// Unknown notification types, transform types and IDs, ID types and
// certificate encodings are kept as numbers for the engine to judge.
//
// # Limits
//
// Parse and Marshal enforce the same rules, so a parsed message always
// marshals and the package never sends what it would refuse:
//
//   - lengths: the header's Length is the datagram's; every payload,
//     proposal, transform, attribute, selector and configuration attribute
//     fits its parent exactly; nothing follows the last payload or an SK
//     payload;
//   - header: major version 2 (else ErrVersion), a non-zero initiator SPI;
//   - SA (3.3.1, 3.3.2): at least one proposal; proposals numbered 1, 2, 3
//     ... (a single proposal, as in a response, may carry any non-zero
//     number); Last Substruc 2 or 0 for proposals, 3 or 0 for transforms
//     and matching the count; 1 to 255 transforms; SPI sizes per protocol:
//     IKE 0 or 8, AH and ESP 4; the Key Length attribute in TV format;
//   - KE (3.4): a public value of the group's length for the groups
//     KeyExchangeLen knows;
//   - Nonce (3.9): 16 to 256 octets;
//   - ID (3.5): 4 octets for ID_IPV4_ADDR, 16 for ID_IPV6_ADDR, none for
//     ID_NULL (RFC 7619);
//   - AUTH: data present; for method 14 an AlgorithmIdentifier length that
//     leaves a signature (RFC 7427 section 3);
//   - Notify (3.10): an SPI of its protocol's size; REKEY_SA with an AH or
//     ESP SPI; the data lengths of the types the engine reads: COOKIE 1-64
//     octets (2.6), COOKIE2 8-64 (RFC 4555), NAT_DETECTION_* 20 (2.23),
//     INVALID_KE_PAYLOAD 2, ADDITIONAL_IP4_ADDRESS 4, ADDITIONAL_IP6_ADDRESS
//     16, NO_NATS_ALLOWED 12 or 36, INVALID_MESSAGE_ID and SET_WINDOW_SIZE
//     4, UNSUPPORTED_CRITICAL_PAYLOAD 1, SIGNATURE_HASH_ALGORITHMS a list of
//     2-octet hashes;
//   - Delete (3.11): IKE with no SPIs, AH and ESP with 4-octet SPIs, the
//     count matching the bytes;
//   - TS (3.13): 1 to 255 selectors; IPv4 ranges of 16 octets and IPv6 of
//     40;
//   - CERTREQ (3.7): X.509 authorities as 20-octet SHA-1 hashes;
//     hash-and-URL certificates with a hash and a URL;
//   - CP (3.15.1): attribute values empty or of the table's length;
//   - EAP (3.16): an EAP header whose length is the payload's.
//
// Reserved fields and bits are sent as zero and ignored on receipt, so a
// message that sets them parses to the same value as one that does not;
// only their bits are lost on a round trip. Errors wrap ErrTruncated,
// ErrLength, ErrVersion, ErrInvalid or ErrUnsupportedCritical with the
// payload and offset; no input makes the parser panic.
package ikev2
