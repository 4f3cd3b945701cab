package mn

import (
	"net"
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/discovery"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
)

// initialSolicits is how many solicitations go out SolicitInterval apart
// before the interval doubles (RFC 5944 section 2.4.1 allows three at the
// start); it is also how many go unanswered before the co-located
// addresses are tried.
const initialSolicits = 3

// maxSolicitInterval caps the doubling solicitation interval.
const maxSolicitInterval = time.Minute

// agent is what the mobile knows of an agent from its last advertisement.
type agent struct {
	addr     netip.Addr       // the advertisement's IP source
	hw       net.HardwareAddr // the advertisement's frame source
	coa      netip.Addr       // the first care-of address offered
	flags    discovery.Flags
	maxLife  uint16 // registration lifetime the agent accepts at most
	seq      uint16
	prefixes []netip.Prefix // the link's prefixes; the home network for a home agent without them
	path     []netip.Addr   // the FA Path: the agent, its upper agent, the highest agent; nil outside a hierarchy
	home     bool           // the mobile's own home agent or home network: the mobile is home
	expiry   time.Time
	heardAt  time.Time
	// interval is the agent's advertisement interval as the mobile heard
	// it: the longest gap between two of its advertisements in a row
	// (an answer to a solicitation comes between two periodic ones and
	// shortens no gap that counts); 0 until two were heard.
	interval time.Duration
}

// key names the agent in the hold-down list.
func (a *agent) key() string { return "fa " + a.addr.String() }

// newAgent reads an advertisement.
func (l *Loop) newAgent(ev advertEvent, now time.Time) *agent {
	ma := ev.adv.MobilityAgent()
	a := &agent{
		addr:     ev.src,
		hw:       ev.hw,
		flags:    ma.Flags,
		maxLife:  ma.RegistrationLifetime,
		seq:      ma.Sequence,
		prefixes: ev.adv.Prefixes(),
		expiry:   now.Add(time.Duration(ev.adv.Lifetime) * time.Second),
		heardAt:  now,
	}
	if len(ma.CareOfAddresses) > 0 {
		a.coa = ma.CareOfAddresses[0]
	}
	if p := ev.adv.FAPath(); p != nil {
		a.path = p.Addrs
	}
	a.home = ev.src == l.cfg.HA && ma.Flags&discovery.FlagHomeAgent != 0
	for _, p := range a.prefixes {
		if p == l.cfg.HomeNet {
			a.home = true
		}
	}
	if a.home && len(a.prefixes) == 0 {
		a.prefixes = []netip.Prefix{l.cfg.HomeNet}
	}
	return a
}

// usable reports whether the mobile may register through a.
func (l *Loop) usable(a *agent, now time.Time) bool {
	if a.home || a.flags&discovery.FlagForeignAgent == 0 || a.flags&discovery.FlagBusy != 0 || !a.coa.Is4() {
		return false
	}
	return !l.isHeld(a.key(), now)
}

// isHeld reports whether key was given up on and is still held down.
func (l *Loop) isHeld(key string, now time.Time) bool {
	until, ok := l.held[key]
	if ok && !now.Before(until) {
		delete(l.held, key)
		return false
	}
	return ok
}

// holdDown is how long an agent or co-located address given up on is
// left alone.
func (l *Loop) holdDown() time.Duration { return 4 * l.cfg.MaxRetryInterval }

// prefixesDiffer reports whether two agents' advertisements show different
// networks: both name prefixes and none is shared (RFC 5944 section
// 2.4.2.2). Without prefixes on either side nothing can be told.
func prefixesDiffer(a, b *agent) bool {
	if len(a.prefixes) == 0 || len(b.prefixes) == 0 {
		return false
	}
	for _, p := range a.prefixes {
		for _, q := range b.prefixes {
			if p == q {
				return false
			}
		}
	}
	return true
}

