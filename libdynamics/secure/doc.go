// Package secure protects the agents' registration signalling with IPsec:
// IKEv2 SAs (package ike) with the configured peers, whose transport-mode
// child SAs carry UDP port 434 in ESP (package esp), and which follow the
// mobile node's address changes with MOBIKE-X
// (draft-mglt-ipsec-mm-mobikex-00).
//
// An agent asks two things of it, through Protector: whether a datagram
// it received may be accepted (Check: a configured peer's signalling must
// have come out of an ESP SA), and whether a datagram may be sent now
// (Ready: never in clear to a peer that requires protection). The mobile
// node also moves its SAs when its own address changes (Mover). Agents
// without IPsec configured use Off.
//
// # Configuration
//
// Config is the part of every daemon's configuration file that concerns
// IPsec (the IPsec* labels and the IPSEC section; docs/CONFIGURATION.md,
// "Signalling protection (IPsec)"). Each IPSEC entry is a peer address or
// prefix, the identity it must prove and its pre-shared key. The identity
// "-" is the peer's address on a single address, and on a prefix any
// identity the key (or a certificate the CA signed) proves; one prefix at
// most may leave it open. Validate checks a Config (labels, PEM files,
// entries) and reports each problem as a *ConfigError naming the label or
// the IPSEC line; ValidateFile turns them into *config.Error values with
// the file and line, as the daemons report their own.
//
// # Guard
//
// Open validates, binds UDP ports 500 and 4500 on the agent's signalling
// address (Options.Local, and Options.Addresses: an upper foreign agent's
// addresses on the links of the agents below it, which HostAddresses
// lists; port 4500 through an esp.Mux shared by IKE and ESP), opens the ESP data path of IPsecESP (auto: XFRM where
// esp.ProbeXFRM finds ESP in the kernel, else the userspace path over the
// TUN device IPsecDevice, with UDP encapsulation forced) and starts an IKE
// engine with MOBIKE, MOBIKE-X (IPsecMOBIKEX) and liveness checks. Each
// IPSEC entry is one ike.Peer in transport mode whose selectors depend on
// the role (the same on every agent, so both ends agree):
//
//   - the side that brings the SAs up (the mobile node to its home agent, a
//     foreign agent to its upstream agent; Options.Initiate, each with an
//     IPSEC line of its own): local (own address, UDP, any port), remote
//     (the peer, UDP, port 434). The local selector is the IKE SA's
//     address, which the responder narrows to UDP, so SAs brought up again
//     after a move name the address the host has then;
//   - the responder: local (own addresses, UDP, port 434), remote (the
//     entry's prefix, UDP, any port), or anywhere for an entry inside
//     Options.Mobiles (the home agent's mobiles, whose SAs move with
//     them). MOBIKE-X lets a peer move or add addresses only inside its
//     entry's prefix (ike.Peer.Addresses), a mobile anywhere.
//
// Requests go to port 434 and replies and revocations come from it, so
// every Mobile IP message between two peers matches. The home agent never
// initiates.
//
// For each Initiate peer a keeper brings the SAs up at once and keeps
// them up: after a failure it tries again after MinRetry, doubling up to
// MaxRetry; when the SA goes (deleted, the peer dead after unanswered
// retransmissions or liveness checks) it brings it up again; an IKE SA
// without a child SA gets one with CREATE_CHILD_SA rather than a new IKE
// SA. Ready for such a peer whose SAs are not up wakes the keeper, so the
// attempt runs now instead of after its backoff.
//
// # Verdicts
//
// Check, Requires and Ready read a snapshot through an atomic pointer and
// take no lock. The snapshot is rebuilt by a wrapper around the
// esp.Kernel the engine installs through, after every policy change that
// succeeded: the source prefixes of the inbound transport-mode policies
// (where protected peers send from now, a mobile's care-of address
// included) and the destination prefixes of the outbound policies (where
// a datagram leaves in ESP). A source is Required when it lies in an IPSEC
// entry or in an inbound policy's source. A datagram is Protected when it
// arrived on the userspace data path's TUN device (the agents read the
// arrival interface with IP_PKTINFO), which only ever writes datagrams an
// SA opened and an inbound policy admitted; with XFRM, when an inbound
// policy covers its source, since the kernel drops what such a policy
// covers and no SA carried. Ready is true when the destination needs no
// protection or an outbound policy covers it.
//
// # Mobility
//
// MoveTo opens the sockets on the new address, moves every IKE SA on the
// old one with ike UpdateAddress (one UPDATE_SA_ADDRESSES with OLD_IP and
// NEW_IP: the IKE SA, its child SAs and their transport selectors and
// policies move on both sides) and closes the old address's sockets once
// no SA uses them. A peer that speaks only RFC 4555 MOBIKE cannot move
// transport-mode SAs: MoveTo then deletes the SA and brings up a new one
// from the new address before it returns (one more IKE_SA_INIT; the
// keeper waits meanwhile, so it does not bring one up from the old
// address); an SA the peer brought up stays, with an error wrapping
// ike.ErrNoMOBIKEX. With no SA yet with an Initiate peer (a mobile node
// started away from home, whose attempts from its home address go
// unanswered), MoveTo gives up the keeper's attempt, closes the old
// address's sockets and brings the SAs up from the new address before it
// returns; after any move, SAs brought up again start from the address
// moved to. MoveAhead (the mobile coming home) moves with ike
// UpdateAddressAhead and returns without the peer's answer, which cannot
// reach the host before the registration it sends next: after 50 ms, the
// time for the peer to apply the move before that registration follows
// in ESP. The old address's sockets stay until the answer; a refusal
// moves the SAs back there.
// AddAddress offers a second interface's address to every SA
// (ADD_SA_ADDRESS; SAs brought up later are offered it too) and
// RemoveAddress withdraws it (REMOVE_SA_ADDRESS: SAs on it move to
// another of their addresses, SAs left with none close).
//
// Sockets, the TUN device and its routes are made in the network namespace
// of the thread that calls Open, MoveTo or AddAddress: the agent's. Close
// deletes the IKE SAs (within two seconds), stops the engine (which removes
// the child SAs and policies), closes the sockets and the data path (the
// device, its rules and routes, or the XFRM states and policies).
//
// tools/dynike opens its sockets and data path with the same functions
// (OpenEndpoint, ResolveESP, OpenESP, ReadCertificates, ReadKey,
// ReadCertPool).
package secure
