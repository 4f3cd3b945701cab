package fa

import (
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// revocation builds the home agent's revocation of home's binding at the
// agent, with identifier id, authenticated with sa.
func revocation(id uint32, sa mip.SecurityAssociation) *mip.Revocation {
	r := &mip.Revocation{Flags: mip.RevocationHomeAgent, Home: home, HomeDomain: haAddr, ForeignDomain: coa, ID: id}
	if len(sa.Key) > 0 {
		if err := r.Authenticate(mip.TypeForeignHome, sa); err != nil {
			panic(err)
		}
	}
	return r
}

// haAck reads the agent's acknowledgment at the home agent and checks it.
func (b *bed) haAck(id uint32) {
	b.t.Helper()
	raw, _ := b.haRecv()
	if err := mip.VerifyRevocationAck(raw, mip.TypeForeignHome, fhSA); err != nil {
		b.t.Errorf("acknowledgment: %v", err)
	}
	ack, err := mip.ParseRevocationAck(raw)
	if err != nil {
		b.t.Fatal(err)
	}
	if ack.Home != home || ack.ID != id || ack.Flags.Has(mip.AckInform) {
		b.t.Errorf("acknowledgment %+v, want home %s id %d without I", ack, home, id)
	}
}

// TestRevocation: the home agent's authenticated revocation removes the
// visitor and its kernel state at once and is acknowledged; a
// retransmission is acknowledged again; forged and replayed ones change
// nothing.
func TestRevocation(t *testing.T) {
	b := newBed(t, testConfig())
	b.register(b.mn, home, mip.TimestampID(start), 600, mip.FlagReverseTunnel)
	ts := mip.RevocationTimestamp(start) // the home agent's Revocation Support timestamp

	wrong := fhSA
	wrong.Key = []byte("some other key")
	b.haSend(marshal(t, revocation(ts+1, wrong)))
	b.haSend(marshal(t, revocation(ts+1, mip.SecurityAssociation{})))
	// Older than the home agent's clock in its last reply.
	b.haSend(marshal(t, revocation(ts-1, fhSA)))
	b.waitStats("forged revocations", func(s Stats) bool { return s.Discards.Authentication == 3 })
	b.haNothing()
	b.hasAll(visitorKernel(home, mnMAC, true)...)

	b.haSend(marshal(t, revocation(ts, fhSA)))
	b.haAck(ts)
	b.onlyBase()
	if s := b.stats(); s.Revocations != 1 || s.Visitors != 0 || s.Tunnels != 0 {
		t.Errorf("stats %+v", s)
	}
	if !logHas(b.logs.String(), "registration revoked", "home=10.1.0.10", "ha=10.1.0.1") {
		t.Errorf("no Info line for the revocation")
	}

	// The acknowledgment was lost: the home agent sends the same again.
	b.haSend(marshal(t, revocation(ts, fhSA)))
	b.haAck(ts)
	// A revocation for a mobile the agent no longer has is acknowledged.
	b.haSend(marshal(t, revocation(ts+5, fhSA)))
	b.haAck(ts + 5)
	// An earlier identifier is a replay.
	b.haSend(marshal(t, revocation(ts+3, fhSA)))
	b.waitStats("replayed revocation", func(s Stats) bool { return s.Discards.Authentication == 4 })
	b.haNothing()
	if s := b.stats(); s.Revocations != 1 {
		t.Errorf("revocations %d", s.Revocations)
	}
}

// TestRevocationWithoutSA: without a security association with the home
// agent, revocations are not believed.
func TestRevocationWithoutSA(t *testing.T) {
	cfg := testConfig()
	cfg.Security = nil
	b := newBed(t, cfg)
	req := request(home, mip.TimestampID(start), 600, 0)
	b.send(b.mn, home, marshal(t, req))
	b.haRelayed()
	b.haSend(marshal(t, haReply(req, mip.CodeAccepted, 600, mip.SecurityAssociation{})))
	b.replyFor(b.mn)
	b.haSend(marshal(t, revocation(mip.RevocationTimestamp(start)+1, fhSA)))
	b.waitStats("revocation without SA", func(s Stats) bool { return s.Discards.Authentication == 1 })
	b.haNothing()
	b.hasAll(visitorKernel(home, mnMAC, false)...)
}
