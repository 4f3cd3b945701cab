// Package mip encodes and decodes Mobile IPv4 registration messages: the
// Registration Request (type 1) and Registration Reply (type 3) of RFC 5944
// sections 3.3 and 3.4, carried as the payload of UDP datagrams to and from
// port 434, with their extensions, authenticators and replay protection.
//
// # Messages
//
// Parse reads a UDP payload and returns a *Request or *Reply; ParseRequest
// and ParseReply read one kind. Marshal and AppendMarshal write the fixed
// part followed by the extensions in order. Addresses are netip.Addr and
// must be IPv4 (0.0.0.0 is a valid address on the wire, the zero Addr is
// not). Lifetimes are the wire's uint16 seconds; Infinite (0xffff) means no
// expiry and 0 asks for deregistration. Flags and reply codes are typed:
// Flags prints and parses the RFC's letters ("SBDMGrTx"), Code names every
// reply code of RFC 5944 and of reverse tunnelling, RFC 3024.
//
// # Extensions
//
// Extensions use the Type-Length-Value format of RFC 5944 section 1.10: a
// type octet, a length octet counting the data that follows, and the data.
// The package decodes the Mobile-Home (32), Mobile-Foreign (33),
// Foreign-Home (34) and Generalized (36) authentication extensions as
// *Auth, the Mobile Node NAI extension (131, RFC 2794) as *NAI and the
// Mobile Session Key as *MobileSessionKey. Any other type from 128 to 255
// is skippable and is kept as *RawExtension, so parsing and marshalling a
// message reproduces it byte for byte. A type from 0 to 127 that the
// package does not know makes the whole message invalid, as RFC 5944
// section 1.9 requires: parsing fails with an error wrapping
// ErrUnknownExtension that names the type. Chains that run past the end of
// the message and length octets that do not fit their type are errors; no
// input makes the parser panic.
//
// The Generalized Authentication extension of RFC 3012 (36) has a
// sub-type octet and a 16-bit length after its type; it parses as an *Auth
// with Subtype set. The package computes and checks its MN-GFA sub-type
// (SubtypeMNGFA, RFC 4857): Auth(TypeGeneralizedAuth), AppendAuth and
// VerifyRequest/VerifyReply with TypeGeneralizedAuth use the first 36/3
// extension and cover the bytes before it plus its type, sub-type, length
// and SPI. Other sub-types are parsed and kept but never verified.
//
// # Foreign agent hierarchy
//
// The hierarchy's own extensions (hierarchy.go, docs/PROTOCOL.md) are
// skippable experimental extensions (TypeExperimental, 255, RFC 4064)
// with a sub-type octet. The Mobile Session Key (sub-type 3) parses as
// *MobileSessionKey (FindMobileSessionKey). The FA Public Key (2) and FA
// Session Key (4) values are longer than one extension holds, so they
// travel as consecutive fragments that stay *RawExtension:
// AppendFAPublicKey and AppendFASessionKey write them, FAPublicKeys and
// FASessionKeys reassemble them in order of appearance (a broken sequence
// is left out and reported with ErrMalformed), IsHierarchyExtension tells
// a relaying agent which extensions to carry on. Any other type-255
// extension stays a *RawExtension.
//
// A parsed message remembers the bytes it was parsed from (Raw, and
// ExtensionBytes for each extension), so an agent can relay or check
// exactly what it received.
//
// # Authentication
//
// A SecurityAssociation names its SPI, algorithm and key. Two algorithms
// are offered per association: HMACMD5 (RFC 2104 HMAC with MD5), the
// default of RFC 5944, and KeyedMD5PrefixSuffix, MD5(key | data | key), the
// prefix+suffix mode of RFC 2002 that older deployments use. Both produce
// 16-byte authenticators. As RFC 5944 section 3.5.1 specifies, an
// authenticator covers the UDP payload from the message type up to and
// including the Type, Length and SPI of its own extension: the fixed part,
// every earlier extension whole, and the extension's own header.
// (*Request).Authenticate and (*Reply).Authenticate append one to a message
// value, AppendAuth to marshalled bytes an agent relays; VerifyRequest and
// VerifyReply check one on the received bytes, comparing in constant time.
//
// # Revocation
//
// RFC 3543 lets an agent end a binding early: the Registration Revocation
// (type 7, *Revocation) names the mobile node's home address, the home
// agent's (home domain) and foreign agent's (foreign domain) addresses and
// a 32-bit revocation identifier, a timestamp of the revoking agent's clock
// that only grows (NextRevocationID); the Revocation Acknowledgment (type
// 15, *RevocationAck) copies the home address and identifier. Both carry
// the Foreign-Home authenticator of the two agents' security association
// (Authenticate, VerifyRevocation, VerifyRevocationAck). Parse dispatches
// them by type octet like the registration messages. The Revocation Support
// extension (137, *RevocationSupport) announces that an agent takes part;
// being skippable, it parses as a *RawExtension, which FindRevocationSupport
// decodes. Reserved bits are kept as received, so parse then marshal is
// exact.
//
// # Replay protection
//
// RFC 5944 section 5.7 gives two ways of filling the 64-bit identification.
// With timestamps (the default) it is an NTP timestamp: seconds since 1900
// in the high 32 bits and the fraction in the low 32 (TimestampID). The
// home agent accepts it when it is within a window of its own clock
// (DefaultReplayWindow, 7 seconds) and later than the last one it accepted
// from the same mobile node; otherwise it denies with code 133, putting its
// own time in the high 32 bits of the reply's identification and copying
// the low 32, from which the mobile node computes its clock offset
// (Resync). With nonces, the high 32 bits are the home agent's nonce and the
// low 32 bits the mobile node's; every reply carries a fresh home-agent
// nonce for the next request. ReplayGuard keeps the home agent's per-mobile
// state. None of this reads a clock or opens a socket: callers pass the
// time in.
package mip
