package ha

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/memnet"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// readRevocation reads a revocation at c and checks it as a foreign agent
// would: Foreign-Home authenticated with sa, from the home agent.
func (b *bed) readRevocation(c *memnet.Conn, sa mip.SecurityAssociation) (*mip.Revocation, netip.AddrPort) {
	b.t.Helper()
	raw, from := b.recv(c)
	rv, err := mip.ParseRevocation(raw)
	if err != nil {
		b.t.Fatalf("expected a revocation: %v", err)
	}
	if err := mip.VerifyRevocation(raw, mip.TypeForeignHome, sa); err != nil {
		b.t.Errorf("revocation authenticator: %v", err)
	}
	return rv, from
}

// ack sends the acknowledgment of rv from c, authenticated with sa.
func (b *bed) ack(c *memnet.Conn, rv *mip.Revocation, sa mip.SecurityAssociation) {
	b.t.Helper()
	a := &mip.RevocationAck{Home: rv.Home, ID: rv.ID}
	if err := a.Authenticate(mip.TypeForeignHome, sa); err != nil {
		b.t.Fatal(err)
	}
	b.send(c, marshal(b.t, a))
}

// A move to another foreign agent replaces the route and tunnel, and the
// agent left behind is sent a revocation until it acknowledges.
func TestMoveRevokesOldForeignAgent(t *testing.T) {
	b := newBed(t, testConfig())
	b.register(req{})
	arps := len(b.kern.ARPs())
	rep := b.register(req{coa: fa2Addr})
	verifyReply(t, rep, mnSA, &fa2SA)
	b.has(bindingEntries(home, "dynha2", fa2Addr)...)
	if b.kern.Has(kernel.Tunnel{Name: "dynha1", Local: haAddr, Remote: fa1Addr}) {
		t.Error("the old tunnel stayed")
	}
	if len(b.kern.ARPs()) != arps {
		t.Error("a move repeated the gratuitous ARPs")
	}

	rv, from := b.readRevocation(b.fa1, fa1SA)
	if from != netip.AddrPortFrom(haAddr, 434) || !rv.Flags.Has(mip.RevocationHomeAgent) || rv.Flags.Has(mip.RevocationInform) ||
		rv.Home != home || rv.HomeDomain != haAddr || rv.ForeignDomain != fa1Addr {
		t.Errorf("revocation from %s: %+v", from, rv)
	}
	// The identifier exceeds the timestamp of the Revocation Support
	// extension the agent sent fa1 with its registration.
	if rv.ID < mip.RevocationTimestamp(start) {
		t.Errorf("revocation id %d below the clock", rv.ID)
	}
	b.nothing(b.fa2)

	// Unanswered, it is sent again after a second, with the same id.
	b.advance(time.Second)
	again, _ := b.readRevocation(b.fa1, fa1SA)
	if again.ID != rv.ID {
		t.Errorf("retransmission id %d, want %d", again.ID, rv.ID)
	}
	var revs []Revocation
	b.do(func(s *State) { revs = s.Revocations() })
	if len(revs) != 1 || revs[0].State != RevocationPending || revs[0].Sent != 2 || revs[0].FA != fa1Addr {
		t.Errorf("pending revocations %+v", revs)
	}

	// An acknowledgment with the wrong key or id changes nothing.
	b.ack(b.fa1, rv, fa2SA)
	b.waitStats("bad acknowledgment counted", func(s Stats) bool { return s.Discards.Authentication == 1 })
	wrongID := *rv
	wrongID.ID++
	b.ack(b.fa1, &wrongID, fa1SA)
	b.waitStats("unmatched acknowledgment counted", func(s Stats) bool { return s.Discards.Unmatched == 1 })

	b.ack(b.fa1, rv, fa1SA)
	s := b.waitStats("acknowledgment", func(s Stats) bool { return s.RevocationsAcked == 1 })
	if s.RevocationsSent != 2 || s.PendingRevocations != 0 {
		t.Errorf("stats %+v", s)
	}
	b.advance(10 * time.Second)
	b.nothing(b.fa1)
}

// A mobile that comes back to the foreign agent it left before that agent
// acknowledged the revocation must not lose its new visitor entry to a late
// retransmission: the registration through that agent ends the revocation.
func TestReturnCancelsPendingRevocation(t *testing.T) {
	b := newBed(t, testConfig())
	b.register(req{})
	b.register(req{coa: fa2Addr})
	b.readRevocation(b.fa1, fa1SA)
	b.register(req{}) // back through fa1, unacknowledged
	b.readRevocation(b.fa2, fa2SA)
	b.advance(10 * time.Second)
	b.nothing(b.fa1)
	var revs []Revocation
	b.do(func(s *State) { revs = s.Revocations() })
	for _, r := range revs {
		if r.FA == fa1Addr {
			t.Errorf("revocation to fa1 still pending after the mobile returned: %+v", r)
		}
	}
}

