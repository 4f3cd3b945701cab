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
// DeleteChild, Delete, Liveness, Move, AddSocket, RemoveSocket) enter the
// loop and wait for the exchange they start; Do runs a function in the loop
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
