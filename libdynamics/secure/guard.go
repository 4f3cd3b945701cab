package secure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/esp"
	"github.com/dynamics-go/dynamics/libdynamics/ike"
	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
)

var (
	_ Protector = (*Guard)(nil)
	_ Mover     = (*Guard)(nil)
)

// Retry timing of the SAs this side brings up.
const (
	// MinRetry is the wait after a first failed attempt; it doubles with
	// each failure up to MaxRetry.
	MinRetry = time.Second
	MaxRetry = 30 * time.Second
	// recheck is how often a keeper looks at an SA that is up, besides
	// being woken when a policy goes.
	recheck = 10 * time.Second
	// closeTimeout bounds the deletes Close sends.
	closeTimeout = 2 * time.Second
	// aheadGrace is how long MoveAhead gives the peer to apply the move
	// it sent before it returns (unless the answer comes first): the
	// datagrams the caller sends next travel in ESP beside the IKE
	// request, and the peer's data path would drop those that overtake
	// it.
	aheadGrace = 50 * time.Millisecond
)

// Options are what Open needs besides the configuration file's part.
type Options struct {
	Config Config
	// Local is the agent's signalling address: IKE binds ports 500 and
	// 4500 on it, and it is this side's identity unless IPsecLocalID says
	// otherwise.
	Local netip.Addr
	// Addresses are further addresses of this agent where peers reach
	// its signalling (a foreign agent's addresses on the links to the
	// agents below it): IKE binds on them too, and the SAs this side
	// answers cover them.
	Addresses []netip.Addr
	// Initiate are the peers this agent brings SAs up with and keeps up
	// (the mobile node: its home agent; a foreign agent: its upstream
	// agent). Each needs an IPSEC line of its own; one no entry covers is
	// left in clear (and logged).
	Initiate []netip.Addr
	// Mobiles (home agent): entries inside it are mobile nodes, whose SAs
	// may move anywhere.
	Mobiles netip.Prefix
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// KeyLog receives the IKE keys for Wireshark; nil opens IPsecKeyLog
	// when it is set.
	KeyLog io.Writer
}

// Stats are a Guard's counters.
type Stats struct {
	// IKESAs are the established IKE SAs, Children their child SAs.
	IKESAs, Children int
	// IKEInitiated counts the IKE SAs this guard set out to bring up
	// (each an IKE_SA_INIT exchange, retransmissions aside).
	IKEInitiated uint64
	// IKE are the engine's counters.
	IKE ike.Stats
	// ESP are the userspace data path's counters (zero with XFRM), and
	// ESPDrops their drops' total.
	ESP      esp.Stats
	ESPDrops uint64
}

