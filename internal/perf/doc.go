// Package perf measures the suite for the bench tool, tools/dynbench: each
// figure against a baseline taken in the same run, so that the ratio holds
// on a noisy, shared machine. docs/PERFORMANCE.md has the latest figures
// and what limits each.
//
// # Registration throughput
//
// A Fleet (fleet.go) is a set of simulated mobile nodes: distinct home
// addresses, each with its own HMAC-MD5 Mobile-Home key, written as
// dynhad.conf's AUTHORIZEDLIST. RunLoad (loadgen.go) sends their
// authenticated Registration Requests to a home agent over UDP with a
// window of outstanding requests, reading and writing batches of
// datagrams per system call, and checks every reply: the type, the home
// address and home agent, the bounds of every extension, the Mobile-Home
// authenticator computed with the mobile's key, an accepting code, and
// the identification of the mobile's outstanding request. A reply that
// fails a check counts as an error of its kind ("authenticator", "denied
// 131", "identification", ...), never as accepted; a request unanswered
// for Timeout counts as lost. Rates count accepted replies only; latency
// is each accepted request's round trip.
//
// The baseline is Echo (echo.go): a UDP server on the home agent's kind of
// socket (ha.ListenUDP) and batching (ha.RecvBatch) that sends every
// datagram back and does nothing else. The generator checks an echoed
// request exactly as it checks a reply (the same authenticator
// computation), so the two runs differ only in what the server does.
// Alternate runs the home agent and the echo server in one-second turns,
// so that both see the same load from the other work on the machine.
//
// RegistrationInProcess runs the home agent as a library (package ha) in
// this process over a UDP socket on 127.0.0.1 with kernel.Fake; it needs
// no privileges. RegistrationDaemon runs the dynhad binary in network
// namespaces the section makes (netns.go), driven from a socket in the
// same namespace: the main run with Mobiles mobiles (first registrations
// through the real kernel interface, then renewals against the echo
// baseline, a process of its own on port EchoPort), and a smaller run as
// deployed (the StateFile, gratuitous ARPs on an Ethernet home link) for
// the first-registration rate a default configuration gets.
//
// RegistrationProtected (protected.go, the section "protected") measures
// what signalling protection costs: one dynhad whose IPSEC section lists
// the address of one generator, which runs a secure.Guard (userspace ESP)
// in a namespace of its own so that its requests and the replies travel in
// ESP, against a second generator, not listed, re-registering the same
// mobiles at the same dynhad in clear, in turns. The run is refused unless
// dynhad's discards.unprotected stayed 0 and its ipsec.esp_in grew by the
// requests it accepted through ESP.
//
// # Handoff and the plot
//
// Handoff (handoff.go) runs the roaming route on the hierarchical testbed
// (internal/testbed) with a ping every 10 ms and measures each move: the
// time from the mobile hearing the new agent to its accepted reply (its
// debug log), the pings lost, and the requests the home agent decided on
// (its control API's counters). Local moves are compared with the moves
// that reached the home agent. Plot.WriteSVG (svg.go) draws the pings of
// the run with every move marked, as SVG written with the standard
// library.
//
// # Data path
//
// DataPath (datapath.go) measures TCP throughput from a correspondent to a
// mobile through the IP-in-IP tunnel against the same routed veths
// without it.
//
// # Table scale
//
// Tables (tables.go) measures the binding table at 10 thousand, 100
// thousand and a million bindings: the live heap per binding (from
// runtime.MemStats, the heap the table frees when dropped) and the mean
// cost of an insert, a lookup and an expiry, against a Go map of
// bindings.
//
// # Report
//
// A Report holds the Machine, the Figures (value, baseline, ratio,
// targets, met) and the sections skipped; WriteTable prints it and
// WriteJSON writes the same figures as JSON. Targets are reported, never
// asserted by a test.
package perf
