// Package mn is the Dynamics mobile node (RFC 5944): it keeps its home
// address reachable while it moves between its home link, foreign agents'
// links and networks without an agent. The command dynmnd (mn/cmd/dynmnd)
// runs it; docs/CONFIGURATION.md describes dynmnd.conf.
//
// # Shape
//
// A Node takes its sockets, kernel, clock and logger as values (Options):
// a link.Conn on the roaming interface, for advertisements in and
// solicitations and requests to foreign agents out; a UDP socket bound to
// 0.0.0.0:434, on which every reply arrives and from which requests to the
// home agent leave; a kernel.Kernel; an ARP Prober for co-located gateways.
// Run starts one goroutine per socket, which parses and hands events to the
// loop (what does not parse is counted there), and runs the loop, which
// owns the state (Loop), the timers and the kernel entries. Do runs a
// function in the loop; Status and Stats are snapshots taken through it.
//
// # State machine
//
// See State for the diagram. Briefly: the mobile solicits until it hears an
// agent. Its own home agent's advertisement (H from HAIPAddress), or any
// advertisement of HomeNetPrefix, means home: the home routes are
// installed, a gratuitous ARP claims the home address and a deregistration
// (lifetime 0, care-of address the home address) goes straight to the home
// agent, retransmitted until answered or MaxRetryCount is used up. A
// foreign agent's advertisement leads to a request through it; when no
// agent answers three solicitations, the COLOCATED entries are tried: the
// address is configured and the gateway ARP-probed from it, and the first
// that answers is registered straight with the home agent (D, and T in full
// mode). Accepted registrations are renewed at 80% of the lifetime granted
// (earlier for short ones); requests are retransmitted with exponential
// backoff from RetryInterval to MaxRetryInterval, and after MaxRetryCount
// retransmissions or denials the agent or address is held down for
// 4*MaxRetryInterval while the mobile looks for another.
//
// # Connect, disconnect, confirm
//
// The blocking calls of the Dynamics control API are methods of Node that
// enter the loop as operations (connect.go): Disconnect deregisters from
// away and leaves the node Disconnected, where it only listens to
// advertisements (StartDisconnected starts it there); Connect leaves
// Disconnected and waits until the node is registered or home; Confirm
// sends a fresh request and waits for its reply. One Connect or Confirm
// at a time (ErrInProgress); Disconnect cancels it (ErrCancelled); a
// denial ending Confirm is a *DeniedError.
//
// # Control API
//
// Node is the backend of the control API's server (package api, served by
// dynmnd on AdminSocket and MonitorSocket); every call runs in the loop
// through Do (api.go). connect, confirm and disconnect are the blocking
// calls above; their errors are the API's return values: in progress (-9),
// cancelled (-10), denied (-4, "registration denied: code N (...)"), and
// not available (-2) for a confirm while disconnected. The others:
//
//   - get_status: agent "mn", version, data path, uptime of the process;
//     State "Connected" (registered), "Registering", "Searching" (no
//     agent), "At home", "Deregistering", "Disconnecting",
//     "Disconnected" or "Starting"; the home, care-of, foreign agent and
//     home agent addresses, the lifetime granted and what remains of it,
//     the tunneling mode, the interface, and the counters of
//     Stats.Counters ("requests", "replies", "accepted", "denied.<code>",
//     "solicitations", "advertisements" heard, "moves",
//     "discards.<reason>", "sends.held", "ipsec.<what>", ...);
//   - get_care_of_addr: the care-of address of the registration in force
//     (api.NotAvailable when not registered away from home);
//   - get_tunneling_mode and set_tunneling_mode: the mode changes at once;
//     the kernel follows before the call returns, and a node registered
//     away from home registers again so that its request's T flag matches;
//   - update_location: a solicitation and a fresh request where the node
//     is (at home, a deregistration); while searching, a solicitation now;
//   - home_update: the node takes itself to be at home (its home agent's
//     last advertisement, or the home agent on trust for the hold-down
//     time) and deregisters.
//
// update_location and home_update are api.NotPermitted while the node is
// disconnected.
//
// # What the mobile puts in the kernel
//
// At home: HomeNetPrefix on the interface and the default route through
// HomeGateway, from the home address (configured as a /32 by the
// operator). Away from home: arp_ignore 2 on the interface, so that it does
// not answer ARP for the home address. At a foreign agent: a permanent neighbour entry for the agent
// from its advertisement, a host route to it and, once registered (unless
// TunnelingMode is none), the default route through it. Co-located: the
// care-of address, arp_announce 2, a host route to the home agent through
// the gateway from the care-of address, the tunnel to the home agent
// (Config.TunnelName) that decapsulates what the home agent sends, and once
// registered, in full mode, the rule ReverseTunnelPriority from the home
// address to ReverseTunnelTable plus default routes into the tunnel, or in
// triangle mode the default route through the gateway. Registration
// traffic leaves from the care-of address and is not caught by the rule.
//
// # Foreign agent hierarchy
//
// Foreign agents in a hierarchy advertise the highest agent's address as
// care-of address, with the FA Path extension (the advertising agent, its
// upper agent, the highest agent), which the mobile logs and shows in
// Status.FAPath (docs/PROTOCOL.md, "Foreign agent hierarchy"). An accepted
// full registration whose reply carries the Mobile Session Key extension
// under the Mobile-Home authenticator gives the mobile a session key
// (sessionkey.FromMobile with its mobile-home key and the reply's
// identification) and SPI, valid for the extension's lifetime, for that
// care-of address (Status.SessionSPI, Status.SessionExpiry). A reply
// without one ends the session, as does any deregistration.
//
// Moving to another foreign agent (by prefix or advertisement lifetime,
// as above) that advertises the same care-of address, while the session
// key is valid, is a local move: the request (same home agent, care-of
// address and flags) carries the MN-GFA authenticator (RFC 4857, type 36
// sub-type 3: HMAC-MD5 with the session key under the session SPI over
// the bytes before it) just before the Mobile-Home authenticator. Its
// reply is accepted when it carries a valid MN-GFA authenticator made
// with the session key and no Mobile-Home one (the switching agent
// answered; the session key stays), or a valid Mobile-Home authenticator
// (the home agent answered, with the next session key). A reply with
// neither is discarded (Discards.Authentication); a foreign agent's
// denial is believed as always, and code 67 (the switching agent refused
// the MN-GFA authenticator) drops the session key and sends a full
// registration at once. Renewals, moves to an agent of another care-of
// address, to a co-located address or after the key expired are full
// registrations. Stats.LocalRequests and Stats.LocalAccepted count local
// requests sent and those the switching agent accepted. Without FA Path
// or Mobile Session Key extensions nothing of this happens: flat setups
// behave as before.
//
// # Signalling protection
//
// With IPSEC entries in dynmnd.conf (the labels of package secure, shared
// by the three daemons: docs/CONFIGURATION.md) the registrations with the
// home agent travel in ESP. dynmnd opens secure.Open with the home address
// as the IKE address and the home agent as the peer it brings the SAs up
// with, and hands the *secure.Guard to the node as Options.Protector and
// Options.Mover (without IPSEC entries: secure.Off and no Mover; nothing
// changes). What the node does with them (protect.go):
//
//   - Replies. The registration socket reports each datagram's arrival
//     interface (UDPConn reads IP_PKTINFO; InterfaceReader); the reader
//     asks Protector.Check with the source and that index, and drops what
//     must have come out of ESP and came in clear (a forged reply, or a
//     home agent without its SAs): counter discards.unprotected. Replies
//     relayed by a foreign agent come from the agent, which is no IPsec
//     peer of the mobile, and are judged as before.
//   - Requests. A request is sent only when Protector.Ready says its
//     destination may be reached (never in clear to the home agent while
//     its SAs are being negotiated); otherwise it is held (counter
//     sends.held) and the retransmission timer repeats it as if it had
//     been lost, with the usual backoff and MaxRetryCount.
//   - Address changes. The node keeps the address its SAs use now (the
//     home address at start; Status.IPsecAddr, and the log's
//     ipsec_address). A request that goes straight to the home agent from
//     another address of the mobile (a co-located care-of address; the
//     home address when it comes home) waits while Mover.MoveTo moves
//     the SAs there (MOBIKE-X UPDATE_SA_ADDRESSES), off the loop, and is
//     sent when the move is answered. A failed move is logged and counted
//     (ipsec.move_failed); the request then goes out if the home agent is
//     Ready and is otherwise held, and its retransmission tries the move
//     again. Through a foreign agent the mobile keeps its home address:
//     the request goes at once, and after the accepted reply the SAs move
//     back to the home address in the background. Coming home from a
//     co-located address the move is Mover.MoveAhead: the home agent's
//     answer to the home address would go into the tunnel to the care-of
//     address left, until the deregistration removes the binding, so the
//     SAs move as the request leaves and the deregistration follows at
//     once (should it overtake the move at the home agent and be dropped,
//     its retransmission goes again). Successful moves count
//     ipsec.moves.
//   - IPSEC_INTERFACES. Further interfaces whose IPv4 address is offered
//     to the SAs' peers (Mover.AddAddress, MOBIKE-X ADD_SA_ADDRESS) while
//     the interface is up and has one, and withdrawn (RemoveAddress) when
//     it goes down, loses the address or changes it (then the new one is
//     offered). An AddrWatcher follows them (NetlinkWatcher: netlink link
//     and address subscriptions) and posts each change to the loop, which
//     makes one call of the Mover at a time, moves first; a failed offer
//     is tried again MaxRetryInterval later (ipsec.added, ipsec.add_failed,
//     ipsec.removed, ipsec.remove_failed).
//
// The IPsec labels and IPSEC_INTERFACES are read at start only: a reload
// names them in its restart warning.
//
// # RFC 5944 coverage
//
// Agent discovery (section 2.4): solicitations from 0.0.0.0 to 224.0.0.11
// with TTL 1, three a SolicitInterval apart and then doubling up to a
// minute (2.4.1); movement detection by the current agent's advertisement
// lifetime (2.4.2.1) and by a new agent's Prefix-Lengths extension showing
// another network (2.4.2.2), which moves at once; returning home (2.4.3);
// re-registration when an agent's sequence number shows it rebooted
// (2.4.4). Busy agents and agents without F are not used. The R flag needs
// no handling: an agent heard is always preferred to a co-located address.
//
// Eager cell switching (2.4.2): the mobile learns each agent's
// advertisement interval from what it hears (the longest gap between two
// of its advertisements in a row, so that an answer to a solicitation does
// not shorten it). Once the current agent has been unheard for one
// interval and a half, it has missed an advertisement it should have sent:
// the mobile registers at once with the agent heard most recently since,
// or moves to it as soon as it hears one, or, having heard none, sends one
// solicitation so that an agent on a new link answers at once. An agent
// heard only once has no known interval and is left lazily, by its
// lifetime, as before; and while the current agent keeps advertising, an
// agent of the same network is no reason to move.
//
// A move's latency: the request to a foreign agent leaves before the
// kernel changes the move needs (it is a frame to the agent's hardware
// address), so they are made during the round trip; and a tunnel device no
// longer wanted (the co-located tunnel, left for a foreign agent or home)
// is deleted only once no request is outstanding, since deleting it takes
// the kernel tens of milliseconds during which a reply would wait. The
// routes into it go at once.
//
// Registration (section 3.6): requests through a foreign agent as frames to
// its hardware address, from the home address's port 434 to the agent's
// address (3.6.1.1), with the care-of address, the lesser of Lifetime and
// the agent's registration lifetime, T in full mode when the agent offers
// it, and the Mobile-Home authenticator; co-located requests and
// deregistrations straight to the home agent (3.6.1.2). Identification by
// timestamp, resynchronised after code 133 and sent again at once, or by
// nonce (3.6.1.3, 5.7). Replies must match an outstanding request and carry
// a valid Mobile-Home authenticator, except a foreign agent's denial, which
// cannot (3.6.2); every code is logged by name. Retransmission with
// backoff (3.6.3).
//
// Routing (section 4): IP-in-IP encapsulation only (4.1; M and G are never
// asked for). Registered through a foreign agent, the mobile routes through
// the agent's advertisement source address, which RFC 5944 4.2.1 allows,
// and reaches it by the hardware address from the advertisement, so it
// never ARPs away from home (4.6); co-located, ARP asks from the care-of
// address. Away from home it does not answer ARP for its home address
// (4.6). Coming home it sends a gratuitous ARP for the home address
// before deregistering and again once the deregistration is accepted (4.6).
//
// # Not implemented
//
// Simultaneous bindings (S), broadcast (B, 4.3) and multicast (4.4)
// delivery, mobile routers (4.5), minimal and GRE encapsulation, the NAI
// extension and the Mobile-Foreign authenticator; a foreign agent that
// ARPs for the home address by unicast is not answered either (RFC 5944
// allows it; the suite's agents use the hardware address from the
// request). Of the Dynamics system: roaming with several interfaces (the
// IPSEC_INTERFACES only offer their addresses to the SAs), link-layer
// hints of movement.
//
// # Logging and reload
//
// The outcome of each request (registered, deregistered, denied) is one
// Info line with the keys home, coa, ha, fa (through a foreign agent), id
// and code.
//
// Reload (dynmnd's SIGHUP) applies what differs from the configuration
// loaded last, in the loop, and keeps the registration (reload.go has the
// details): the security association and Lifetime apply to the next
// request, the retry and solicitation timing at once, HomeGateway and
// TunnelingMode at once (a tunneling mode set through the control API
// stays until the file's changes). MNHomeIPAddress, HAIPAddress,
// HomeNetPrefix, Interface, COLOCATED, StartDisconnected, TunnelMode,
// TunnelPrefix, StateFile, SyslogFacility, the control sockets, the IPsec
// labels and IPSEC_INTERFACES keep their running values and are named in
// one warning, "needs a restart: ...".
package mn
