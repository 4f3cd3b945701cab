package mn

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/binding"
	"github.com/dynamics-go/dynamics/libdynamics/daemon"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
)

// Port is the registration port (RFC 5944 section 3.1).
const Port = 434

// ErrStopped is returned by Do once Run has returned.
var ErrStopped = errors.New("mn: node stopped")

// Options are what a Node runs with. Config, Link, UDP and Kernel are
// required.
type Options struct {
	Config Config
	// Link carries the frames of the roaming interface: advertisements in,
	// solicitations and requests to foreign agents out.
	Link link.Conn
	// UDP is the registration socket, bound to 0.0.0.0:434: every reply
	// arrives on it, and requests to the home agent (co-located, and
	// deregistrations at home) leave from it. If it implements
	// SourceWriter each request leaves from the address the mobile chose;
	// otherwise the kernel's routes choose the source.
	UDP net.PacketConn
	// Kernel receives the routes, addresses and tunnels the mobile needs.
	Kernel kernel.Kernel
	// Prober checks that a co-located gateway answers; nil leaves the
	// COLOCATED section unused.
	Prober Prober
	// Clock tells the time; nil is binding.SystemClock. The loop
	// re-reads it after every event and operation, so a test may advance
	// a binding.ManualClock and then call Do.
	Clock binding.Clock
	// Logger receives the node's log; nil discards it.
	Logger *slog.Logger
	// Rand supplies nonces (Replay nonce); nil is crypto/rand.
	Rand io.Reader

	// Protector judges the replies received (one that must have come
	// through ESP and came in clear is dropped) and says whether a
	// request may be sent now; nil is secure.Off, no protection. If UDP
	// implements InterfaceReader, each reply's arrival interface is
	// passed on; otherwise 0.
	Protector secure.Protector
	// Mover moves the SAs with the home agent when the mobile registers
	// from another address of its own, and offers and withdraws the
	// addresses of IPSEC_INTERFACES; nil: the mobile moves nothing.
	Mover secure.Mover
	// Watcher reports the addresses of the IPSEC_INTERFACES; nil
	// leaves the section unused. NetlinkWatcher is the real one.
	Watcher AddrWatcher
}

// InterfaceReader is a UDP socket that tells on which interface each
// datagram arrived (IP_PKTINFO). UDPConn is one.
type InterfaceReader interface {
	// ReadFromIface reads one datagram into b: its length, the index of
	// the interface it arrived on (0 when unknown) and its source.
	ReadFromIface(b []byte) (n, ifindex int, from netip.AddrPort, err error)
}

// AddrWatcher follows the IPv4 addresses of interfaces.
type AddrWatcher interface {
	// Watch calls report for each interface named, at once and whenever
	// what it reports changes, until ctx ends: the interface's IPv4
	// address while it is up, or the zero Addr while it is down, absent
	// or without one. report is called from one goroutine at a time.
	Watch(ctx context.Context, names []string, report func(name string, addr netip.Addr)) error
}

// SourceWriter is a UDP socket that sends each datagram from a source
// address of the caller's choice (IP_PKTINFO). UDPConn is one.
type SourceWriter interface {
	WriteToFrom(b []byte, dst netip.AddrPort, src netip.Addr) error
}

// Prober asks whether target answers ARP on the roaming interface, asking
// from src, which is configured there; it returns target's hardware
// address. ARPProber is the real one.
type Prober interface {
	Probe(ctx context.Context, src, target netip.Addr) (net.HardwareAddr, error)
}

// Node is a mobile node. New makes one, Run runs it; Do, Status and Stats
// read or change its state from other goroutines while it runs.
type Node struct {
	// runStart is when Run began, for the status's uptime.
	runStart time.Time

	cfg    Config
	link   link.Conn
	udp    net.PacketConn
	k      kernel.Kernel
	prober Prober
	clock  binding.Clock
	log    *slog.Logger
	rand   io.Reader
	// protect judges replies and sends (secure.Off without IPsec);
	// mover moves the SAs, or nil; watcher follows IPSEC_INTERFACES.
	protect secure.Protector
	mover   secure.Mover
	watcher AddrWatcher

	events  chan event
	ops     *daemon.Ops[*Loop]
	started atomic.Bool
	stopped chan struct{}

	// Counted by the reader goroutines: datagrams and frames that do not
	// parse never reach the loop; unknownExt the replies among them with
	// an unknown extension below 128 (RFC 5944 section 1.9).
	malformed  atomic.Uint64
	unknownExt atomic.Uint64
	// unprotected counts replies that came in clear from a peer whose
	// signalling must arrive in ESP.
	unprotected atomic.Uint64

	loop *Loop
}

