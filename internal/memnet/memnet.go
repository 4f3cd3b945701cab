// Package memnet is an in-memory UDP network for in-process tests: each
// Listen returns a net.PacketConn bound to an IPv4 address and port, and
// datagrams written to an address reach the conn bound to it (or to the
// unspecified address on that port). Nothing leaves the process.
package memnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/dynamics-go/dynamics/internal/queue"
)

// Network is one in-memory internet.
type Network struct {
	mu    sync.Mutex
	conns map[netip.AddrPort]*Conn
	// Drop, when set, is consulted for every datagram; returning true
	// loses it, as a lossy path would.
	Drop func(from, to netip.AddrPort, payload []byte) bool
}

// New returns an empty network.
func New() *Network { return &Network{conns: make(map[netip.AddrPort]*Conn)} }

// ErrInUse is returned when an address and port are already bound.
var ErrInUse = errors.New("memnet: address in use")

// Listen binds a conn to addr (for example "10.1.0.1:434" or "0.0.0.0:434").
func (n *Network) Listen(addr string) (*Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.conns[ap]; ok {
		return nil, fmt.Errorf("%w: %s", ErrInUse, ap)
	}
	c := &Conn{net: n, local: ap, queue: queue.New[datagram](1024)}
	n.conns[ap] = c
	return c, nil
}

func (n *Network) lookup(to netip.AddrPort) *Conn {
	n.mu.Lock()
	defer n.mu.Unlock()
	if c, ok := n.conns[to]; ok {
		return c
	}
	return n.conns[netip.AddrPortFrom(netip.IPv4Unspecified(), to.Port())]
}

type datagram struct {
	b    []byte
	from netip.AddrPort
}

// Conn is a net.PacketConn on a Network.
type Conn struct {
	net   *Network
	local netip.AddrPort
	queue *queue.Queue[datagram]

	// SourceAddr is the source address of datagrams from a conn bound to
	// the unspecified address; set it before use.
	SourceAddr netip.Addr
}

var _ net.PacketConn = (*Conn)(nil)

// ReadFrom implements net.PacketConn; the address is a *net.UDPAddr.
func (c *Conn) ReadFrom(b []byte) (int, net.Addr, error) {
	d, err := c.queue.Pop()
	if err != nil {
		return 0, nil, err
	}
	return copy(b, d.b), net.UDPAddrFromAddrPort(d.from), nil
}

// WriteTo implements net.PacketConn. A datagram to an address nobody is
// bound to is silently lost, as UDP would lose it. The source is the conn's
// address; a conn bound to 0.0.0.0 sends from SourceAddr if set.
func (c *Conn) WriteTo(b []byte, addr net.Addr) (int, error) {
	select {
	case <-c.queue.Closed():
		return 0, net.ErrClosed
	default:
	}
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, fmt.Errorf("memnet: %T is not a UDP address", addr)
	}
	to := ua.AddrPort()
	to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	from := c.local
	if from.Addr().IsUnspecified() && c.SourceAddr.IsValid() {
		from = netip.AddrPortFrom(c.SourceAddr, from.Port())
	}
	if c.net.Drop != nil && c.net.Drop(from, to, b) {
		return len(b), nil
	}
	if dst := c.net.lookup(to); dst != nil {
		dst.queue.Push(datagram{b: append([]byte(nil), b...), from: from}) // full: lost
	}
	return len(b), nil
}

// Close implements net.PacketConn and unbinds the address.
func (c *Conn) Close() error {
	if c.queue.Close() {
		c.net.mu.Lock()
		delete(c.net.conns, c.local)
		c.net.mu.Unlock()
	}
	return nil
}

// LocalAddr implements net.PacketConn.
func (c *Conn) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(c.local) }

// SetDeadline implements net.PacketConn (reads only: writes never block).
func (c *Conn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline implements net.PacketConn.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.queue.SetDeadline(t)
	return nil
}

// SetWriteDeadline implements net.PacketConn; writes never block.
func (c *Conn) SetWriteDeadline(time.Time) error { return nil }
