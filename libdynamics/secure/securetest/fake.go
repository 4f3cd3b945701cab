// Package securetest has a secure.Protector for the agents' tests: the
// test says which addresses require ESP, which have come out of ESP and
// which have an outbound SA up, since in-memory sockets tell no arrival
// interface.
package securetest

import (
	"net/netip"
	"slices"
	"sync"

	"github.com/dynamics-go/dynamics/libdynamics/secure"
)

// Fake is signalling protection as a test sets it up. It is safe for
// concurrent use.
type Fake struct {
	mu        sync.Mutex
	required  map[netip.Addr]bool
	protected map[netip.Addr]bool
	up        map[netip.Addr]bool
	espIndex  int   // a datagram that arrived on this interface came out of ESP; 0: none
	seen      []int // the interfaces Check was asked about
}

var _ secure.Protector = (*Fake)(nil)

// NewFake returns a Fake that requires nothing.
func NewFake() *Fake {
	return &Fake{required: map[netip.Addr]bool{}, protected: map[netip.Addr]bool{}, up: map[netip.Addr]bool{}}
}

// Check implements secure.Protector.
func (p *Fake) Check(src netip.Addr, ifindex int) secure.Verdict {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, ifindex)
	return secure.Verdict{
		Required:  p.required[src],
		Protected: p.protected[src] || p.espIndex != 0 && ifindex == p.espIndex,
	}
}

// Requires implements secure.Protector.
func (p *Fake) Requires(addr netip.Addr) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.required[addr]
}

// Ready implements secure.Protector: a required peer is ready once Up.
func (p *Fake) Ready(dst netip.Addr) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.required[dst] || p.up[dst]
}

// Require sets whether signalling with addr must be protected.
func (p *Fake) Require(addr netip.Addr, v bool) { p.set(p.required, addr, v) }

// Protect sets whether datagrams from addr count as having come out of ESP.
func (p *Fake) Protect(addr netip.Addr, v bool) { p.set(p.protected, addr, v) }

// Up sets whether an outbound SA to addr is up (Ready).
func (p *Fake) Up(addr netip.Addr, v bool) { p.set(p.up, addr, v) }

// SetESPIndex makes datagrams that arrived on interface i count as having
// come out of ESP.
func (p *Fake) SetESPIndex(i int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.espIndex = i
}

// Interfaces returns the arrival interfaces Check was asked about, in
// order.
func (p *Fake) Interfaces() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.seen)
}

func (p *Fake) set(table map[netip.Addr]bool, addr netip.Addr, v bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	table[addr] = v
}
