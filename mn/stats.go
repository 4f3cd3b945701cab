package mn

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/dynamics-go/dynamics/libdynamics/api"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// Stats are the mobile node's counters since it started.
type Stats struct {
	// Requests counts registration requests and deregistrations sent,
	// retransmissions included; Retransmissions those sent again for want
	// of a reply or after a denial.
	Requests        uint64
	Retransmissions uint64
	// Replies counts the authenticated replies to outstanding requests,
	// by code.
	Replies map[mip.Code]uint64
	// Solicitations counts agent solicitations sent; Advertisements the
	// agent advertisements heard.
	Solicitations  uint64
	Advertisements uint64
	// Moves counts changes of attachment: to a foreign agent, to a
	// co-located address, or home.
	Moves uint64
	// LocalRequests counts requests sent with the MN-GFA authenticator
	// for a local move in a foreign agent hierarchy, retransmissions
	// included; LocalAccepted the replies that accepted one on that
	// authenticator, answered by the switching agent without the home
	// agent.
	LocalRequests, LocalAccepted uint64
	// SendsHeld counts requests not sent because signalling protection
	// was not ready for their destination (no ESP SA yet); the
	// retransmission timer repeats them.
	SendsHeld uint64
	// IPsec counts the calls of the Mover.
	IPsec    IPsecStats
	Discards Discards
}

// IPsecStats count what the mobile asked of signalling protection when
// its addresses changed, and how it went.
type IPsecStats struct {
	// Moves: the SAs moved to another address of the mobile before a
	// request from it, or back home; MoveFailed: moves that failed.
	Moves, MoveFailed uint64
	// Added, AddFailed: IPSEC_INTERFACES addresses offered to the SAs'
	// peers; Removed, RemoveFailed: offered addresses withdrawn.
	Added, AddFailed      uint64
	Removed, RemoveFailed uint64
}

// Discards count what the mobile dropped, by reason.
type Discards struct {
	// Malformed: frames, advertisements and replies that do not parse.
	Malformed uint64
	// UnknownExtension: replies with an unrecognised extension numbered
	// below 128, which RFC 5944 section 1.9 makes invalid.
	UnknownExtension uint64
	// Authentication: replies whose Mobile-Home authenticator fails, and
	// replies to a local move that carry neither a valid Mobile-Home nor
	// a valid MN-GFA authenticator.
	Authentication uint64
	// Unmatched: replies that answer no outstanding request.
	Unmatched uint64
	// Unprotected: datagrams from a peer whose signalling must travel in
	// ESP (the home agent, with IPSEC entries) that came in clear.
	Unprotected uint64
}

func newStats() Stats { return Stats{Replies: map[mip.Code]uint64{}} }

func (s Stats) clone() Stats {
	s.Replies = maps.Clone(s.Replies)
	return s
}

// Counters returns the counters as the control API's get_status reports
// them, sorted by name:
//
//	requests                  requests and deregistrations sent
//	retransmissions           of them, sent again
//	replies                   authenticated replies to outstanding requests
//	accepted                  of them, accepting (codes 0 and 1)
//	denied, denied.<code>     of them, denying: in all and by reply code
//	solicitations             solicitations sent
//	advertisements            advertisements heard
//	moves                     changes of attachment
//	discards.malformed, .unknown_extension, .authentication, .unmatched
//	discards.unprotected      from an IPsec peer, in clear
//	sends.held                requests held: no ESP SA to their destination yet
//	ipsec.moves, ipsec.move_failed     SAs moved to another own address
//	ipsec.added, ipsec.add_failed      IPSEC_INTERFACES addresses offered
//	ipsec.removed, ipsec.remove_failed offered addresses withdrawn
func (s Stats) Counters() []api.Counter {
	c := []api.Counter{
		{Name: "requests", Value: s.Requests},
		{Name: "retransmissions", Value: s.Retransmissions},
		{Name: "solicitations", Value: s.Solicitations},
		{Name: "advertisements", Value: s.Advertisements},
		{Name: "moves", Value: s.Moves},
		{Name: "discards.malformed", Value: s.Discards.Malformed},
		{Name: "discards.unknown_extension", Value: s.Discards.UnknownExtension},
		{Name: "discards.authentication", Value: s.Discards.Authentication},
		{Name: "discards.unmatched", Value: s.Discards.Unmatched},
		{Name: "discards.unprotected", Value: s.Discards.Unprotected},
		{Name: "sends.held", Value: s.SendsHeld},
		{Name: "ipsec.moves", Value: s.IPsec.Moves},
		{Name: "ipsec.move_failed", Value: s.IPsec.MoveFailed},
		{Name: "ipsec.added", Value: s.IPsec.Added},
		{Name: "ipsec.add_failed", Value: s.IPsec.AddFailed},
		{Name: "ipsec.removed", Value: s.IPsec.Removed},
		{Name: "ipsec.remove_failed", Value: s.IPsec.RemoveFailed},
	}
	var replies, accepted, denied uint64
	for code, n := range s.Replies {
		replies += n
		if code.Accepted() {
			accepted += n
			continue
		}
		denied += n
		c = append(c, api.Counter{Name: "denied." + strconv.Itoa(int(code)), Value: n})
	}
	c = append(c,
		api.Counter{Name: "replies", Value: replies},
		api.Counter{Name: "accepted", Value: accepted},
		api.Counter{Name: "denied", Value: denied})
	slices.SortFunc(c, func(x, y api.Counter) int { return strings.Compare(x.Name, y.Name) })
	return c
}
