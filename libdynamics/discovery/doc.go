// Package discovery encodes and decodes the ICMP messages of Mobile IPv4
// agent discovery: Agent Advertisements and Agent Solicitations, RFC 5944
// section 2, built on ICMP Router Discovery, RFC 1256.
//
// An Agent Advertisement is an ICMP Router Advertisement (type 9) followed by
// extensions: the Mobility Agent Advertisement extension (type 16) with the
// agent's sequence number, registration lifetime, flags and care-of
// addresses; the Prefix-Lengths extension (type 19); the One-byte Padding
// extension (type 0); and, from a foreign agent in a hierarchy, the FA Path
// extension (FAPath: the skippable experimental type 255 of RFC 4064 with
// sub-type 1) naming the advertising agent, its upper agent and the highest
// agent. An Agent Solicitation is an ICMP Router Solicitation (type 10).
//
// Parsing takes the ICMP message starting at its type byte, verifies the
// ICMP checksum and never panics on malformed input; errors wrap the
// package's sentinel errors. Marshalling always computes the checksum.
// Extensions the package does not know are kept as RawExtension, so parsing
// and marshalling again reproduces the input byte for byte. Validate applies
// RFC 5944's rule that an unknown extension numbered below 128 makes the
// whole advertisement unusable.
//
// The package opens no sockets and reads no clocks. NextSequence and
// Rebooted implement the sequence-number rule agents and mobile nodes use to
// detect that an agent restarted (RFC 5944 section 2.3.2).
package discovery
