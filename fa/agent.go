package fa

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
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
	"github.com/dynamics-go/dynamics/libdynamics/sessionkey"
	"github.com/dynamics-go/dynamics/libdynamics/tunnel"
)

// Link is a visitor interface: the frame connection on it and the agent's
// address there with the link's prefix length (10.2.0.1/24).
type Link struct {
	Conn link.Conn
	Addr netip.Prefix
}

// Options are what an Agent runs with. Sockets, kernel, clock and logger are
// values so that tests run the agent over memnet and link.Hub with
// kernel.Fake and binding.ManualClock.
type Options struct {
	// Config is the decoded configuration; Config.CareOfAddress must be
	// set (the command fills it from the upstream interface when the file
	// does not).
	Config Config
	// Upstream is the UDP socket on port 434 toward the home agents. It
	// must not deliver the datagrams that mobiles send on the visitor links
	// (see ListenUpstream): those arrive as frames on Links.
	Upstream net.PacketConn
	// Links are the visitor interfaces, in the order of Config.Interfaces.
	// An agent in a hierarchy may have none.
	Links []Link
	// Key is the agent's RSA key pair (LoadKeys), required in a hierarchy:
	// its public key goes up in relayed requests, and session keys come
	// down encrypted with it.
	Key *rsa.PrivateKey
	// Protector is signalling protection: it judges every registration
	// message received and says whether one may be sent (package secure).
	// nil is secure.Off: nothing is required.
	Protector secure.Protector
	Kernel    kernel.Kernel
	Clock     binding.Clock // nil: binding.SystemClock
	Logger    *slog.Logger  // nil: slog.Default()
}

// ErrStopped is returned by Do and Stats once Run has returned.
var ErrStopped = errors.New("fa: agent stopped")

// Agent is a foreign agent. New makes one, Run runs it; Do and Stats reach
// its state from other goroutines.
type Agent struct {
	// runStart is when Run began, for the status's uptime.
	runStart time.Time

	cfg    Config
	careOf netip.Addr // the agent's own address upstream; tunnels start here
	advCoA netip.Addr // the care-of address advertised: the highest agent's in a hierarchy
	key    *rsa.PrivateKey
	pubDER []byte // the public key as sent in FA Public Key extensions
	// unwrap decrypts an FA Session Key extension's ciphertext:
	// sessionkey.UnwrapForFA.
	unwrap   func(*rsa.PrivateKey, []byte, []byte) (sessionkey.Key, error)
	upstream net.PacketConn
	links    []Link
	kern     kernel.Kernel
	clock    binding.Clock
	log      *slog.Logger
	prot     secure.Protector
	sas      map[netip.Addr]mip.SecurityAssociation

	events  chan event
	ops     *daemon.Ops[*State]
	stopped chan struct{}
	running sync.Once

	counts counters

	// Owned by the loop.
	st       State
	stats    Stats
	visitors *binding.Table
	vinfo    map[netip.Addr]*visitorInfo
	pending  map[pendingKey]*Pending
	pendingQ []pendingDeadline         // FIFO: deadlines only grow
	latest   map[netip.Addr]pendingKey // the newest pending request per home
	tunnels  *tunnel.Table
	// upTunnel is the tunnel to the upper agent that the agent holds from
	// start (holdUpward); 0 for none.
	upTunnel tunnel.ID
	seq      []uint16 // per link: the sequence number of the next advertisement
	nextAdv  time.Time
	// Revocation replay state per home agent (RFC 3543): the timestamp of
	// its last Revocation Support extension and the last revocation
	// identifier accepted.
	revSupport  map[netip.Addr]uint32
	revAccepted map[netip.Addr]uint32
	// Revocations this agent sent to lower agents and not yet seen
	// acknowledged, and the last identifier it used (or timestamp it put
	// in a Revocation Support extension).
	revOut   []*revocationOut
	lastRev  uint32
	upperRev map[netip.Addr]upperRevocation
	// Replay state of revocations from upper agents, per session key.
	sessRevs map[session]sessionRevocations
	// The session key of each mobile's last binding here that is gone,
	// kept as long as its revocation state, so that a switching agent's
	// answer when the mobile comes back under the same key is checked
	// without the RSA decryption (knownSession).
	pastSess  map[netip.Addr]pastSession
	nextPrune time.Time
	unprotLog logging.Limit // the debug lines of admit's drops
}

// visitorInfo is what a visitor has beyond its binding.
type visitorInfo struct {
	down Downlink
	up   netip.Addr
	// tunnel is the upward tunnel, to up; downTunnel the one to the lower
	// agent of down. 0 for none.
	tunnel, downTunnel tunnel.ID
	entries            []kernel.Entry
}

