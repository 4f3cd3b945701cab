package ha

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/binding"
	"github.com/dynamics-go/dynamics/libdynamics/daemon"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
	"github.com/dynamics-go/dynamics/libdynamics/tunnel"
)

// Timing of what the agent repeats.
const (
	// GratuitousARPs is how many gratuitous ARPs announce a mobile node's
	// departure on the home link (RFC 5944 section 4.6), GratuitousARPInterval
	// apart.
	GratuitousARPs        = 3
	GratuitousARPInterval = time.Second
	// RevocationTries is how many times a revocation is sent without an
	// acknowledgment before the agent gives up; the first retransmission
	// waits RevocationInterval and each later one twice the one before.
	RevocationTries    = 4
	RevocationInterval = time.Second
	// minSolicitedGap is the least time between two advertisements sent in
	// answer to solicitations, so a flood of solicitations cannot make the
	// agent flood the home link.
	minSolicitedGap = 100 * time.Millisecond
)

// Options are what an Agent runs with. Sockets, kernel, clock and logger
// are values so that tests run the agent over memnet and link.Hub with
// kernel.Fake and binding.ManualClock.
type Options struct {
	// Config is the decoded configuration.
	Config Config
	// Conn is the UDP socket bound to HAIPAddress port 434.
	Conn net.PacketConn
	// Link is the home interface, for advertisements and solicitations;
	// nil sends none.
	Link   link.Conn
	Kernel kernel.Kernel
	Clock  binding.Clock // nil: binding.SystemClock
	Logger *slog.Logger  // nil: slog.Default()
	// Protector is signalling protection: it judges every registration
	// message received and says whether one may be sent (package secure).
	// nil is secure.Off: nothing is required.
	Protector secure.Protector
	// Rand supplies the nonces of nonce replay protection, the session
	// keys and SPIs of hierarchical registrations and, without
	// SessionKeySecret, the key-generation secret; nil is crypto/rand.
	Rand io.Reader
}

// ErrStopped is returned by Do and Stats once Run has returned.
var ErrStopped = errors.New("ha: agent stopped")

// Agent is a home agent. New makes one, Run runs it; Do and Stats reach its
// state from other goroutines.
type Agent struct {
	// runStart is when Run began, for the status's uptime.
	runStart time.Time

	// releaseAfterReply are the care-of addresses whose tunnel reference a
	// move gave up, released once the reply has been sent (loop-owned).
	releaseAfterReply []netip.Addr

	cfg    Config
	conn   net.PacketConn
	link   link.Conn
	kern   kernel.Kernel
	clock  binding.Clock
	log    *slog.Logger
	rand   io.Reader
	prot   secure.Protector
	fasas  map[netip.Addr]mip.SecurityAssociation
	maxLif uint16 // MaxLifetime in seconds
	secret []byte // the session keys' key-generation secret

	events  chan []event // what the readers parsed, a batch at a time
	out     sender       // owned by the loop
	ops     *daemon.Ops[*State]
	stopped chan struct{}
	running sync.Once

	counts counters

	// Owned by the loop.
	st          State
	stats       Stats
	mobiles     map[netip.Addr]*mobile
	replay      mip.ReplayGuard
	bindings    *binding.Table
	binfo       map[netip.Addr]*bindingInfo
	tunnels     *tunnel.Table
	revocations map[revKey]*revocation
	lastRevID   uint32                // the last revocation id or support timestamp sent
	faRevIDs    map[netip.Addr]uint32 // per foreign agent: the id its revocations must exceed
	faStamps    map[netip.Addr]uint32 // per foreign agent: its last Revocation Support timestamp
	arps        arpQueue
	seq         uint16
	nextAdv     time.Time
	lastSolAdv  time.Time
	unprotLog   logging.Limit // the debug lines of admit's drops
}

// mobile is an authorised mobile node.
type mobile struct {
	sa      mip.SecurityAssociation
	enabled bool
	// mac is the HMAC-MD5 state keyed with macKey (see hmacState); sum
	// receives its digests.
	mac    hash.Hash
	macKey []byte
	sum    [md5.Size]byte
}

// bindingInfo is what a binding has beyond binding.Binding.
type bindingInfo struct {
	sender     netip.AddrPort
	tunnel     tunnel.Tunnel
	revocation bool
	sessionSPI uint32 // the session SPI issued with the last registration; 0 for none
}