// Guard protects one agent's signalling: an IKE engine, its sockets, the
// ESP data path, and the SAs it keeps up. Its methods are safe for
// concurrent use; Check, Requires and Ready take no lock.
type Guard struct {
	log        *slog.Logger
	mode       string // xfrm or userspace
	eng        *ike.Engine
	kernel     esp.Kernel // the data path (closed last)
	snap       atomic.Pointer[snapshot]
	initiators []*initiator
	initiated  atomic.Uint64
	keyLog     *os.File

	// moving serialises the address operations (MoveTo, AddAddress,
	// RemoveAddress, and the offers to an SA just brought up).
	moving sync.Mutex

	mu        sync.Mutex // endpoints, extra, from and attempts
	endpoints map[netip.Addr]*Endpoint
	// extra are the addresses AddAddress offered, each with the IKE SAs
	// (local SPIs) that took it.
	extra map[netip.Addr]map[ikev2.SPI]bool
	// from is the address the SAs with the Initiate peers are brought up
	// from since a move (zero before any: the engine's choice among the
	// sockets, Options.Local's first).
	from netip.Addr
	// attempts cancel the keepers' attempts in progress, for a move that
	// brings the SAs up from another address itself.
	attempts map[*initiator]context.CancelFunc
	// settling counts the moves sent ahead whose answers are awaited.
	settling sync.WaitGroup

	ctx       context.Context
	cancel    context.CancelFunc
	engCancel context.CancelFunc
	engDone   chan error
	keepers   sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Open validates the configuration (a *ConfigError names the label or
// IPSEC line), binds the IKE sockets on opts.Local, opens the ESP data
// path (IPsecESP), starts the IKE engine and starts bringing up the SAs
// with the Initiate peers in the background. Sockets, the TUN device and
// the routes are made in the network namespace of the calling thread: the
// agent's. Close undoes everything.
func Open(opts Options) (*Guard, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if !opts.Config.Enabled() {
		return nil, fmt.Errorf("%w: no IPSEC entries, nothing to protect", ErrConfig)
	}
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	mode, err := ResolveESP(opts.Config.IPsecESP)
	if err != nil {
		return nil, err
	}
	pl, err := makePlan(opts, mode)
	if err != nil {
		return nil, err
	}
	g := &Guard{log: log, mode: mode, initiators: pl.initiators, endpoints: make(map[netip.Addr]*Endpoint),
		extra: make(map[netip.Addr]map[ikev2.SPI]bool), attempts: make(map[*initiator]context.CancelFunc)}
	ok := false
	defer func() {
		if !ok {
			g.release()
		}
	}()
	ep, err := OpenEndpoint(opts.Local, mode == ESPXFRM, log)
	if err != nil {
		return nil, fmt.Errorf("secure: %s: %w", opts.Local, err)
	}
	g.endpoints[opts.Local] = ep
	sockets := ep.Sockets()
	for _, a := range opts.Addresses {
		a = a.Unmap()
		if g.endpoints[a] != nil {
			continue
		}
		more, err := OpenEndpoint(a, mode == ESPXFRM, log)
		if err != nil {
			return nil, fmt.Errorf("secure: %s: %w", a, err)
		}
		g.endpoints[a] = more
		sockets = append(sockets, more.Sockets()...)
	}
	if g.kernel, err = OpenESP(mode, ep, opts.Config.IPsecDevice, log); err != nil {
		return nil, fmt.Errorf("secure: ESP data path: %w", err)
	}
	first := &snapshot{entries: pl.entries, kernel: mode == ESPXFRM}
	if u, isU := g.kernel.(*esp.Userspace); isU {
		ifi, err := net.InterfaceByName(u.Device())
		if err != nil {
			return nil, fmt.Errorf("secure: ESP device: %w", err)
		}
		first.device = ifi.Index
	}
	g.snap.Store(first)
	keyLog := opts.KeyLog
	if keyLog == nil && opts.Config.IPsecKeyLog != "" {
		f, err := os.OpenFile(opts.Config.IPsecKeyLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, &ConfigError{Label: "IPsecKeyLog", Msg: err.Error()}
		}
		g.keyLog, keyLog = f, f
	}
	g.eng, err = ike.New(ike.Options{
		Config: pl.ike, Sockets: sockets, ESP: newWatch(g.kernel, &g.snap, g.policiesChanged),
		Logger: log, KeyLog: keyLog,
	})
	if err != nil {
		return nil, fmt.Errorf("secure: %w", err)
	}
	for _, a := range pl.uncovered {
		log.Warn("no IPSEC entry for an upstream peer: its signalling is not protected", "peer", a)
	}
	var engCtx context.Context
	engCtx, g.engCancel = context.WithCancel(context.Background())
	g.engDone = make(chan error, 1)
	go func() {
		err := g.eng.Run(engCtx)
		if err != nil {
			log.Error("IKE engine stopped", logging.KeyErr, err)
		}
		g.engDone <- err
	}()
	g.ctx, g.cancel = context.WithCancel(context.Background())
	for _, in := range g.initiators {
		g.keepers.Go(func() { g.keep(in) })
	}
	attrs := []any{"local", opts.Local, "esp", mode, "peers", len(pl.entries), "initiate", len(g.initiators)}
	if u, isU := g.kernel.(*esp.Userspace); isU {
		attrs = append(attrs, logging.KeyIface, u.Device())
	}
	log.Info("signalling protection on", attrs...)
	ok = true
	return g, nil
}

// Close stops answering new IKE SAs, deletes the established ones (best
// effort, within a short timeout), stops the engine, and closes the
// sockets and the ESP data path (device, rules, routes, or XFRM states
// and policies). It may be called more than once.
func (g *Guard) Close() error {
	g.closeOnce.Do(func() {
		g.cancel()
		g.keepers.Wait()
		g.settling.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		// No new IKE SAs while the old ones go: a peer that sees its SA
		// deleted brings it up again at once, and would find this side
		// answering until the engine stops. The established SAs run on
		// port 4500 (MOBIKE floats them there), where the deletes go.
		g.mu.Lock()
		for a := range g.endpoints {
			_ = g.eng.RemoveSocket(ctx, netip.AddrPortFrom(a, esp.IKEPort))
		}
		g.mu.Unlock()
		if sas, err := g.eng.SAs(ctx); err == nil {
			var wg sync.WaitGroup
			for _, sa := range sas {
				if sa.State == ike.StateEstablished {
					wg.Go(func() { _ = g.eng.Delete(ctx, sa.LocalSPI) })
				}
			}
			wg.Wait()
		}
		cancel()
		g.engCancel()
		<-g.engDone
		g.closeErr = g.release()
		g.log.Info("signalling protection off")
	})
	return g.closeErr
}

// release closes the sockets, the data path and the key log.
func (g *Guard) release() error {
	var err error
	g.mu.Lock()
	for a, ep := range g.endpoints {
		err = errors.Join(err, ep.Close())
		delete(g.endpoints, a)
	}
	g.mu.Unlock()
	if g.kernel != nil {
		err = errors.Join(err, g.kernel.Close())
	}
	if g.keyLog != nil {
		err = errors.Join(err, g.keyLog.Close())
	}
	return err
}

// Check implements Protector.
func (g *Guard) Check(src netip.Addr, ifindex int) Verdict {
	return g.snap.Load().verdict(src, ifindex)
}

// Requires implements Protector.
func (g *Guard) Requires(addr netip.Addr) bool { return g.snap.Load().required(addr) }

// Ready implements Protector. When dst is a peer this side brings SAs up
// with and they are not up, the attempt runs now instead of after its
// backoff.
func (g *Guard) Ready(dst netip.Addr) bool {
	if g.snap.Load().ready(dst) {
		return true
	}
	dst = dst.Unmap()
	for _, in := range g.initiators {
		if in.addr == dst {
			in.poke()
		}
	}
	return false
}

// policiesChanged runs in the engine's loop after every policy change:
// the keepers look again (an SA that went is brought up again).
func (g *Guard) policiesChanged() {
	for _, in := range g.initiators {
		in.poke()
	}
}

// keep brings the SAs with one peer up and keeps them up: an attempt at
// once, after a failure again after MinRetry doubling to MaxRetry (or at
// once when poked), and a look whenever a policy changes.
func (g *Guard) keep(in *initiator) {
	backoff := MinRetry
	for {
		wait := recheck
		actx, cancel := context.WithCancel(g.ctx)
		g.mu.Lock()
		g.attempts[in] = cancel
		g.mu.Unlock()
		info, _, err := g.ensure(actx, in)
		g.mu.Lock()
		delete(g.attempts, in)
		g.mu.Unlock()
		aborted := actx.Err() != nil
		cancel()
		switch {
		case err != nil && aborted:
			// A move brings the SAs up from its address itself (or
			// the guard closes); it pokes the keeper when done.
			if g.ctx.Err() != nil {
				return
			}
			backoff = MinRetry
		case err != nil:
			g.log.Warn("IPsec SAs not up, retrying", "peer", in.addr, "retry", backoff, logging.KeyErr, err)
			wait = backoff
			backoff = min(2*backoff, MaxRetry)
		default:
			// A fresh SA gets the offered addresses; one already up
			// gets those whose offer failed before (offer skips the
			// ones done).
			backoff = MinRetry
			g.offerAll(info)
		}
		t := time.NewTimer(wait)
		select {
		case <-g.ctx.Done():
			t.Stop()
			return
		case <-in.nudge:
			t.Stop()
		case <-t.C:
		}
	}
}

// ensure makes sure an established IKE SA with the peer has a child SA:
// nothing to do, a new child on the IKE SA, or a new IKE SA (fresh, with
// its description). One at a time per peer.
func (g *Guard) ensure(ctx context.Context, in *initiator) (info ike.SAInfo, fresh bool, err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return g.ensureLocked(ctx, in)
}

// ensureLocked is ensure with in.mu held.
func (g *Guard) ensureLocked(ctx context.Context, in *initiator) (info ike.SAInfo, fresh bool, err error) {
	sas, err := g.eng.SAs(ctx)
	if err != nil {
		return info, false, err
	}
	for _, sa := range sas {
		if sa.Peer != in.name || sa.State != ike.StateEstablished {
			continue
		}
		for _, c := range sa.Children {
			if c.State == ike.ChildInstalled {
				return sa, false, nil
			}
		}
		_, err := g.eng.CreateChild(ctx, sa.LocalSPI)
		return sa, false, err
	}
	g.initiated.Add(1)
	if info, err = g.eng.Initiate(ctx, in.name); err != nil {
		return info, false, err
	}
	g.log.Info("IPsec SAs up", "peer", in.addr, "local", info.Local.Addr())
	g.mu.Lock()
	from := g.from
	g.mu.Unlock()
	if from.IsValid() && info.Local.Addr() != from {
		// The engine brought the SA up from another of the host's
		// sockets (the first that reaches the peer): it goes where the
		// host's signalling is now.
		if err := g.eng.UpdateAddress(ctx, info.LocalSPI, info.Local.Addr(), from); err != nil {
			return info, true, fmt.Errorf("secure: moving the new SAs with %s from %s to %s: %w", in.addr, info.Local.Addr(), from, err)
		}
		g.log.Info("IPsec SAs moved", "peer", in.addr, "from", info.Local.Addr(), "to", from)
		if sas, err := g.eng.SAs(ctx); err == nil {
			for _, sa := range sas {
				if sa.LocalSPI == info.LocalSPI {
					info = sa
				}
			}
		}
	}
	return info, true, nil
}

// offerAll offers the addresses AddAddress offered to an IKE SA not yet
// given them: one just brought up, or one whose offer failed.
func (g *Guard) offerAll(info ike.SAInfo) {
	g.moving.Lock()
	defer g.moving.Unlock()
	g.mu.Lock()
	var extra []netip.Addr
	for a := range g.extra {
		extra = append(extra, a)
	}
	g.mu.Unlock()
	for _, a := range extra {
		if err := g.offer(g.ctx, info, a); err != nil {
			g.log.Warn("IPsec address not offered", "peer", info.Remote.Addr(), "addr", a, logging.KeyErr, err)
		}
	}
}

// endpoint returns the sockets on addr, opening them and giving them to
// the engine first if need be.
func (g *Guard) endpoint(ctx context.Context, addr netip.Addr) (*Endpoint, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ep := g.endpoints[addr]; ep != nil {
		return ep, nil
	}
	ep, err := OpenEndpoint(addr, g.mode == ESPXFRM, g.log)
	if err != nil {
		return nil, fmt.Errorf("secure: %s: %w", addr, err)
	}
	for i, s := range ep.Sockets() {
		if err := g.eng.AddSocket(ctx, s); err != nil {
			if i > 0 {
				_ = g.eng.RemoveSocket(ctx, netip.AddrPortFrom(addr, esp.IKEPort))
			}
			ep.Close()
			return nil, fmt.Errorf("secure: sockets on %s: %w", addr, err)
		}
	}
	g.endpoints[addr] = ep
	return ep, nil
}

// drop stops using and closes the sockets on addr when no IKE SA runs on
// that address any more.
func (g *Guard) drop(ctx context.Context, addr netip.Addr) error {
	sas, err := g.eng.SAs(ctx)
	if err != nil {
		return err
	}
	for _, sa := range sas {
		// An attempt still half-open from addr is given up: its
		// IKE_SA_INIT goes nowhere without the socket and times out.
		if sa.State == ike.StateEstablished && sa.Local.Addr() == addr {
			return nil
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	ep := g.endpoints[addr]
	if ep == nil {
		return nil
	}
	err = errors.Join(
		g.eng.RemoveSocket(ctx, netip.AddrPortFrom(addr, esp.IKEPort)),
		g.eng.RemoveSocket(ctx, netip.AddrPortFrom(addr, esp.EncapPort)))
	delete(g.endpoints, addr)
	return errors.Join(err, ep.Close())
}

// established lists the established IKE SAs.
func (g *Guard) established(ctx context.Context) ([]ike.SAInfo, error) {
	sas, err := g.eng.SAs(ctx)
	if err != nil {
		return nil, err
	}
	out := sas[:0]
	for _, sa := range sas {
		if sa.State == ike.StateEstablished {
			out = append(out, sa)
		}
	}
	return out, nil
}

// MoveTo implements Mover: it opens the sockets on new, moves every IKE
// SA on old (and its child SAs, whose transport selectors and policies
// change from old to new) with MOBIKE-X UPDATE_SA_ADDRESSES (ike
// UpdateAddress), and closes the sockets on old once no SA uses them. A
// peer that speaks only RFC 4555 MOBIKE cannot move transport-mode SAs:
// with a peer this side brings SAs up with, MoveTo deletes the SA and
// brings up a new one from new (one more IKE_SA_INIT); with others the
// error wraps ike.ErrNoMOBIKEX and the SA stays where it was.
//
// An Initiate peer with no SA yet (a mobile node started away from home,
// whose attempts from its home address go unanswered) has its SAs brought
// up from new: the keeper's attempt in progress is given up, the sockets
// on old are closed, and MoveTo returns when the new SAs are up (or ctx
// ends), so that the peer is Ready then. After a move, SAs with the
// Initiate peers are brought up from new whenever they are brought up
// again.
func (g *Guard) MoveTo(ctx context.Context, old, new netip.Addr) error {
	return g.move(ctx, old, new, false)
}

// MoveAhead implements Mover: MoveTo, except that an IKE SA speaking
// MOBIKE-X moves with ike UpdateAddressAhead: this side's SAs are on new
// as the UPDATE_SA_ADDRESSES leaves, and MoveAhead returns without the
// peer's answer, once the peer had aheadGrace to apply the move (so that
// the datagrams sent next do not overtake it), or when the answer came
// sooner. The sockets on old stay until the answers came; a
// refusal moves the SAs back to old (logged). SAs that cannot move
// (RFC 4555 MOBIKE only) and Initiate peers without SAs are handled as
// MoveTo does, waiting for the new SAs.
func (g *Guard) MoveAhead(ctx context.Context, old, new netip.Addr) error {
	return g.move(ctx, old, new, true)
}

// move is MoveTo (ahead false) and MoveAhead.
func (g *Guard) move(ctx context.Context, old, new netip.Addr, ahead bool) error {
	g.moving.Lock()
	defer g.moving.Unlock()
	old, new = old.Unmap(), new.Unmap()
	if old == new {
		return nil
	}
	if _, err := g.endpoint(ctx, new); err != nil {
		return err
	}
	sas, err := g.established(ctx)
	if err != nil {
		return err
	}
	up := map[*initiator]bool{}
	for _, sa := range sas {
		if in := g.initiatorOf(sa); in != nil {
			up[in] = true
		}
	}
	var errs []error
	var renew []*initiator
	var answers []<-chan error
	for _, sa := range sas {
		if sa.Local.Addr() != old {
			continue
		}
		var err error
		if ahead {
			var answered <-chan error
			if answered, err = g.eng.UpdateAddressAhead(ctx, sa.LocalSPI, old, new); err == nil {
				answers = append(answers, answered)
			}
		} else {
			err = g.eng.UpdateAddress(ctx, sa.LocalSPI, old, new)
		}
		in := g.initiatorOf(sa)
		if in != nil && (errors.Is(err, ike.ErrNoMOBIKEX) || errors.Is(err, ike.ErrNoMOBIKE)) {
			// The peer cannot move transport-mode SAs: a new IKE SA
			// from new replaces the one on old.
			// The keeper waits (in.mu) until the new SA is up, so it
			// does not bring one up from old meanwhile.
			g.log.Info("IPsec SAs cannot move, replacing them", "peer", sa.Remote.Addr(), "from", old, "to", new, logging.KeyErr, err)
			if !slices.Contains(renew, in) {
				in.mu.Lock()
				defer in.mu.Unlock()
				renew = append(renew, in)
			}
			_ = g.eng.Delete(ctx, sa.LocalSPI)
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("secure: moving the SAs with %s to %s: %w", sa.Remote.Addr(), new, err))
			continue
		}
		if ahead {
			g.log.Info("IPsec SAs moved ahead of the peer's answer", "peer", sa.Remote.Addr(), "from", old, "to", new)
		} else {
			g.log.Info("IPsec SAs moved", "peer", sa.Remote.Addr(), "from", old, "to", new)
		}
	}
	// The Initiate peers without SAs get theirs from new.
	var fresh []*initiator
	for _, in := range g.initiators {
		if !up[in] {
			fresh = append(fresh, in)
		}
	}
	if len(errs) == 0 {
		g.mu.Lock()
		g.from = new
		g.mu.Unlock()
	}
	if len(answers) == 0 {
		if err := g.drop(ctx, old); err != nil {
			errs = append(errs, err)
		}
	} else {
		all := g.settle(answers, old, new)
		t := time.NewTimer(aheadGrace)
		select {
		case <-all:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	for _, in := range renew {
		if _, _, err := g.ensureLocked(ctx, in); err != nil {
			errs = append(errs, fmt.Errorf("secure: new SAs with %s from %s: %w", in.addr, new, err))
		}
	}
	for _, in := range fresh {
		if slices.Contains(renew, in) {
			continue
		}
		g.mu.Lock()
		if cancel := g.attempts[in]; cancel != nil {
			cancel() // the keeper's attempt from old
		}
		g.mu.Unlock()
		in.mu.Lock()
		_, brought, err := g.ensureLocked(ctx, in)
		in.mu.Unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("secure: SAs with %s from %s: %w", in.addr, new, err))
			continue
		}
		if brought {
			g.log.Info("IPsec SAs brought up from the new address", "peer", in.addr, "from", new)
		}
	}
	for _, in := range g.initiators {
		in.poke()
	}
	return errors.Join(errs...)
}

// settle waits, in the background, for the answers to the moves MoveAhead
// sent (all is closed when they came), then closes the sockets on old
// unless an SA moved back there. A refused move makes old again the
// address SAs are brought up from.
func (g *Guard) settle(answers []<-chan error, old, new netip.Addr) (all <-chan struct{}) {
	done := make(chan struct{})
	g.settling.Go(func() {
		refused := false
		for _, answered := range answers {
			select {
			case err := <-answered:
				if err != nil {
					refused = true
					g.log.Warn("IPsec move sent ahead failed", "from", old, "to", new, logging.KeyErr, err)
				}
			case <-g.ctx.Done():
				return
			}
		}
		close(done)
		g.moving.Lock()
		defer g.moving.Unlock()
		if g.ctx.Err() != nil {
			return
		}
		if refused {
			g.mu.Lock()
			if g.from == new {
				g.from = old
			}
			g.mu.Unlock()
		}
		if err := g.drop(g.ctx, old); err != nil {
			g.log.Warn("IPsec sockets not closed", "addr", old, logging.KeyErr, err)
		}
		for _, in := range g.initiators {
			in.poke()
		}
	})
	return done
}

// initiatorOf returns the keeper of the peer of an IKE SA this side
// brought up, nil for one a peer brought up.
func (g *Guard) initiatorOf(sa ike.SAInfo) *initiator {
	if !sa.Initiator {
		return nil
	}
	for _, in := range g.initiators {
		if in.name == sa.Peer {
			return in
		}
	}
	return nil
}

// AddAddress implements Mover: it opens the sockets on addr and offers it
// to every established IKE SA's peer (MOBIKE-X ADD_SA_ADDRESS), so that
// the SAs move there when their address goes. SAs brought up later with
// the Initiate peers are offered it too, until RemoveAddress.
func (g *Guard) AddAddress(ctx context.Context, addr netip.Addr) error {
	g.moving.Lock()
	defer g.moving.Unlock()
	addr = addr.Unmap()
	if _, err := g.endpoint(ctx, addr); err != nil {
		return err
	}
	g.mu.Lock()
	if g.extra[addr] == nil {
		g.extra[addr] = make(map[ikev2.SPI]bool)
	}
	g.mu.Unlock()
	sas, err := g.established(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, sa := range sas {
		if err := g.offer(ctx, sa, addr); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// offer adds addr to one IKE SA, once.
func (g *Guard) offer(ctx context.Context, sa ike.SAInfo, addr netip.Addr) error {
	g.mu.Lock()
	spis, ok := g.extra[addr]
	done := !ok || spis[sa.LocalSPI] || sa.Local.Addr() == addr
	g.mu.Unlock()
	if done {
		return nil
	}
	if err := g.eng.AddAddress(ctx, sa.LocalSPI, addr, nil); err != nil {
		if errors.Is(err, ike.ErrNoMOBIKEX) {
			// This SA can never take it: do not ask again.
			g.mu.Lock()
			if spis := g.extra[addr]; spis != nil {
				spis[sa.LocalSPI] = true
			}
			g.mu.Unlock()
		}
		return fmt.Errorf("secure: offering %s to the SAs with %s: %w", addr, sa.Remote.Addr(), err)
	}
	g.mu.Lock()
	if spis := g.extra[addr]; spis != nil {
		spis[sa.LocalSPI] = true
	}
	g.mu.Unlock()
	g.log.Info("IPsec address offered", "peer", sa.Remote.Addr(), "addr", addr)
	return nil
}

// RemoveAddress implements Mover: it withdraws addr from every IKE SA
// that runs on it or was offered it (MOBIKE-X REMOVE_SA_ADDRESS; an SA
// that runs on it moves to another of its addresses first, and one left
// without any is closed: ike.ErrClosing) and closes the sockets on addr
// once no SA uses them.
func (g *Guard) RemoveAddress(ctx context.Context, addr netip.Addr) error {
	g.moving.Lock()
	defer g.moving.Unlock()
	addr = addr.Unmap()
	g.mu.Lock()
	spis := g.extra[addr]
	delete(g.extra, addr)
	g.mu.Unlock()
	sas, err := g.established(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, sa := range sas {
		if sa.Local.Addr() != addr && !spis[sa.LocalSPI] {
			continue
		}
		if err := g.eng.RemoveAddress(ctx, sa.LocalSPI, addr); err != nil {
			errs = append(errs, fmt.Errorf("secure: withdrawing %s from the SAs with %s: %w", addr, sa.Remote.Addr(), err))
			continue
		}
		g.log.Info("IPsec address withdrawn", "peer", sa.Remote.Addr(), "addr", addr)
	}
	if err := g.drop(ctx, addr); err != nil {
		errs = append(errs, err)
	}
	for _, in := range g.initiators {
		in.poke()
	}
	return errors.Join(errs...)
}

// SAs lists the IKE SAs and their child SAs.
func (g *Guard) SAs(ctx context.Context) ([]ike.SAInfo, error) { return g.eng.SAs(ctx) }

// ESP returns the name of the data path: "xfrm" or "userspace".
func (g *Guard) ESP() string { return g.mode }

// Device returns the userspace data path's TUN device index (what Check
// compares a datagram's arrival interface with); 0 with XFRM.
func (g *Guard) Device() int { return g.snap.Load().device }

// Stats returns the counters.
func (g *Guard) Stats() Stats {
	s := Stats{IKEInitiated: g.initiated.Load()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = g.eng.Do(ctx, func(st *ike.State) {
		s.IKE = st.Stats()
		for _, sa := range st.SAs() {
			if sa.State != ike.StateEstablished {
				continue
			}
			s.IKESAs++
			for _, c := range sa.Children {
				if c.State == ike.ChildInstalled {
					s.Children++
				}
			}
		}
	})
	if u, ok := g.kernel.(*esp.Userspace); ok {
		s.ESP = u.Stats()
		s.ESPDrops = s.ESP.Drops.Total()
	}
	return s
}
