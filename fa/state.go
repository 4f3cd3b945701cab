package fa

import (
	"bytes"
	"net"
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/binding"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/tunnel"
)

// MobileState is where a mobile stands with this agent.
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
// A mobile is Renewing while it has a confirmed visitor entry and a newer
// request waits for its reply; the confirmed entry stays until that reply
// decides, so a re-registration that crosses a deregistration, or is lost,
// never interrupts the mobile's traffic.
type MobileState uint8

// The states of a mobile.
const (
	StateUnknown MobileState = iota
	StatePending
	StateRegistered
	StateRenewing
)

func (s MobileState) String() string {
	switch s {
	case StateUnknown:
		return "unknown"
	case StatePending:
		return "pending"
	case StateRegistered:
		return "registered"
	case StateRenewing:
		return "renewing"
	}
	return "state(?)"
}

// Downlink is who is below this agent for a mobile: where replies and the
// mobile's traffic go down. For a mobile on a visitor link it is the mobile
// itself, by hardware address; in a hierarchy it may be the lower foreign
// agent that relayed the request (Agent set), reached over UDP and by a
// tunnel.
type Downlink struct {
	Iface  string           // the visitor interface (a mobile on a visitor link)
	HWAddr net.HardwareAddr // the mobile's hardware address
	Addr   netip.Addr       // the request's IP source: the home address, or 0.0.0.0
	Port   uint16           // the request's UDP source port
	// Agent is the lower foreign agent's address and port, when the
	// request came from one; replies go back there from port 434.
	Agent netip.AddrPort
	// Local is this agent's address the lower agent sent to: the source of
	// what the agent sends it and the local end of the tunnel to it.
	Local netip.Addr
	link  int // index into Agent.links; -1 for a lower agent
}

// IsAgent reports whether the way down is a lower foreign agent.
func (d Downlink) IsAgent() bool { return d.Agent.IsValid() }

// Same reports whether d and o are the same way down: the same lower agent,
// or the same mobile (hardware address) on the same visitor link.
func (d Downlink) Same(o Downlink) bool {
	if d.IsAgent() || o.IsAgent() {
		return d.Agent.Addr() == o.Agent.Addr() && d.IsAgent() == o.IsAgent()
	}
	return d.link == o.link && bytes.Equal(d.HWAddr, o.HWAddr)
}

// String names the way down for logs: the lower agent's address, or the
// visitor interface.
func (d Downlink) String() string {
	if d.IsAgent() {
		return d.Agent.Addr().String()
	}
	return d.Iface
}

// Pending is a relayed request waiting for its reply, keyed by home address
// and the low 32 bits of the identification (which every reply copies).
type Pending struct {
	Home     netip.Addr
	ID       uint64
	HA       netip.Addr // the request's home agent field
	CareOf   netip.Addr
	Flags    mip.Flags
	Lifetime uint16 // requested
	Down     Downlink
	// Up is where the request was relayed and where the reply must come
	// from: the upper foreign agent, or the home agent when the agent has
	// none.
	Up       netip.Addr
	Deadline time.Time
}

// Visitor is a mobile registered through this agent: the binding (confirmed
// by the reply from above; in a hierarchy with the session key and SPI in
// Key, HasKey and SPI), the way down to it, and what the agent made in the
// kernel for it.
type Visitor struct {
	binding.Binding
	Down Downlink
	// Up is where the mobile's registrations are relayed (its home agent
	// in a flat setup or at the highest agent, else the upper foreign
	// agent); revocations and replies come from it.
	Up netip.Addr
	// Tunnel is the upward tunnel the visitor holds a reference to, from
	// the agent's address to Up; 0 when none.
	Tunnel tunnel.ID
	// DownTunnel is the tunnel to the lower agent (Down.Agent) the visitor
	// holds a reference to; 0 when the way down is a visitor link.
	DownTunnel tunnel.ID
	// Entries are the visitor's own kernel entries (neighbour, host route,
	// reverse tunnel rule); the shared tunnels' are not included.
	Entries []kernel.Entry
}

// State is the agent's loop-owned state, handed to functions run by Do. It
// must not be kept or used outside such a function.
type State struct {
	a *Agent
}

// Now is the agent clock's current instant.
func (s *State) Now() time.Time { return s.a.clock.Now() }

// Visitors returns the registered mobiles, sorted by home address.
func (s *State) Visitors() []Visitor {
	list := s.a.visitors.List()
	out := make([]Visitor, 0, len(list))
	for _, b := range list {
		out = append(out, s.a.visitor(b))
	}
	return out
}

// Visitor returns the visitor with the given home address.
func (s *State) Visitor(home netip.Addr) (Visitor, bool) {
	b, ok := s.a.visitors.Get(home)
	if !ok {
		return Visitor{}, false
	}
	return s.a.visitor(b), true
}

// Pending returns the requests waiting for replies, oldest first.
func (s *State) Pending() []Pending {
	var out []Pending
	for _, q := range s.a.pendingQ {
		if p, ok := s.a.pending[q.key]; ok && p.Deadline.Equal(q.deadline) {
			out = append(out, *p)
		}
	}
	return out
}

// MobileState returns where the mobile with the given home address stands.
func (s *State) MobileState(home netip.Addr) MobileState {
	_, registered := s.a.visitors.Get(home)
	_, pending := s.a.latest[home]
	switch {
	case registered && pending:
		return StateRenewing
	case registered:
		return StateRegistered
	case pending:
		return StatePending
	}
	return StateUnknown
}

// Tunnels returns the agent's tunnels, sorted by ID.
func (s *State) Tunnels() []tunnel.Tunnel { return s.a.tunnels.List() }

// Stats returns a snapshot of the agent's counters.
func (s *State) Stats() Stats { return s.a.snapshot() }