// New checks the options and returns an agent ready to Run.
func New(opts Options) (*Agent, error) {
	cfg := opts.Config
	switch {
	case !cfg.HAIPAddress.Is4():
		return nil, errors.New("ha: no IPv4 home agent address")
	case !cfg.HomeNetPrefix.Addr().Is4() || !cfg.HomeNetPrefix.Contains(cfg.HAIPAddress):
		return nil, errors.New("ha: the home network prefix does not hold the home agent address")
	case cfg.HomeInterface == "":
		return nil, errors.New("ha: no home interface")
	case opts.Conn == nil:
		return nil, errors.New("ha: no UDP socket")
	case opts.Kernel == nil:
		return nil, errors.New("ha: no kernel")
	case cfg.MaxBindings < 1 || cfg.MaxLifetime < time.Second || cfg.ReplayWindow <= 0:
		return nil, errors.New("ha: configuration without defaults (start from DefaultConfig)")
	}
	tunnels, err := tunnel.New(cfg.TunnelPrefix)
	if err != nil {
		return nil, fmt.Errorf("ha: TunnelPrefix: %w", err)
	}
	if c, ok := opts.Conn.(*net.UDPConn); ok {
		if err := askInterface(c); err != nil {
			return nil, fmt.Errorf("ha: UDP socket: %w", err)
		}
	}
	a := &Agent{
		unprotLog:   logging.Limit{Gap: unprotectedLogGap},
		cfg:         cfg,
		conn:        opts.Conn,
		link:        opts.Link,
		kern:        opts.Kernel,
		clock:       opts.Clock,
		log:         opts.Logger,
		rand:        opts.Rand,
		prot:        opts.Protector,
		fasas:       make(map[netip.Addr]mip.SecurityAssociation),
		maxLif:      uint16(min(cfg.MaxLifetime/time.Second, time.Duration(mip.Infinite-1))),
		events:      make(chan []event, 64),
		out:         newSender(opts.Conn),
		stopped:     make(chan struct{}),
		mobiles:     make(map[netip.Addr]*mobile),
		replay:      mip.ReplayGuard{Window: cfg.ReplayWindow},
		bindings:    binding.New(0),
		binfo:       make(map[netip.Addr]*bindingInfo),
		tunnels:     tunnels,
		revocations: make(map[revKey]*revocation),
		faRevIDs:    make(map[netip.Addr]uint32),
		faStamps:    make(map[netip.Addr]uint32),
	}
	a.st.a = a
	a.ops = daemon.NewOps[*State](a.stopped, ErrStopped)
	a.stats.Denied = make(map[mip.Code]uint64)
	if a.clock == nil {
		a.clock = binding.SystemClock{}
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.rand == nil {
		a.rand = rand.Reader
	}
	if a.prot == nil {
		a.prot = secure.Off{}
	}
	a.secret = cfg.SessionKeySecret
	if len(a.secret) == 0 {
		a.secret = make([]byte, secretLen)
		if _, err := io.ReadFull(a.rand, a.secret); err != nil {
			return nil, fmt.Errorf("ha: key-generation secret: %w", err)
		}
	}
	for _, e := range cfg.Authorized {
		a.mobiles[e.Home] = &mobile{sa: e.SA(), enabled: true}
	}
	for _, e := range cfg.Security {
		a.fasas[e.Peer] = e.SA()
	}
	return a, nil
}

// Run serves until ctx is cancelled or a socket fails: one goroutine reads
// the UDP socket, one the home link, and the calling goroutine runs the
// loop that owns the tables, timers and kernel state. On return every
// binding's kernel state has been removed (tunnels, routes, proxy entries);
// the caller closes the kernel, which also restores the sysctls. Run closes
// neither the socket nor the link; it may be called once.
func (a *Agent) Run(ctx context.Context) error {
	first := false
	a.running.Do(func() { first = true })
	if !first {
		return errors.New("ha: Run called twice")
	}
	defer close(a.stopped)
	a.runStart = a.clock.Now()
	if err := a.kern.Sync(a.baseEntries()); err != nil {
		return fmt.Errorf("ha: kernel: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	readErr := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Go(func() { readErr <- a.readUDP(ctx) })
	if a.link != nil {
		wg.Go(func() { readErr <- a.readLink(ctx) })
	}

	a.log.Info("home agent running", logging.KeyHA, a.cfg.HAIPAddress, "prefix", a.cfg.HomeNetPrefix,
		logging.KeyIface, a.cfg.HomeInterface, "mobiles", len(a.mobiles), "foreign_agents", len(a.fasas),
		"kernel", a.kern.Name())
	a.nextAdv = a.clock.Now()
	err := a.loop(ctx, readErr)
	a.teardown()

	// The readers block in ReadFrom and ReadFrame: cancel, then wake them.
	cancel()
	_ = a.conn.SetReadDeadline(time.Unix(1, 0))
	if a.link != nil {
		_ = a.link.SetReadDeadline(time.Unix(1, 0))
	}
	wg.Wait()
	return err
}

// loop is the agent's event loop.
func (a *Agent) loop(ctx context.Context, readErr <-chan error) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	defer a.flush()
	for {
		a.runDue()
		if len(a.events) == 0 {
			// Nothing waits: send what the last events queued.
			a.flush()
		}
		if next, ok := a.nextDeadline(); ok {
			timer.Reset(max(next.Sub(a.clock.Now()), time.Millisecond))
		} else {
			timer.Reset(time.Hour)
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-readErr:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case evs := <-a.events:
			for _, ev := range evs {
				a.runDue()
				a.handle(ev)
			}
		case o := <-a.ops.C():
			a.runDue()
			a.flush()
			o.Call(&a.st)
			a.flush()
			o.Done()
		case <-timer.C:
		}
	}
}

// runDue does what the clock says is due: binding expiry, gratuitous ARPs,
// revocation retransmissions, advertisements.
func (a *Agent) runDue() {
	now := a.clock.Now()
	for _, b := range a.bindings.Expire(now) {
		a.stats.Expired++
		a.log.Info("binding expired", logging.KeyHome, b.Home, logging.KeyCoA, b.CareOf, logging.KeyID, b.ID)
		a.unbind(b)
	}
	a.runARPs(now)
	a.runRevocations(now)
	if a.link != nil && a.cfg.AgentAdvInterval > 0 && !now.Before(a.nextAdv) {
		a.advertise(nil)
		a.nextAdv = now.Add(a.cfg.AgentAdvInterval)
	}
}

// nextDeadline is the earliest instant runDue has work.
func (a *Agent) nextDeadline() (time.Time, bool) {
	var next time.Time
	ok := false
	consider := func(t time.Time) {
		if !ok || t.Before(next) {
			next, ok = t, true
		}
	}
	if b, found := a.bindings.Next(); found {
		consider(b.Expiry)
	}
	if next, ok := a.arps.next(); ok {
		consider(next)
	}
	for _, r := range a.revocations {
		consider(r.Next)
	}
	if a.link != nil && a.cfg.AgentAdvInterval > 0 {
		consider(a.nextAdv)
	}
	return next, ok
}

// Do runs fn in the agent's loop, where it may read and change the agent's
// state, and waits for it to finish. Due timers are run first, so a test
// that advanced a binding.ManualClock sees their effects. A nil fn only runs
// the timers.
func (a *Agent) Do(ctx context.Context, fn func(*State)) error { return a.ops.Do(ctx, fn) }

// Stats returns a snapshot of the agent's counters, taken in its loop.
func (a *Agent) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := a.Do(ctx, func(st *State) { s = st.Stats() })
	return s, err
}

// baseEntries are the kernel entries the agent holds for its whole run:
// forwarding on (proxy ARP answers only for forwarded destinations); no
// reverse-path filter by default and for all devices, so the tunnel
// devices, which inherit the default when they are made, accept reverse-
// tunnelled packets from home addresses (RFC 3024); and no proxy delay on
// the home link, so proxy ARP answers at once after a mobile leaves.
func (a *Agent) baseEntries() []kernel.Entry {
	return []kernel.Entry{
		kernel.Sysctl{Name: "net/ipv4/ip_forward", Value: "1"},
		kernel.Sysctl{Name: "net/ipv4/conf/all/rp_filter", Value: "0"},
		kernel.Sysctl{Name: "net/ipv4/conf/default/rp_filter", Value: "0"},
		kernel.Sysctl{Name: "net/ipv4/neigh/" + a.cfg.HomeInterface + "/proxy_delay", Value: "0"},
	}
}

// teardown removes every binding's kernel state when the agent stops.
func (a *Agent) teardown() {
	for _, b := range a.bindings.List() {
		a.unbind(b)
	}
	clear(a.revocations)
}

// view returns b as the State shows it.
func (a *Agent) view(b binding.Binding) Binding {
	v := Binding{
		Home: b.Home, CareOf: b.CareOf, ID: b.ID, Flags: mip.Flags(b.Flags),
		Lifetime: b.Lifetime, Expiry: b.Expiry,
	}
	if info := a.binfo[b.Home]; info != nil {
		v.Sender, v.Tunnel, v.Revocation, v.SessionSPI = info.sender, info.tunnel.Name, info.revocation, info.sessionSPI
	}
	return v
}
