// Package esp is IPsec's Encapsulating Security Payload (RFC 4303) for the
// child SAs the IKE engine (package ike) negotiates: the packet processing
// of each SA, its UDP encapsulation (RFC 3948), and two Kernels that install
// SAs and policies, the Linux kernel's XFRM tables where the kernel has ESP
// and a userspace data path over a TUN device everywhere else.
//
// # Packets
//
// A Sealer seals the packets of an outbound SA and an Opener opens those of
// an inbound SA (RFC 4303 sections 3.3 and 3.4). Two algorithms, nothing
// weaker:
//
//   - AESGCM16: AES-GCM with a 16-octet ICV (RFC 4106). The keying material
//     of each SA is the key followed by a 4-octet salt (section 8.1); the
//     nonce is the salt and the 8-octet explicit IV, which is the 64-bit
//     sequence number (unique under a key, as section 3.1 requires, since
//     the sequence number never cycles); the AAD is the SPI and the 32-bit
//     sequence number (section 5). Padding aligns the trailer to 4 octets.
//   - AESCBCHMACSHA256: AES-CBC (RFC 3602) with a random 16-octet IV per
//     packet, then HMAC-SHA-256 truncated to 128 bits (RFC 4868) over the
//     header, IV and ciphertext. Padding fills the last 16-octet block.
//
// AlgorithmFor maps IKEv2 transform IDs to an Algorithm, KEYMATLen and
// SplitKEYMAT take a child SA's keys from its KEYMAT in the order of RFC
// 7296 section 2.17 (initiator to responder first, encryption key before
// integrity key).
//
// Padding is 1, 2, 3, ... (RFC 4303 section 2.4) and the receiver checks it
// and the Pad Length. Sequence numbers are 32 bits: extended sequence
// numbers are not offered (IKE proposes ESN "no" only). The first packet
// has sequence number 1; a Sealer that has used 2^32-1 refuses to seal with
// ErrSeqOverflow instead of cycling (section 3.3.3): the IKE engine must
// rekey before. The receiver runs the anti-replay window of section 3.4.3
// (default 64 packets, up to 4096): the sequence number is checked before
// the ICV, so a forged packet that could not be accepted costs no
// decryption, and the window moves only after the ICV verified; duplicates
// are ErrReplay and anything left of the window ErrTooOld.
//
// SealPacket and OpenPacket apply an SA's mode to IPv4 datagrams:
//
//   - Tunnel mode carries the whole datagram, Next Header 4. The receiver
//     requires Next Header 4 and a well-formed inner header and drops octets
//     past the inner total length (TFC padding, section 2.7).
//   - Transport mode carries the datagram's payload with its protocol as
//     Next Header and drops its header. The receiver rebuilds a header from
//     the SA's remote to its local address (TTL 64) and recomputes the TCP
//     or UDP checksum over it: with UDP encapsulation the sender's header
//     never travels and a NAT may have rewritten the addresses its checksum
//     covered, and RFC 3948 section 3.1.2 lets the receiver recompute since
//     the ICV already proved the payload intact. A UDP checksum of zero
//     stays zero; other protocols' checksums do not cover addresses.
//
// A dummy packet (Next Header 59, section 2.6) is ErrDummy, dropped without
// complaint.
//
// # UDP encapsulation
//
// On port 4500 IKE and ESP share one socket (RFC 3948 section 2): an IKE
// message follows four zero octets, the non-ESP marker, where an ESP packet
// has its non-zero SPI, and a single 0xFF octet is a NAT keepalive. Classify
// tells them apart. A Mux owns the socket: one goroutine reads it, hands
// IKE messages without the marker to the net.PacketConn that IKE returns
// (whose writes get the marker), hands ESP packets to the ESPHandler the
// userspace data path sets, and drops keepalives; SendKeepalive sends one.
//
// # Kernels
//
// The Kernel interface installs SAs and policies. An SA is keyed by
// direction, SPI and ReqID; a policy by direction and Selector. An outbound
// policy sends matching datagrams through the newest outbound SA of its
// ReqID, so a rekey adds the new SA pair and then deletes the old one.
// UpdateSA moves an SA to new addresses keeping its keys, sequence numbers
// and replay window, as a MOBIKE update needs (RFC 4555 section 3.5).
//
// XFRM installs states and policies in the kernel through netlink (an
// inbound tunnel-mode policy also gets its "fwd" twin) and removes them on
// Close. The kernel keys a state by destination and SPI, so UpdateSA reads
// the state's replay state back, deletes it and adds it at its new
// addresses with that state. Its replay window is the kernel's legacy one,
// at most 32 packets. UDP-encapsulated SAs need EnableUDPEncap on the port
// 4500 socket, after which the kernel passes that socket only IKE messages
// (still with the marker, which a Mux strips). ProbeXFRM adds and deletes a
// throw-away ESP state to learn whether the kernel has ESP at all; where it
// has not (no esp4 module) the error wraps kernel.ErrUnsupported.
//
// Userspace is the data path of kernels without ESP, in the style of
// strongSwan's kernel-libipsec. It takes UDP-encapsulated SAs only. It makes
// a TUN device (DefaultDevice, MTU DefaultMTU) in the network namespace of
// the thread that calls NewUserspace and steers traffic into it with policy
// routing: each outbound policy adds a rule (priority DefaultRulePriority)
// sending datagrams to its destination prefix, protocol and ports to table
// DefaultTable, where a route leads into the device, with the selector's
// source as preferred source when that is a single address configured on
// the host. Rules one priority earlier keep datagrams from the IKE port and
// the Mux's port on the main table, so IKE and ESP-in-UDP never loop into
// the device even when a selector covers the peer's own address. The
// routing rules cannot see a datagram's source before the kernel picks it,
// so the source prefix of a selector is applied by the data path: a
// datagram in the device that no outbound policy matches is dropped.
//
// Outbound, one goroutine reads the device, finds the most specific
// matching outbound policy (longer destination prefix, then longer source
// prefix, then protocol, then ports), seals the datagram with the newest SA
// of the policy's ReqID and sends it to the SA's remote address and port
// through the Mux bound to the SA's local address: a Userspace holds one
// Mux per local address (AddMux, RemoveMux), so after a MOBIKE move the
// SA's traffic leaves from the new address. Inbound, each Mux's reader
// finds the inbound SA by SPI
// alone (RFC 4303 section 2.1: the source address may change under a NAT),
// opens the packet, checks the datagram against the inbound policies of the
// SA's ReqID (RFC 4301 section 5.2) and writes it into the device. Stats
// counts both ways and every drop by reason; SAStats each SA's packets,
// replays and ICV failures.
//
// Both modes run through the device. A transport-mode policy between the
// hosts' own addresses (the Mobile IP signalling, UDP port 434, for one)
// routes those datagrams into the device like any other, and the receiver
// writes the rebuilt datagram into its device.
//
// The data path carries IPv4 only: the device has IPv6 disabled and loose
// reverse path filtering, since datagrams from a peer arrive on it whatever
// the route back to their source.
package esp
