// Package ike is the IKEv2 engine of the suite (RFC 7296): it negotiates
// IKE SAs and the ESP child SAs that protect the agents' signalling, keeps
// them alive across address changes with MOBIKE (RFC 4555), and traverses
// NATs (RFC 7296 section 2.23, RFC 3948). Messages are encoded by package
// ikev2, protected and keyed by package ikev2/ikecrypto, and child SAs are
// installed through an esp.Kernel (XFRM or the userspace data path).
//
// # Shape
//
// An Engine takes its sockets as net.PacketConn values (Socket: one on port
// 500 and, through an esp.Mux, one on port 4500 per local address, each
// bound to its address), an esp.Kernel, a Clock and a logger. One goroutine
// per socket reads and parses; one loop owns every IKE SA, its timers and
// the ESP state. Operations (Initiate, CreateChild, RekeyChild, RekeyIKE,
// DeleteChild, Delete, Liveness, Move, UpdateAddress, UpdateAddressAhead,
// AddAddress, RemoveAddress, Exchange, SetMOBIKEVersion, AddSocket,
// RemoveSocket) enter the loop and wait for the exchange they start; Do runs a function in the loop
// with the State view (SAs, Stats). Tests run two engines over
// internal/memnet with a fake esp.Kernel that seals and opens ESP through
// the engines' Muxes.
//
// When the esp.Kernel is an esp.Userspace (it has AddMux and RemoveMux),
// the engine gives it the Mux of each socket it gets (New, AddSocket) and
// takes back those RemoveSocket removes: each child SA's ESP then leaves
// through the Mux bound to its IKE SA's local address, so after a MOBIKE
// move the data path follows the IKE SA to the new address.
//
// # Exchanges
//
//   - IKE_SA_INIT (section 1.2): SA, KE, Nonce and NAT_DETECTION_*; the
//     initiator retries with the group an INVALID_KE_PAYLOAD names, and
//     with the COOKIE a responder asks for once its half-open SAs reach
//     Config.CookieThreshold (section 2.6, stateless cookies of ikecrypto).
//     Half-open SAs are dropped after Config.HalfOpenTimeout.
//   - IKE_AUTH (sections 1.2, 2.15): PSK (Shared Key MIC) or certificates
//     with RFC 7427 digital signatures (RSA, ECDSA; the RFC 7296/4754
//     methods for peers without SIGNATURE_HASH_ALGORITHMS). The initiator
//     verifies the responder's AUTH before it installs anything; a failure
//     on either side is AUTHENTICATION_FAILED and leaves nothing behind
//     (section 2.21.2). The first child SA rides along; if it is refused
//     (NO_PROPOSAL_CHOSEN, TS_UNACCEPTABLE) the IKE SA stays up.
//   - CREATE_CHILD_SA (sections 1.3, 2.17, 2.18): new child SAs, with PFS
//     when the ESP proposal names a group; child rekeys (REKEY_SA; the new
//     child keeps the request id, so policies stay, and the rekeying side
//     deletes the old one); IKE rekeys (the children move to the new IKE
//     SA, whose keys come from the old SK_d). A peer's REKEY_SA right after
//     a MOBIKE update is answered like any other.
//   - INFORMATIONAL (section 1.4): deletes of child and IKE SAs, liveness
//     checks (empty requests, also on a Config.Liveness timer), and the
//     MOBIKE notifications.
//
// Message IDs follow section 2.3 with a window of one each way: one
// request outstanding, more queued; the peer's requests answered in order,
// a retransmitted one from the cached response (after its integrity is
// checked), anything else dropped. Requests are retransmitted after
// Config.Retransmit, doubling each time, Config.RetransmitTries times, and
// then the peer is declared dead and the IKE SA and its child SAs removed
// (section 2.4). Lifetimes (IKELifetime, ChildLifetime) rekey what this side
// initiated.
//
// # NAT traversal
//
// Both sides send NAT_DETECTION_SOURCE_IP and _DESTINATION_IP; a mismatch
// means a NAT before one side. The initiator then floats IKE to port 4500
// at IKE_AUTH (the Mux adds and strips the non-ESP marker), as it also does
// when MOBIKE is on or Config.ForceEncap claims a NAT (the userspace ESP
// path and strongSwan's kernel-libipsec need UDP encapsulation). Child SAs
// negotiated over port 4500 are UDP-encapsulated (RFC 3948), and a side
// behind a NAT sends a keepalive every Config.Keepalive.
//
// # MOBIKE
//
// MOBIKE_SUPPORTED is exchanged in IKE_AUTH, with NO_ADDITIONAL_ADDRESSES
// or ADDITIONAL_IP4/6_ADDRESS. Move (original initiator only, RFC 4555
// section 3.1) probes the path with an empty INFORMATIONAL from the new
// address, then sends UPDATE_SA_ADDRESSES with NAT detection, COOKIE2 and
// the address list (and NO_NATS_ALLOWED with Config.NoNATs) from it; the SA
// and its child SAs move when the answer echoes the COOKIE2. The responder
// moves the IKE SA to the update's source at once, answers with NAT
// detection and the COOKIE2, and moves the child SAs only after a return
// routability check (an INFORMATIONAL with its own COOKIE2) to the new
// address succeeds (section 3.7). A NO_NATS_ALLOWED that the addresses
// contradict is answered with UNEXPECTED_NAT_DETECTED and changes nothing.
//
// # MOBIKE-X
//
// With Config.MOBIKEX (draft-mglt-ipsec-mm-mobikex-00, as package mobikex
// fixes it) the IKE_AUTH request's MOBIKE_SUPPORTED carries VERSION 2
// (critical with RequireMOBIKEX) and VERSION 1; a MOBIKE-only engine sends
// it empty, as RFC 4555. The responder answers the highest common version
// (an empty offer, from an RFC 4555 peer such as strongSwan, is answered
// empty), or MOBIKE_UNSUPPORTED_VERSION listing its versions when a
// critical one is unknown to it or none is common, and the SA then has no
// mobility. The initiator reads an empty answer as version 1, and keeps
// version 1 with a warning when it required 2. SAInfo.MOBIKEVersion is the
// result (MOBIKE is version >= 1). SetMOBIKEVersion, and a peer's
// INFORMATIONAL MOBIKE_UNSUPPORTED_VERSION, lower it later (a lone NONE
// switches mobility off); it never goes up. With version 1 the MOBIKE-X
// notifications are unknown status types and ignored.
//
// On an SA with version 2 the responder runs the request's payloads
// through mobikex.Machine in order; payloads outside any set (Delete,
// COOKIE2, NAT detection, an empty RFC 4555 UPDATE_SA_ADDRESSES) are
// handled as before. Each complete set is validated against the SAs, first
// error wins: the selection reaches no SA -> UNMATCHED_SELECTOR_SET (a set
// selects the default, this IKE SA and its child SAs; or the SAs its SPI
// parameters name; or the child SAs whose mode, protocol and selectors
// (local or remote) match; always among the IKE SAs authenticated with the
// same peer identity: another identity's SPIs are unknown); an UPDATE
// without one OLD_IP and one NEW_IP of a family, on one side ->
// UNACCEPTABLE_PARAMETER; an unspecified, multicast, broadcast or loopback
// address, one of another family than the SA, an old or removed address
// that is not one of every selected SA's, an address of this side (H) it
// has no socket on, or a new address of the IKE SA's peer that is not the
// request's source -> UNACCEPTABLE_ADDRESS; a new or added peer address
// outside Peer.Addresses, or transport selectors no longer within the
// configured LocalTS/RemoteTS -> DOES_NOT_FIT_SPD. A valid set is applied
// whole (a CHECK set is only answered); sets apply in order and a failed
// one leaves the others. The answer carries each failed set's error with
// its ID (and the offending IP parameter), CLOSING_SA for SAs whose last
// address went, the COOKIE2 echo, and NAT detection when the IKE SA moved.
//
// What a set does to each selected SA, on the side each IP parameter names
// (the sender's, or with H the receiver's): UPDATE replaces OLD_IP (the
// address in use or an added one) by NEW_IP; ADD appends an alternative
// (with its Multihoming Information); REMOVE drops one, and removing the
// address in use moves the SA to the best remaining one (the request's
// source for the IKE SA's peer when it is one, else the highest
// preference, the earliest added on ties); removing the last one closes
// the SA (a closing IKE SA takes its children), after the answer, without
// a Delete exchange. ADDITIONAL_IP_ADDRESS records the peer's later
// addresses (SAInfo.PeerAddresses). A transport-mode child SA's
// single-host selectors follow: OLD_IP's become NEW_IP's, an added address
// gets copies of the address in use's, a removed one loses its own, and
// its ESP policies are replaced to match (deleted and added where the key
// changes, updated in place where it stays). Each child SA has its own
// outer addresses (ChildInfo.Local, Remote, PeerAddresses), which
// esp.Kernel.UpdateSA gives its ESP SAs. The IKE SA moves to the request's
// source at once; a child SA moves at once when its new peer address is
// the request's source, else after a return routability check to it (RFC
// 4555 section 3.7).
//
// Either side may send sets: Exchange sends any sets in one INFORMATIONAL
// (NAT detection and COOKIE2 first) and returns one mobikex.Result per
// set; UpdateAddress (one UPDATE in a default set; with version 1 it is
// Move, which cannot move a transport-mode child SA's selectors and
// refuses with ErrNoMOBIKEX), AddAddress and RemoveAddress (ErrClosing
// when the peer closed the SAs) are its usual cases. A request that moves
// this side's address of the IKE SA leaves from the new address (a socket
// there must exist). The requester applies each set the peer accepted to
// its own SAs in the same way, and closes what CLOSING_SA names.
// UpdateAddressAhead is the update for a host that cannot hear the answer
// before it has moved (a mobile node coming home, whose home agent tunnels
// the home address away until the deregistration): this side's SAs move
// as the request leaves and it returns then; the exchange goes on from
// the new address, a refusal moves this side back (or, without a socket
// on the old address, deletes the SA), and no answer closes the SA as a
// dead peer. An update of an SA with a request outstanding sends that
// request again at once from the new address (RFC 4555 section 3.5).
// Multihoming Information's Start, Lifetime, Class and Reachability are
// kept but not acted on: only the preference orders the alternatives.
//
// # Logging and decryption
//
// Exchanges are logged at debug level with their payloads; established
// SAs, child SAs, moves and failures at info or warning. Each IKE SA's keys
// are logged at debug level and, with Options.KeyLog, written as entries of
// Wireshark's IKEv2 decryption table (DecryptionTableEntry), so tshark can
// decrypt captures: `tshark -o "uat:ikev2_decryption_table:ENTRY"`.
//
// Not done: IKE fragmentation (RFC 7383), EAP, configuration payloads,
// simultaneous rekey collision handling (section 2.8.1), windows larger
// than one.
package ike