// A revocation nobody acknowledges is sent RevocationTries times, at
// doubling intervals, and then given up; the loop never waits for it.
func TestRevocationAbandoned(t *testing.T) {
	b := newBed(t, testConfig())
	b.register(req{})
	b.register(req{coa: fa2Addr})
	b.readRevocation(b.fa1, fa1SA)
	wait := RevocationInterval
	for i := 1; i < RevocationTries; i++ {
		b.advance(wait - time.Millisecond)
		b.nothing(b.fa1)
		b.advance(time.Millisecond)
		b.readRevocation(b.fa1, fa1SA)
		wait *= 2
	}
	b.advance(wait)
	b.nothing(b.fa1)
	s := b.stats()
	if s.RevocationsSent != RevocationTries || s.RevocationsAbandoned != 1 || s.PendingRevocations != 0 {
		t.Errorf("stats %+v", s)
	}
}

// No revocation goes to an agent that did not announce support, or with
// which the home agent shares no security association.
func TestNoRevocationWithoutSupport(t *testing.T) {
	t.Run("no support extension", func(t *testing.T) {
		b := newBed(t, testConfig())
		b.register(req{fh: &fa1SA})
		b.register(req{coa: fa2Addr})
		b.nothing(b.fa1)
	})
	t.Run("no security association", func(t *testing.T) {
		cfg := testConfig()
		cfg.Security = cfg.Security[1:]
		b := newBed(t, cfg)
		m := b.build(req{lifetime: 600, support: true})
		if rep := b.exchange(b.fa1, m); rep.Code != mip.CodeAccepted {
			t.Fatalf("reply %s", rep.Code)
		}
		b.register(req{coa: fa2Addr})
		b.nothing(b.fa1)
	})
}

// A foreign agent's revocation (A bit clear) removes the binding through
// it and is acknowledged; a retransmission is acknowledged again, an old
// identifier is dropped.
func TestRevocationFromForeignAgent(t *testing.T) {
	b := newBed(t, testConfig())
	b.register(req{})
	rv := &mip.Revocation{Home: home, HomeDomain: haAddr, ForeignDomain: fa1Addr, ID: mip.RevocationTimestamp(start) + 10}
	if err := rv.Authenticate(mip.TypeForeignHome, fa1SA); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		b.send(b.fa1, marshal(t, rv))
		raw, _ := b.recv(b.fa1)
		ack, err := mip.ParseRevocationAck(raw)
		if err != nil || ack.Home != home || ack.ID != rv.ID {
			t.Fatalf("acknowledgment %+v, %v", ack, err)
		}
		if err := mip.VerifyRevocationAck(raw, mip.TypeForeignHome, fa1SA); err != nil {
			t.Error(err)
		}
		b.onlyBase()
	}
	if s := b.stats(); s.RevocationsReceived != 1 || s.Bindings != 0 {
		t.Errorf("stats %+v", s)
	}

	old := *rv
	old.Extensions = nil
	old.ID -= 5
	if err := old.Authenticate(mip.TypeForeignHome, fa1SA); err != nil {
		t.Fatal(err)
	}
	b.send(b.fa1, marshal(t, &old))
	b.waitStats("old revocation dropped", func(s Stats) bool { return s.Discards.Unmatched == 1 })
	b.nothing(b.fa1)

	// Another agent cannot revoke fa1's binding, and forged revocations
	// are dropped.
	b.register(req{})
	forged := &mip.Revocation{Home: home, HomeDomain: haAddr, ForeignDomain: fa1Addr, ID: rv.ID + 100}
	if err := forged.Authenticate(mip.TypeForeignHome, fa2SA); err != nil {
		t.Fatal(err)
	}
	b.send(b.fa1, marshal(t, forged))
	b.waitStats("forged revocation dropped", func(s Stats) bool { return s.Discards.Authentication == 1 })
	b.send(b.fa2, marshal(t, forged))
	b.recv(b.fa2)                                     // acknowledged: it is authentic, but fa2 holds no binding
	b.has(bindingEntries(home, "dynha2", fa1Addr)...) // tunnel ids are not reused
}

// A foreign agent's first revocation must not be older than the timestamp
// of the Revocation Support extension it sent with the registration.
func TestRevocationBeforeSupportTimestamp(t *testing.T) {
	b := newBed(t, testConfig())
	b.register(req{})
	rv := &mip.Revocation{Home: home, HomeDomain: haAddr, ForeignDomain: fa1Addr, ID: mip.RevocationTimestamp(start) - 1}
	if err := rv.Authenticate(mip.TypeForeignHome, fa1SA); err != nil {
		t.Fatal(err)
	}
	b.send(b.fa1, marshal(t, rv))
	b.waitStats("stale revocation dropped", func(s Stats) bool { return s.Discards.Unmatched == 1 })
	b.nothing(b.fa1)
	b.has(bindingEntries(home, "dynha1", fa1Addr)...)
}
