package ike

import (
	"net/netip"
	"sync"
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// up brings up the pair's IKE SA and returns the initiator's view.
func up(t *testing.T, mn *node) SAInfo {
	t.Helper()
	info, err := mn.e.Initiate(ctx(t), "ha")
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// TestCreateChild adds a second child SA with CREATE_CHILD_SA, with and
// without perfect forward secrecy.
func TestCreateChild(t *testing.T) {
	for _, pfs := range []string{"aes128gcm16", "aes128gcm16-x25519", "aes128-sha256-modp2048"} {
		t.Run(pfs, func(t *testing.T) {
			mn, ha, _ := pair(t, func(mc, hc *Config) {
				for _, c := range []*Config{mc, hc} {
					c.ESPProposals = []Proposal{MustParseProposal(pfs, true)}
				}
			})
			info := up(t, mn)
			c, err := mn.e.CreateChild(ctx(t), info.LocalSPI)
			if err != nil {
				t.Fatal(err)
			}
			if c.InSPI == info.Children[0].InSPI || c.ReqID == info.Children[0].ReqID || c.Proposal != pfs {
				t.Fatalf("second child %+v, first %+v", c, info.Children[0])
			}
			checkChildPair(t, mn, ha, c.InSPI)
			checkChildPair(t, ha, mn, c.OutSPI)
			if n := len(ha.only().Children); n != 2 {
				t.Errorf("responder has %d children", n)
			}
		})
	}
}

// TestRekeyChild replaces the child SA: the new one keeps the request id
// (so the policies stay), and the old one is gone on both sides.
func TestRekeyChild(t *testing.T) {
	mn, ha, _ := pair(t, nil)
	info := up(t, mn)
	old := info.Children[0]
	_, _, polsBefore := mn.esp.snapshot()
	nc, err := mn.e.RekeyChild(ctx(t), info.LocalSPI, old.InSPI)
	if err != nil {
		t.Fatal(err)
	}
	if nc.ReqID != old.ReqID || nc.InSPI == old.InSPI {
		t.Fatalf("new child %+v, old %+v", nc, old)
	}
	eventually(t, "the old child deleted on both sides", func() bool {
		return len(mn.only().Children) == 1 && len(ha.only().Children) == 1
	})
	if got := ha.only().Children[0]; got.OutSPI != nc.InSPI {
		t.Errorf("responder keeps %+v", got)
	}
	checkChildPair(t, mn, ha, nc.InSPI)
	checkChildPair(t, ha, mn, nc.OutSPI)
	for _, nd := range []*node{mn, ha} {
		in, out, pols := nd.esp.snapshot()
		if len(in) != 1 || len(out) != 1 || len(pols) != len(polsBefore) {
			t.Errorf("%s: %d in, %d out, %d policies after the rekey", nd.name, len(in), len(out), len(pols))
		}
	}
	// The responder rekeys too.
	r := ha.only()
	nc2, err := ha.e.RekeyChild(ctx(t), r.LocalSPI, r.Children[0].InSPI)
	if err != nil {
		t.Fatal(err)
	}
	checkChildPair(t, ha, mn, nc2.InSPI)
}

// TestRekeyIKE replaces the IKE SA; the child SAs move to the new one and
// the old one is deleted on both sides.
func TestRekeyIKE(t *testing.T) {
	mn, ha, _ := pair(t, nil)
	info := up(t, mn)
	n, err := mn.e.RekeyIKE(ctx(t), info.LocalSPI)
	if err != nil {
		t.Fatal(err)
	}
	if n.SPIi == info.SPIi || n.SPIr == info.SPIr || len(n.Children) != 1 || n.Children[0].InSPI != info.Children[0].InSPI {
		t.Fatalf("new SA %+v, old %+v", n, info)
	}
	eventually(t, "one IKE SA on each side", func() bool { return len(mn.sas()) == 1 && len(ha.sas()) == 1 })
	r := ha.only()
	if r.SPIi != n.SPIi || r.SPIr != n.SPIr || len(r.Children) != 1 {
		t.Fatalf("responder's SA %+v, initiator's %+v", r, n)
	}
	// The new SA works both ways, and can itself be rekeyed by the
	// responder.
	if err := mn.e.Liveness(ctx(t), n.LocalSPI); err != nil {
		t.Fatal(err)
	}
	if _, err := ha.e.RekeyIKE(ctx(t), r.LocalSPI); err != nil {
		t.Fatal(err)
	}
	eventually(t, "one IKE SA on each side", func() bool { return len(mn.sas()) == 1 && len(ha.sas()) == 1 })
	if got := mn.only(); got.Initiator || len(got.Children) != 1 {
		t.Errorf("after the responder's rekey the initiator has %+v", got)
	}
	checkChildPair(t, mn, ha, info.Children[0].InSPI)
}

// TestDelete deletes a child SA, then the IKE SA.
func TestDelete(t *testing.T) {
	mn, ha, _ := pair(t, nil)
	info := up(t, mn)
	c2, err := mn.e.CreateChild(ctx(t), info.LocalSPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := mn.e.DeleteChild(ctx(t), info.LocalSPI, info.Children[0].InSPI); err != nil {
		t.Fatal(err)
	}
	if got := ha.only().Children; len(got) != 1 || got[0].OutSPI != c2.InSPI {
		t.Fatalf("responder's children after the delete: %+v", got)
	}
	if err := ha.e.Delete(ctx(t), ha.only().LocalSPI); err != nil {
		t.Fatal(err)
	}
	eventually(t, "no IKE SA on either side", func() bool { return len(mn.sas()) == 0 && len(ha.sas()) == 0 })
	for _, nd := range []*node{mn, ha} {
		if in, out, pols := nd.esp.snapshot(); len(in)+len(out)+len(pols) != 0 {
			t.Errorf("%s keeps %v %v %v", nd.name, in, out, pols)
		}
	}
	errIs(t, mn.e.Liveness(ctx(t), info.LocalSPI), ErrNoSA, "Liveness on a deleted SA")
}

// TestLostResponse loses the first IKE_AUTH response: the initiator
// retransmits, the responder answers from its cache without processing the
// request again.
func TestLostResponse(t *testing.T) {
	mn, ha, n := pair(t, nil)
	var mu sync.Mutex
	lost := 0
	n.Drop = func(from, to netip.AddrPort, b []byte) bool {
		mu.Lock()
		defer mu.Unlock()
		if to.Port() == 4500 && len(b) > 4 {
			if m, err := ikev2.Parse(b[4:]); err == nil && m.Exchange == ikev2.ExchangeIKEAuth && m.IsResponse() && lost == 0 {
				lost++
				return true
			}
		}
		if to.Port() == 500 {
			if m, err := ikev2.Parse(b); err == nil && m.Exchange == ikev2.ExchangeIKEAuth && m.IsResponse() && lost == 0 {
				lost++
				return true
			}
		}
		return false
	}
	info := up(t, mn)
	if lost != 1 {
		t.Fatalf("%d responses lost", lost)
	}
	if s := mn.stats(); s.Retransmits < 1 {
		t.Errorf("initiator retransmitted %d times", s.Retransmits)
	}
	if s := ha.stats(); s.CachedResponses < 1 || s.Children != 1 {
		t.Errorf("responder: %d cached answers, %d children made", s.CachedResponses, s.Children)
	}
	checkChildPair(t, mn, ha, info.Children[0].InSPI)
}

// TestReplay replays requests: the latest one is answered again from the
// cache, an older one is dropped, and neither changes anything.
func TestReplay(t *testing.T) {
	mn, ha, n := pair(t, nil)
	var mu sync.Mutex
	var reqs [][]byte
	n.Drop = func(from, to netip.AddrPort, b []byte) bool {
		mu.Lock()
		defer mu.Unlock()
		if to.Addr().String() == haAddr {
			reqs = append(reqs, append([]byte(nil), b...))
		}
		return false
	}
	info := up(t, mn)
	for range 2 {
		if err := mn.e.Liveness(ctx(t), info.LocalSPI); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	captured := reqs
	mu.Unlock()
	if len(captured) < 3 {
		t.Fatalf("%d requests captured", len(captured))
	}
	before := ha.stats()
	// Replay through a socket of the initiator's address, so the
	// responder sees the initiator's address.
	replay, err := n.Listen(mnAddr + ":5000")
	if err != nil {
		t.Fatal(err)
	}
	defer replay.Close()
	to := netip.MustParseAddrPort(haAddr + ":500")
	for _, b := range [][]byte{captured[len(captured)-1], captured[len(captured)-2], captured[1]} {
		if _, err := replay.WriteTo(b, udp(to)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the replays handled", func() bool { s := ha.stats(); return s.Received >= before.Received+3 })
	s := ha.stats()
	if s.CachedResponses != before.CachedResponses+1 || s.OutOfWindow != before.OutOfWindow+2 {
		t.Errorf("cached answers %d->%d, out of window %d->%d", before.CachedResponses, s.CachedResponses, before.OutOfWindow, s.OutOfWindow)
	}
	if r := ha.only(); len(r.Children) != 1 || r.SPIi != info.SPIi {
		t.Errorf("responder after replays: %+v", r)
	}
}

// TestPeerDead: the responder disappears; the initiator's liveness check
// goes unanswered through every retransmission and the SA and its child
// SAs are removed.
func TestPeerDead(t *testing.T) {
	mn, ha, n := pair(t, func(mc, hc *Config) { mc.RetransmitTries = 3 })
	info := up(t, mn)
	n.Drop = func(from, to netip.AddrPort, b []byte) bool { return true }
	err := mn.e.Liveness(ctx(t), info.LocalSPI)
	errIs(t, err, ErrPeerDead, "Liveness")
	if s := mn.sas(); len(s) != 0 {
		t.Errorf("initiator keeps %v", s)
	}
	if in, out, pols := mn.esp.snapshot(); len(in)+len(out)+len(pols) != 0 {
		t.Errorf("initiator keeps %v %v %v", in, out, pols)
	}
	if s := mn.stats(); s.Retransmits != 3 {
		t.Errorf("%d retransmissions", s.Retransmits)
	}
	_ = ha
}
