package fa

import (
	"net"
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// Revocations the agent sends to a lower agent are retransmitted until
// acknowledged, as the home agent does: revocationTries sends at most, the
// first revocationRetry after the first and doubling.
const (
	revocationTries = 4
	revocationRetry = time.Second
)

// revocationOut is a revocation sent to a lower agent and not yet
// acknowledged.
type revocationOut struct {
	to      Downlink
	home    netip.Addr
	id      uint32
	sess    session
	payload []byte
	tries   int
	next    time.Time
}

// sessionRevocations is the replay state of the revocations made with one
// session key: the last identifier accepted, and until when the state is
// kept (zero: as long as the agent runs). A session key lives no longer
// than a registration through this agent can, so the state may go
// MaxLifetime after the session was last used here.
type sessionRevocations struct {
	last   uint32
	expiry time.Time
}

// sessionHorizon is how long the revocation state of a session used now is
// kept: MaxLifetime, the longest registration the agent grants; zero (for
// ever) when that is infinite.
func (a *Agent) sessionHorizon(now time.Time) time.Time {
	if a.maxLifetime() == mip.Infinite {
		return time.Time{}
	}
	return now.Add(a.cfg.MaxLifetime)
}

// touchSession keeps the revocation state of sess at least until the
// horizon of now.
func (a *Agent) touchSession(sess session, now time.Time) {
	r := a.sessRevs[sess]
	r.expiry = a.sessionHorizon(now)
	a.sessRevs[sess] = r
}

// pruneSessions forgets the revocation state of sessions past their
// horizon; it runs at most once a minute.
func (a *Agent) pruneSessions(now time.Time) {
	if now.Before(a.nextPrune) {
		return
	}
	a.nextPrune = now.Add(time.Minute)
	for s, r := range a.sessRevs {
		if !r.expiry.IsZero() && now.After(r.expiry) {
			delete(a.sessRevs, s)
		}
	}
	for home, p := range a.pastSess {
		if !p.expiry.IsZero() && now.After(p.expiry) {
			delete(a.pastSess, home)
		}
	}
}

// upperRevocation is the last revocation accepted from an upper agent, kept
// to acknowledge a retransmission of it once the visitor (and with it the
// session key) is gone.
type upperRevocation struct {
	home netip.Addr
	id   uint32
	sess session
}

// handleRevocation acts on a Registration Revocation (RFC 3543): the
// mobile has registered elsewhere, so the visitor entry and its kernel
// state go at once, the revocation is passed to the lower agent when the
// way down is one, and the agent acknowledges. A revocation from the upper
// agent is checked with the session key of the visitor (handleUpperRevocation);
// one from a home agent must carry the Foreign-Home authenticator of a
// configured security association. Identifiers must grow.
func (a *Agent) handleRevocation(ev event) {
	rv := ev.rev
	peer := ev.src.Addr()
	if a.cfg.UpperFAIPAddress.IsValid() && peer == a.cfg.UpperFAIPAddress {
		a.handleUpperRevocation(ev)
		return
	}
	sa, ok := a.sas[peer]
	if !ok {
		a.counts.auth.Add(1)
		a.log.Debug("revocation from an agent without a security association", logging.KeyHA, peer, logging.KeyHome, rv.Home)
		return
	}
	if err := mip.VerifyRevocation(rv.Raw(), mip.TypeForeignHome, sa); err != nil {
		a.counts.auth.Add(1)
		a.log.Warn("revocation failed Foreign-Home authentication", logging.KeyHA, peer, logging.KeyHome, rv.Home, logging.KeyErr, err)
		return
	}
	if !rv.Flags.Has(mip.RevocationHomeAgent) {
		a.counts.unexpected.Add(1)
		a.log.Debug("revocation from a foreign domain", logging.KeyHA, peer, logging.KeyHome, rv.Home)
		return
	}
	last, seen := a.revAccepted[peer]
	if seen && rv.ID == last {
		// A retransmission: the acknowledgment was lost.
		a.ackRevocation(ev, sa)
		return
	}
	// The identifier must be later than the last one accepted, and not
	// earlier than the home agent's clock in its last Revocation Support
	// extension (equal is allowed: both may fall in one second).
	if err := mip.CheckRevocationID(rv.ID, last); err != nil {
		a.counts.auth.Add(1)
		a.log.Warn("revocation replayed", logging.KeyHA, peer, logging.KeyHome, rv.Home, logging.KeyErr, err)
		return
	}
	if ts, ok := a.revSupport[peer]; ok && int32(rv.ID-ts) < 0 {
		a.counts.auth.Add(1)
		a.log.Warn("revocation older than the home agent's revocation support timestamp",
			logging.KeyHA, peer, logging.KeyHome, rv.Home, "revocation_id", rv.ID, "timestamp", ts)
		return
	}
	a.revAccepted[peer] = rv.ID
	if b, ok := a.visitors.Get(rv.Home); ok && b.HA == rv.HomeDomain && a.vinfo[rv.Home] != nil && a.vinfo[rv.Home].up == peer {
		a.revokeVisitor(rv.Home)
		a.stats.Revocations++
		a.log.Info("registration revoked", logging.KeyHome, rv.Home, logging.KeyHA, peer, logging.KeyCoA, rv.ForeignDomain,
			"revocation_id", rv.ID)
	} else {
		a.log.Debug("revocation for no visitor", logging.KeyHome, rv.Home, logging.KeyHA, peer, "revocation_id", rv.ID)
	}
	a.ackRevocation(ev, sa)
}

// handleUpperRevocation acts on a revocation from the upper agent: a
// switching agent above has moved the mobile to another branch, or the home
// agent has revoked the highest agent's binding. It is believed only with a
// Foreign-Home authenticator made with the session key of the visitor's
// binding under its session SPI, and with an identifier later than the last
// one accepted under that session key (a replay can only succeed with the
// key it was made with; an upper agent that restarted, and whose clock-based
// identifiers may fall behind those it sent before, revokes under the new
// key of the full registration its restart caused); the last one is
// acknowledged again when retransmitted.
func (a *Agent) handleUpperRevocation(ev event) {
	rv := ev.rev
	peer := ev.src.Addr()
	auth, _ := rv.Auth(mip.TypeForeignHome)
	if last, ok := a.upperRev[peer]; ok && rv.ID == last.id && rv.Home == last.home {
		if auth != nil && auth.SPI == last.sess.spi && mip.VerifyRevocation(rv.Raw(), mip.TypeForeignHome, last.sess.sa()) == nil {
			a.ackRevocation(ev, last.sess.sa())
			return
		}
	}
	b, ok := a.visitors.Get(rv.Home)
	info := a.vinfo[rv.Home]
	sess, hasKey := bindingSession(b)
	if !ok || info == nil || info.up != peer || !hasKey {
		a.counts.unmatched.Add(1)
		a.log.Debug("revocation from the upper agent for no visitor with a session key", logging.KeyHome, rv.Home,
			logging.KeyFA, peer, "revocation_id", rv.ID)
		return
	}
	if auth == nil || auth.SPI != sess.spi {
		a.counts.auth.Add(1)
		a.log.Warn("revocation from the upper agent without the session's authenticator", logging.KeyHome, rv.Home,
			logging.KeyFA, peer)
		return
	}
	if err := mip.VerifyRevocation(rv.Raw(), mip.TypeForeignHome, sess.sa()); err != nil {
		a.counts.auth.Add(1)
		a.log.Warn("revocation from the upper agent failed authentication", logging.KeyHome, rv.Home,
			logging.KeyFA, peer, logging.KeyErr, err)
		return
	}
	if err := mip.CheckRevocationID(rv.ID, a.sessRevs[sess].last); err != nil {
		a.counts.auth.Add(1)
		a.log.Warn("revocation replayed", logging.KeyFA, peer, logging.KeyHome, rv.Home, logging.KeyErr, err)
		return
	}
	a.sessRevs[sess] = sessionRevocations{last: rv.ID, expiry: a.sessionHorizon(a.clock.Now())}
	a.upperRev[peer] = upperRevocation{home: rv.Home, id: rv.ID, sess: sess}
	a.revokeVisitor(rv.Home)
	a.stats.Revocations++
	a.log.Info("registration revoked", logging.KeyHome, rv.Home, logging.KeyFA, peer, logging.KeyCoA, rv.ForeignDomain,
		"revocation_id", rv.ID)
	a.ackRevocation(ev, sess.sa())
}

// revokeVisitor removes a revoked visitor and passes the revocation on to
// the lower agent when the way down is one and the binding has a session
// key to authenticate it with.
func (a *Agent) revokeVisitor(home netip.Addr) {
	b, _ := a.visitors.Get(home)
	info := a.vinfo[home]
	a.removeVisitor(home)
	if info == nil || !info.down.IsAgent() {
		return
	}
	if sess, ok := bindingSession(b); ok {
		a.revokeDown(home, b.HA, sess, info.down)
	}
}

// revokeDown sends a Registration Revocation for home to the lower agent of
// d: the A bit set (it comes from the home side of the tree), the home agent
// as home domain address, the advertised care-of address as foreign domain
// address, and a Foreign-Home authenticator made with the session key under
// the session SPI, which every agent of the branch holds. It is
// retransmitted until acknowledged (retransmitRevocations).
func (a *Agent) revokeDown(home, ha netip.Addr, sess session, d Downlink) {
	now := a.clock.Now()
	id := mip.NextRevocationID(a.lastRev, now)
	a.lastRev = id
	rv := &mip.Revocation{Flags: mip.RevocationHomeAgent, Home: home, HomeDomain: ha, ForeignDomain: a.advCoA, ID: id}
	if err := rv.Authenticate(mip.TypeForeignHome, sess.sa()); err != nil {
		a.log.Error("cannot authenticate revocation", logging.KeyHome, home, logging.KeyErr, err)
		return
	}
	b, err := rv.Marshal()
	if err != nil {
		a.log.Error("cannot build revocation", logging.KeyHome, home, logging.KeyErr, err)
		return
	}
	// A newer revocation of the same mobile at the same agent replaces an
	// unacknowledged older one.
	for i, o := range a.revOut {
		if o.home == home && o.to.Agent.Addr() == d.Agent.Addr() {
			a.revOut = append(a.revOut[:i], a.revOut[i+1:]...)
			break
		}
	}
	a.revOut = append(a.revOut, &revocationOut{to: d, home: home, id: id, sess: sess, payload: b, tries: 1,
		next: now.Add(revocationRetry)})
	a.stats.RevocationsSent++
	a.log.Info("revoking the old branch", logging.KeyHome, home, logging.KeyFA, d.Agent.Addr(), "revocation_id", id)
	if err := a.sendAgent(d, b, "revocation", home); err != nil {
		a.log.Warn("sending revocation failed", logging.KeyHome, home, logging.KeyFA, d.Agent.Addr(), logging.KeyErr, err)
	}
}

// retransmitRevocations resends the revocations whose acknowledgment is
// overdue, and gives up on those sent revocationTries times.
func (a *Agent) retransmitRevocations(now time.Time) {
	kept := a.revOut[:0]
	for _, r := range a.revOut {
		if now.Before(r.next) {
			kept = append(kept, r)
			continue
		}
		if r.tries >= revocationTries {
			a.log.Warn("revocation never acknowledged", logging.KeyHome, r.home, logging.KeyFA, r.to.Agent.Addr(),
				"revocation_id", r.id, "tries", r.tries)
			continue
		}
		r.tries++
		r.next = now.Add(revocationRetry << (r.tries - 1))
		if err := a.sendAgent(r.to, r.payload, "revocation", r.home); err != nil {
			a.log.Warn("sending revocation failed", logging.KeyHome, r.home, logging.KeyFA, r.to.Agent.Addr(), logging.KeyErr, err)
		}
		kept = append(kept, r)
	}
	clear(a.revOut[len(kept):])
	a.revOut = kept
}

// handleRevocationAck matches a lower agent's Revocation Acknowledgment to
// the revocation it answers and checks its Foreign-Home authenticator with
// that revocation's session key.
func (a *Agent) handleRevocationAck(ev event) {
	ack := ev.ack
	for i, r := range a.revOut {
		if r.home != ack.Home || r.id != ack.ID || r.to.Agent.Addr() != ev.src.Addr() {
			continue
		}
		if err := mip.VerifyRevocationAck(ack.Raw(), mip.TypeForeignHome, r.sess.sa()); err != nil {
			a.counts.auth.Add(1)
			a.log.Warn("revocation acknowledgment failed authentication", logging.KeyHome, ack.Home,
				logging.KeyFA, ev.src.Addr(), logging.KeyErr, err)
			return
		}
		a.revOut = append(a.revOut[:i], a.revOut[i+1:]...)
		a.log.Debug("revocation acknowledged", logging.KeyHome, ack.Home, logging.KeyFA, ev.src.Addr(), "revocation_id", ack.ID)
		return
	}
	a.counts.unmatched.Add(1)
	a.log.Debug("acknowledgment of no revocation", logging.KeyHome, ack.Home, logging.KeyFA, ev.src.Addr(), "revocation_id", ack.ID)
}

// ackRevocation answers a revocation with a Revocation Acknowledgment
// carrying a Foreign-Home authenticator made with sa. The agent does not
// inform mobiles, so the I bit is clear.
func (a *Agent) ackRevocation(ev event, sa mip.SecurityAssociation) {
	ack := &mip.RevocationAck{Home: ev.rev.Home, ID: ev.rev.ID}
	if err := ack.Authenticate(mip.TypeForeignHome, sa); err != nil {
		a.log.Error("cannot authenticate revocation acknowledgment", logging.KeyErr, err)
		return
	}
	b, err := ack.Marshal()
	if err != nil {
		a.log.Error("cannot build revocation acknowledgment", logging.KeyErr, err)
		return
	}
	if !a.ready(ev.src.Addr(), "revocation acknowledgment", ev.rev.Home) {
		return
	}
	if _, err := a.upstream.WriteTo(b, net.UDPAddrFromAddrPort(ev.src)); err != nil {
		a.log.Warn("sending revocation acknowledgment failed", logging.KeyHA, ev.src.Addr(), logging.KeyErr, err)
	}
}