type pendingKey struct {
	home netip.Addr
	id   uint32
}

type pendingDeadline struct {
	key      pendingKey
	deadline time.Time
}

// New checks the options and returns an agent ready to Run.
func New(opts Options) (*Agent, error) {
	cfg := opts.Config
	switch {
	case !cfg.CareOfAddress.Is4():
		return nil, errors.New("fa: no IPv4 care-of address")
	case opts.Upstream == nil:
		return nil, errors.New("fa: no upstream socket")
	case len(opts.Links) == 0 && !cfg.Hierarchy():
		return nil, errors.New("fa: no visitor interface")
	case cfg.Hierarchy() && !cfg.HighestFAIPAddress.Is4():
		return nil, errors.New("fa: HighestFAIPAddress is not an IPv4 address")
	case cfg.UpperFAIPAddress.IsValid() && (!cfg.UpperFAIPAddress.Is4() || cfg.UpperFAIPAddress == cfg.CareOfAddress):
		return nil, fmt.Errorf("fa: UpperFAIPAddress %s is not another agent's IPv4 address", cfg.UpperFAIPAddress)
	case cfg.Highest() && cfg.HighestFAIPAddress != cfg.CareOfAddress:
		return nil, fmt.Errorf("fa: HighestFAIPAddress %s without UpperFAIPAddress: the highest agent must be this one (care-of address %s)",
			cfg.HighestFAIPAddress, cfg.CareOfAddress)
	case cfg.Hierarchy() && opts.Key == nil:
		return nil, errors.New("fa: an agent in a hierarchy needs its key pair (PrivateKeyFile, PublicKeyFile)")
	case opts.Kernel == nil:
		return nil, errors.New("fa: no kernel")
	case cfg.MaxVisitors < 1 || cfg.PendingTimeout <= 0 || cfg.MaxLifetime < time.Second:
		return nil, errors.New("fa: configuration without defaults (start from DefaultConfig)")
	}
	for i, l := range opts.Links {
		if l.Conn == nil || !l.Addr.Addr().Is4() {
			return nil, fmt.Errorf("fa: link %d: no connection or IPv4 address", i)
		}
	}
	tunnels, err := tunnel.New(cfg.TunnelPrefix)
	if err != nil {
		return nil, fmt.Errorf("fa: TunnelPrefix: %w", err)
	}
	var pubDER []byte
	if opts.Key != nil {
		if pubDER, err = sessionkey.MarshalPublicKey(&opts.Key.PublicKey); err != nil {
			return nil, fmt.Errorf("fa: key pair: %w", err)
		}
	}
	a := &Agent{
		unprotLog:   logging.Limit{Gap: unprotectedLogGap},
		cfg:         cfg,
		careOf:      cfg.CareOfAddress,
		advCoA:      cfg.AdvertisedCareOf(),
		key:         opts.Key,
		pubDER:      pubDER,
		unwrap:      sessionkey.UnwrapForFA,
		upstream:    opts.Upstream,
		links:       opts.Links,
		kern:        opts.Kernel,
		clock:       opts.Clock,
		log:         opts.Logger,
		prot:        opts.Protector,
		sas:         make(map[netip.Addr]mip.SecurityAssociation),
		events:      make(chan event, 256),
		stopped:     make(chan struct{}),
		visitors:    binding.New(0),
		vinfo:       make(map[netip.Addr]*visitorInfo),
		pending:     make(map[pendingKey]*Pending),
		latest:      make(map[netip.Addr]pendingKey),
		tunnels:     tunnels,
		seq:         make([]uint16, len(opts.Links)),
		revSupport:  make(map[netip.Addr]uint32),
		revAccepted: make(map[netip.Addr]uint32),
		upperRev:    make(map[netip.Addr]upperRevocation),
		sessRevs:    make(map[session]sessionRevocations),
		pastSess:    make(map[netip.Addr]pastSession),
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
	if a.prot == nil {
		a.prot = secure.Off{}
	}
	for _, e := range cfg.Security {
		a.sas[e.Peer] = e.SA()
	}
	return a, nil
}

// Run serves until ctx is cancelled or a socket fails: one goroutine reads
// each visitor link, one the upstream socket, and the calling goroutine runs
// the loop that owns the tables, timers and kernel state. On return every
// visitor's kernel state has been removed (shared tunnels included); the
// caller closes the kernel, which also restores the sysctls. Run closes
// neither the sockets nor the kernel; it may be called once.
func (a *Agent) Run(ctx context.Context) error {
	first := false
	a.running.Do(func() { first = true })
	if !first {
		return errors.New("fa: Run called twice")
	}
	defer close(a.stopped)
	a.runStart = a.clock.Now()
	if err := a.kern.Sync(a.baseEntries()); err != nil {
		return fmt.Errorf("fa: kernel: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	readErr := make(chan error, len(a.links)+1)
	var wg sync.WaitGroup
	for i := range a.links {
		wg.Go(func() { readErr <- a.readLink(ctx, i) })
	}
	wg.Go(func() { readErr <- a.readUpstream(ctx) })

	a.log.Info("foreign agent running", logging.KeyCoA, a.careOf, "interfaces", len(a.links),
		"reverse_tunnel", a.cfg.ReverseTunnel, "decapsulation", a.cfg.EnableFADecapsulation)
	if a.cfg.Hierarchy() {
		a.log.Info("foreign agent hierarchy", "upper", a.cfg.UpperFAIPAddress, "highest", a.cfg.HighestFAIPAddress,
			"advertised_coa", a.advCoA, "highest_agent", a.cfg.Highest())
	}
	a.holdUpward()
	a.nextAdv = a.clock.Now()
	err := a.loop(ctx, readErr)
	a.teardown()

	// The readers block in ReadFrame and ReadFrom: cancel, then wake them.
	cancel()
	for _, l := range a.links {
		_ = l.Conn.SetReadDeadline(time.Unix(1, 0))
	}
	_ = a.upstream.SetReadDeadline(time.Unix(1, 0))
	wg.Wait()
	return err
}

// loop is the agent's event loop.
func (a *Agent) loop(ctx context.Context, readErr <-chan error) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		a.runDue()
		if next, ok := a.nextDeadline(); ok {
			d := next.Sub(a.clock.Now())
			timer.Reset(max(d, time.Millisecond))
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
		case ev := <-a.events:
			a.runDue()
			a.handle(ev)
		case o := <-a.ops.C():
			a.runDue()
			o.Call(&a.st)
			o.Done()
		case <-timer.C:
		}
	}
}

// runDue does what the clock says is due: advertisements, pending timeouts,
// visitor expiry.
func (a *Agent) runDue() {
	now := a.clock.Now()
	if a.cfg.AgentAdvInterval > 0 && !now.Before(a.nextAdv) {
		for i := range a.links {
			a.advertise(i)
		}
		a.nextAdv = now.Add(a.cfg.AgentAdvInterval)
	}
	a.expirePending(now)
	a.retransmitRevocations(now)
	a.pruneSessions(now)
	a.expireTunnels(now)
	for _, b := range a.visitors.Expire(now) {
		a.log.Info("visitor expired", logging.KeyHome, b.Home, logging.KeyHA, b.HA, logging.KeyID, b.ID)
		a.cleanupVisitor(b.Home)
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
	if a.cfg.AgentAdvInterval > 0 {
		consider(a.nextAdv)
	}
	if b, found := a.visitors.Next(); found {
		consider(b.Expiry)
	}
	for _, r := range a.revOut {
		consider(r.next)
	}
	if t, idle := a.tunnels.NextExpiry(); idle {
		consider(t)
	}
	// Drop the answered requests from the front of the queue, so the
	// oldest live one is found in constant amortised time.
	for len(a.pendingQ) > 0 {
		q := a.pendingQ[0]
		if p, live := a.pending[q.key]; live && p.Deadline.Equal(q.deadline) {
			consider(q.deadline)
			break
		}
		a.pendingQ = a.pendingQ[1:]
	}
	return next, ok
}

// Do runs fn in the agent's loop, where it may read the agent's state, and
// waits for it to finish. Due timers are run first, so a test that advanced
// a binding.ManualClock sees their effects. A nil fn only runs the timers.
func (a *Agent) Do(ctx context.Context, fn func(*State)) error { return a.ops.Do(ctx, fn) }

// Stats returns a snapshot of the agent's counters, taken in its loop.
func (a *Agent) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := a.Do(ctx, func(st *State) { s = st.Stats() })
	return s, err
}

// baseEntries are the kernel entries the agent holds for its whole run:
// forwarding on, and no reverse-path filter on the visitor links, where
// packets from home addresses arrive.
func (a *Agent) baseEntries() []kernel.Entry {
	entries := []kernel.Entry{kernel.Sysctl{Name: "net/ipv4/ip_forward", Value: "1"}}
	for _, l := range a.links {
		entries = append(entries, kernel.Sysctl{Name: "net/ipv4/conf/" + l.Conn.Info().Name + "/rp_filter", Value: "0"})
	}
	return entries
}
