package mn

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

var (
	coa       = coloc.Addr()
	arpAnnce  = kernel.Sysctl{Name: "net/ipv4/conf/eth0/arp_announce", Value: "2"}
	colocAddr = kernel.Address{Prefix: coloc, Dev: "eth0"}
	anyDst    = netip.MustParsePrefix("0.0.0.0/0")
)

// colocatedSet is the kernel state with the co-located address, before
// and after the registration in full mode.
func colocatedSet(registered bool) []kernel.Entry {
	e := []kernel.Entry{
		colocAddr, arpAnnce, arpIgnore,
		kernel.Route{Dst: netip.PrefixFrom(haAddr, 32), Dev: "eth0", Gw: colocGW, Src: coa},
		colocTunnel,
	}
	if registered {
		e = append(e,
			kernel.Rule{Priority: ReverseTunnelPriority, Src: netip.PrefixFrom(homeAddr, 32), Table: ReverseTunnelTable},
			kernel.Route{Dst: anyDst, Dev: "dynmn0", Table: ReverseTunnelTable},
			kernel.Route{Dst: anyDst, Dev: "dynmn0", Src: homeAddr})
	}
	return e
}

// unanswered lets three solicitations go unanswered on a link without
// agents; the fourth tick probes the co-located gateway.
func unanswered(b *bed) {
	b.t.Helper()
	b.move(link.NewHub())
	for range 2 {
		b.advance(time.Second)
		if s := b.status(); s.State != StateStartup && s.State != StateFindingAgent {
			b.t.Fatalf("state %v while soliciting", s.State)
		}
	}
	b.wantKernel()
	b.advance(time.Second)
}

// With no agent heard for three solicitations and the gateway answering
// ARP, the mobile configures its co-located address and registers from it
// straight with the home agent, asking to decapsulate (D) and for a
// reverse tunnel (T), which it makes itself.
func TestColocatedRegistration(t *testing.T) {
	b := newBed(t, testConfig())
	b.prober.set(colocGW, true)
	unanswered(b)
	req, from := b.ha.request()
	if from != netip.AddrPortFrom(coa, 434) {
		t.Errorf("request sent from %s, want the co-located address's port 434", from)
	}
	if req.CareOf != coa || req.Flags != mip.FlagDecapsulation|mip.FlagReverseTunnel || req.Lifetime != 600 {
		t.Errorf("request coa %s flags %q lifetime %d", req.CareOf, req.Flags, req.Lifetime)
	}
	if asked := b.prober.asks(); len(asked) != 1 || asked[0] != coa {
		t.Errorf("probes asked from %v, want once from %s", asked, coa)
	}
	s := b.waitState(StateRegistering)
	if !s.Colocated || s.CareOf != coa || s.Location != "co-located" {
		t.Errorf("status %+v", s)
	}
	b.wantKernel(colocatedSet(false)...)
	b.ha.reply(req, mip.CodeAccepted, 600)
	b.waitState(StateRegistered)
	b.wantKernel(colocatedSet(true)...)
	if st := b.stats(); st.Moves != 1 {
		t.Errorf("%d moves", st.Moves)
	}

	// Home again: everything co-located goes, the tunnel device once the
	// deregistration is answered (deleting it takes long, and the reply
	// does not wait for it).
	b.move(b.home)
	b.ha.advertise(1000)
	dereg, _ := b.ha.request()
	b.wantKernel(append(homeSet(), colocTunnel)...)
	b.ha.reply(dereg, mip.CodeAccepted, 0)
	b.waitState(StateHome)
	b.wantKernel(homeSet()...)
}

// colocTunnel is the co-located mobile's tunnel to the home agent.
var colocTunnel = kernel.Tunnel{Name: "dynmn0", Local: coa, Remote: haAddr}

