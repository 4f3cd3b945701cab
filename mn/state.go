package mn

import "fmt"

// State is where the mobile node's registration stands.
//
// The main path away from home, and the way back:
//
//	Startup --> FindingAgent --> Registering <--> Registered
//	   |             |                |               |
//	   +-------------+-------+--------+---------------+
//	                         | its home agent heard
//	                         v
//	                   Deregistering --> Home --> (heard a foreign agent of another
//	                                               prefix, or lost the home agent)
//	                                               Registering, FindingAgent
//
// Every transition, by event:
//
//	its home agent heard (H from HAIPAddress),  Startup, FindingAgent, Registering,
//	  or HomeNetPrefix advertised               Registered -> Deregistering
//	deregistration accepted, or its
//	  MaxRetryCount retransmissions unanswered  Deregistering -> Home
//	a foreign agent heard, none in use          Startup, FindingAgent -> Registering
//	a foreign agent of another prefix           Home, Deregistering, Registering,
//	  (Prefix-Lengths)                          Registered -> Registering
//	a foreign agent heard while co-located      Registering, Registered -> Registering
//	three solicitations unanswered and a
//	  COLOCATED gateway answers ARP             Startup, FindingAgent -> Registering
//	registration accepted                       Registering -> Registered
//	code 133                                    Registering -> Registering, resynchronised,
//	                                              sent again at once
//	renewal due                                 Registered -> Registered, request out
//	the agent rebooted (sequence number)        Registered -> Registered, request out
//	binding expired while renewing              Registered -> Registering
//	denied or unanswered MaxRetryCount times    Registering, Registered -> FindingAgent
//	                                              (the agent is held down a while)
//	the current agent's advertisements expire   Home, Deregistering, Registering,
//	                                              Registered -> FindingAgent, or to the
//	                                              next agent still heard
//	the current agent silent for 1.5 of its     Home, Deregistering, Registering,
//	  intervals and another agent heard since   Registered -> Registering (or, that
//	  (none heard: one solicitation)              agent being home, Deregistering)
//	co-located gateway stops answering ARP      Registering, Registered -> FindingAgent
//
// Disconnect and Connect (connect.go), and StartDisconnected:
//
//	any state --Disconnect--> Deregistering --> Disconnected --Connect--> FindingAgent,
//	           (when away and registered,    ^                           or straight on to
//	            or at home deregistering)    |                           Registering or
//	any other state --Disconnect-------------+                           Deregistering
//	                                                                     (an agent heard)
//
//	StartDisconnected                           Startup -> Disconnected
//	Disconnect, registered (or registering)     Registering, Registered -> Deregistering
//	  away: deregistration from the care-of       (lifetime 0, care-of address in use)
//	  address in use
//	Disconnect, at home deregistering           Deregistering -> Deregistering
//	Disconnect, anything else                   Startup, FindingAgent, Home -> Disconnected
//	deregistration answered or unanswered
//	  MaxRetryCount times, disconnecting        Deregistering -> Disconnected
//	the agent relaying it expires               Deregistering -> Disconnected
//	Connect, deregistering from away            Deregistering -> FindingAgent, as Disconnected
//	Connect, at home deregistering              Deregistering -> Deregistering (then Home)
//	Connect                                     Disconnected -> FindingAgent, or to the
//	                                              agent heard last: Registering, or at
//	                                              home Deregistering
//
// Disconnected, the mobile only listens: no solicitations, no requests, no
// kernel entries.
type State uint8

// The states.
const (
	// StateStartup: nothing heard yet; the mobile solicits.
	StateStartup State = iota
	// StateHome: at home and deregistered; the home routes are installed.
	StateHome
	// StateFindingAgent: away and without an agent; the mobile solicits
	// and, after a few solicitations, tries its co-located addresses.
	StateFindingAgent
	// StateRegistering: a registration request is outstanding, through a
	// foreign agent or from a co-located care-of address.
	StateRegistering
	// StateRegistered: the home agent has accepted the care-of address and
	// the binding has not expired; renewals happen in this state.
	StateRegistered
	// StateDeregistering: back home, or disconnecting; the deregistration
	// is outstanding.
	StateDeregistering
	// StateDisconnected: disconnected by Disconnect or StartDisconnected;
	// the mobile neither solicits nor registers until Connect.
	StateDisconnected
)

func (s State) String() string {
	switch s {
	case StateStartup:
		return "startup"
	case StateHome:
		return "home"
	case StateFindingAgent:
		return "finding-agent"
	case StateRegistering:
		return "registering"
	case StateRegistered:
		return "registered"
	case StateDeregistering:
		return "deregistering"
	case StateDisconnected:
		return "disconnected"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}
