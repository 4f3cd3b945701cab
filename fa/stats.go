package fa

import (
	"maps"
	"sync/atomic"

	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// Stats is a snapshot of the agent's counters.
type Stats struct {
	// Requests counts well-formed Registration Requests received from
	// mobiles; Relayed those relayed upward.
	Requests, Relayed uint64
	// Denied counts the requests the agent itself denied, by reply code
	// (64-127).
	Denied map[mip.Code]uint64
	// Replies counts replies relayed down to mobiles; Accepted those that
	// accepted a registration or deregistration.
	Replies, Accepted uint64
	// Timeouts counts pending requests that got no reply in time (78).
	Timeouts uint64
	// Revocations counts registration revocations acted on.
	Revocations uint64
	// LocalReplies counts the requests the agent answered itself as the
	// switching agent of a local move (the home agent heard nothing);
	// RevocationsSent the revocations it sent to lower agents, first
	// transmissions only.
	LocalReplies, RevocationsSent uint64
	// RevocationsPending is the number of revocations sent to lower
	// agents and not yet acknowledged (nor given up).
	RevocationsPending int
	// Discards counts messages dropped without an answer, by reason.
	Discards Discards
	// Advertisements counts agent advertisements sent, Solicitations the
	// solicitations answered.
	Advertisements, Solicitations uint64
	// Visitors is the number of registered mobiles, Pending of requests
	// waiting for replies, Tunnels of tunnel devices.
	Visitors, Pending, Tunnels int
}

// Discards counts messages dropped, by reason.
type Discards struct {
	// Malformed: a packet or registration message that does not parse
	// (truncated, bad checksum, bad extension length).
	Malformed uint64
	// UnknownExtension: a message with an unrecognised extension
	// numbered below 128, which RFC 5944 section 1.9 makes invalid.
	UnknownExtension uint64
	// Authentication: a reply or revocation whose Foreign-Home
	// authenticator is missing or wrong, a revocation acknowledgment that
	// fails its, a reply whose session key is unusable.
	Authentication uint64
	// Unmatched: a reply that answers no pending request, or comes from
	// another address than the request went to; a revocation from the
	// upper agent for no visitor with a session key; an acknowledgment of
	// no revocation.
	Unmatched uint64
	// Unexpected: a message the agent has no use for in its place (a
	// request on the upstream socket outside a hierarchy, an unknown
	// message type).
	Unexpected uint64
}

// counters are updated by the reader goroutines (discards) and by the loop.
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
	s.Visitors = a.visitors.Len()
	s.Pending = len(a.pending)
	s.Tunnels = a.tunnels.Len()
	s.RevocationsPending = len(a.revOut)
	return s
}
