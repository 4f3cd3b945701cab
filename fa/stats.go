package fa

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
	// Requests counts well-formed Registration Requests received from
	// mobiles; Relayed those relayed upward.
	Requests, Relayed uint64
	// Denied counts the requests the agent itself denied, by reply code
	// (64-127).
	Denied map[mip.Code]uint64
	// DeniedUpstream counts the denials relayed down from the home agent,
	// by reply code (128 and above).
	DeniedUpstream map[mip.Code]uint64
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
	// SendsHeld counts datagrams not sent because signalling protection
	// requires ESP with their destination and its SA is not up yet (or,
	// toward a mobile on a visitor link, which only frames reach, because
	// it requires protection at all).
	SendsHeld uint64
	// RevocationsPending is the number of revocations sent to lower
	// agents and not yet acknowledged (nor given up).
	RevocationsPending int
	// Discards counts messages dropped without an answer, by reason.
	Discards Discards
	// Advertisements counts agent advertisements sent, Solicitations the
	// solicitations answered.
	Advertisements, Solicitations uint64
	// Visitors is the number of registered mobiles, Pending of requests
	// waiting for replies, Tunnels of tunnel devices, IdleTunnels of those
	// that no visitor uses and that linger (TunnelLinger).
	Visitors, Pending, Tunnels, IdleTunnels int
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
	// Unprotected: a registration message from a peer whose signalling
	// must arrive inside ESP (a configured IPsec peer) that came in clear.
	Unprotected uint64
}

// counters are updated by the reader goroutines (discards) and by the loop.
type counters struct {
	malformed, unknownExt, auth, unmatched, unexpected, unprotected atomic.Uint64
}

// snapshot copies the counters; it runs in the loop.
func (a *Agent) snapshot() Stats {
	s := a.stats
	s.Denied = maps.Clone(a.stats.Denied)
	s.DeniedUpstream = maps.Clone(a.stats.DeniedUpstream)
	s.Discards = Discards{
		Malformed:        a.counts.malformed.Load(),
		UnknownExtension: a.counts.unknownExt.Load(),
		Authentication:   a.counts.auth.Load(),
		Unmatched:        a.counts.unmatched.Load(),
		Unexpected:       a.counts.unexpected.Load(),
		Unprotected:      a.counts.unprotected.Load(),
	}
	s.Visitors = a.visitors.Len()
	s.Pending = len(a.pending)
	s.Tunnels = a.tunnels.Len()
	s.IdleTunnels = a.tunnels.IdleLen()
	s.RevocationsPending = len(a.revOut)
	return s
}

// countDeniedUpstream counts a denial the home agent sent down.
func (s *Stats) countDeniedUpstream(code mip.Code) {
	if s.DeniedUpstream == nil {
		s.DeniedUpstream = make(map[mip.Code]uint64)
	}
	s.DeniedUpstream[code]++
}

// Counters returns the counters as the control API's get_status reports
// them, sorted by name:
//
//	bindings, pending, tunnels    visitors, requests awaiting replies, tunnel devices (now)
//	tunnels.idle                  tunnel devices no visitor uses, lingering (now)
//	requests                      well-formed requests from mobiles
//	relayed                       requests relayed upward
//	accepted                      accepted replies relayed down
//	denied, denied.<code>         denials, in all and by reply code: the
//	                              agent's own (64-127) and the home agent's
//	replies                       replies relayed down
//	timeouts                      requests unanswered in time (code 78)
//	revocations.received          revocations acted on
//	discards.malformed, .unknown_extension, .authentication, .unmatched, .unexpected
//	discards.unprotected          registration messages that came in clear where ESP is required
//	sends.held                    datagrams held back: no ESP SA with the peer yet
//	advertisements                advertisements sent
//	solicitations                 solicitations answered
func (s Stats) Counters() []api.Counter {
	c := []api.Counter{
		{Name: "bindings", Value: uint64(s.Visitors)},
		{Name: "pending", Value: uint64(s.Pending)},
		{Name: "tunnels", Value: uint64(s.Tunnels)},
		{Name: "tunnels.idle", Value: uint64(s.IdleTunnels)},
		{Name: "requests", Value: s.Requests},
		{Name: "relayed", Value: s.Relayed},
		{Name: "accepted", Value: s.Accepted},
		{Name: "replies", Value: s.Replies},
		{Name: "timeouts", Value: s.Timeouts},
		{Name: "revocations.received", Value: s.Revocations},
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
	// An upper agent's denial may carry a foreign agent's code: the two
	// maps are summed by code.
	denied := maps.Clone(s.Denied)
	if denied == nil {
		denied = make(map[mip.Code]uint64)
	}
	for code, n := range s.DeniedUpstream {
		denied[code] += n
	}
	var total uint64
	for code, n := range denied {
		total += n
		c = append(c, api.Counter{Name: "denied." + strconv.Itoa(int(code)), Value: n})
	}
	c = append(c, api.Counter{Name: "denied", Value: total})
	slices.SortFunc(c, func(x, y api.Counter) int { return strings.Compare(x.Name, y.Name) })
	return c
}
