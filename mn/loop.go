package mn

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// location is where the mobile believes it is attached.
type location uint8

const (
	atUnknown   location = iota // no agent, no co-located address
	atHome                      // on the home link
	atAgent                     // on a foreign agent's link
	atColocated                 // on a COLOCATED network, with its address
)

func (w location) String() string {
	switch w {
	case atHome:
		return "home"
	case atAgent:
		return "foreign-agent"
	case atColocated:
		return "co-located"
	}
	return "unknown"
}

// Loop is the mobile node's state, owned by the goroutine of Run. Do hands
// it to a function run there; nothing else may touch it.
type Loop struct {
	n   *Node
	cfg *Config
	log *slog.Logger
	ctx context.Context
	wg  sync.WaitGroup // probes in flight
	// loaded is the configuration as loaded last (New, Reload), without
	// what the control API changed since; a reload applies what differs
	// from it.
	loaded Config

	state State
	since time.Time
	where location
	next  time.Time // the earliest deadline; zero for none

	// Discovery.
	heard map[netip.Addr]*agent // unexpired advertisements by agent address
	cur   *agent                // the agent attached to (the home agent at home)
	held  map[string]time.Time  // agents and co-located entries given up on, until
	// silenced is the last advertisement of the current agent whose
	// silence has been acted on (checkSilence).
	silenced time.Time
	// Solicitation while no agent is heard.
	solicits  int
	solicitAt time.Time

	// Co-located care-of addresses.
	coloc   int    // entry of Config.Colocated in use (atColocated), or -1
	probe   *probe // probe in flight, or nil
	probeN  uint64 // probe generations, to drop stale results
	checkAt time.Time

	// Registration.
	pending  *attempt     // outstanding request, or nil
	reg      registration // the accepted registration, if any
	offset   time.Duration
	haNonce  uint32
	lastID   uint64
	announce bool     // a gratuitous ARP for the home address is due
	txN      uint64   // requests sent, numbering them
	session  *session // the session key of the last full registration through a hierarchy, or nil

	// Blocking calls (connect.go).
	disc          bool      // disconnected, or disconnecting, by Disconnect or StartDisconnected
	call          *waiter   // the Connect or Confirm blocking, or nil
	disconnecting []*waiter // the Disconnects blocking

	// Signalling protection (protect.go).
	ipsecAddr    netip.Addr    // the address the SAs with the home agent use now
	ipsecWant    netip.Addr    // where they are to move, or zero
	moving       *moverOp      // the call of the Mover in flight, or nil
	ifaces       []*ipsecIface // the IPSEC_INTERFACES, in order
	offerRetryAt time.Time     // a failed offer is tried again then

	// Kernel.
	installed []kernel.Entry
	retryAt   time.Time // a failed kernel change is retried then
	kernelErr string    // the last failure, logged once

	stats Stats
}

func newLoop(n *Node) *Loop {
	return &Loop{
		n:     n,
		cfg:   &n.cfg,
		log:   n.log,
		ctx:   context.Background(),
		heard: map[netip.Addr]*agent{},
		held:  map[string]time.Time{},
		coloc: -1,
		stats: newStats(),

		loaded: n.cfg,

		ipsecAddr: n.cfg.Home,
		ifaces:    ipsecIfaces(n.cfg.IPsecInterfaces),
	}
}

func ipsecIfaces(entries []IPsecInterface) []*ipsecIface {
	var f []*ipsecIface
	for _, e := range entries {
		f = append(f, &ipsecIface{name: e.Name})
	}
	return f
}

// start begins at Startup, soliciting at once, or Disconnected with
// StartDisconnected.
func (l *Loop) start(now time.Time) {
	l.since = now
	l.solicitAt = now
	attrs := []any{logging.KeyHome, l.cfg.Home, logging.KeyHA, l.cfg.HA,
		logging.KeyIface, l.cfg.Interface, "mode", l.cfg.TunnelingMode, "disconnected", l.cfg.StartDisconnected}
	if l.n.mover != nil {
		attrs = append(attrs, "ipsec_address", l.ipsecAddr)
	}
	l.log.Info("mobile node starting", attrs...)
	if l.cfg.StartDisconnected {
		l.disc = true
		l.setState(StateDisconnected, now)
	}
}

// setState changes the state and logs the transition at debug level (the
// decisions leading to it are logged where they are made).
func (l *Loop) setState(s State, now time.Time) {
	if s == l.state {
		return
	}
	l.log.Debug("state changed", "from", l.state, "to", s)
	l.state, l.since = s, now
	if s == StateFindingAgent {
		l.solicits, l.solicitAt = 0, now
	}
}

// handle processes one event from a reader or a probe.
func (l *Loop) handle(ev event, now time.Time) {
	switch e := ev.(type) {
	case advertEvent:
		l.onAdvert(e, now)
	case replyEvent:
		l.onReply(e, now)
	case probeEvent:
		l.onProbe(e, now)
	case ifaceEvent:
		l.onIface(e)
	case moverEvent:
		l.onMover(e, now)
	}
}

// tick fires every deadline that has passed.
func (l *Loop) tick(now time.Time) {
	l.expireAgents(now)
	l.checkSilence(now)
	if l.state == StateStartup || l.state == StateFindingAgent {
		if !now.Before(l.solicitAt) {
			l.solicit(now)
		}
	}
	if l.where == atColocated && l.probe == nil && !l.checkAt.IsZero() && !now.Before(l.checkAt) {
		l.startProbe(l.coloc, true, now)
	}
	l.tickRegistration(now)
}