// New checks the options and returns a Node ready to Run.
func New(opts Options) (*Node, error) {
	switch {
	case opts.Link == nil:
		return nil, errors.New("mn: no link")
	case opts.UDP == nil:
		return nil, errors.New("mn: no UDP socket")
	case opts.Kernel == nil:
		return nil, errors.New("mn: no kernel")
	case !opts.Config.Home.Is4() || !opts.Config.HA.Is4() || !opts.Config.HomeNet.IsValid():
		return nil, errors.New("mn: configuration lacks the home address, home agent or home network")
	case opts.Config.Interface == "":
		return nil, errors.New("mn: configuration names no interface")
	case opts.Config.RetryInterval <= 0 || opts.Config.SolicitInterval <= 0:
		return nil, errors.New("mn: RetryInterval and SolicitInterval must be positive")
	}
	n := &Node{
		cfg:     opts.Config,
		link:    opts.Link,
		udp:     opts.UDP,
		k:       opts.Kernel,
		prober:  opts.Prober,
		clock:   opts.Clock,
		log:     opts.Logger,
		rand:    opts.Rand,
		protect: opts.Protector,
		mover:   opts.Mover,
		watcher: opts.Watcher,
		events:  make(chan event, 64),
		stopped: make(chan struct{}),
	}
	n.ops = daemon.NewOps[*Loop](n.stopped, ErrStopped)
	if n.cfg.MaxRetryInterval < n.cfg.RetryInterval {
		n.cfg.MaxRetryInterval = n.cfg.RetryInterval
	}
	if n.clock == nil {
		n.clock = binding.SystemClock{}
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if n.rand == nil {
		n.rand = rand.Reader
	}
	if n.protect == nil {
		n.protect = secure.Off{}
	}
	n.loop = newLoop(n)
	return n, nil
}

// Run runs the node until ctx is cancelled, then returns nil; the caller
// closes the sockets and the kernel afterwards (closing the kernel removes
// every entry the node made). It first removes what an earlier run left in
// the kernel. Run may be called once.
func (n *Node) Run(ctx context.Context) error {
	if !n.started.CompareAndSwap(false, true) {
		return errors.New("mn: Run called twice")
	}
	defer close(n.stopped)
	n.runStart = n.clock.Now()
	if err := n.k.Sync(nil); err != nil {
		n.log.Error("cannot remove the kernel state of an earlier run", "err", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { n.readLink(ctx) })
	wg.Go(func() { n.readUDP(ctx) })
	if names := n.cfg.ipsecInterfaceNames(); n.watcher != nil && len(names) > 0 {
		wg.Go(func() { n.watch(ctx, names) })
	}
	defer func() {
		cancel()
		past := time.Unix(1, 0)
		_ = n.link.SetReadDeadline(past)
		_ = n.udp.SetReadDeadline(past)
		wg.Wait()
		n.loop.wg.Wait() // probes
	}()

	l := n.loop
	l.ctx = ctx
	l.start(n.clock.Now())
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		l.settle(n.clock.Now())
		wait := time.Hour
		if !l.next.IsZero() {
			wait = max(l.next.Sub(n.clock.Now()), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			l.log.Info("mobile node stopping", "state", l.state)
			return nil
		case ev := <-n.events:
			l.handle(ev, n.clock.Now())
		case o := <-n.ops.C():
			o.Call(l)
			// Whatever fn changed, and whatever came due by the
			// clock, is done before Do returns.
			now := n.clock.Now()
			l.tick(now)
			l.settle(now)
			o.Done()
			continue
		case <-timer.C:
		}
		l.tick(n.clock.Now())
	}
}

// Do runs fn in the node's loop, where it may read and change the state,
// and waits for it and for what it (or the clock) made due: kernel changes
// and transmissions. A nil fn just makes the loop look at the clock again.
// Before Run it waits for Run to start; it fails when ctx ends first or the
// node has stopped (ErrStopped).
func (n *Node) Do(ctx context.Context, fn func(*Loop)) error { return n.ops.Do(ctx, fn) }

// Status returns a snapshot of the node's registration state.
func (n *Node) Status(ctx context.Context) (Status, error) {
	var s Status
	err := n.Do(ctx, func(l *Loop) { s = l.Status() })
	return s, err
}

// Stats returns a snapshot of the node's counters.
func (n *Node) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := n.Do(ctx, func(l *Loop) { s = l.Stats() })
	return s, err
}

// String names the node for logs.
func (n *Node) String() string {
	return fmt.Sprintf("mobile node %s on %s", n.cfg.Home, n.cfg.Interface)
}
