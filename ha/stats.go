package ha

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/dynamics-go/dynamics/libdynamics/api"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// Stats is a snapshot of the agent's counters.
type Stats struct {
	// Requests counts Registration Requests the agent decided on (every
	// request that parsed, and poorly formed ones it answered with 134).
	Requests uint64
	// Accepted counts registrations accepted (code 0 or 1), renewals and
	// moves included; Deregistrations those that removed or confirmed the
	// absence of a binding.
	Accepted, Deregistrations uint64
	// Denied counts denials by reply code (128-139).
	Denied map[mip.Code]uint64
	// Replies counts Registration Replies sent.
	Replies uint64
	// Expired counts bindings that ran out of lifetime.
	Expired uint64
	// RevocationsSent counts Registration Revocations sent to foreign
	// agents, retransmissions included; RevocationsAcked those
	// acknowledged and RevocationsAbandoned those given up on.
	// RevocationsReceived counts revocations from foreign agents acted on.
	RevocationsSent, RevocationsAcked, RevocationsAbandoned, RevocationsReceived uint64
	// SessionKeys counts the session keys issued with hierarchical
	// registrations (one per accepted request that carried FA Public Key
	// extensions); FASessionKeys the copies wrapped for foreign agents;
	// FAKeysRejected the foreign agents' public keys that could not be
	// used (broken fragments, not an RSA key of sessionkey.MinBits or
	// more), whose agents got no key.
	SessionKeys, FASessionKeys, FAKeysRejected uint64
	// KernelErrors counts failures to change kernel state.
	KernelErrors uint64
	// SendsHeld counts datagrams not sent because signalling protection
	// requires ESP with their destination and its SA is not up yet.
	SendsHeld uint64
	// Discards counts messages dropped without an answer, by reason.
	Discards Discards
	// Advertisements counts agent advertisements sent on the home link,
	// Solicitations the solicitations answered.
	Advertisements, Solicitations uint64
	// Bindings is the number of mobility bindings, Tunnels of tunnel
	// devices, PendingRevocations of revocations awaiting an
	// acknowledgment.
	Bindings, Tunnels, PendingRevocations int
}

// Discards counts messages dropped, by reason.
type Discards struct {
	// Malformed: a datagram or frame that does not parse (truncated, bad
	// checksum, bad extension length) and cannot be answered.
	Malformed uint64
	// UnknownExtension: a message with an unrecognised extension numbered
	// below 128, which RFC 5944 section 1.9 makes invalid.
	UnknownExtension uint64
	// Authentication: a revocation or acknowledgment from a foreign agent
	// whose Foreign-Home authenticator is missing or wrong, or from an
	// agent without a security association.
	Authentication uint64
	// Unmatched: an acknowledgment that answers no pending revocation, a
	// revocation with a stale identifier.
	Unmatched uint64
	// Unexpected: a message the home agent has no use for (a
	// Registration Reply, an unknown message type).
	Unexpected uint64
	// Unprotected: a message that signalling protection requires inside
	// ESP and that came in clear: from a configured IPsec peer, or a
	// request for a protected mobile node.
	Unprotected uint64
}

// counters are updated by the reader goroutines (discards) and by the
// loop.
type counters struct {
	malformed, unknownExt, auth, unmatched, unexpected, unprotected atomic.Uint64
}

// snapshot copies the counters; it runs in the loop.
func (a *Agent) snapshot() Stats {
	s := a.stats
	s.Denied = maps.Clone(a.stats.Denied)
	s.Discards = Discards{
		Malformed:        a.counts.malformed.Load(),
		UnknownExtension: a.counts.unknownExt.Load(),
		Authentication:   a.counts.auth.Load(),
		Unmatched:        a.counts.unmatched.Load(),
		Unexpected:       a.counts.unexpected.Load(),
		Unprotected:      a.counts.unprotected.Load(),
	}
	s.Bindings = a.bindings.Len()
	s.Tunnels = a.tunnels.Len()
	s.PendingRevocations = len(a.revocations)
	return s
}

// Counters returns the counters as the control API's get_status reports
// them, sorted by name:
//
//	bindings, tunnels             mobility bindings, tunnel devices (now)
//	requests                      requests decided on
//	accepted                      registrations accepted (codes 0 and 1)
//	deregistrations               deregistrations accepted
//	denied, denied.<code>         denials, in all and by reply code
//	replies                       replies sent
//	expired                       bindings that ran out of lifetime
//	revocations.sent, .acknowledged, .abandoned, .received, .pending
//	kernel_errors                 failed kernel changes
//	discards.malformed, .unknown_extension, .authentication, .unmatched, .unexpected
//	discards.unprotected          registration messages that came in clear where ESP is required
//	sends.held                    datagrams held back: no ESP SA with the peer yet
//	advertisements                advertisements sent on the home link
//	solicitations                 solicitations answered
func (s Stats) Counters() []api.Counter {
	c := []api.Counter{
		{Name: "bindings", Value: uint64(s.Bindings)},
		{Name: "tunnels", Value: uint64(s.Tunnels)},
		{Name: "requests", Value: s.Requests},
		{Name: "accepted", Value: s.Accepted},
		{Name: "deregistrations", Value: s.Deregistrations},
		{Name: "replies", Value: s.Replies},
		{Name: "expired", Value: s.Expired},
		{Name: "revocations.sent", Value: s.RevocationsSent},
		{Name: "revocations.acknowledged", Value: s.RevocationsAcked},
		{Name: "revocations.abandoned", Value: s.RevocationsAbandoned},
		{Name: "revocations.received", Value: s.RevocationsReceived},
		{Name: "revocations.pending", Value: uint64(s.PendingRevocations)},
		{Name: "kernel_errors", Value: s.KernelErrors},
		{Name: "discards.malformed", Value: s.Discards.Malformed},
		{Name: "discards.unknown_extension", Value: s.Discards.UnknownExtension},
		{Name: "discards.authentication", Value: s.Discards.Authentication},
		{Name: "discards.unmatched", Value: s.Discards.Unmatched},
		{Name: "discards.unexpected", Value: s.Discards.Unexpected},
		{Name: "discards.unprotected", Value: s.Discards.Unprotected},
		{Name: "sends.held", Value: s.SendsHeld},
		{Name: "advertisements", Value: s.Advertisements},
		{Name: "solicitations", Value: s.Solicitations},
	}
	c = append(c, deniedCounters(s.Denied)...)
	sortCounters(c)
	return c
}

// deniedCounters are "denied", the sum, and "denied.<code>" for every code
// counted.
func deniedCounters(denied map[mip.Code]uint64) []api.Counter {
	var total uint64
	c := make([]api.Counter, 0, len(denied)+1)
	for code, n := range denied {
		total += n
		c = append(c, api.Counter{Name: "denied." + strconv.Itoa(int(code)), Value: n})
	}
	return append(c, api.Counter{Name: "denied", Value: total})
}

func sortCounters(c []api.Counter) {
	slices.SortFunc(c, func(x, y api.Counter) int { return strings.Compare(x.Name, y.Name) })
}
