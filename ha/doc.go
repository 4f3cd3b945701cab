// Package ha is the Dynamics home agent (RFC 5944 section 3.8), run by the
// command dynhad. It authenticates mobile nodes' registrations, keeps their
// mobility bindings, answers ARP for them on the home link while they are
// away and tunnels their traffic (IP-in-IP, RFC 2003) to their care-of
// addresses; it takes reverse-tunnelled traffic back (RFC 3024) and revokes
// a foreign agent's binding when the mobile node has left it (RFC 3543).
//
// # Shape
//
// An Agent takes its UDP socket on HAIPAddress port 434, the home link as a
// link.Conn, a kernel.Kernel, a binding.Clock and a *slog.Logger as values
// (Options), so tests run it over memnet and link.Hub with kernel.Fake and a
// manual clock. Run reads the socket and the link in one goroutine each,
// which parse and count what they drop, and runs one loop that owns the
// binding table, the tunnel table, the replay state, the pending
// revocations and the kernel entries. One timer is armed for the earliest
// of: binding expiry, the next gratuitous ARP, the next revocation
// retransmission, the next advertisement. Do runs a function in the loop
// (the control API and reloads enter that way) and Stats takes a snapshot
// of the counters there.
//
// # Throughput
//
// The agent is built to renew tens of thousands of bindings a second
// (docs/PERFORMANCE.md has the figures). ListenUDP opens its socket with
// SocketBuffer bytes of buffer, so that a burst waits in the socket rather
// than being dropped. Over a *net.UDPConn the reader takes RecvBatch
// datagrams per recvmmsg and hands the loop what it parsed of them at once
// (one wake-up per batch), and the loop queues what it sends (replies,
// revocations, acknowledgments) and writes the queue in one sendmmsg when
// no event is waiting, when it holds 64 datagrams, before an operation is
// answered and when the loop ends; any other net.PacketConn is read and
// written one datagram at a time. A renewal to the same care-of address
// touches neither the kernel nor the info log. Gratuitous ARPs wait in a
// heap ordered by when they fall due, so a burst of first registrations
// costs each event O(log n).
//
// # Signalling protection
//
// With IPSEC entries (the IPsec labels and IPSEC section of package
// secure, embedded in Config) dynhad opens a secure.Guard before the agent
// runs (Local HAIPAddress, Mobiles HomeNetPrefix, no peers to initiate:
// the foreign agents and mobiles bring up their SAs) and closes it after;
// without, Options.Protector is secure.Off. The UDP socket tells each
// datagram's arrival interface (IP_PKTINFO, asked at ListenUDP and New so
// that no datagram is read without it; over recvmmsg each message has its
// control buffer), and every registration message is judged in the loop
// before it is acted on (protect.go):
//
//   - Protector.Check(source, interface).Drop(): a configured IPsec peer,
//     or an address its SA uses now, sent it in clear;
//   - a request (well formed or not) whose home address the protector
//     Requires, that did not come out of ESP: a protected mobile node's
//     registration reaches the agent only from the mobile itself inside
//     its SA, or from a protected foreign agent.
//
// Either is dropped without an answer or a change, counted as
// Discards.Unprotected (get_status "discards.unprotected") and logged at
// Debug naming the source, at most once a second (the line says how many
// were suppressed). Agent Solicitations on the home link are not judged.
// Nothing is sent in clear to a peer that requires protection: a reply,
// revocation or acknowledgment to a destination the protector is not
// Ready for is not queued and is counted as Stats.SendsHeld ("sends.held");
// the binding a held reply granted stands, the mobile's retry is answered
// once the SA is up, and a held revocation goes out with its next
// retransmission. The IPsec labels and IPSEC need a restart to change.
//
// # Control API
//
// Agent is the backend of the control API's server (package api, served by
// dynhad on AdminSocket and MonitorSocket); every call runs in the loop
// through Do (api.go):
//
//   - get_status: agent "ha", version, the data path the kernel took
//     (netlink or userspace), the uptime of the process, and the counters
//     of Stats.Counters under their API names ("bindings", "tunnels",
//     "requests", "accepted", "denied.<code>", "replies",
//     "discards.<reason>", "advertisements", ...);
//   - get_tunnels and get_tunnel_info: one record per binding, the tunnel's
//     far end (Peer) being the care-of address and Iface its device;
//   - destroy_tunnel: the binding goes as an expiry would take it (route,
//     proxy ARP entry, tunnel reference), and the foreign agent holding it
//     is sent a revocation when it supports them; the mobile may register
//     again;
//   - enable_mobile: disabling removes the binding likewise and denies the
//     mobile's requests with 129 until it is enabled again, which restores
//     the configuration's authorisation;
//   - get_care_of_addr: the binding's care-of address.
//
// A home address without binding (or, for enable_mobile, not in
// AUTHORIZEDLIST) is api.NotAvailable; one that is not an IPv4 address,
// api.InvalidParams.
//
// # Registration
//
// A request is decided in this order, the first failing check giving the
// reply code:
//
//  1. It must parse. A datagram too short for the fixed part is dropped and
//     counted (Discards.Malformed); one with an unknown extension numbered
//     below 128 is dropped and counted (Discards.UnknownExtension, RFC 5944
//     section 1.9); one whose fixed part is whole but whose extensions are
//     not is answered with 134, poorly formed request.
//  2. Mobile-Home authentication (section 3.5.2) with the mobile node's
//     security association from AUTHORIZEDLIST: an unknown mobile node, or
//     a missing or wrong authenticator, gets 131 (logged as a warning; the
//     reply to an unknown mobile carries no Mobile-Home authenticator).
//  3. Foreign-Home authentication (section 3.5.4): a sender listed under
//     SECURITY must authenticate, and with RequireFAAuth so must every
//     foreign agent (a request is relayed when it comes neither from the
//     home address nor, with the D flag, from a co-located care-of
//     address); otherwise 132, foreign agent failed authentication.
//  4. A mobile node disabled through the control API (State.SetEnabled)
//     gets 129, administratively prohibited.
//  5. Identification (section 5.7): timestamps within ReplayWindow and later
//     than the last accepted, or the nonce the agent gave last; otherwise
//     133, with the agent's time (or a fresh nonce) in the reply's
//     identification so that the mobile node resynchronises.
//  6. The request must name HAIPAddress as home agent; otherwise 136, with
//     HAIPAddress in the reply.
//  7. A lifetime of 0, or the home address as care-of address, deregisters
//     (below). Otherwise the care-of address must be a unicast address
//     outside the home network (134), a new mobile node must fit in
//     MaxBindings (130), and M or G (minimal or GRE encapsulation) gets
//     139, requested encapsulation unavailable. T (reverse tunnelling) is
//     always accepted, so 137 and 138 are never sent; B is ignored.
//  8. The lifetime granted is the one asked for, at most MaxLifetime
//     (infinite included). The code is 0, or 1 when S asked for
//     simultaneous bindings: the agent keeps one binding per mobile node,
//     and a new registration replaces the old one.
//
// Registering makes or takes a reference to the tunnel from HAIPAddress to
// the care-of address (named TunnelPrefix and the tunnel's id: dynha1,
// dynha2...; shared by every mobile node behind one care-of address), a
// host route of the home address into it and a proxy ARP entry on the home
// interface. The first binding of a mobile node is announced with
// GratuitousARPs gratuitous ARPs, GratuitousARPInterval apart (section 4.6).
// A renewal to the same care-of address changes only the lifetime and
// identification. A move makes the new tunnel and route before the old
// tunnel is released; if the foreign agent left behind put the Revocation
// Support extension (137) in its request under a valid Foreign-Home
// authenticator, it is sent a Registration Revocation (RFC 3543, A bit set),
// retransmitted RevocationTries times at doubling intervals from
// RevocationInterval until acknowledged. A deregistration, expiry, or a
// revocation from the foreign agent (A bit clear, acknowledged) removes the
// route and proxy entry, then the binding's share of the tunnel; for a
// deregistration this happens before the reply is sent, so that a mobile
// node back home is answered directly. A kernel failure while registering
// is answered with 128 (130 when tunnel ids run out) and leaves nothing
// behind.
//
// # Hierarchy and session keys
//
// A request that climbed a hierarchy of foreign agents carries their FA
// Public Key extensions (docs/PROTOCOL.md, "Foreign agent hierarchy").
// The agent uses those after the Mobile-Home authenticator and, when the
// request has a valid Foreign-Home authenticator, only those it covers.
// When such a request is accepted (not on a denial or a deregistration),
// the agent makes a session key MD5(secret | 16 random bytes | secret)
// with SessionKeySecret (16 random bytes drawn at start when unset) and a
// random session SPI of 256 or more, and answers with the Mobile Session
// Key extension before the Mobile-Home authenticator (the key masked with
// the mobile-home key and the reply's identification, lifetime the
// granted lifetime) and, after it, one FA Session Key extension per agent,
// the key wrapped with RSA-OAEP for that agent's public key and the
// mobile's home address (sessionkey.WrapForFA, sessionkey.Label). A public
// key that does not parse, is not RSA or is below sessionkey.MinBits, and
// a broken fragment sequence, cost that agent its key (a warning, and
// Stats.FAKeysRejected); the mobile is registered all the same. Every
// full registration gets a new key. The MN-GFA authenticator (36/3) of a
// local move that reached the agent is ignored: the request is decided on
// its Mobile-Home authenticator like any other. The agent keeps no session
// key, only the SPI in the binding (Binding.SessionSPI); Stats.SessionKeys
// and Stats.FASessionKeys count what it issued. A request without FA
// Public Key extensions is a flat registration and gets no session key.
//
// Replies go to the request's source address and port, with a Mobile-Home
// authenticator, and, when the request carried a Foreign-Home authenticator
// from a sender the agent shares an association with, the Revocation
// Support extension (accepted registrations whose request had it) and a
// Foreign-Home authenticator. Every decision is one log line at Info (Debug
// for a renewal to the same care-of address that issues no session key,
// Warn for authentication failures, Error for kernel failures) with the
// keys home, coa, ha, fa (the sender), id and code; message detail is at
// Debug.
//
// # Reload
//
// Reload (dynhad's SIGHUP) applies a new configuration in the loop and
// keeps every binding it still allows (reload.go has the details): a
// mobile node added to AUTHORIZEDLIST may register at once; one removed
// loses its binding, route, proxy entry and tunnel reference (its foreign
// agent is sent a revocation) and is denied with 131 from then on; a
// changed security association applies to the next request. SECURITY,
// RequireFAAuth, MaxBindings, MaxLifetime and ReplayWindow apply to the
// next request, the advertisement settings at once. HAIPAddress,
// HomeNetPrefix, HomeInterface, TunnelMode, TunnelPrefix, StateFile,
// SyslogFacility, the control sockets, the IPsec labels and IPSEC keep
// their running values and are named in one warning, "needs a restart:
// ...". Whether the control API
// disabled a mobile node survives a reload.
//
// # Kernel state
//
// For its whole run the agent holds net.ipv4.ip_forward=1 (proxy ARP
// answers only for forwarded destinations), rp_filter=0 for all and
// default (tunnel devices inherit the default, so reverse-tunnelled packets
// from home addresses arriving on them are forwarded) and proxy_delay=0 on
// the home interface. When Run returns, every binding's entries are gone;
// the command then closes the kernel, which restores the sysctls.
//
// # Agent discovery on the home link
//
// Every AgentAdvInterval (and at once in answer to a solicitation, at most
// one per 100 ms) the agent sends an Agent Advertisement from HAIPAddress
// with IP TTL 1 to 224.0.0.1: code 16, HAIPAddress as router address with
// the "not a default router" preference, the H flag, the registration
// lifetime MaxLifetime, sequence numbers per discovery.NextSequence and the
// prefix length of HomeNetPrefix. A mobile node that hears it is at home.
//
// # Not implemented
//
// Simultaneous bindings (S) and broadcast forwarding (B); minimal and GRE
// encapsulation; dynamic home agent discovery (the socket is bound to
// HAIPAddress, so requests to a broadcast address do not reach the agent)
// and NAI-based home address assignment (RFC 2794); the Encapsulating Delivery Style extension
// of RFC 3024; the I bit of RFC 3543 (the agent never asks a foreign agent
// to inform the mobile node); keeping bindings across a restart.
package ha