// Triangle mode routes the mobile's traffic out through the gateway from
// the home address; none adds no default route. Both keep the tunnel,
// which decapsulates what the home agent sends.
func TestColocatedModes(t *testing.T) {
	base := colocatedSet(false)
	for mode, extra := range map[TunnelingMode][]kernel.Entry{
		TunnelTriangle: {kernel.Route{Dst: anyDst, Dev: "eth0", Gw: colocGW, Src: homeAddr}},
		TunnelNone:     nil,
	} {
		cfg := testConfig()
		cfg.TunnelingMode = mode
		b := newBed(t, cfg)
		b.prober.set(colocGW, true)
		unanswered(b)
		req, _ := b.ha.request()
		if req.Flags != mip.FlagDecapsulation {
			t.Errorf("%v: flags %q", mode, req.Flags)
		}
		b.ha.reply(req, mip.CodeAccepted, 600)
		b.waitState(StateRegistered)
		b.wantKernel(append(append([]kernel.Entry(nil), base...), extra...)...)
	}
}

// A gateway that does not answer leaves no address behind; the next entry
// is tried.
func TestColocatedProbeFails(t *testing.T) {
	cfg := testConfig()
	second := netip.MustParsePrefix("10.5.0.20/24")
	cfg.Colocated = append(cfg.Colocated, Colocated{Addr: AddrPrefix(second), Gateway: netip.MustParseAddr("10.5.0.1")})
	b := newBed(t, cfg)
	unanswered(b) // nobody answers
	if asked := b.waitProbes(2); len(asked) != 2 || asked[0] != coa || asked[1] != second.Addr() {
		t.Errorf("probes asked from %v, want each entry's address in turn", asked)
	}
	b.ha.noRequest()
	b.wantKernel()
	if s := b.status(); s.State != StateStartup {
		t.Errorf("state %v", s.State)
	}

	// The second answers at the next round.
	b.prober.set(netip.MustParseAddr("10.5.0.1"), true)
	b.advance(2 * time.Second) // the solicitation interval has doubled
	req, from := b.ha.request()
	if req.CareOf != second.Addr() || from.Addr() != second.Addr() {
		t.Errorf("request coa %s from %s, want the second entry's", req.CareOf, from)
	}
}

// A foreign agent heard while co-located is preferred.
func TestColocatedToAgent(t *testing.T) {
	b := newBed(t, testConfig())
	b.prober.set(colocGW, true)
	unanswered(b)
	req, _ := b.ha.request()
	b.ha.reply(req, mip.CodeAccepted, 600)
	b.waitState(StateRegistered)

	fa, hub := b.foreignAgent(1)
	b.move(hub)
	fa.advertise(1000)
	req = fa.request()
	b.waitState(StateRegistering)
	// The tunnel device stays until the reply is in: deleting it would
	// hold the reply up.
	b.wantKernel(append(agentSet(fa, false), colocTunnel)...)
	fa.reply(req, mip.CodeAccepted, 300)
	b.waitState(StateRegistered)
	b.wantKernel(agentSet(fa, true)...)
}

// A co-located mobile checks its gateway now and then; when it stops
// answering, the mobile has left and looks for an agent.
func TestColocatedGatewayGone(t *testing.T) {
	b := newBed(t, testConfig())
	b.prober.set(colocGW, true)
	unanswered(b)
	req, _ := b.ha.request()
	b.ha.reply(req, mip.CodeAccepted, 600)
	b.waitState(StateRegistered)

	b.advance(checkEvery*time.Second - time.Millisecond)
	if n := len(b.prober.asks()); n != 1 {
		t.Fatalf("%d probes before the check is due", n)
	}
	b.advance(time.Millisecond)
	b.waitProbes(2)
	b.prober.set(colocGW, false)
	b.advance(checkEvery * time.Second)
	b.waitState(StateFindingAgent)
	b.wantKernel()
}

// A home agent that never answers the co-located registration is given up
// on: the address goes and is held down.
func TestColocatedUnanswered(t *testing.T) {
	b := newBed(t, testConfig())
	b.prober.set(colocGW, true)
	unanswered(b)
	b.ha.request()
	for _, d := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		b.advance(d)
		b.ha.request()
	}
	b.advance(4 * time.Second)
	b.waitState(StateFindingAgent)
	b.wantKernel()
	// Held down: later solicitation rounds do not probe it. (The gateway
	// was probed twice: to start, and the check after 5 s.)
	n := len(b.waitProbes(2))
	for range 5 {
		b.advance(time.Second)
	}
	time.Sleep(5 * time.Millisecond)
	if len(b.prober.asks()) != n {
		t.Errorf("a held-down co-located address was probed again")
	}
}
