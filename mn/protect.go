package mn

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
)

// moverTimeout bounds one call of the Mover: a MOBIKE-X exchange with the
// home agent, retransmissions included.
const moverTimeout = 10 * time.Second

// moverKind is what a call of the Mover does.
type moverKind uint8

const (
	moveSAs       moverKind = iota // MoveTo: the SAs go from old to new
	addAddress                     // AddAddress: an IPSEC_INTERFACES address offered
	removeAddress                  // RemoveAddress: an offered address withdrawn
)

func (k moverKind) String() string {
	switch k {
	case moveSAs:
		return "move"
	case addAddress:
		return "add"
	case removeAddress:
		return "remove"
	}
	return fmt.Sprintf("moverKind(%d)", uint8(k))
}

// moverOp is one call of the Mover, made off the loop; its outcome comes
// back as a moverEvent.
type moverOp struct {
	kind     moverKind
	old, new netip.Addr // moveSAs
	// ahead (moveSAs): MoveAhead, the move of the deregistration from
	// home (see below).
	ahead bool
	addr  netip.Addr // addAddress, removeAddress
	iface string     // addAddress, removeAddress: the IPSEC_INTERFACES entry
}

// call makes the call.
func (op *moverOp) call(ctx context.Context, m secure.Mover) error {
	switch op.kind {
	case moveSAs:
		if op.ahead {
			return m.MoveAhead(ctx, op.old, op.new)
		}
		return m.MoveTo(ctx, op.old, op.new)
	case addAddress:
		return m.AddAddress(ctx, op.addr)
	default:
		return m.RemoveAddress(ctx, op.addr)
	}
}

// ipsecIface is what the loop knows of one IPSEC_INTERFACES interface.
type ipsecIface struct {
	name string
	// addr is its IPv4 address as the watcher last reported it: zero
	// while the interface is down or has none.
	addr netip.Addr
	// offered is the address the SAs' peers were given (AddAddress
	// answered), zero for none.
	offered netip.Addr
}

// The mobile's side of signalling protection, in the loop.
//
// ipsecAddr is the address the SAs with the home agent use now: the home
// address at start (dynmnd opens them from it). A request that goes
// straight to the home agent from another address of the mobile (a
// co-located care-of address, or the home address coming back home) first
// sets ipsecWant to its source and waits; the loop moves the SAs there
// (Mover.MoveTo, off the loop) and sends the request when the move is
// answered. A move that fails is logged and counted (ipsec.move_failed);
// the request is then sent if the home agent is Ready, and otherwise
// retried by the retransmission timer, which tries the move again. An
// accepted reply through a foreign agent (the mobile keeps the home
// address there) sets ipsecWant to the home address, and the SAs go back
// to it in the background.
//
// Coming home from a co-located address the SAs move with MoveAhead: the
// home agent's answer to the home address would go through the tunnel to
// the care-of address the mobile left (the binding lasts until the
// deregistration), so the mobile moves its SAs as the request leaves and
// sends the deregistration right after, inside them. Should the
// deregistration reach the home agent before the move (it is dropped
// there, in ESP from an address the SAs do not have yet), the
// retransmission sends it again.
//
// One call of the Mover is in flight at a time (moving); a wanted move
// goes before the offers of IPSEC_INTERFACES addresses. An interface
// whose reported address differs from the one offered has the offered one
// withdrawn (RemoveAddress; a failure counts as withdrawn, the address
// being gone), then the new one offered (AddAddress; a failure is tried
// again MaxRetryInterval later).

// holdForMove reports whether the request p must wait for the SAs to move
// to its source first; it asks for the move.
func (l *Loop) holdForMove(p *attempt) bool {
	if l.n.mover == nil || p.via != nil || !p.src.IsValid() || p.src == l.ipsecAddr || p.unmoved {
		return false
	}
	if l.ipsecWant != p.src {
		l.log.Debug("moving the IPsec SAs before the request", logging.KeyHome, l.cfg.Home,
			logging.KeyHA, l.cfg.HA, "from", l.ipsecAddr, "to", p.src)
		l.ipsecWant = p.src
	}
	return true
}

// moveHome asks for the SAs to go back to the home address, in the
// background: the mobile registered through a foreign agent, from its
// home address.
func (l *Loop) moveHome() {
	if l.n.mover != nil && l.ipsecAddr != l.cfg.Home {
		l.ipsecWant = l.cfg.Home
	}
}

