package mn

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/discovery"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// An agent whose prefix differs from the current one's means the mobile
// has moved: it registers with the new agent at once, without waiting for
// the old agent's advertisements to expire.
func TestMoveOnPrefixChange(t *testing.T) {
	b, _, _ := registeredAt(t, testConfig(), 300)
	fa2, hub2 := b.foreignAgent(2)
	b.move(hub2)
	fa2.advertise(1000) // no clock advance: fa1's advertisement is still valid
	req := fa2.request()
	if req.CareOf != fa2.cfg.coa {
		t.Errorf("request care-of address %s, want fa2's %s", req.CareOf, fa2.cfg.coa)
	}
	s := b.waitState(StateRegistering)
	if s.Agent != fa2.cfg.addr {
		t.Errorf("attached to %s, want fa2", s.Agent)
	}
	b.wantKernel(agentSet(fa2, false)...)
	fa2.reply(req, mip.CodeAccepted, 300)
	b.waitState(StateRegistered)
	b.wantKernel(agentSet(fa2, true)...)
	if st := b.stats(); st.Moves != 2 {
		t.Errorf("%d moves, want 2", st.Moves)
	}
}

// A second agent on the same network (the same prefix) is no reason to
// move.
func TestNoMoveForAgentOfSamePrefix(t *testing.T) {
	b, fa1, _ := registeredAt(t, testConfig(), 300)
	other := b.newAgent(b.hub(), agentCfg{
		addr: netip.MustParseAddr("10.2.0.2"), hw: net.HardwareAddr{2, 0, 0, 0, 9, 9},
		coa: netip.MustParseAddr("10.0.9.2"), bits: 24, flags: discovery.FlagForeignAgent, maxLife: 300,
	})
	other.advertise(1000)
	other.noRequest()
	fa1.noRequest()
	if s := b.status(); s.State != StateRegistered || s.Agent != fa1.cfg.addr {
		t.Errorf("status %+v, want still registered through fa1", s)
	}
}

// Without prefixes to compare, the mobile moves when its agent's
// advertisements expire, to the agent heard since.
func TestMoveOnLifetimeExpiry(t *testing.T) {
	b := newBed(t, testConfig())
	fa1, hub1 := b.foreignAgent(1)
	fa1.cfg.bits = 0
	b.move(hub1)
	fa1.advertise(5)
	fa1.reply(fa1.request(), mip.CodeAccepted, 300)
	b.waitState(StateRegistered)

	fa2, hub2 := b.foreignAgent(2)
	fa2.cfg.bits = 0
	b.move(hub2)
	b.advance(time.Second)
	fa2.advertise(5)
	fa2.noRequest()
	b.advance(4*time.Second - time.Millisecond)
	fa2.noRequest()
	b.advance(time.Millisecond) // fa1's 5 s are over
	req := fa2.request()
	if req.CareOf != fa2.cfg.coa {
		t.Errorf("care-of address %s, want fa2's", req.CareOf)
	}
	if s := b.waitState(StateRegistering); s.Agent != fa2.cfg.addr {
		t.Errorf("attached to %s, want fa2", s.Agent)
	}
}

// When the agent's advertisements expire and nothing else is heard, the
// routes go and the mobile solicits.
func TestAgentLost(t *testing.T) {
	b, _, _ := registeredAt(t, testConfig(), 300)
	b.move(nil)
	b.advance(1000 * time.Second)
	b.waitState(StateFindingAgent)
	b.wantKernel()
	if st := b.stats(); st.Solicitations < 2 {
		t.Errorf("%d solicitations, want one at start and one after the loss", st.Solicitations)
	}
}

// An agent that rebooted (sequence number back below 256) has lost its
// visitors: the mobile registers again at once, keeping its routes.
func TestAgentRebooted(t *testing.T) {
	b := newBed(t, testConfig())
	fa, hub := b.foreignAgent(1)
	fa.seq = 300
	b.move(hub)
	fa.advertise(1000)
	fa.reply(fa.request(), mip.CodeAccepted, 300)
	b.waitState(StateRegistered)
	fa.advertise(1000)
	fa.noRequest() // seq 301: nothing new

	fa.seq = 0
	fa.advertise(1000)
	req := fa.request()
	if s := b.status(); s.State != StateRegistered || !s.Pending {
		t.Errorf("status after reboot %+v, want registered with a request out", s)
	}
	b.wantKernel(agentSet(fa, true)...)
	fa.reply(req, mip.CodeAccepted, 300)
	if s := b.waitState(StateRegistered); s.Pending {
		t.Errorf("still pending: %+v", s)
	}
}

// A busy agent, and one that is not a foreign agent, are not registered
// with.
func TestUnusableAgents(t *testing.T) {
	b := newBed(t, testConfig())
	fa, hub := b.foreignAgent(1)
	b.move(hub)
	fa.cfg.flags |= discovery.FlagBusy
	fa.advertise(1000)
	fa.noRequest()
	fa.cfg.flags = discovery.FlagReverseTunnel // no F
	fa.advertise(1000)
	fa.noRequest()
	if s := b.status(); s.State != StateStartup {
		t.Errorf("state %v", s.State)
	}
	fa.cfg.flags = discovery.FlagForeignAgent
	fa.advertise(1000)
	fa.request()
}

