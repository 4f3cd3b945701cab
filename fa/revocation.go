package fa

import (
	"net"

	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// handleRevocation acts on a Registration Revocation from a home agent
// (RFC 3543): the mobile has registered elsewhere, so the visitor entry and
// its kernel state go at once, and the agent acknowledges. Only revocations
// protected by the Foreign-Home authenticator of a configured security
// association are accepted, and their identifiers must grow.
func (a *Agent) handleRevocation(ev event) {
	rv := ev.rev
	peer := ev.src.Addr()
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
		a.removeVisitor(rv.Home)
		a.stats.Revocations++
		a.log.Info("registration revoked", logging.KeyHome, rv.Home, logging.KeyHA, peer, logging.KeyCoA, rv.ForeignDomain,
			"revocation_id", rv.ID)
	} else {
		a.log.Debug("revocation for no visitor", logging.KeyHome, rv.Home, logging.KeyHA, peer, "revocation_id", rv.ID)
	}
	a.ackRevocation(ev, sa)
}

// ackRevocation answers a revocation with a Revocation Acknowledgment
// carrying a Foreign-Home authenticator. The agent does not inform mobiles,
// so the I bit is clear.
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
	if _, err := a.upstream.WriteTo(b, net.UDPAddrFromAddrPort(ev.src)); err != nil {
		a.log.Warn("sending revocation acknowledgment failed", logging.KeyHA, ev.src.Addr(), logging.KeyErr, err)
	}
}