// onAdvert applies movement detection to an advertisement.
func (l *Loop) onAdvert(ev advertEvent, now time.Time) {
	l.stats.Advertisements++
	if ev.adv.MobilityAgent() == nil {
		l.log.Debug("router advertisement without mobility extension ignored", logging.KeyFA, ev.src)
		return
	}
	a := l.newAgent(ev, now)
	prev := l.heard[a.addr]
	rebooted := prev != nil && discovery.Rebooted(prev.seq, a.seq)
	if rebooted {
		delete(l.held, a.key())
	}
	if prev != nil && !rebooted {
		a.interval = max(prev.interval, now.Sub(prev.heardAt))
	}
	l.heard[a.addr] = a
	l.log.Debug("advertisement heard", logging.KeyFA, a.addr, logging.KeyCoA, a.coa, "flags", a.flags.String(),
		"seq", a.seq, "lifetime", ev.adv.Lifetime, "home", a.home, "fa_path", a.path)
	if l.disc {
		// Heard for Connect; the agent relaying a deregistration
		// stays current while it advertises.
		if l.cur != nil && l.cur.addr == a.addr {
			l.cur = a
		}
		return
	}

	if l.cur != nil && l.cur.addr == a.addr {
		old := l.cur
		l.cur = a
		if a.home || l.where != atAgent {
			return
		}
		if rebooted || a.coa != old.coa || a.hw.String() != old.hw.String() {
			l.log.Info("foreign agent restarted or changed; registering again", logging.KeyFA, a.addr,
				logging.KeyCoA, a.coa, "seq", a.seq, "previous_seq", old.seq)
			l.register(now)
		}
		return
	}
	if a.home {
		if l.where != atHome {
			l.comeHome(a, now)
		} else if l.cur == nil {
			l.cur = a
		}
		return
	}
	if !l.usable(a, now) {
		return
	}
	switch {
	case l.where == atUnknown || l.where == atColocated || l.cur == nil:
		l.attach(a, now, "agent heard")
	case prefixesDiffer(l.cur, a):
		l.attach(a, now, "new network prefix")
	case l.silent(l.cur, now):
		l.attach(a, now, "current agent silent")
	}
}

// silenceFactor is how many of its advertisement intervals an agent may
// be unheard before the mobile takes it to be out of reach: one interval
// and a half, where an advertisement lost on the way is one interval.
const silenceFactor = 1.5

// silentAt is when agent a, last heard at a.heardAt, has missed its next
// advertisement by half an interval; zero while its interval is unknown.
func silentAt(a *agent) time.Time {
	if a.interval <= 0 {
		return time.Time{}
	}
	return a.heardAt.Add(time.Duration(float64(a.interval) * silenceFactor))
}

// silent reports whether agent a has stopped advertising as it used to:
// its interval is known and one and a half of them have passed since it
// was last heard. The mobile then switches at once to an agent heard
// since (eager cell switching, RFC 5944 section 2.4.2), instead of waiting
// for a's advertisement lifetime to run out (lazy, 2.4.2.1), which is
// usually three intervals.
func (l *Loop) silent(a *agent, now time.Time) bool {
	at := silentAt(a)
	return !at.IsZero() && !now.Before(at)
}

// checkSilence acts once on the current agent's silence: the mobile moves
// to the agent heard most recently since the current one's last
// advertisement, or, having heard none, solicits, so that an agent on a
// new link answers at once instead of at its next advertisement.
func (l *Loop) checkSilence(now time.Time) {
	c := l.cur
	if c == nil || l.disc || !l.silent(c, now) || l.silenced.Equal(c.heardAt) {
		return
	}
	l.silenced = c.heardAt
	var next *agent
	for _, a := range l.heard {
		if a.addr == c.addr || !a.heardAt.After(c.heardAt) || (!a.home && !l.usable(a, now)) {
			continue
		}
		if next == nil || a.heardAt.After(next.heardAt) {
			next = a
		}
	}
	switch {
	case next == nil:
		l.log.Debug("current agent silent; soliciting", logging.KeyFA, c.addr, "interval", c.interval,
			"heard", c.heardAt)
		l.sendSolicitation()
	case next.home:
		l.comeHome(next, now)
	default:
		l.attach(next, now, "current agent silent")
	}
}