// settle brings the kernel to the state's entries, then makes the
// announcements, probes and transmissions that need them, and computes the
// next deadline. A request to a foreign agent goes first: it leaves as a
// frame to the agent's hardware address and needs nothing of the kernel,
// so the round trip of a move runs while the kernel changes are made.
func (l *Loop) settle(now time.Time) {
	if p := l.pending; p != nil && p.via != nil {
		l.flush(now)
	}
	l.syncKernel(now)
	if l.announce {
		l.announce = false
		if err := l.n.k.GratuitousARP(l.cfg.Interface, l.cfg.Home); err != nil {
			l.log.Warn("gratuitous ARP failed", logging.KeyHome, l.cfg.Home, logging.KeyIface, l.cfg.Interface, "err", err)
		}
	}
	l.launchProbe()
	l.flush(now)
	l.runMover(now)
	l.answerCalls()
	l.next = l.deadline()
}

// deadline returns the earliest time something is due.
func (l *Loop) deadline() time.Time {
	var d time.Time
	at := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	if l.cur != nil {
		at(l.cur.expiry)
		if !l.disc && !l.silenced.Equal(l.cur.heardAt) {
			at(silentAt(l.cur))
		}
	}
	for _, a := range l.heard {
		at(a.expiry)
	}
	if l.state == StateStartup || l.state == StateFindingAgent {
		at(l.solicitAt)
	}
	if l.where == atColocated && l.probe == nil {
		at(l.checkAt)
	}
	if l.pending != nil && !l.pending.due {
		// A request due waits for nothing but a move of the SAs,
		// whose answer wakes the loop.
		at(l.pending.nextAt)
	}
	at(l.offerRetryAt)
	if l.reg.valid() {
		if l.pending == nil {
			at(l.reg.renewAt)
		}
		at(l.reg.expiry)
	}
	at(l.retryAt)
	return d
}

// State returns the registration state.
func (l *Loop) State() State { return l.state }

// Status is a snapshot of the mobile node's state.
type Status struct {
	State State
	// Since is when the node entered State.
	Since time.Time
	// Location is "home", "foreign-agent", "co-located" or "unknown".
	Location string
	Home     netip.Addr
	HA       netip.Addr
	Mode     TunnelingMode
	// Agent is the foreign agent attached to, or the home agent at home;
	// AgentHW its hardware address.
	Agent   netip.Addr
	AgentHW net.HardwareAddr
	// CareOf is the care-of address registered, or being registered;
	// Colocated reports whether it is the mobile's own.
	CareOf    netip.Addr
	Colocated bool
	// Lifetime is the lifetime granted to the registration in force and
	// Expiry when it ends; zero when not registered. Infinite lifetimes
	// have no Expiry.
	Lifetime time.Duration
	Expiry   time.Time
	// Pending reports an outstanding request (a registration, renewal or
	// deregistration).
	Pending bool
	// FAPath is the FA Path the current foreign agent advertises (itself,
	// its upper agent, the highest agent), nil outside a hierarchy.
	FAPath []netip.Addr
	// SessionSPI is the SPI of the session key the mobile holds for local
	// moves in a hierarchy (0 for none) and SessionExpiry when it runs
	// out (zero: with the registration).
	SessionSPI    uint32
	SessionExpiry time.Time
	// IPsecAddr is the address the IPsec SAs with the home agent use
	// now (the home address, or a co-located care-of address); zero
	// without signalling protection.
	IPsecAddr netip.Addr
}

// Status returns a snapshot of the state.
func (l *Loop) Status() Status {
	s := Status{
		State:    l.state,
		Since:    l.since,
		Location: l.where.String(),
		Home:     l.cfg.Home,
		HA:       l.cfg.HA,
		Mode:     l.cfg.TunnelingMode,
		Pending:  l.pending != nil,
	}
	if l.n.mover != nil {
		s.IPsecAddr = l.ipsecAddr
	}
	if l.cur != nil {
		s.Agent, s.AgentHW = l.cur.addr, append(net.HardwareAddr(nil), l.cur.hw...)
		s.FAPath = slices.Clone(l.cur.path)
	}
	if ss := l.validSession(l.n.clock.Now()); ss != nil {
		s.SessionSPI, s.SessionExpiry = ss.spi, ss.expiry
	}
	switch {
	case l.reg.valid():
		s.CareOf, s.Colocated = l.reg.coa, l.reg.colocated
		s.Lifetime, s.Expiry = l.reg.lifetime, l.reg.expiry
	case l.pending != nil && !l.pending.dereg:
		s.CareOf, s.Colocated = l.pending.coa, l.pending.colocated
	}
	return s
}

// Stats returns a snapshot of the counters.
func (l *Loop) Stats() Stats {
	s := l.stats.clone()
	s.Discards.Malformed += l.n.malformed.Load()
	s.Discards.UnknownExtension += l.n.unknownExt.Load()
	s.Discards.Unprotected += l.n.unprotected.Load()
	return s
}

// lifetimeSeconds is the configured lifetime on the wire.
func (l *Loop) lifetimeSeconds() uint16 {
	s := l.cfg.Lifetime / time.Second
	if s > time.Duration(mip.Infinite) {
		return mip.Infinite
	}
	if s < 1 {
		return 1
	}
	return uint16(s)
}
