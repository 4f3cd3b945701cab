package mn

import (
	"maps"

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
	Discards                     Discards
}

// Discards count what the mobile dropped, by reason.
type Discards struct {
	// Malformed: frames, advertisements and replies that do not parse.
	Malformed uint64
	// Authentication: replies whose Mobile-Home authenticator fails, and
	// replies to a local move that carry neither a valid Mobile-Home nor
	// a valid MN-GFA authenticator.
	Authentication uint64
	// Unmatched: replies that answer no outstanding request.
	Unmatched uint64
}

func newStats() Stats { return Stats{Replies: map[mip.Code]uint64{}} }

func (s Stats) clone() Stats {
	s.Replies = maps.Clone(s.Replies)
	return s
}
