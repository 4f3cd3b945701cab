// Package fa is the Dynamics foreign agent (RFC 5944 section 3.7, with
// reverse tunnelling from RFC 3024 and registration revocation from RFC
// 3543); the command dynfad runs it.
//
// # Shape
//
// An Agent takes its sockets, kernel, clock and logger as values (Options):
// one link.Conn per visitor interface, on which it advertises and hears
// mobiles by hardware address, and one net.PacketConn on UDP port 434
// toward the home agents (ListenUpstream on a real host). Run starts one
// reader goroutine per socket, which parses and hands events to the loop,
// counting what it drops, and runs the loop, which alone owns the visitor
// table (a binding.Table, with the per-visitor link details beside it), the
// pending requests, the tunnel table, the timers and the kernel state. A
// single timer is armed for the earliest of the next advertisement, the
// oldest pending request's deadline and the first visitor expiry. Do runs a
// function in the loop (the control API and reloads enter that way); Stats
// takes a snapshot of the counters through it.
//
// # Control API
//
// Agent is the backend of the control API's server (package api, served by
// dynfad on AdminSocket and MonitorSocket); every call runs in the loop
// through Do (api.go):
//
//   - get_status: agent "fa", version, the data path the kernel took, the
//     uptime of the process, and the counters of Stats.Counters under their
//     API names ("bindings" for visitors, "pending", "tunnels", "requests",
//     "relayed", "accepted", "denied.<code>" for the agent's own denials and
//     the home agent's relayed down, "replies", "timeouts",
//     "discards.<reason>", "advertisements", ...);
//   - get_tunnels and get_tunnel_info: one record per visitor (State
//     "registered", or "renewing" while a newer request waits) and one per
//     mobile whose first request waits ("pending", Lifetime the one asked
//     for, Remaining the time before code 78); Peer is the home agent,
//     Lower the mobile, Link the visitor interface, Iface the tunnel;
//   - destroy_tunnel: the visitor goes as a deregistration would take it
//     (neighbour entry, host route, reverse-tunnel rule, tunnel reference)
//     and its requests still waiting are forgotten, so late replies are
//     discarded as unmatched; the home agent is not told.
//
// A mobile the agent neither serves nor registers is api.NotAvailable.
//
// # States of a mobile
//
//	            request relayed             reply accepts
//	Unknown ----------------------> Pending ---------------> Registered
//	   ^                              |                       |    ^
//	   |    reply denies, timeout (78)|     request relayed   |    | reply accepts (update),
//	   +------------------------------+                       v    | denies or times out (keep)
//	   |                                                    Renewing
//	   |  deregistration accepted, lifetime expired,           |
//	   +--- revocation (from Registered or Renewing) ----------+
//
// Pending requests are keyed by home address and the low 32 bits of the
// identification, which every reply copies. A mobile may have several in
// flight; only the newest is answered with 78 when its PendingTimeout
// passes, the older ones having been given up by the mobile. The confirmed
// visitor entry of a Renewing mobile stays until the new reply decides.
//
// Each pending request and visitor records where the agent relays upward
// (Up: the home agent) and who is below it for the mobile (Down: the visitor
// interface, hardware address and port of the mobile), so that a later
// hierarchy can relay to an upper foreign agent and serve lower ones.
//
// # What is implemented
//
// Advertisements (RFC 5944 section 2): on each visitor interface every
// AgentAdvInterval and at once on a solicitation, to 224.0.0.1 with TTL 1
// from the interface's address; ICMP code 0 (the agent turns IP forwarding
// on and routes ordinary traffic), the interface address as router address
// with a Prefix-Lengths extension, and a Mobility Agent extension with the
// sequence number rule of discovery.NextSequence, MaxLifetime as
// registration lifetime, the care-of address and the flags F, X (revocation
// is supported), T with ReverseTunnel, R with RegistrationRequired and B
// while MaxVisitors mobiles are registered. Never H, M, G, U or I.
//
// Requests (section 3.7.2): read from the visitor link's frames addressed to
// the agent's address, the link's broadcast or the agent groups; the
// mobile's hardware address is learnt there. The agent denies with 70 a
// request whose fixed part parses but whose extensions do not (or that has
// no usable home or home agent address), 77 when the care-of address is
// not its own (unless D is set), 72 for M or G, 74 for T without
// ReverseTunnel, 69 (with MaxLifetime in the reply) for a longer lifetime,
// and 66 for a new mobile once MaxVisitors are registered or registering.
// A request with an unknown extension below 128 is dropped and counted.
// Accepted requests are relayed to the home agent as the mobile sent them up
// to and including the Mobile-Home authenticator (what follows it was for
// the agent), followed, when a SECURITY entry names the home agent, by the
// Revocation Support extension (RFC 3543) and a Foreign-Home authenticator.
//
// Replies (section 3.7.3): matched to the pending request and to the
// address it went to; with a security association, a missing or wrong
// Foreign-Home authenticator drops the reply and denies the mobile with 68
// (home agent failed authentication). The reply reaches the mobile as the
// home agent sent it up to the Mobile-Home authenticator, from the
// agent's interface address and port 434 to the home address and the
// mobile's port, by its hardware address. An accepted registration makes
// or updates the visitor entry and its kernel state:
//
//   - a permanent neighbour entry for the home address with the mobile's
//     hardware address, and a host route to it on the visitor interface;
//   - with EnableFADecapsulation or T, a reference to the tunnel from the
//     care-of address to the home agent (tunnel.Table: one device per home
//     agent, shared by its visitors, removed with the last), with a
//     default route in routing table TableBase+ID and rp_filter off on it;
//   - with T, a rule at RulePriority from the home address arriving on the
//     visitor interface to that table: the reverse tunnel.
//
// Run also keeps net.ipv4.ip_forward on and rp_filter off on the visitor
// interfaces (kernel.Sync at start). An accepted deregistration, the end of
// the lifetime, or a revocation removes the visitor's entries and releases
// its tunnel reference; so does the end of Run for every visitor.
//
// Revocation (RFC 3543): a Registration Revocation from a home agent with
// the A bit, a valid Foreign-Home authenticator and an identifier later than
// the last one accepted (and not earlier than the home agent's timestamp in
// its last Revocation Support extension) removes the visitor at once and is
// answered with a Revocation Acknowledgment without the I bit; a
// retransmission of the last one is acknowledged again.
//
// # What is not implemented
//
// The hierarchy (UpperFAIPAddress and HighestFAIPAddress are logged and
// ignored; requests arriving upstream are counted as unexpected). Mobile-
// Foreign authentication, and with it code 67. NAI registration (RFC 2794)
// and dynamic home agent discovery (denied with 70). Codes 80-88 from ICMP
// errors, 75, 76 and 79. The rate limit of one denial per second per
// mobile. Revocations sent by the agent itself, and informing mobiles of
// revocations (the I bit), also after destroy_tunnel. Minimal and GRE
// encapsulation, UDP tunnelling (RFC 3519).
//
// # Logging and reload
//
// Every registration decision the mobile hears of (the agent's own denial,
// the home agent's reply relayed, a timeout) is one Info line with the keys
// home, coa, ha, id, code and iface.
//
// Reload (dynfad's SIGHUP) applies a new configuration in the loop and
// keeps every visitor and pending request (reload.go has the details): the
// advertisement settings, MaxLifetime, MaxVisitors, ReverseTunnel,
// RegistrationRequired, EnableFADecapsulation and SECURITY apply at once or
// to the next request; PendingTimeout moves the deadlines of the requests
// already pending too. UpstreamInterface, CareOfAddress, INTERFACES, the
// hierarchy, TunnelMode, TunnelPrefix, StateFile, SyslogFacility and the
// control sockets keep their running values and are named in one warning,
// "needs a restart: ...".
package fa