// runMover starts the next call of the Mover, when none is in flight: the
// wanted move first, then the offers of IPSEC_INTERFACES addresses.
func (l *Loop) runMover(now time.Time) {
	if !l.offerRetryAt.IsZero() && !now.Before(l.offerRetryAt) {
		l.offerRetryAt = time.Time{}
	}
	if l.n.mover == nil || l.moving != nil {
		return
	}
	if l.ipsecWant == l.ipsecAddr {
		l.ipsecWant = netip.Addr{}
	}
	var op *moverOp
	if l.ipsecWant.IsValid() {
		op = &moverOp{kind: moveSAs, old: l.ipsecAddr, new: l.ipsecWant}
		p := l.pending
		op.ahead = p != nil && p.dereg && p.via == nil && p.src == op.new
	}
	for _, f := range l.ifaces {
		if op != nil {
			break
		}
		switch {
		case f.offered.IsValid() && f.offered != f.addr:
			op = &moverOp{kind: removeAddress, addr: f.offered, iface: f.name}
		case !f.offered.IsValid() && f.addr.IsValid() && l.offerRetryAt.IsZero():
			op = &moverOp{kind: addAddress, addr: f.addr, iface: f.name}
		}
	}
	if op == nil {
		return
	}
	l.moving = op
	mover, events, ctx := l.n.mover, l.n.events, l.ctx
	l.wg.Go(func() {
		cctx, cancel := context.WithTimeout(ctx, moverTimeout)
		err := op.call(cctx, mover)
		cancel()
		select {
		case events <- moverEvent{op: op, err: err}:
		case <-ctx.Done():
		}
	})
}

// onMover takes the outcome of a call of the Mover.
func (l *Loop) onMover(ev moverEvent, now time.Time) {
	op := ev.op
	if l.moving != op {
		return
	}
	l.moving = nil
	switch op.kind {
	case moveSAs:
		if l.ipsecWant == op.new {
			l.ipsecWant = netip.Addr{}
		}
		if ev.err == nil {
			l.ipsecAddr = op.new
			l.stats.IPsec.Moves++
			l.log.Info("IPsec SAs moved", logging.KeyHome, l.cfg.Home, logging.KeyHA, l.cfg.HA,
				"from", op.old, "ipsec_address", op.new, "ahead", op.ahead)
			return
		}
		l.stats.IPsec.MoveFailed++
		l.log.Warn("cannot move the IPsec SAs", logging.KeyHome, l.cfg.Home, logging.KeyHA, l.cfg.HA,
			"from", op.old, "to", op.new, "ipsec_address", l.ipsecAddr, logging.KeyErr, ev.err)
		if p := l.pending; p != nil && p.due && p.via == nil && p.src == op.new {
			// Sent all the same if the home agent is Ready; if not,
			// the retransmission tries the move again.
			p.unmoved = true
		}
	case addAddress:
		f := l.iface(op.iface)
		if ev.err != nil {
			l.stats.IPsec.AddFailed++
			l.offerRetryAt = now.Add(l.cfg.MaxRetryInterval)
			l.log.Warn("cannot offer an address to the IPsec SAs", logging.KeyIface, op.iface, "addr", op.addr,
				"retry", l.cfg.MaxRetryInterval, logging.KeyErr, ev.err)
			return
		}
		l.stats.IPsec.Added++
		if f != nil {
			f.offered = op.addr
		}
		l.log.Info("address offered to the IPsec SAs", logging.KeyIface, op.iface, "addr", op.addr)
	case removeAddress:
		if f := l.iface(op.iface); f != nil && f.offered == op.addr {
			f.offered = netip.Addr{}
		}
		if ev.err != nil {
			l.stats.IPsec.RemoveFailed++
			l.log.Warn("cannot withdraw an address from the IPsec SAs", logging.KeyIface, op.iface, "addr", op.addr,
				logging.KeyErr, ev.err)
			return
		}
		l.stats.IPsec.Removed++
		l.log.Info("address withdrawn from the IPsec SAs", logging.KeyIface, op.iface, "addr", op.addr)
	}
}

// onIface takes an IPSEC_INTERFACES interface's address from the watcher.
func (l *Loop) onIface(ev ifaceEvent) {
	f := l.iface(ev.name)
	if f == nil || f.addr == ev.addr {
		return
	}
	l.log.Info("IPSEC_INTERFACES address changed", logging.KeyIface, ev.name, "from", f.addr, "to", ev.addr)
	f.addr = ev.addr
}

// iface returns the IPSEC_INTERFACES entry named name, or nil.
func (l *Loop) iface(name string) *ipsecIface {
	for _, f := range l.ifaces {
		if f.name == name {
			return f
		}
	}
	return nil
}
