// Package fa is the Dynamics foreign agent (RFC 5944 section 3.7, with
// reverse tunnelling from RFC 3024, registration revocation from RFC 3543
// and the foreign agent hierarchy of docs/PROTOCOL.md); the command dynfad
// runs it.
//
// # Shape
//
// An Agent takes its sockets, kernel, clock and logger as values (Options):
// one link.Conn per visitor interface, on which it advertises and hears
// mobiles by hardware address, and one net.PacketConn on UDP port 434
// toward the home agents, the upper agent and the lower agents
// (ListenUpstream on a real host). Run starts one
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
//     API names ("bindings" for visitors, "pending", "tunnels" and of them
//     "tunnels.idle", "requests", "relayed", "accepted", "denied.<code>"
//     for the agent's own denials and the home agent's relayed down,
//     "replies", "timeouts", "discards.<reason>", "advertisements", ...);
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
// (Up: the upper foreign agent, or the home agent when there is none) and
// who is below it for the mobile (Down: the visitor interface, hardware
// address and port of the mobile, or the lower foreign agent's address and
// port and the agent's own address it sent to).
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
// # Hierarchy
//
// With HighestFAIPAddress set the agent is part of a tree of foreign agents
// (docs/PROTOCOL.md, "Foreign agent hierarchy"; DESIGN.md section 2). It
// needs its RSA key pair (Options.Key, LoadKeys); the highest agent names
// itself as HighestFAIPAddress, has no UpperFAIPAddress and may have no
// visitor link at all.
//
// Advertisements carry the highest agent's address as care-of address
// (Config.AdvertisedCareOf) and the FA Path extension: the agent's own
// address (its care-of address), its upper agent's and the highest agent's
// (the highest lists only itself). Requests must name that care-of address
// (else 77).
//
// Relaying up: a request from a mobile on a visitor link, or from a lower
// agent on the upstream socket, goes to UpperFAIPAddress, or from the
// highest agent to the home agent. The agent keeps the bytes up to and
// including the Mobile-Home authenticator and the hierarchy extensions
// (mip.IsHierarchyExtension: the FA Public Keys of the agents below) after
// it, and appends its own FA Public Key extension (its care-of address and
// public key); only the highest agent adds Revocation Support and the
// Foreign-Home authenticator. A lower agent is answered from the address it
// sent to (UpstreamConn tells it) and port 434, to its address and port.
//
// Replies down: a reply is matched as in a flat setup (from where the
// request went; the Foreign-Home authenticator is checked only on the home
// agent's own reply). An accepting one carries the agent's FA Session Key
// extension (found by its care-of address), which it decrypts with its
// private key (sessionkey.UnwrapForFA, label sessionkey.Label(home)); the
// binding is confirmed with that key, its SPI and the granted lifetime. A
// home agent's reply without a usable key for the agent still confirms the
// binding, without a session (moves then go up to the home agent); a
// switching agent's answer without one, or whose MN-GFA authenticator does
// not verify with it, is denied down with 68. The agent passes down the
// reply's bytes up to and including the mobile's authenticator (Mobile-Home,
// or the MN-GFA authenticator of a switching agent's answer) and, to a lower
// agent, the FA Session Key extensions after it that are not its own; the
// lowest agent sends the mobile only its part. Denials pass down unchanged.
//
// The tunnel chain: each agent's upward tunnel goes from its care-of
// address to where it relays (the upper agent, or at the highest the home
// agent), with a default route in table TableBase+ID; an agent whose way
// down for a visitor is a lower agent holds a tunnel from the address that
// agent sent to, to that agent, and a host route for the home address into
// it. Tunnels are reference-counted per pair of endpoints (tunnel.Table), so
// all visitors below one lower agent share one. Reverse tunnelling (T)
// follows the chain up: a rule at RulePriority from the home address
// arriving on the visitor interface, or from the lower agent's tunnel, to the
// upward tunnel's table.
//
// # Speed of a move
//
// A local move should interrupt the mobile's traffic for no longer than one
// round trip to the switching agent; making and deleting tunnel devices
// (the userspace data path's TUN devices take tens of milliseconds to go)
// and RSA private-key operations are kept off that path:
//
//   - An agent below the highest one makes its tunnel to the upper agent
//     when it starts (with ReverseTunnel or EnableFADecapsulation) and
//     holds it until it stops, so no registration waits for it.
//   - Tunnels to other foreign agents (the upper agent, lower agents)
//     linger TunnelLinger (default 60 s) after their last visitor left,
//     idle (tunnel.Table.ReleaseLinger): a mobile going back and forth
//     between two lower agents finds both tunnels at the switching agent,
//     and its move changes one host route and one rule there. Idle tunnels
//     are counted in Stats.IdleTunnels ("tunnels.idle") and removed when
//     their linger ends or the agent stops. Tunnels to home agents go with
//     their last visitor, as in a flat setup.
//   - An accepted registration (a reply from above, or the switching
//     agent's own answer) makes what the new way needs before the reply
//     goes down: the tunnels, the neighbour entry and host route, the
//     reverse tunnel rule. The mobile sends through the new way only once
//     it has the reply, and then finds it in place; this is why the agent
//     does not answer first and build afterwards. What the old way leaves
//     (its rule, its tunnel reference, a tunnel device to delete) is
//     removed after the reply left, and the old branch is revoked after
//     that.
//   - A lower agent that held a session key for the mobile (its binding's,
//     or the last one's, kept as long as that key's revocation state)
//     checks a switching agent's answer under the same SPI with that key
//     first: when the MN-GFA authenticator, which covers the FA Session Key
//     extensions, verifies with it, the key is the one the answer carries
//     and the RSA decryption (a millisecond or two) is not needed. A new
//     key is decrypted before the answer is believed, as before.
//   - An agent decrypts its key from a home agent's reply after it has
//     passed the reply down: the mobile's Mobile-Home authenticator does
//     not depend on it, and only later local moves need it. The binding
//     has it when the reply has been handled (or none, logged, when it
//     does not decrypt).
//
// The kernel (package nlkernel) writes its state file only when a
// neighbour, proxy or address entry or a sysctl changes; routes and rules
// cost one netlink message each.
//
// The switching agent: a request carrying an MN-GFA authenticator (36/3)
// under the session SPI of a confirmed binding the agent holds for the
// mobile, arriving by another way down than that binding's, is checked with
// the session key (HMAC-MD5). A wrong authenticator is denied with 67 down
// the new branch and changes nothing. When the identification is newer than
// the binding's, home agent, care-of address and flags are the binding's,
// the lifetime is not 0 and more than PendingTimeout of the binding is left,
// the agent answers itself: code 0, lifetime min(requested, remaining), the
// request's identification, an FA Session Key extension for each agent
// below on the new branch (wrapped with the public keys they appended), and
// the MN-GFA authenticator over it all. It moves its host route, reverse
// tunnel rule and downward tunnel to the new way down and revokes the old
// branch: a Registration Revocation (A bit set, home agent as home domain,
// the advertised care-of address as foreign domain) authenticated with a
// Foreign-Home authenticator made with the session key under the session
// SPI, sent to the old lower agent and retransmitted until acknowledged (at
// most 4 times, 1, 2 and 4 s apart). Any other request goes up; the home
// agent ignores the MN-GFA authenticator and makes a new session key. A
// request arriving by the binding's own way down also goes up: nothing
// moved below this agent, so an agent above decides.
//
// Revocations in the tree: an agent receiving a revocation from its upper
// agent believes it only with the Foreign-Home authenticator of the
// visitor's session key and SPI, and an identifier later than the last one
// accepted under that key (the replay state of a key is kept MaxLifetime
// after its last use); it removes the visitor and its state, acknowledges
// with the session key (again for a retransmission), and, when its way down
// is another agent, revokes it in turn. A home agent's revocation of a
// visitor below a lower agent is passed down the same way.
//
// Counters: Stats.LocalReplies (requests answered as switching agent),
// RevocationsSent and RevocationsPending (to lower agents), IdleTunnels
// (tunnels lingering without a visitor).
//
// # What is not implemented
//
// Mobile-Foreign authentication (code 67 is used only for a wrong MN-GFA
// authenticator). Authentication of the messages between foreign agents
// other than by IPsec (without IPSEC entries an agent below the highest
// believes its upper agent's replies, and the FA Session Key extensions in
// them are protected only by the agents' RSA keys). The revocation of a branch left
// behind by a move that an upper agent could not answer because it
// restarted: the old lower agent's entry lapses with its lifetime, or is
// replaced when the mobile comes back through it. NAI registration (RFC 2794)
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
// RegistrationRequired, EnableFADecapsulation, SECURITY and TunnelLinger
// apply at once or to the next request; PendingTimeout moves the deadlines of the requests
// already pending too. UpstreamInterface, CareOfAddress, INTERFACES, the
// hierarchy, TunnelMode, TunnelPrefix, StateFile, SyslogFacility, the
// control sockets, the IPsec labels and IPSEC keep their running values
// and are named in one warning, "needs a restart: ...".
//
// # Signalling protection
//
// With IPSEC entries (the IPsec labels and IPSEC section of package
// secure, embedded in Config) dynfad opens a secure.Guard before the agent
// runs and closes it after: Local is the care-of address (the upstream
// interface's), and the agent brings up and keeps the IKE SAs with the
// agents Config.UpstreamAgents names: its upper agent in a hierarchy,
// else the home agents among its single-address IPSEC peers (at the top
// of a hierarchy, those with a SECURITY entry: the agents below bring up
// their own SAs).
// Without entries Options.Protector is secure.Off.
//
// Every registration message is judged in the loop before it is acted on
// (protect.go): Protector.Check with its source and arrival interface (the
// visitor link's for frames; for upstream datagrams, IP_PKTINFO through
// UpstreamConn.ReadFromInfo, 0 from a socket that does not tell). A
// message from a peer whose signalling must come out of ESP (the home
// agent's reply or revocation, the upper agent's, a lower agent's request
// or acknowledgment) that came in clear is dropped without an answer or a
// change, counted as Discards.Unprotected (get_status
// "discards.unprotected") and logged at Debug naming the source, at most
// once a second. Agent Solicitations are not judged.
//
// Nothing is sent in clear to a peer that requires protection: a request
// relayed upward, a reply or revocation to a lower agent, or an
// acknowledgment, to a destination the protector is not Ready for, is not
// sent and is counted as Stats.SendsHeld ("sends.held"). A held request
// stays pending as one lost on the way (the mobile's retry is relayed once
// the SA is up; otherwise the timeout answers 78); a held revocation goes
// with its next retransmission. A reply to a mobile whose address the
// protector Requires is held too: frames on a visitor link never pass
// through ESP.
package fa
