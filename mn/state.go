package mn

import "fmt"

// State is where the mobile node's registration stands.
//
//	                hears its home agent (H flag from HAIPAddress,
//	                or the home prefix advertised)
//	Startup ----------------------------------------------+
//	   |  hears a foreign agent                            |
//	   |  (or no agent heard: as FindingAgent)             v
//	   |                 +-------------------------- Deregistering <-----+
//	   |                 |   reply, or retries over        |  ^          |
//	   |                 v                                 |  |          |
//	   |               Home ---- hears a foreign agent ----+  |          |
//	   |                 |       of another prefix            |          |
//	   |                 | its home agent's advertisements    |          |
//	   |                 v expire                             |          |
//	   +-----------> FindingAgent --- hears its home agent ---+          |
//	                 solicits every     |  ^                             |
//	                 SolicitInterval;   |  | denied or unanswered        |
//	                 after a few, ARP-  |  | MaxRetryCount times; agent  |
//	                 probes a COLOCATED |  | lost; co-located gateway    |
//	                 gateway            |  | silent                      |
//	       hears a foreign agent, or    v  |                             |
//	       a co-located gateway    Registering  <-+ 133: resync, again   |
//	       answers                 retransmits    | at once; new agent   |
//	                               with backoff --+ of another prefix;   |
//	                                    |  ^        agent rebooted       |
//	                           accepted |  | binding expired while       |
//	                                    v  | renewing                    |
//	                                Registered -- hears its home agent --+
//	                               renews at 80% of the lifetime (earlier
//	                               for short ones)
//
// Hearing a foreign agent of another prefix (or, after the current agent's
// advertisements expire, any other usable agent) leads from Home,
// Deregistering, Registering or Registered straight to Registering with the
// new agent; a foreign agent heard while registered with a co-located
// care-of address does too. Losing the agent leads from any of them to
// FindingAgent.
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
	// StateDeregistering: back home; the deregistration is outstanding.
	StateDeregistering
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
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}
