package ha

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/tunnel"
)

// MobileState is where the home agent believes an authorised mobile node
// is.
//
//	          accepted registration (care-of address != home address)
//	        +-------------------------------------------------------+
//	        |                                                       v
//	     +------+  deregistration, expiry, revocation by the FA  +------+
//	     | Home | <--------------------------------------------- | Away |
//	     +------+                                                 +------+
//	       ^  |                                                     |  ^
//	enable |  | disable                    renewal (same care-of),  +--+
//	       |  v                            move (new care-of: the old FA
//	   +----------+                        is sent a revocation)
//	   | Disabled |  <-- disable while Away removes the binding first
//	   +----------+
//
// A mobile node the configuration does not list is Unknown; its requests
// are denied with code 131.
type MobileState uint8

// The mobile states.
const (
	MobileUnknown MobileState = iota
	MobileHome
	MobileAway
	MobileDisabled
)

func (s MobileState) String() string {
	switch s {
	case MobileUnknown:
		return "unknown"
	case MobileHome:
		return "home"
	case MobileAway:
		return "away"
	case MobileDisabled:
		return "disabled"
	}
	return fmt.Sprintf("MobileState(%d)", uint8(s))
}

// RevocationState is the progress of one Registration Revocation (RFC
// 3543) sent to a foreign agent the mobile node has left.
//
//	          send               ack (authenticated, same id)
//	(move) --------> Pending -----------------------------> Acknowledged
//	                 |    ^
//	   retransmit at |    | 1 s, 2 s, 4 s
//	                 +----+
//	                 |
//	                 +--- no ack after RevocationTries sends --> Abandoned
//
// Only pending revocations are kept; Acknowledged and Abandoned are what
// they end as, reported in the log and the counters.
type RevocationState uint8

// The revocation states.
const (
	RevocationPending RevocationState = iota
	RevocationAcknowledged
	RevocationAbandoned
)

func (s RevocationState) String() string {
	switch s {
	case RevocationPending:
		return "pending"
	case RevocationAcknowledged:
		return "acknowledged"
	case RevocationAbandoned:
		return "abandoned"
	}
	return fmt.Sprintf("RevocationState(%d)", uint8(s))
}

// Binding is one mobility binding as the home agent holds it.
type Binding struct {
	Home   netip.Addr
	CareOf netip.Addr
	// Sender is where the registration came from: the foreign agent that
	// relayed it, or the mobile node with a co-located care-of address.
	Sender netip.AddrPort
	// ID is the identification of the request that made or renewed the
	// binding.
	ID    uint64
	Flags mip.Flags
	// Lifetime is the lifetime granted, Expiry when it runs out.
	Lifetime time.Duration
	Expiry   time.Time
	// Tunnel is the tunnel device the home address is routed into.
	Tunnel string
	// Revocation reports that the foreign agent announced revocation
	// support (RFC 3543) under a valid Foreign-Home authenticator, so it
	// is told when the binding moves away from it.
	Revocation bool
	// SessionSPI is the SPI of the session key issued with the last
	// registration when it came through a hierarchy of foreign agents;
	// 0 when none was.
	SessionSPI uint32
}

// Revocation is a Registration Revocation waiting for its acknowledgment.
type Revocation struct {
	Home netip.Addr
	// FA is the foreign agent it is sent to (port 434).
	FA    netip.Addr
	ID    uint32
	State RevocationState
	// Sent counts transmissions so far; Next is the next one's time.
	Sent int
	Next time.Time
}

// State is the agent's state as seen from inside its loop, through Do. Its
// methods must not be called once the function given to Do has returned.
type State struct{ a *Agent }

// Now is the agent's clock.
func (s *State) Now() time.Time { return s.a.clock.Now() }

// Bindings returns every binding, sorted by home address.
func (s *State) Bindings() []Binding {
	var out []Binding
	for _, b := range s.a.bindings.List() {
		out = append(out, s.a.view(b))
	}
	return out
}

// Binding returns the binding of home.
func (s *State) Binding(home netip.Addr) (Binding, bool) {
	b, ok := s.a.bindings.Get(home)
	if !ok {
		return Binding{}, false
	}
	return s.a.view(b), true
}

// MobileState returns where the agent believes home is.
func (s *State) MobileState(home netip.Addr) MobileState {
	m, ok := s.a.mobiles[home]
	switch {
	case !ok:
		return MobileUnknown
	case !m.enabled:
		return MobileDisabled
	}
	if _, away := s.a.bindings.Get(home); away {
		return MobileAway
	}
	return MobileHome
}

// Tunnels returns the tunnels in use, sorted by ID.
func (s *State) Tunnels() []tunnel.Tunnel { return s.a.tunnels.List() }

// Revocations returns the revocations waiting for an acknowledgment,
// sorted by home address and foreign agent.
func (s *State) Revocations() []Revocation {
	var out []Revocation
	for _, r := range s.a.revocations {
		out = append(out, r.Revocation)
	}
	slices.SortFunc(out, func(x, y Revocation) int {
		if c := x.Home.Compare(y.Home); c != 0 {
			return c
		}
		return x.FA.Compare(y.FA)
	})
	return out
}

// Stats returns a snapshot of the counters.
func (s *State) Stats() Stats { return s.a.snapshot() }

// SetEnabled enables or disables an authorised mobile node (the control
// API's enable_mobile). A disabled mobile's requests are denied with code
// 129; disabling a mobile that is away removes its binding at once.
func (s *State) SetEnabled(home netip.Addr, enabled bool) error {
	m, ok := s.a.mobiles[home]
	if !ok {
		return fmt.Errorf("ha: %s is not an authorised mobile node", home)
	}
	m.enabled = enabled
	if !enabled {
		if b, away := s.a.bindings.Get(home); away {
			s.a.log.Info("binding removed: mobile node disabled", logging.KeyHome, home, logging.KeyCoA, b.CareOf)
			s.a.unbind(b)
		}
	}
	return nil
}

// Remove removes the binding of home, as an administrator may, and revokes
// it at the foreign agent that holds it when that agent supports
// revocation. It reports whether there was a binding.
func (s *State) Remove(home netip.Addr) bool {
	b, ok := s.a.bindings.Get(home)
	if !ok {
		return false
	}
	s.a.log.Info("binding removed by the administrator", logging.KeyHome, home, logging.KeyCoA, b.CareOf)
	s.a.revokeOld(b, netip.Addr{})
	s.a.unbind(b)
	return true
}
