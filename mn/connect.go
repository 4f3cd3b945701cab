package mn

import (
	"context"
	"fmt"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/api"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// The errors of the blocking calls Connect, Confirm and Disconnect; each
// is also the control API's return value (errors.As gives an *api.Error):
// in progress (-9), cancelled (-10), not available (-2).
var (
	// ErrInProgress: another Connect or Confirm is blocking; the call
	// did nothing.
	ErrInProgress error = &callError{"mn: another connect or confirm is in progress", api.InProgress}
	// ErrCancelled: a Disconnect (of a Connect or Confirm), or a Connect
	// (of a Disconnect), ended the call before it completed.
	ErrCancelled error = &callError{"mn: cancelled", api.Cancelled}
	// ErrDisconnected: Confirm was called while the node is disconnected
	// or disconnecting; there is no registration to confirm.
	ErrDisconnected error = &callError{"mn: disconnected", api.NotAvailable}
)

// DeniedError is a denial that ended a Confirm: the code the home agent or
// a foreign agent answered with. Use errors.As to get it.
type DeniedError struct {
	Code mip.Code
}

func (e *DeniedError) Error() string {
	by := "home agent"
	if e.Code.FromFA() {
		by = "foreign agent"
	}
	return fmt.Sprintf("mn: registration denied by the %s: %s (code %d)", by, e.Code, int(e.Code))
}

// callKind is what a blocking call waits for.
type callKind uint8

const (
	callConnect    callKind = iota // registered, or at home
	callConfirm                    // an accepted reply to a request sent after the call
	callDisconnect                 // Disconnected
)

func (k callKind) String() string {
	switch k {
	case callConnect:
		return "connect"
	case callConfirm:
		return "confirm"
	}
	return "disconnect"
}

// waiter is a blocking call kept in the loop's state until the loop answers
// it. The reply channel holds one value, so answering never blocks the
// loop; a caller whose ctx ended has gone and its waiter is abandoned.
type waiter struct {
	kind   callKind
	ctx    context.Context
	reply  chan error
	fromTx uint64 // Confirm: replies to transmissions numbered above this count
}

func (w *waiter) answer(err error) { w.reply <- err }

// gone reports whether the caller stopped waiting.
func (w *waiter) gone() bool { return w.ctx.Err() != nil }

// Connect leaves Disconnected and blocks until the node is registered or at
// home. The node starts disconnected with StartDisconnected. Called while
// the node is connected it just waits for the same. It fails with
// ErrInProgress at once while another Connect or Confirm blocks, with
// ErrCancelled when a Disconnect comes first, with ctx.Err() when ctx ends
// first (the node stays connected and goes on registering) and with
// ErrStopped when the node stops. Denials do not end it: the node retries
// and looks for other agents as it always does.
func (n *Node) Connect(ctx context.Context) error {
	return n.call(ctx, callConnect)
}

// Confirm blocks until the registration in force is confirmed by a fresh
// accepted reply: it sends the outstanding request again now, or a renewal
// (at home, a deregistration) when none is outstanding, and returns nil
// once a reply accepts a request sent after the call. A denial of such a
// request ends it with a *DeniedError carrying the code (the node itself
// goes on as after any denial). While the node is finding an agent it
// waits for the next registration. It fails with ErrDisconnected when the
// node is disconnected, and like Connect with ErrInProgress, ErrCancelled,
// ctx.Err() or ErrStopped.
func (n *Node) Confirm(ctx context.Context) error {
	return n.call(ctx, callConfirm)
}

// Disconnect deregisters the node (when it is away, through its agent or
// from its co-located address) and blocks until it is Disconnected: the
// deregistration is answered or its retransmissions are used up. A Connect
// or Confirm blocking meanwhile returns ErrCancelled. In Disconnected the
// node neither solicits nor registers and holds no kernel entries; it still
// listens to advertisements, so that Connect can use what it heard. Several
// Disconnects may wait together; a Connect cancels them (ErrCancelled).
// When ctx ends first the node goes on disconnecting and the call returns
// ctx.Err().
func (n *Node) Disconnect(ctx context.Context) error {
	return n.call(ctx, callDisconnect)
}

// call hands a blocking call to the loop and waits for its answer.
func (n *Node) call(ctx context.Context, kind callKind) error {
	w := &waiter{kind: kind, ctx: ctx, reply: make(chan error, 1)}
	if err := n.Do(ctx, func(l *Loop) { l.begin(w, n.clock.Now()) }); err != nil {
		return err
	}
	select {
	case err := <-w.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-n.stopped:
		return ErrStopped
	}
}

// begin starts a blocking call in the loop.
func (l *Loop) begin(w *waiter, now time.Time) {
	if w.kind == callDisconnect {
		l.disconnect(w, now)
		return
	}
	if c := l.call; c != nil && !c.gone() {
		w.answer(ErrInProgress)
		return
	}
	l.call = nil
	switch w.kind {
	case callConnect:
		l.call = w
		l.connect(now)
	case callConfirm:
		if l.disc {
			w.answer(ErrDisconnected)
			return
		}
		w.fromTx = l.txN
		l.call = w
		l.confirm(now)
	}
}

// connect leaves Disconnected: the mobile attaches to the best agent still
// heard, or looks for one. Disconnects still waiting are cancelled.
func (l *Loop) connect(now time.Time) {
	for _, w := range l.disconnecting {
		w.answer(ErrCancelled)
	}
	l.disconnecting = nil
	if !l.disc {
		return
	}
	l.disc = false
	l.log.Info("connecting", logging.KeyHome, l.cfg.Home, "state", l.state)
	if l.state == StateDeregistering && l.where == atHome {
		return // the deregistration at home goes on; then the mobile is home
	}
	l.pending = nil // a deregistration from away is dropped: the mobile registers again
	l.where = atUnknown
	l.cur = nil
	l.leaveColocated()
	l.reg = registration{}
	l.setState(StateFindingAgent, now)
	l.reattach(now)
}

// confirm makes a fresh request go out now.
func (l *Loop) confirm(now time.Time) {
	switch {
	case l.pending != nil:
		l.pending.due = true
	case l.where == atHome:
		l.deregister(now)
	case l.reg.valid():
		l.register(now)
	}
	l.log.Info("confirming registration", logging.KeyHome, l.cfg.Home, "state", l.state)
}

// confirmReply answers a Confirm waiting for the reply to tx: nil when the
// request was accepted, the denial otherwise.
func (l *Loop) confirmReply(tx transmission, err error) {
	w := l.call
	if w == nil || w.kind != callConfirm || tx.n <= w.fromTx {
		return
	}
	l.call = nil
	w.answer(err)
}

// disconnect cancels a blocking Connect or Confirm and deregisters from
// away; with no registration there to remove (or once it is removed) the
// mobile is Disconnected. A deregistration at home already outstanding is
// left to finish.
func (l *Loop) disconnect(w *waiter, now time.Time) {
	if c := l.call; c != nil {
		l.call = nil
		c.answer(ErrCancelled)
	}
	live := l.disconnecting[:0]
	for _, d := range l.disconnecting {
		if !d.gone() {
			live = append(live, d)
		}
	}
	l.disconnecting = append(live, w)
	if l.disc {
		return // disconnecting, or disconnected: settle answers
	}
	l.disc = true
	away := l.where == atAgent || l.where == atColocated
	registered := l.reg.valid() || (l.pending != nil && !l.pending.dereg)
	l.log.Info("disconnecting", logging.KeyHome, l.cfg.Home, "state", l.state, "deregister", away && registered)
	switch {
	case away && registered:
		l.reg = registration{}
		l.probe, l.checkAt = nil, time.Time{}
		l.deregisterAway(now)
	case l.where == atHome && l.pending != nil && l.pending.dereg:
	default:
		l.enterDisconnected(now)
	}
}

// deregisterAway starts a deregistration from where the mobile is attached
// away from home: lifetime 0 with the care-of address in use, through the
// foreign agent or straight to the home agent from the co-located address
// (RFC 5944 section 3.6.1.2).
func (l *Loop) deregisterAway(now time.Time) {
	l.dropSession("deregistration")
	p := &attempt{dereg: true, interval: l.cfg.RetryInterval, due: true}
	if l.where == atAgent {
		p.via, p.coa = l.cur, l.cur.coa
	} else {
		p.colocated = true
		p.coa = l.cfg.Colocated[l.coloc].Addr.Prefix().Addr()
		p.src = p.coa
	}
	l.pending = p
	l.setState(StateDeregistering, now)
}

// enterDisconnected forgets where the mobile is: no agent, no request, no
// kernel entries (the next settle removes them).
func (l *Loop) enterDisconnected(now time.Time) {
	l.pending = nil
	l.reg = registration{}
	l.where = atUnknown
	l.cur = nil
	l.leaveColocated()
	l.setState(StateDisconnected, now)
	l.log.Info("disconnected", logging.KeyHome, l.cfg.Home)
}

// answerCalls answers the blocking calls whose condition holds.
func (l *Loop) answerCalls() {
	if w := l.call; w != nil && w.kind == callConnect && !l.disc &&
		(l.state == StateRegistered || l.state == StateHome) {
		l.call = nil
		w.answer(nil)
	}
	if l.state == StateDisconnected {
		for _, w := range l.disconnecting {
			w.answer(nil)
		}
		l.disconnecting = nil
	}
}