// expireAgents forgets advertisements whose lifetime has run out; losing
// the current agent's means the mobile has moved (RFC 5944 section
// 2.4.2.1).
func (l *Loop) expireAgents(now time.Time) {
	for addr, a := range l.heard {
		if !now.Before(a.expiry) {
			delete(l.heard, addr)
		}
	}
	if l.cur == nil || now.Before(l.cur.expiry) {
		return
	}
	lost := l.cur
	l.cur = nil
	l.log.Info("agent advertisements expired", logging.KeyFA, lost.addr, "home", lost.home)
	l.reattach(now)
}

// bestHeard returns the most recently heard agent the mobile may use: one
// on the home link, or a usable foreign agent.
func (l *Loop) bestHeard(now time.Time) *agent {
	var best *agent
	for _, a := range l.heard {
		if !a.home && !l.usable(a, now) {
			continue
		}
		if best == nil || a.heardAt.After(best.heardAt) {
			best = a
		}
	}
	return best
}

// attach moves to a foreign agent and registers through it.
func (l *Loop) attach(a *agent, now time.Time, why string) {
	l.stats.Moves++
	l.log.Info("moved to a foreign agent", logging.KeyFA, a.addr, logging.KeyCoA, a.coa, "reason", why,
		"from", l.where, "fa_path", a.path, "local", l.localMove(a, now))
	l.cur = a
	l.where = atAgent
	l.leaveColocated()
	l.reg = registration{}
	l.register(now)
}

// comeHome attaches to the home link: the home routes come back, a
// gratuitous ARP claims the home address (RFC 5944 section 4.6) and the
// home agent is told to drop the binding.
func (l *Loop) comeHome(a *agent, now time.Time) {
	if l.state != StateStartup {
		l.stats.Moves++
	}
	l.log.Info("at home", logging.KeyHA, a.addr, logging.KeyHome, l.cfg.Home, "from", l.where)
	l.cur = a
	l.where = atHome
	l.leaveColocated()
	l.reg = registration{}
	l.announce = true
	l.deregister(now)
}

// lose forgets where the mobile was: no agent, no routes; it solicits.
func (l *Loop) lose(now time.Time) {
	if l.where != atUnknown {
		l.log.Info("no agent; looking for one", "from", l.where)
	}
	l.cur = nil
	l.where = atUnknown
	l.leaveColocated()
	l.pending = nil
	l.reg = registration{}
	l.setState(StateFindingAgent, now)
}

// solicit sends an agent solicitation and schedules the next; after a few
// unanswered ones it tries the co-located addresses.
func (l *Loop) solicit(now time.Time) {
	l.sendSolicitation()
	l.solicits++
	interval := l.cfg.SolicitInterval
	for i := initialSolicits; i < l.solicits && interval < maxSolicitInterval; i++ {
		interval *= 2
	}
	l.solicitAt = now.Add(min(interval, max(maxSolicitInterval, l.cfg.SolicitInterval)))
	if l.solicits > initialSolicits && l.probe == nil {
		l.probeNext(-1, now)
	}
}

// sendSolicitation sends one agent solicitation, without changing the
// schedule of those the node sends while it looks for an agent.
func (l *Loop) sendSolicitation() {
	sol := &discovery.Solicitation{}
	b, err := sol.Marshal()
	if err == nil {
		// From 0.0.0.0 (RFC 1256 allows it): the mobile does not know
		// where it is and does not show its home address on a foreign
		// link; agents answer to the all-systems group.
		pkt := link.AppendIPv4(nil, netip.IPv4Unspecified(), link.AllMobilityAgentsAddr, link.ProtoICMP, 1, b)
		err = l.n.link.WriteFrame(pkt, link.AllMobilityAgents)
	}
	if err != nil {
		l.log.Warn("cannot send agent solicitation", logging.KeyIface, l.cfg.Interface, "err", err)
		return
	}
	l.stats.Solicitations++
	l.log.Debug("agent solicitation sent", logging.KeyIface, l.cfg.Interface)
}
