package ha

import (
	"maps"
	"sync/atomic"

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
}

// counters are updated by the reader goroutines (discards) and by the
// loop.
type counters struct {
	malformed, unknownExt, auth, unmatched, unexpected atomic.Uint64
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
	}
	s.Bindings = a.bindings.Len()
	s.Tunnels = a.tunnels.Len()
	s.PendingRevocations = len(a.revocations)
	return s
}
