package ha

import (
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/binding"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// mipPort is the registration port, where revocations are sent.
const mipPort = 434

// revKey names a pending revocation: the mobile node and the foreign agent
// it left.
type revKey struct{ home, fa netip.Addr }

// revocation is a Registration Revocation waiting for its acknowledgment.
type revocation struct {
	Revocation
	msg []byte
	dst netip.AddrPort
	sa  mip.SecurityAssociation
}

// revocationStamp returns the timestamp for a Revocation Support extension:
// the agent's clock, but never below an identifier it has used, so that
// every later identifier exceeds every timestamp sent before it.
func (a *Agent) revocationStamp() uint32 {
	ts := mip.RevocationTimestamp(a.clock.Now())
	if a.lastRevID == 0 || int32(ts-a.lastRevID) > 0 {
		a.lastRevID = ts
	}
	return a.lastRevID
}

// revokeOld sends a Registration Revocation (RFC 3543) for binding old to
// the foreign agent that relayed it, when that agent announced revocation
// support and shares a security association with the home agent, and is
// not the agent the new request came through (newSender).
func (a *Agent) revokeOld(old binding.Binding, newSender netip.Addr) {
	info := a.binfo[old.Home]
	if info == nil || !info.revocation {
		return
	}
	fa := info.sender.Addr()
	if fa == newSender {
		return
	}
	sa, ok := a.fasas[fa]
	if !ok {
		return
	}
	now := a.clock.Now()
	a.lastRevID = mip.NextRevocationID(a.lastRevID, now)
	rev := &mip.Revocation{
		Flags:         mip.RevocationHomeAgent,
		Home:          old.Home,
		HomeDomain:    a.cfg.HAIPAddress,
		ForeignDomain: old.CareOf,
		ID:            a.lastRevID,
	}
	if err := rev.Authenticate(mip.TypeForeignHome, sa); err != nil {
		a.log.Error("cannot authenticate revocation", logging.KeyHome, old.Home, logging.KeyFA, fa, logging.KeyErr, err)
		return
	}
	b, err := rev.Marshal()
	if err != nil {
		a.log.Error("cannot build revocation", logging.KeyHome, old.Home, logging.KeyFA, fa, logging.KeyErr, err)
		return
	}
	r := &revocation{
		Revocation: Revocation{Home: old.Home, FA: fa, ID: rev.ID, State: RevocationPending},
		msg:        b,
		dst:        netip.AddrPortFrom(fa, mipPort),
		sa:         sa,
	}
	a.revocations[revKey{old.Home, fa}] = r
	a.log.Info("revoking binding at the foreign agent left", logging.KeyHome, old.Home, logging.KeyCoA, old.CareOf,
		logging.KeyFA, fa, "revocation_id", rev.ID)
	a.sendRevocation(r, now)
}

// sendRevocation (re)transmits r and sets its next retransmission: after
// RevocationInterval, doubling each time.
func (a *Agent) sendRevocation(r *revocation, now time.Time) {
	a.send(outRevocation, r.Home, r.msg, r.dst)
	r.Sent++
	a.stats.RevocationsSent++
	r.Next = now.Add(RevocationInterval << (r.Sent - 1))
}

// runRevocations retransmits the revocations that are due and gives up on
// those sent RevocationTries times.
func (a *Agent) runRevocations(now time.Time) {
	for k, r := range a.revocations {
		if now.Before(r.Next) {
			continue
		}
		if r.Sent >= RevocationTries {
			delete(a.revocations, k)
			a.stats.RevocationsAbandoned++
			a.log.Warn("revocation not acknowledged; given up", logging.KeyHome, r.Home, logging.KeyFA, r.FA,
				"revocation_id", r.ID, "sent", r.Sent, "state", RevocationAbandoned.String())
			continue
		}
		a.log.Debug("retransmitting revocation", logging.KeyHome, r.Home, logging.KeyFA, r.FA, "revocation_id", r.ID, "sent", r.Sent)
		a.sendRevocation(r, now)
	}
}

// handleRevocationAck ends a pending revocation when its acknowledgment
// comes from the foreign agent it was sent to, with the same identifier and
// a valid Foreign-Home authenticator.
func (a *Agent) handleRevocationAck(ack *mip.RevocationAck, src netip.AddrPort) {
	fa := src.Addr()
	a.log.Debug("revocation acknowledgment", logging.KeyHome, ack.Home, logging.KeyFA, fa, "revocation_id", ack.ID, "flags", ack.Flags.String())
	k := revKey{ack.Home, fa}
	r, ok := a.revocations[k]
	if !ok || r.ID != ack.ID {
		a.counts.unmatched.Add(1)
		a.log.Debug("revocation acknowledgment matches no revocation", logging.KeyHome, ack.Home, logging.KeyFA, fa, "revocation_id", ack.ID)
		return
	}
	if err := mip.VerifyRevocationAck(ack.Raw(), mip.TypeForeignHome, r.sa); err != nil {
		a.counts.auth.Add(1)
		a.log.Warn("revocation acknowledgment failed Foreign-Home authentication", logging.KeyHome, ack.Home,
			logging.KeyFA, fa, logging.KeyErr, err)
		return
	}
	delete(a.revocations, k)
	a.stats.RevocationsAcked++
	a.log.Info("revocation acknowledged", logging.KeyHome, ack.Home, logging.KeyFA, fa, "revocation_id", ack.ID,
		"state", RevocationAcknowledged.String())
}

// handleRevocation acts on a Registration Revocation from a foreign agent
// (RFC 3543 with the A bit clear): the agent has dropped the mobile node,
// so the binding through it goes at once. Revocations must carry a valid
// Foreign-Home authenticator and an identifier later than the last one
// accepted from that agent and not earlier than the timestamp of its last
// Revocation Support extension; the agent acknowledges every authentic one,
// a retransmission included.
func (a *Agent) handleRevocation(rv *mip.Revocation, src netip.AddrPort) {
	fa := src.Addr()
	a.log.Debug("revocation", logging.KeyHome, rv.Home, logging.KeyFA, fa, logging.KeyCoA, rv.ForeignDomain,
		"revocation_id", rv.ID, "flags", rv.Flags.String())
	sa, ok := a.fasas[fa]
	if !ok {
		a.counts.auth.Add(1)
		a.log.Debug("revocation from an agent without a security association", logging.KeyFA, fa, logging.KeyHome, rv.Home)
		return
	}
	if err := mip.VerifyRevocation(rv.Raw(), mip.TypeForeignHome, sa); err != nil {
		a.counts.auth.Add(1)
		a.log.Warn("revocation failed Foreign-Home authentication", logging.KeyFA, fa, logging.KeyHome, rv.Home, logging.KeyErr, err)
		return
	}
	if rv.Flags.Has(mip.RevocationHomeAgent) || rv.HomeDomain != a.cfg.HAIPAddress {
		a.counts.unexpected.Add(1)
		a.log.Debug("revocation not meant for this home agent", logging.KeyFA, fa, logging.KeyHome, rv.Home)
		return
	}
	last, seen := a.faRevIDs[fa]
	if !(seen && rv.ID == last) {
		if err := mip.CheckRevocationID(rv.ID, last); err != nil {
			a.counts.unmatched.Add(1)
			a.log.Warn("revocation replayed", logging.KeyFA, fa, logging.KeyHome, rv.Home, logging.KeyErr, err)
			return
		}
		if ts, ok := a.faStamps[fa]; ok && int32(rv.ID-ts) < 0 {
			a.counts.unmatched.Add(1)
			a.log.Warn("revocation older than the foreign agent's revocation support timestamp", logging.KeyFA, fa,
				logging.KeyHome, rv.Home, "revocation_id", rv.ID, "timestamp", ts)
			return
		}
		a.faRevIDs[fa] = rv.ID
		if b, ok := a.bindings.Get(rv.Home); ok && a.binfo[rv.Home] != nil && a.binfo[rv.Home].sender.Addr() == fa {
			a.stats.RevocationsReceived++
			a.log.Info("binding revoked by the foreign agent", logging.KeyHome, rv.Home, logging.KeyCoA, b.CareOf,
				logging.KeyFA, fa, "revocation_id", rv.ID)
			a.unbind(b)
		} else {
			a.log.Debug("revocation for no binding through this agent", logging.KeyHome, rv.Home, logging.KeyFA, fa)
		}
	}
	ack := &mip.RevocationAck{Home: rv.Home, ID: rv.ID}
	if err := ack.Authenticate(mip.TypeForeignHome, sa); err != nil {
		a.log.Error("cannot authenticate revocation acknowledgment", logging.KeyErr, err)
		return
	}
	b, err := ack.Marshal()
	if err != nil {
		a.log.Error("cannot build revocation acknowledgment", logging.KeyErr, err)
		return
	}
	a.send(outAck, rv.Home, b, src)
}
