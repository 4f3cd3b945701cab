package mn

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// The request to a new foreign agent leaves before the kernel changes of
// the move (the agent's neighbour entry and route, the old agent's
// removal): it is a frame to the agent's hardware address and needs none
// of them, so the round trip runs while they are made.
func TestRequestBeforeKernel(t *testing.T) {
	b, _, _ := registeredAt(t, testConfig(), 300)
	fa2, hub2 := b.foreignAgent(2)
	b.move(hub2)
	from := len(b.k.Ops())
	fa2.advertise(1000)
	req := fa2.request()
	b.sync()
	var mark *linkMark
	for _, m := range b.sent.marks() {
		if bytes.Equal(m.dst, fa2.cfg.hw) && m.ip.Protocol == link.ProtoUDP {
			mark = &m
		}
	}
	if mark == nil {
		t.Fatal("no request frame to fa2 recorded")
	}
	ops := b.k.Ops()
	if before := ops[from:mark.ops]; len(before) != 0 {
		t.Errorf("the kernel changed before the request left:\n%s", strings.Join(before, "\n"))
	}
	after := strings.Join(ops[mark.ops:], "\n")
	for _, want := range []string{"add ip neigh replace " + fa2.cfg.addr.String(), "del ip route replace 0.0.0.0/0 via 10.2.0.1"} {
		if !strings.Contains(after, want) {
			t.Errorf("after the request, want %q; the kernel changed:\n%s", want, after)
		}
	}
	fa2.reply(req, mip.CodeAccepted, 300)
	b.waitState(StateRegistered)
	b.wantKernel(agentSet(fa2, true)...)
}

// heardEvery takes the mobile through a registration at agent a, whose
// advertisements the mobile hears n times, every second (advertisement
// lifetime 3 s, no Prefix-Lengths extension): the mobile then knows a's
// interval.
func heardEvery(t *testing.T, b *bed, a *fakeAgent, hub *link.Hub, n int) {
	t.Helper()
	b.move(hub)
	a.advertise(3)
	a.reply(a.request(), mip.CodeAccepted, 300)
	b.waitState(StateRegistered)
	for range n - 1 {
		b.advance(time.Second)
		a.advertise(3)
	}
}

// Eager cell switching: once its agent, whose interval the mobile has
// heard, misses an advertisement by half an interval, the mobile registers
// with an agent heard since, without waiting for the advertisement
// lifetime (three intervals) to run out; an agent heard while the current
// one is still within its interval is no reason to move (no prefixes tell
// the networks apart).
func TestMoveWhenAgentSilent(t *testing.T) {
	b := newBed(t, testConfig())
	fa1, hub1 := b.foreignAgent(1)
	fa1.cfg.bits = 0
	heardEvery(t, b, fa1, hub1, 3)

	fa2, hub2 := b.foreignAgent(2)
	fa2.cfg.bits = 0
	b.move(hub2)
	b.advance(300 * time.Millisecond)
	fa2.advertise(3)
	fa2.noRequest()
	b.advance(1200*time.Millisecond - time.Millisecond) // fa1 last heard 1.499 s ago
	fa2.noRequest()
	b.advance(time.Millisecond)
	req := fa2.request()
	if req.CareOf != fa2.cfg.coa {
		t.Errorf("care-of address %s, want fa2's", req.CareOf)
	}
	if s := b.waitState(StateRegistering); s.Agent != fa2.cfg.addr {
		t.Errorf("attached to %s, want fa2", s.Agent)
	}
}

// When its agent falls silent and no other agent has been heard, the
// mobile solicits once, and the first agent that answers is taken at once.
func TestSolicitWhenAgentSilent(t *testing.T) {
	b := newBed(t, testConfig())
	fa1, hub1 := b.foreignAgent(1)
	fa1.cfg.bits = 0
	heardEvery(t, b, fa1, hub1, 2)
	fa2, hub2 := b.foreignAgent(2)
	fa2.cfg.bits = 0
	b.move(hub2)

	before := b.stats().Solicitations
	b.advance(1500*time.Millisecond - time.Millisecond)
	if n := b.stats().Solicitations - before; n != 0 {
		t.Fatalf("%d solicitations before fa1 fell silent", n)
	}
	b.advance(time.Millisecond)
	f, ok := fa2.next(wait)
	if !ok || f.ip.Protocol != link.ProtoICMP || len(f.ip.Payload) == 0 || f.ip.Payload[0] != 10 {
		t.Fatalf("fa2 received %+v, %v; want a solicitation", f, ok)
	}
	b.advance(100 * time.Millisecond)
	if n := b.stats().Solicitations - before; n != 1 {
		t.Errorf("%d solicitations for one silence, want 1", n)
	}
	fa2.advertise(3) // the answer
	if req := fa2.request(); req.CareOf != fa2.cfg.coa {
		t.Errorf("care-of address %s, want fa2's", req.CareOf)
	}
	if s := b.waitState(StateRegistering); s.Agent != fa2.cfg.addr {
		t.Errorf("attached to %s, want fa2", s.Agent)
	}
}

// An agent heard once has no interval the mobile knows: it stays lazy and
// waits for the advertisement lifetime, soliciting nothing.
func TestNoSilenceWithoutInterval(t *testing.T) {
	b := newBed(t, testConfig())
	fa1, hub1 := b.foreignAgent(1)
	fa1.cfg.bits = 0
	heardEvery(t, b, fa1, hub1, 1)
	b.move(link.NewHub())
	before := b.stats().Solicitations
	b.advance(3*time.Second - time.Millisecond)
	if s := b.status(); s.State != StateRegistered || s.Agent != fa1.cfg.addr || b.stats().Solicitations != before {
		t.Errorf("status %+v, %d solicitations; want still at fa1, none sent", s, b.stats().Solicitations-before)
	}
}

// An advertisement that answers a solicitation, heard between two periodic
// ones, does not shorten the interval the mobile waits for: an agent heard
// 300 ms later is still no reason to move.
func TestSolicitedAdvertisementKeepsInterval(t *testing.T) {
	b := newBed(t, testConfig())
	fa1, hub1 := b.foreignAgent(1)
	fa1.cfg.bits = 0
	heardEvery(t, b, fa1, hub1, 2)
	b.advance(100 * time.Millisecond)
	fa1.advertise(3) // an answer to someone's solicitation

	fa2, _ := b.foreignAgent(2)
	fa2.cfg.bits = 0
	fa2.hub = hub1 // both agents on the mobile's link: no move
	fa2.conn.Move(hub1)
	b.advance(300 * time.Millisecond)
	fa2.advertise(3)
	fa2.noRequest()
	fa1.noRequest()
	if s := b.status(); s.State != StateRegistered || s.Agent != fa1.cfg.addr {
		t.Errorf("status %+v, want still registered through fa1", s)
	}
}
