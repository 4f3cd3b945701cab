package mn

import (
	"context"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/logging"
)

// probeTimeout bounds one ARP probe of a co-located gateway.
const probeTimeout = time.Second

// checkEvery is how often, in solicitation intervals, a co-located mobile
// checks that its gateway still answers: nothing else tells it that it
// left a network without agents.
const checkEvery = 5

// probe is an ARP probe of a COLOCATED entry's gateway in flight.
type probe struct {
	entry    int
	gen      uint64
	check    bool // the entry is in use; a failure means the mobile moved
	launched bool
}

// colocatedKey names a COLOCATED entry in the hold-down list.
func (l *Loop) colocatedKey(i int) string {
	return "colocated " + l.cfg.Colocated[i].Addr.String()
}

// probeNext starts probing the first usable COLOCATED entry after entry
// after; it reports whether there was one.
func (l *Loop) probeNext(after int, now time.Time) bool {
	if l.n.prober == nil {
		return false
	}
	for i := after + 1; i < len(l.cfg.Colocated); i++ {
		if !l.isHeld(l.colocatedKey(i), now) {
			l.startProbe(i, false, now)
			return true
		}
	}
	return false
}

// startProbe configures entry's address (the next settle does) and probes
// its gateway from it.
func (l *Loop) startProbe(entry int, check bool, now time.Time) {
	l.probeN++
	l.probe = &probe{entry: entry, gen: l.probeN, check: check}
	if !check {
		e := l.cfg.Colocated[entry]
		l.log.Debug("probing co-located gateway", logging.KeyCoA, e.Addr, "gateway", e.Gateway)
	}
}

// launchProbe starts the probe in flight once its address is configured.
func (l *Loop) launchProbe() {
	p := l.probe
	if p == nil || p.launched || !l.retryAt.IsZero() {
		return
	}
	p.launched = true
	e := l.cfg.Colocated[p.entry]
	prober, events, ctx := l.n.prober, l.n.events, l.ctx
	l.wg.Go(func() {
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		hw, err := prober.Probe(pctx, e.Addr.Prefix().Addr(), e.Gateway)
		cancel()
		select {
		case events <- probeEvent{gen: p.gen, hw: hw, err: err}:
		case <-ctx.Done():
		}
	})
}

// onProbe acts on a probe's outcome.
func (l *Loop) onProbe(ev probeEvent, now time.Time) {
	p := l.probe
	if p == nil || ev.gen != p.gen {
		return
	}
	l.probe = nil
	e := l.cfg.Colocated[p.entry]
	if p.check {
		if ev.err == nil {
			l.checkAt = now.Add(checkEvery * l.cfg.SolicitInterval)
			return
		}
		l.log.Info("co-located gateway no longer answers; moved", logging.KeyCoA, e.Addr, "gateway", e.Gateway,
			"err", ev.err)
		l.lose(now)
		return
	}
	if ev.err != nil {
		l.log.Debug("co-located gateway did not answer", logging.KeyCoA, e.Addr, "gateway", e.Gateway, "err", ev.err)
		l.probeNext(p.entry, now)
		return
	}
	if l.where != atUnknown {
		return // an agent was heard meanwhile
	}
	l.stats.Moves++
	l.log.Info("no agent heard; using a co-located care-of address", logging.KeyCoA, e.Addr,
		"gateway", e.Gateway, "gateway_hw", ev.hw.String())
	l.where = atColocated
	l.coloc = p.entry
	l.checkAt = now.Add(checkEvery * l.cfg.SolicitInterval)
	l.reg = registration{}
	l.register(now)
}

// leaveColocated stops using or probing a co-located address, when the
// mobile has gone elsewhere; the next settle removes it.
func (l *Loop) leaveColocated() {
	l.coloc = -1
	l.probe = nil
	l.checkAt = time.Time{}
}
