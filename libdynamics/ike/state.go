package ike

import "fmt"

// SAState is the state of an IKE SA.
//
//	 Initiate                      IKE_SA_INIT request received
//	     |                                     |
//	     v                                     v
//	InitSent --INVALID_KE/COOKIE--> InitSent   HalfOpen
//	     | IKE_SA_INIT response                | IKE_AUTH request, AUTH good
//	     v                                     |
//	 AuthSent                                  |
//	     | IKE_AUTH response, AUTH good        |
//	     v                                     v
//	Established <--------------------------------
//	     | Delete sent or received, IKE rekeyed, peer dead,
//	     | AUTH failed (from InitSent, AuthSent, HalfOpen too)
//	     v
//	  Closing --response or give up--> Closed
//
// An Established SA also runs CREATE_CHILD_SA (child creation, child and
// IKE rekey) and INFORMATIONAL (delete, liveness, MOBIKE) exchanges without
// leaving the state. An IKE SA replaced by a rekey goes to Closing while its
// Delete is in flight and to Closed when it is gone.
type SAState uint8

// IKE SA states.
const (
	StateInitSent SAState = iota + 1
	StateHalfOpen
	StateAuthSent
	StateEstablished
	StateClosing
	StateClosed
)

var stateNames = [...]string{
	StateInitSent:    "init-sent",
	StateHalfOpen:    "half-open",
	StateAuthSent:    "auth-sent",
	StateEstablished: "established",
	StateClosing:     "closing",
	StateClosed:      "closed",
}

// String returns the state's name as logs and the tool show it.
func (s SAState) String() string {
	if int(s) < len(stateNames) && stateNames[s] != "" {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// ChildState is the state of a child SA, from when its SAs are installed.
//
//	Installed --replaced by a rekey--> Rekeyed --deleted--> Deleted
//	    |                                                      ^
//	    +-------------------------- deleted -------------------+
type ChildState uint8

// Child SA states.
const (
	ChildInstalled ChildState = iota + 1
	ChildRekeyed
	ChildDeleted
)

var childStateNames = [...]string{
	ChildInstalled: "installed",
	ChildRekeyed:   "rekeyed",
	ChildDeleted:   "deleted",
}

// String returns the state's name.
func (s ChildState) String() string {
	if int(s) < len(childStateNames) && childStateNames[s] != "" {
		return childStateNames[s]
	}
	return fmt.Sprintf("child-state(%d)", uint8(s))
}