// Coming home: the home routes return, the foreign ones go, a gratuitous
// ARP claims the home address, and a deregistration goes straight to the
// home agent from the home address; accepted, the mobile is home.
func TestComingHome(t *testing.T) {
	b, _, _ := registeredAt(t, testConfig(), 300)
	b.move(b.home)
	b.ha.advertise(1000)
	req, from := b.ha.request()
	if req.Lifetime != 0 || req.CareOf != homeAddr || req.Home != homeAddr || req.Flags != 0 {
		t.Errorf("deregistration lifetime %d coa %s flags %q", req.Lifetime, req.CareOf, req.Flags)
	}
	if from != netip.AddrPortFrom(homeAddr, 434) {
		t.Errorf("deregistration sent from %s, want the home address's port 434", from)
	}
	s := b.waitState(StateDeregistering)
	if s.Location != "home" || s.Agent != haAddr {
		t.Errorf("status %+v", s)
	}
	b.wantKernel(homeSet()...)
	if arps := b.k.ARPs(); len(arps) != 1 || arps[0] != (kernel.ARP{Dev: "eth0", IP: homeAddr}) {
		t.Errorf("gratuitous ARPs %+v, want one for the home address on eth0", arps)
	}
	b.ha.reply(req, mip.CodeAccepted, 0)
	b.waitState(StateHome)
	b.sync()
	if arps := b.k.ARPs(); len(arps) != 2 {
		t.Errorf("%d gratuitous ARPs, want another once deregistered", len(arps))
	}
	b.wantKernel(homeSet()...)
	// An agent of another network heard at home means the mobile left.
	fa2, hub2 := b.foreignAgent(2)
	b.move(hub2)
	fa2.advertise(1000)
	fa2.request()
	b.waitState(StateRegistering)
}

// A deregistration nobody answers is retransmitted with backoff; then the
// mobile is home all the same.
func TestDeregistrationUnanswered(t *testing.T) {
	b := newBed(t, testConfig())
	b.ha.advertise(1000)
	first, _ := b.ha.request()
	for _, d := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		b.advance(d)
		if r, _ := b.ha.request(); r.ID == first.ID || r.Lifetime != 0 {
			t.Errorf("retransmission id %#x lifetime %d", r.ID, r.Lifetime)
		}
	}
	b.advance(4 * time.Second)
	b.waitState(StateHome)
	b.ha.noRequest()
	b.wantKernel(homeSet()...)
}

// Started on the home link, the mobile installs the home routes and
// deregisters, in case an earlier run left a binding.
func TestStartAtHome(t *testing.T) {
	b := newBed(t, testConfig())
	if s := b.status(); s.State != StateStartup {
		t.Fatalf("state %v before anything is heard", s.State)
	}
	b.wantKernel()
	b.ha.advertise(1000)
	req, _ := b.ha.request()
	b.ha.reply(req, mip.CodeAccepted, 0)
	s := b.waitState(StateHome)
	if s.Location != "home" || s.CareOf.IsValid() || s.Pending {
		t.Errorf("status %+v", s)
	}
	b.wantKernel(homeSet()...)
	if st := b.stats(); st.Moves != 0 {
		t.Errorf("%d moves at start-up, want 0", st.Moves)
	}
	// Without a HomeGateway there is no default route.
	cfg := testConfig()
	cfg.HomeGateway = netip.Addr{}
	b = newBed(t, cfg)
	b.ha.advertise(1000)
	b.ha.request()
	b.wantKernel(homeSet()[0])
}

// An advertisement of the home prefix by another agent on the home link
// also means home.
func TestHomeByPrefix(t *testing.T) {
	b := newBed(t, testConfig())
	other := b.newAgent(b.home, agentCfg{addr: netip.MustParseAddr("10.1.0.2"), hw: net.HardwareAddr{2, 0, 0, 0, 0, 2},
		coa: netip.MustParseAddr("10.1.0.2"), bits: 24, flags: discovery.FlagForeignAgent})
	other.advertise(1000)
	b.ha.request()
	if s := b.waitState(StateDeregistering); s.Location != "home" {
		t.Errorf("status %+v", s)
	}
}

// Cancelling Run stops the node: Run returns nil and Do reports
// ErrStopped. The kernel entries stay for the caller to close.
func TestStop(t *testing.T) {
	b, fa, _ := registeredAt(t, testConfig(), 300)
	b.cancel()
	select {
	case err := <-b.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		b.done <- nil // for the cleanup
	case <-time.After(wait):
		t.Fatal("Run did not return")
	}
	if err := b.node.Do(context.Background(), nil); !errors.Is(err, ErrStopped) {
		t.Errorf("Do after stop: %v, want ErrStopped", err)
	}
	if got, want := b.k.Render(), kernel.Render(agentSet(fa, true)); got != want {
		t.Errorf("kernel after stop:\n%s\nwant:\n%s", got, want)
	}
}
