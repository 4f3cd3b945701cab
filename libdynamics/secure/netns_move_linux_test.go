package secure

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/netnstest"
)

// An address of the mobile that the home agent has no route to: what the
// home agent sends there is lost (ENETUNREACH) until the test adds the
// route, as its answers to a mobile coming home go into the tunnel to the
// care-of address the mobile left.
const (
	nsAway     = "10.9.7.3"
	nsAwayNet  = "10.9.7.0/24"
	nsMobiles  = "10.9.0.0/16"
	nsHAConfig = "IPsecPSK secret-of-the-test\nIPsecESP userspace\nIPSEC_BEGIN\n" + nsMobiles + "\nIPSEC_END\n"
)

// hasEndpoint reports whether the guard has sockets on a.
func (g *Guard) hasEndpoint(a netip.Addr) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.endpoints[a] != nil
}

// TestGuardStartedAway: a mobile whose guard starts on its home address
// while it is away cannot bring its SAs up from there (the home agent's
// answers to the home address are lost); MoveTo to the address it is on
// gives up that attempt, brings the SAs up from the new address and
// returns with the home agent Ready; the signalling then travels inside
// ESP from there, and the keeper does not go back to the home address.
func TestGuardStartedAway(t *testing.T) {
	netnstest.RequireRoot(t)
	mnNS, haNS := netnstest.New(t, "ai"), netnstest.New(t, "ar")
	netnstest.Veth(t, mnNS, "eth0", haNS, "eth0")
	mnNS.Addr("eth0", nsMoved+"/24")
	mnNS.Addr("eth0", nsAway+"/32") // the home address, unreachable from the home agent
	haNS.Addr("eth0", nsResponder+"/24")
	mnCfg := guardConfig(t, "IPsecPSK secret-of-the-test\nIPsecESP userspace\nIPSEC_BEGIN\n"+nsResponder+"\nIPSEC_END\n")
	ha := openIn(t, haNS, Options{Config: guardConfig(t, nsHAConfig), Local: addr(nsResponder), Mobiles: netip.MustParsePrefix(nsMobiles)})
	mn := openIn(t, mnNS, Options{Config: mnCfg, Local: addr(nsAway), Initiate: []netip.Addr{addr(nsResponder)}})
	if !waitFor(5*time.Second, func() bool { return mn.Stats().IKEInitiated >= 1 }) {
		t.Fatal("the keeper never tried")
	}
	time.Sleep(500 * time.Millisecond)
	if mn.Ready(addr(nsResponder)) {
		t.Fatal("SAs up from an address the home agent cannot answer")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	if err := mnNS.Do(func() error { return mn.MoveTo(ctx, addr(nsAway), addr(nsMoved)) }); err != nil {
		t.Fatalf("MoveTo with no SA: %v", err)
	}
	t.Logf("MoveTo brought the SAs up in %v", time.Since(start).Round(time.Millisecond))
	if !mn.Ready(addr(nsResponder)) {
		t.Fatal("the home agent is not Ready after MoveTo returned")
	}
	sas, _ := mn.SAs(ctx)
	var up []string
	for _, sa := range sas {
		if sa.State.String() == "established" {
			up = append(up, sa.Local.Addr().String())
			if len(sa.Children) != 1 || sa.Children[0].LocalTS[0].Start != addr(nsMoved) {
				t.Errorf("child SA %v", sa.Children)
			}
		}
	}
	if len(up) != 1 || up[0] != nsMoved {
		t.Fatalf("established SAs from %v, want one from %s: %v", up, nsMoved, sas)
	}
	if mn.hasEndpoint(addr(nsAway)) {
		t.Error("the sockets on the old address are still open")
	}
	r := exchange(t, listen(t, mnNS, nsMoved), listen(t, haNS, nsResponder), nsResponder, "registration from away")
	if v := ha.Check(r.src, r.ifindex); r.src != addr(nsMoved) || !v.Required || !v.Protected {
		t.Errorf("request at the home agent: from %s on %d: %+v", r.src, r.ifindex, v)
	}
	initiated := mn.Stats().IKEInitiated
	if initiated != 2 {
		t.Errorf("IKE_SA_INIT attempts %d, want 2 (the home address, then the new one)", initiated)
	}
	time.Sleep(1500 * time.Millisecond)
	if s := mn.Stats(); s.IKEInitiated != initiated || s.IKESAs != 1 {
		t.Errorf("after the move the keeper: %+v", s)
	}
}

// TestGuardMoveAhead: MoveAhead returns with the SAs on the new address
// while the home agent's answer cannot reach it; the signalling from the
// new address already travels inside ESP and the home agent (which moved
// on the request) takes it as protected. Once the home agent can answer,
// the retransmitted request is answered and the old address's sockets
// close; the IKE SA is the same one throughout.
func TestGuardMoveAhead(t *testing.T) {
	mnNS, haNS, mn, ha := pair(t, "")
	mnNS.Addr("eth0", nsAway+"/32")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	before, _ := mn.SAs(ctx)
	start := time.Now()
	if err := mnNS.Do(func() error { return mn.MoveAhead(ctx, addr(nsInitiator), addr(nsAway)) }); err != nil {
		t.Fatalf("MoveAhead: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("MoveAhead took %v: it waited for an answer that cannot come", d)
	}
	sas, _ := mn.SAs(ctx)
	if len(sas) != 1 || sas[0].Local.Addr() != addr(nsAway) || sas[0].LocalSPI != before[0].LocalSPI || sas[0].Children[0].Local != addr(nsAway) {
		t.Fatalf("mobile's SAs after MoveAhead: %v", sas)
	}
	if !mn.Ready(addr(nsResponder)) {
		t.Error("not Ready after MoveAhead")
	}
	haSock := listen(t, haNS, nsResponder)
	r := exchange(t, listen(t, mnNS, nsAway), haSock, nsResponder, "deregistration")
	if v := ha.Check(r.src, r.ifindex); r.src != addr(nsAway) || !v.Required || !v.Protected {
		t.Errorf("request at the home agent: from %s on %d: %+v", r.src, r.ifindex, v)
	}
	if !mn.hasEndpoint(addr(nsInitiator)) {
		t.Error("the old address's sockets closed before the answer: a refusal could not move back")
	}
	// The home agent can answer now: the retransmission (after two
	// seconds) is answered, and the old sockets go.
	haNS.Run("ip", "route", "add", nsAwayNet, "dev", "eth0")
	if !waitFor(8*time.Second, func() bool { return !mn.hasEndpoint(addr(nsInitiator)) }) {
		t.Fatal("the old address's sockets stay after the answer")
	}
	if s := mn.Stats(); s.IKEInitiated != 1 || s.IKESAs != 1 || s.IKE.Retransmits == 0 {
		t.Errorf("mobile's stats %+v", s)
	}
	if hsas, _ := ha.SAs(ctx); len(hsas) != 1 || hsas[0].Remote.Addr() != addr(nsAway) {
		t.Errorf("home agent's SAs %v", hsas)
	}
}
