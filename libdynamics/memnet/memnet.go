// Package memnet makes the in-memory UDP network of package
// libdynamics/internal/memnet available to the agents' own tests: the agent
// packages (ha, fa, mn) live outside libdynamics, where Go's internal rule
// does not let them import it. The types are aliases, so values pass freely
// between the two.
package memnet

import "github.com/dynamics-go/dynamics/libdynamics/internal/memnet"

// Network is one in-memory internet; see the internal package.
type Network = memnet.Network

// Conn is a net.PacketConn on a Network.
type Conn = memnet.Conn

// ErrInUse is returned when an address and port are already bound.
var ErrInUse = memnet.ErrInUse

// New returns an empty network.
func New() *Network { return memnet.New() }
