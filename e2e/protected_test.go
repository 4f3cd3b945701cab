package e2e

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/testbed"
	"github.com/dynamics-go/dynamics/internal/tsharktest"
	"github.com/dynamics-go/dynamics/libdynamics/api"
)

// protPingInterval is the ping's interval in the protected scenarios: each
// request lost is 10 ms without connectivity.
const protPingInterval = 10 * time.Millisecond

// protRoute are the moves of the protected scenarios, from home. On the
// flat bed the mobile also takes a co-located care-of address, which moves
// its IKE SA with the home agent by MOBIKE-X, and comes home from it (the
// SAs move back ahead of the home agent's answer, which only reaches the
// home address once the deregistration removed the binding); on the
// hierarchical bed the moves between fa1 and fa2 stay under gfa.
var protRoute = map[bool][]string{
	false: {testbed.AtFA1, testbed.AtFA2, testbed.AtColocated, testbed.AtHome, testbed.AtColocated, testbed.AtFA1, testbed.AtHome},
	true:  {testbed.AtFA1, testbed.AtFA2, testbed.AtFA1, testbed.AtHome},
}

// homecomingBound is how soon after the mobile comes home from a
// co-located address the home agent must have dropped its binding.
const homecomingBound = 3 * time.Second

// unprotectedCounter is the home agent's count of registration messages
// dropped because they came in clear from a peer whose signalling must
// travel in ESP.
const unprotectedCounter = "discards.unprotected"

// TestProtectedFlat roams the flat bed with every signalling hop under
// IPsec (mobile-home agent, fa1-home agent, fa2-home agent): see
// protectedScenario.
func TestProtectedFlat(t *testing.T) { protectedScenario(t, false) }

// TestProtectedHierarchy roams the hierarchical bed with every hop under
// IPsec (mobile-home agent, fa1-gfa, fa2-gfa, gfa-home agent).
func TestProtectedHierarchy(t *testing.T) { protectedScenario(t, true) }

// protectedScenario runs the roam with IPsec: the ping from cn is answered
// again after every move; the captures on the links carrying the protected
// hops hold no registration message in clear between protected peers but
// ESP between them; each peer pair ran IKE_SA_INIT exactly once for the
// whole run (the mobile's co-located move updates its SA with MOBIKE-X,
// which the decrypted capture shows); the home agent dropped nothing as
// unprotected during the roam, and drops and counts a forged registration
// sent in clear. The same roam then runs without IPsec, and the pings lost
// per move are logged for both.
func protectedScenario(t *testing.T, hier bool) {
	requireHost(t)
	bin := requireDaemons(t)
	var protLost, clearLost []moveLoss
	if !t.Run("ipsec", func(t *testing.T) {
		s := newProtRun(t, bin, hier, true)
		s.roam(t)
		protLost = s.losses(t)
		s.stopCaptures(t)
		s.forge(t)
		s.checkCaptures(t)
	}) {
		return
	}
	t.Run("clear", func(t *testing.T) {
		s := newProtRun(t, bin, hier, false)
		s.roam(t)
		clearLost = s.losses(t)
		s.forge(t)
	})
	t.Logf("pings lost per move (every %v): protected %s, clear %s", protPingInterval, lossSummary(protLost), lossSummary(clearLost))
}

// moveLoss is what one move cost the ping.
type moveLoss struct {
	move string
	lost int
}

func lossSummary(ls []moveLoss) string {
	if len(ls) == 0 {
		return "not measured"
	}
	total := 0
	var parts []string
	for _, l := range ls {
		total += l.lost
		parts = append(parts, fmt.Sprintf("%s %d", l.move, l.lost))
	}
	return fmt.Sprintf("%.1f (%s)", float64(total)/float64(len(ls)), strings.Join(parts, ", "))
}

// protRun is one bed of the scenario, with or without IPsec.
type protRun struct {
	bed     *testbed.Bed
	hier    bool
	ipsec   bool
	dir     string
	conf    string
	daemons map[string]*testbed.Proc
	ping    *testbed.Pinger
	haMon   *api.Client
	mnMon   *api.Client
	moves   []handoff
	caps    []*testbed.Proc
	pcaps   []string
}

// newProtRun builds the bed, starts the captures (with IPsec), the daemons
// and the ping, and waits for the mobile to be answered at home.
func newProtRun(t *testing.T, bin string, hier, ipsec bool) *protRun {
	t.Helper()
	// Apart under $DYN_E2E_KEEP: flat-ipsec, flat-clear, hier-ipsec, hier-clear.
	name := "flat-"
	if hier {
		name = "hier-"
	}
	if ipsec {
		name += "ipsec"
	} else {
		name += "clear"
	}
	return newProtRunWith(t, bin, name, testbed.Options{Hierarchical: hier, IPsec: ipsec})
}

// newProtRunWith is newProtRun for a bed built with opts, its files kept
// apart under name.
func newProtRunWith(t *testing.T, bin, name string, opts testbed.Options) *protRun {
	t.Helper()
	hier, ipsec := opts.Hierarchical, opts.IPsec
	dir := filepath.Join(keepDir(t), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	opts.Logger, opts.LogDir = logger(t), dir
	bed, err := testbed.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := bed.Close(); err != nil {
			t.Errorf("closing the testbed: %v", err)
		}
	})
	s := &protRun{bed: bed, hier: hier, ipsec: ipsec, dir: dir, conf: filepath.Join(dir, "conf")}
	if ipsec {
		// From before the daemons start: the first IKE_SA_INIT of every
		// pair is in them.
		for _, c := range s.signallingLinks() {
			s.capture(t, c.role, c.iface, c.name)
		}
	}
	if err := bed.WriteConfigs(s.conf); err != nil {
		t.Fatal(err)
	}
	s.daemons, err = bed.StartAgents(bin, s.conf)
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, role := range append(bed.Agents(), testbed.MN) {
			if p := s.daemons[role]; p != nil {
				t.Logf("---- %s in %s (last lines) ----\n%s", p.Name, role, tail(p.Output(), 80))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if ipsec {
		s.waitSAs(t)
	}
	s.haMon = dial(t, bed.MonitorSocket(testbed.HA))
	s.mnMon = dial(t, bed.MonitorSocket(testbed.MN))
	start := time.Now()
	if s.ping, err = bed.StartPingerEvery(testbed.CN, testbed.HomeAddr, protPingInterval); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ping.WaitReply(start, recoverBound); err != nil {
		t.Fatalf("at home: %v", err)
	}
	if err := s.waitMobile(testbed.AtHome); err != nil {
		t.Fatal(err)
	}
	return s
}

// waitSAs waits for the initiator of every hop to log its SAs with the
// responder up, so that a hop whose IKE SA cannot come up is named as such
// instead of showing as a lost registration later.
func (s *protRun) waitSAs(t *testing.T) {
	t.Helper()
	for _, h := range s.bed.IPsecHops() {
		up := fmt.Sprintf(`msg="IPsec SAs up" peer=%s `, h.ResponderAddr)
		if err := eventually(recoverBound, func() error {
			if !strings.Contains(s.daemons[h.Initiator].Output(), up) {
				return fmt.Errorf("%s has not logged its SAs with %s %s up", h.Initiator, h.Responder, h.ResponderAddr)
			}
			return nil
		}); err != nil {
			t.Fatalf("hop %s-%s: %v within %v", h.Initiator, h.Responder, err, recoverBound)
		}
	}
}

// capLink is a link to capture: role's iface, into <name>.pcap.
type capLink struct{ role, iface, name string }

// signallingLinks are the links the protected hops cross: the home link
// (every hop to the home agent), rt's links to fa1, fa2 and the link
// without an agent on the flat bed; gfa's links down to fa1 and fa2 and up
// to rt on the hierarchical bed.
func (s *protRun) signallingLinks() []capLink {
	links := []capLink{{testbed.HA, testbed.HAIface, "home-link"}}
	if s.hier {
		return append(links,
			capLink{testbed.GFA, testbed.FAUpstreamIface, "gfa-up"},
			capLink{testbed.GFA, gfaLink[testbed.FA1].iface, "gfa-fa1"},
			capLink{testbed.GFA, gfaLink[testbed.FA2].iface, "gfa-fa2"})
	}
	return append(links,
		capLink{testbed.RT, "eth-fa1", "rt-fa1"},
		capLink{testbed.RT, "eth-fa2", "rt-fa2"},
		capLink{testbed.RT, "eth-nofa", "no-agent-link"})
}

func (s *protRun) capture(t *testing.T, role, iface, name string) {
	t.Helper()
	file := filepath.Join(s.dir, name+".pcap")
	p, err := s.bed.Capture(role, iface, file)
	if err != nil {
		t.Fatal(err)
	}
	s.caps = append(s.caps, p)
	s.pcaps = append(s.pcaps, file)
}

func (s *protRun) stopCaptures(t *testing.T) {
	for _, p := range s.caps {
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
	}
	s.caps = nil
}

// visitorAddr is the address each foreign agent advertises from.
var visitorAddr = map[string]netip.Addr{
	testbed.AtFA1: netip.MustParseAddr(testbed.FA1VisitorAddr),
	testbed.AtFA2: netip.MustParseAddr(testbed.FA2VisitorAddr),
}

// waitMobile waits for the mobile to report itself registered where it
// is: at home, through the foreign agent of that link, or with its
// co-located care-of address.
func (s *protRun) waitMobile(where string) error {
	return eventually(recoverBound, func() error {
		st, err := s.mnMon.GetStatus(apiTimeout)
		if err != nil {
			return err
		}
		switch where {
		case testbed.AtHome:
			if st.State != "At home" {
				return fmt.Errorf("the mobile is %q, want At home", st.State)
			}
		case testbed.AtColocated:
			if st.State != "Connected" || st.CareOf != netip.MustParseAddr(testbed.ColocatedAddr) {
				return fmt.Errorf("the mobile is %q with care-of address %s, want Connected with %s",
					st.State, st.CareOf, testbed.ColocatedAddr)
			}
		default:
			if st.State != "Connected" || st.FA != visitorAddr[where] {
				return fmt.Errorf("the mobile is %q through %s, want Connected through %s", st.State, st.FA, visitorAddr[where])
			}
		}
		return nil
	})
}

// unprotected reads the home agent's discards.unprotected counter; with
// IPsec the counter must be there.
func (s *protRun) unprotected() (uint64, error) {
	st, err := s.haMon.GetStatus(apiTimeout)
	if err != nil {
		return 0, err
	}
	for _, c := range st.Counters {
		if c.Name == unprotectedCounter {
			return c.Value, nil
		}
	}
	if s.ipsec {
		return 0, fmt.Errorf("the home agent's status has no counter %s", unprotectedCounter)
	}
	return 0, nil
}

// roam takes the mobile along the route, waiting after each move for its
// registration and for the ping to be answered again; with IPsec the home
// agent must drop nothing as unprotected meanwhile.
func (s *protRun) roam(t *testing.T) {
	for _, where := range protRoute[s.hier] {
		m := handoff{from: s.bed.Where(), to: where, at: time.Now()}
		if err := s.bed.Move(where); err != nil {
			t.Fatal(err)
		}
		if m.from == testbed.AtColocated && m.to == testbed.AtHome {
			s.homecoming(t, m)
		}
		r, err := s.ping.WaitReply(time.Now(), recoverBound)
		if err != nil {
			s.moves = append(s.moves, m)
			t.Fatalf("moved %s -> %s: %v", m.from, m.to, err)
		}
		m.answered = r.Received
		s.moves = append(s.moves, m)
		if err := s.waitMobile(where); err != nil {
			t.Fatalf("moved %s -> %s: %v", m.from, m.to, err)
		}
		t.Logf("moved %s -> %s: answered again after %.0f ms", m.from, m.to, ms(m.answered.Sub(m.at)))
		if s.hier && visitorAddr[m.from].IsValid() && visitorAddr[m.to].IsValid() {
			// Between fa1 and fa2 gfa answers: a local registration.
			if err := eventually(settleBound, func() error {
				_, _, local, ok := mobileHandoff(s.daemons[testbed.MN].Output(), m.at)
				if !ok || !local {
					return fmt.Errorf("the mobile logged no local registration since the move (found one: %v)", ok)
				}
				return nil
			}); err != nil {
				t.Errorf("moved %s -> %s under gfa: %v", m.from, m.to, err)
			}
		}
		if !s.ipsec {
			continue
		}
		if n, err := s.unprotected(); err != nil || n != 0 {
			t.Errorf("after the move %s -> %s the home agent's %s is %d (%v), want 0", m.from, m.to, unprotectedCounter, n, err)
		}
	}
}

// homecoming checks that the home agent drops the mobile's binding within
// homecomingBound of its coming home from the co-located address, and logs
// when it did.
func (s *protRun) homecoming(t *testing.T, m handoff) {
	t.Helper()
	home := netip.MustParseAddr(testbed.HomeAddr)
	for {
		list, err := s.haMon.GetTunnels(apiTimeout)
		if err != nil {
			t.Fatal(err)
		}
		bound := false
		for _, tn := range list {
			bound = bound || tn.Home == home
		}
		took := time.Since(m.at)
		if !bound {
			t.Logf("moved %s -> %s: the home agent's binding went after %.0f ms (IPsec %v)", m.from, m.to, ms(took), s.ipsec)
			return
		}
		if took > homecomingBound {
			t.Errorf("moved %s -> %s: the home agent still binds the mobile %v after it came home: %+v", m.from, m.to, took.Round(time.Millisecond), list)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// losses returns the pings lost at each move, from the move to the next
// one (the last: to PingWait ago), and logs them.
func (s *protRun) losses(t *testing.T) []moveLoss {
	time.Sleep(testbed.PingWait)
	var out []moveLoss
	var b strings.Builder
	fmt.Fprintf(&b, "pings per move (every %v, IPsec %v):\n", protPingInterval, s.ipsec)
	fmt.Fprintf(&b, "  %-22s %5s %5s %5s %15s %21s\n", "move", "sent", "recv", "lost", "longest outage", "answered again after")
	for i, m := range s.moves {
		end := time.Now().Add(-testbed.PingWait)
		if i+1 < len(s.moves) {
			end = s.moves[i+1].at
		}
		ps := s.ping.Stats(m.at, end)
		name := m.from + " -> " + m.to
		out = append(out, moveLoss{move: name, lost: ps.Lost})
		again := "never"
		if !m.answered.IsZero() {
			again = fmt.Sprintf("%.0f ms", ms(m.answered.Sub(m.at)))
		}
		fmt.Fprintf(&b, "  %-22s %5d %5d %5d %12.0f ms %21s\n", name, ps.Sent, ps.Received, ps.Lost, ms(ps.LongestOutage), again)
	}
	t.Log(b.String())
	return out
}

// forgedFrom is the agent a forged registration pretends to come from: the
// one the home agent hears directly (fa1 on the flat bed, gfa under it).
func (s *protRun) forgedFrom() string {
	if s.hier {
		return testbed.GFA
	}
	return testbed.FA1
}

// forge sends the home agent a registration request in clear, as if
// relayed by forgedFrom: rt, on the path, sends it with that agent's
// address as source from a raw socket. It is a request the home agent
// would accept (authenticated with the mobile's and the agent's keys,
// fresh timestamp), registering the mobile's home address at the agent's
// address. With IPsec it must be dropped and counted, the binding table
// unchanged; without, it must be accepted, which shows the forgery is one
// only protection stops.
func (s *protRun) forge(t *testing.T) {
	agent := s.forgedFrom()
	agentAddr := netip.MustParseAddr(testbed.FA1Addr)
	if agent == testbed.GFA {
		agentAddr = netip.MustParseAddr(testbed.GFAAddr)
	}
	before, err := s.haMon.GetTunnels(apiTimeout)
	if err != nil {
		t.Fatal(err)
	}
	count, err := s.unprotected()
	if err != nil {
		t.Fatal(err)
	}
	pkt, err := forgedRequest(agent, agentAddr)
	if err != nil {
		t.Fatal(err)
	}
	sendRaw(t, s.bed.NS(testbed.RT), pkt)
	home := netip.MustParseAddr(testbed.HomeAddr)
	if !s.ipsec {
		// In clear the home agent believes it: the mobile is bound at the
		// agent's address.
		if err := eventually(settleBound, func() error {
			list, err := s.haMon.GetTunnels(apiTimeout)
			if err != nil {
				return err
			}
			for _, tn := range list {
				if tn.Home == home && tn.CareOf == agentAddr {
					return nil
				}
			}
			return fmt.Errorf("home agent's bindings %+v", list)
		}); err != nil {
			t.Errorf("without IPsec, a registration forged from %s %s was not accepted: %v", agent, agentAddr, err)
		}
		return
	}
	if err := eventually(settleBound, func() error {
		n, err := s.unprotected()
		if err == nil && n != count+1 {
			err = fmt.Errorf("%s is %d, want %d", unprotectedCounter, n, count+1)
		}
		return err
	}); err != nil {
		t.Errorf("a registration forged in clear from %s %s: %v", agent, agentAddr, err)
	}
	// Nothing else follows from it: no second count, no new binding.
	time.Sleep(500 * time.Millisecond)
	if n, err := s.unprotected(); err != nil || n != count+1 {
		t.Errorf("%s is %d (%v) after one forged request, want %d", unprotectedCounter, n, err, count+1)
	}
	after, err := s.haMon.GetTunnels(apiTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if !sameBindings(before, after) {
		t.Errorf("the forged request changed the home agent's bindings: %+v -> %+v", before, after)
	}
}

// sameBindings compares binding tables by mobile, care-of address, peer
// and identification (the remaining lifetime runs down by itself).
func sameBindings(a, b []api.Tunnel) bool {
	key := func(ts []api.Tunnel) []string {
		var out []string
		for _, t := range ts {
			out = append(out, fmt.Sprintf("%s %s %s %d", t.Home, t.CareOf, t.Peer, t.ID))
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}

// protectedPeers returns the address pairs whose registration messages
// must travel in ESP: each hop's ends, with every address the mobile
// signals from (home, co-located) and, on the hierarchical bed, every
// address of gfa.
func (s *protRun) protectedPeers() map[string]string {
	role := map[string]string{
		testbed.HomeAddr:      testbed.MN,
		testbed.ColocatedAddr: testbed.MN,
		testbed.SecondAddr:    testbed.MN,
		testbed.HAAddr:        testbed.HA,
		testbed.FA1Addr:       testbed.FA1,
		testbed.FA2Addr:       testbed.FA2,
	}
	if s.hier {
		for _, a := range []string{testbed.GFAAddr, testbed.FA1Upper, testbed.FA2Upper} {
			role[a] = testbed.GFA
		}
	}
	return role
}

// hopOf names the hop between the roles of two addresses ("fa1-ha"), or
// "" when the two are no protected hop.
func (s *protRun) hopOf(roles map[string]string, a, b string) string {
	ra, rb := roles[a], roles[b]
	for _, h := range s.bed.IPsecHops() {
		if (ra == h.Initiator && rb == h.Responder) || (rb == h.Initiator && ra == h.Responder) {
			return h.Initiator + "-" + h.Responder
		}
	}
	return ""
}

// checkCaptures looks at the whole run's captures: no registration message
// in clear on a protected hop, ESP on every hop, one IKE_SA_INIT per hop,
// and the decrypted IKE messages: the co-located move's address update on
// the flat bed, or, with the mobile's second interface, its address added
// and removed (secondDecrypted).
func (s *protRun) checkCaptures(t *testing.T) {
	roles := s.protectedPeers()
	clear := map[string]int{}
	esp := map[string]int{}
	for _, file := range s.pcaps {
		pkts, err := readPcap(file, "udp", "port", "434")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			if hop := s.hopOf(roles, p.src, p.dst); hop != "" {
				clear[hop]++
				if clear[hop] <= 3 {
					t.Errorf("%s: registration message in clear on the protected hop %s: %s > %s (%s)",
						filepath.Base(file), hop, p.src, p.dst, p.rest)
				}
			}
		}
		pkts, err = readPcap(file, "udp", "port", "4500", "or", "ip", "proto", "50")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			if !strings.Contains(p.rest, "ESP(spi=") {
				continue
			}
			if hop := s.hopOf(roles, p.src, p.dst); hop != "" {
				esp[hop]++
			}
		}
	}
	for _, h := range s.bed.IPsecHops() {
		hop := h.Initiator + "-" + h.Responder
		t.Logf("hop %s: %d ESP packets, %d registration messages in clear", hop, esp[hop], clear[hop])
		if esp[hop] == 0 {
			t.Errorf("hop %s: no ESP captured between its peers", hop)
		}
	}
	tsharktest.Require(t)
	s.countIKESAInit(t, roles)
	if s.bed.SecondInterface() {
		s.secondDecrypted(t)
		return
	}
	s.decrypted(t)
}

// keyLogArgs returns tshark's options that decrypt the IKE messages with
// every daemon's key log, and how many IKE SAs the logs hold.
func (s *protRun) keyLogArgs(t *testing.T) ([]string, int) {
	t.Helper()
	var args []string
	seen := map[string]bool{}
	for _, role := range append(s.bed.Agents(), testbed.MN) {
		text, err := readFile(testbed.KeyLogFile(s.conf, role))
		if err != nil {
			t.Errorf("key log of %s: %v", role, err)
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
			if line != "" && !seen[line] {
				seen[line] = true
				args = append(args, "-o", "uat:ikev2_decryption_table:"+line)
			}
		}
	}
	if len(seen) == 0 {
		t.Fatal("the daemons logged no IKE keys")
	}
	return args, len(seen)
}

// countIKESAInit counts the IKE SAs negotiated per hop over the run: the
// IKE_SA_INIT requests, told apart by initiator SPI (a retransmission or a
// COOKIE retry keeps it). Each hop must have exactly one.
func (s *protRun) countIKESAInit(t *testing.T, roles map[string]string) {
	spis := map[string]map[string]bool{}
	for _, file := range s.pcaps {
		rows := tsharktest.Fields(t, file, []string{"-Y", "isakmp.exchangetype == 34 && isakmp.flag_r == 0"},
			"ip.src", "ip.dst", "isakmp.ispi")
		for _, r := range rows {
			if len(r) < 3 {
				continue
			}
			// The innermost header: an IKE message in a tunnel shows both.
			src, dst := last(r[0]), last(r[1])
			hop := s.hopOf(roles, src, dst)
			if hop == "" {
				t.Errorf("%s: IKE_SA_INIT between %s and %s, which are no protected hop", filepath.Base(file), src, dst)
				continue
			}
			if spis[hop] == nil {
				spis[hop] = map[string]bool{}
			}
			spis[hop][r[2]] = true
		}
	}
	for _, h := range s.bed.IPsecHops() {
		hop := h.Initiator + "-" + h.Responder
		t.Logf("hop %s: %d IKE_SA_INIT exchanges over the run", hop, len(spis[hop]))
		if len(spis[hop]) != 1 {
			t.Errorf("hop %s: %d IKE SAs negotiated (initiator SPIs %v), want exactly one for the whole run",
				hop, len(spis[hop]), mapKeys(spis[hop]))
		}
	}
}

// decrypted has tshark decrypt the IKE messages with the daemons' key
// logs: every IKE_AUTH opens (its AUTH payload is seen), and on the flat
// bed the mobile's move to its co-located address is an
// UPDATE_SA_ADDRESSES from that address to the home agent.
func (s *protRun) decrypted(t *testing.T) {
	args, keys := s.keyLogArgs(t)
	updates, homeUpdates := 0, 0
	for _, file := range s.pcaps {
		auth := tsharktest.Fields(t, file, append(slices.Clone(args), "-Y", "isakmp.exchangetype == 35"),
			"frame.number", "isakmp.auth.method")
		for _, r := range auth {
			if len(r) < 2 || r[1] == "" {
				t.Errorf("%s: frame %s: tshark could not decrypt the IKE_AUTH message with the key logs", filepath.Base(file), r[0])
			}
		}
		for _, r := range tsharktest.Fields(t, file, append(slices.Clone(args), "-Y", "isakmp.notify.msgtype == 16400"),
			"ip.src", "ip.dst") {
			if len(r) == 2 && last(r[0]) == testbed.ColocatedAddr && last(r[1]) == testbed.HAAddr {
				updates++
			}
			if len(r) == 2 && last(r[0]) == testbed.HomeAddr && last(r[1]) == testbed.HAAddr {
				homeUpdates++
			}
		}
	}
	t.Logf("%d IKE SAs in the key logs; %d UPDATE_SA_ADDRESSES from the co-located address, %d from the home address",
		keys, updates, homeUpdates)
	if !s.hier && updates == 0 {
		t.Error("no UPDATE_SA_ADDRESSES from the mobile's co-located address to the home agent: its SA did not move with it")
	}
	if !s.hier && homeUpdates == 0 {
		t.Error("no UPDATE_SA_ADDRESSES from the mobile's home address to the home agent: its SA did not come home with it")
	}
}

func last(s string) string {
	f := strings.Split(s, ",")
	return f[len(f)-1]
}

func mapKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// secondOutage is the longest the ping may go unanswered while the
// mobile's second interface goes down or up: the SAs stay where they are,
// only an alternative address comes or goes, so the mobile's traffic must
// not notice.
const secondOutage = 300 * time.Millisecond

// TestProtectedSecondInterface gives the mobile a second interface (eth1,
// 10.4.0.11, on the link without an agent, listed in IPSEC_INTERFACES) on
// the flat bed with IPsec, the ping from cn running every 10 ms
// throughout. With eth1 up the mobile offers its address to the SAs with
// the home agent (ADD_SA_ADDRESS), at home and still at fa1; taking eth1
// down withdraws it (REMOVE_SA_ADDRESS) and bringing it up offers it again.
// Each step shows in the mobile's counters (ipsec.added, ipsec.removed),
// in the home agent's log (the selector set applied, naming the address)
// and in the capture decrypted with the daemons' key logs (the
// notifications from the SAs' address, the home address, carrying
// 10.4.0.11). The SAs stay up throughout (one IKE SA at the mobile, one
// per hop at the home agent, one IKE_SA_INIT per hop for the whole run),
// the registrations after each change (home, fa1 again, fa2, home) are
// accepted in ESP with nothing dropped as unprotected and no registration
// in clear on any protected hop, and the ping does not notice eth1 going
// down or up.
func TestProtectedSecondInterface(t *testing.T) {
	requireHost(t)
	bin := requireDaemons(t)
	s := newProtRunWith(t, bin, "flat-second", testbed.Options{IPsec: true, SecondInterface: true})
	second := netip.MustParseAddr(testbed.SecondAddr)

	// At home, eth1 up from the start: offered once the SAs are up.
	s.waitSecond(t, "at start, eth1 up", 1, 0)
	s.step(t, testbed.AtFA1)
	s.checkSAs(t, "at fa1")

	// eth1 goes: withdrawn, nothing else changes.
	down := time.Now()
	if err := s.bed.SecondInterfaceDown(); err != nil {
		t.Fatal(err)
	}
	s.waitSecond(t, "eth1 down", 1, 1)
	s.checkSAs(t, "eth1 down")
	s.quietPing(t, "eth1 down", down)

	// The SAs still carry the mobile's own registrations: home, where
	// the deregistration goes straight to the home agent in ESP.
	s.step(t, testbed.AtHome)
	s.step(t, testbed.AtFA1)

	// eth1 back: offered again.
	up := time.Now()
	if err := s.bed.SecondInterfaceUp(); err != nil {
		t.Fatal(err)
	}
	s.waitSecond(t, "eth1 up again", 2, 1)
	s.checkSAs(t, "eth1 up again")
	s.quietPing(t, "eth1 up again", up)
	s.step(t, testbed.AtFA2)
	s.step(t, testbed.AtHome)
	s.checkSAs(t, "home at the end")

	s.losses(t)
	s.stopCaptures(t)
	s.checkCaptures(t)
	if n, err := s.counter(s.mnMon, "ipsec.add_failed"); err != nil || n != 0 {
		t.Errorf("the mobile's ipsec.add_failed is %d (%v), want 0", n, err)
	}
	if n, err := s.counter(s.mnMon, "ipsec.remove_failed"); err != nil || n != 0 {
		t.Errorf("the mobile's ipsec.remove_failed is %d (%v), want 0", n, err)
	}
	t.Logf("the mobile offered %s twice and withdrew it once, its SAs with the home agent up throughout", second)
}

// step moves the mobile to where and waits for the ping to be answered
// again and for the mobile to report itself registered there; the home
// agent must have dropped nothing as unprotected.
func (s *protRun) step(t *testing.T, where string) {
	t.Helper()
	m := handoff{from: s.bed.Where(), to: where, at: time.Now()}
	if err := s.bed.Move(where); err != nil {
		t.Fatal(err)
	}
	r, err := s.ping.WaitReply(m.at, recoverBound)
	s.moves = append(s.moves, m)
	if err != nil {
		t.Fatalf("moved %s -> %s: %v", m.from, m.to, err)
	}
	s.moves[len(s.moves)-1].answered = r.Received
	if err := s.waitMobile(where); err != nil {
		t.Fatalf("moved %s -> %s: %v", m.from, m.to, err)
	}
	t.Logf("moved %s -> %s: answered again after %.0f ms", m.from, m.to, ms(r.Received.Sub(m.at)))
	if n, err := s.unprotected(); err != nil || n != 0 {
		t.Errorf("after the move %s -> %s the home agent's %s is %d (%v), want 0", m.from, m.to, unprotectedCounter, n, err)
	}
}

// counter reads one counter of a daemon's get_status.
func (s *protRun) counter(c *api.Client, name string) (uint64, error) {
	st, err := c.GetStatus(apiTimeout)
	if err != nil {
		return 0, err
	}
	for _, x := range st.Counters {
		if x.Name == name {
			return x.Value, nil
		}
	}
	return 0, fmt.Errorf("no counter %s in the status", name)
}

// haSetLines counts the home agent's log lines of MOBIKE-X selector sets
// it applied with action (ADD_SA_ADDRESS, REMOVE_SA_ADDRESS) on the
// second interface's address.
func (s *protRun) haSetLines(action string) int {
	n := 0
	for _, line := range strings.Split(s.daemons[testbed.HA].Output(), "\n") {
		if strings.Contains(line, `msg="MOBIKE-X selector set applied"`) &&
			strings.Contains(line, action+" [") && strings.Contains(line, testbed.SecondAddr) {
			n++
		}
	}
	return n
}

// waitSecond waits for the mobile to have offered the second interface's
// address added times and withdrawn it removed times (its ipsec.added and
// ipsec.removed), and for the home agent to have applied as many
// ADD_SA_ADDRESS and REMOVE_SA_ADDRESS sets naming it.
func (s *protRun) waitSecond(t *testing.T, when string, added, removed int) {
	t.Helper()
	start := time.Now()
	err := eventually(recoverBound, func() error {
		a, err := s.counter(s.mnMon, "ipsec.added")
		if err != nil {
			return err
		}
		r, err := s.counter(s.mnMon, "ipsec.removed")
		if err != nil {
			return err
		}
		if a != uint64(added) || r != uint64(removed) {
			return fmt.Errorf("the mobile's ipsec.added %d, ipsec.removed %d; want %d and %d", a, r, added, removed)
		}
		ha, hr := s.haSetLines("ADD_SA_ADDRESS"), s.haSetLines("REMOVE_SA_ADDRESS")
		if ha != added || hr != removed {
			return fmt.Errorf("the home agent applied %d ADD_SA_ADDRESS and %d REMOVE_SA_ADDRESS of %s, want %d and %d",
				ha, hr, testbed.SecondAddr, added, removed)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v within %v", when, err, recoverBound)
	}
	t.Logf("%s: the mobile offered %s %d times and withdrew it %d times (seen at the home agent after %.0f ms)",
		when, testbed.SecondAddr, added, removed, ms(time.Since(start)))
}

// checkSAs checks that the SAs are the ones of the start: one IKE SA at
// the mobile, brought up once, and one per hop at the home agent, each
// with its child SA.
func (s *protRun) checkSAs(t *testing.T, when string) {
	t.Helper()
	hops := 0
	for _, h := range s.bed.IPsecHops() {
		if h.Responder == testbed.HA {
			hops++
		}
	}
	for _, c := range []struct {
		who  string
		mon  *api.Client
		name string
		want int
	}{
		{"the mobile", s.mnMon, "ipsec.ike_sas", 1},
		{"the mobile", s.mnMon, "ipsec.child_sas", 1},
		{"the mobile", s.mnMon, "ipsec.ike_initiated", 1},
		{"the home agent", s.haMon, "ipsec.ike_sas", hops},
		{"the home agent", s.haMon, "ipsec.child_sas", hops},
	} {
		if n, err := s.counter(c.mon, c.name); err != nil || n != uint64(c.want) {
			t.Errorf("%s: %s's %s is %d (%v), want %d", when, c.who, c.name, n, err, c.want)
		}
	}
}

// quietPing waits for the ping's replies to what was sent since from and
// requires no outage longer than secondOutage: eth1 going down or up is
// no move.
func (s *protRun) quietPing(t *testing.T, when string, from time.Time) {
	t.Helper()
	time.Sleep(time.Second)
	to := time.Now()
	time.Sleep(testbed.PingWait)
	ps := s.ping.Stats(from, to)
	t.Logf("%s: pings %d sent, %d answered, %d lost, longest outage %.0f ms", when, ps.Sent, ps.Received, ps.Lost, ms(ps.LongestOutage))
	if ps.Received == 0 || ps.LongestOutage > secondOutage {
		t.Errorf("%s: the ping went unanswered for %.0f ms (%d of %d lost), want at most %v",
			when, ms(ps.LongestOutage), ps.Lost, ps.Sent, secondOutage)
	}
}

// secondDecrypted has tshark decrypt the IKE messages with the key logs:
// every IKE_AUTH opens, and the mobile's ADD_SA_ADDRESS (twice) and
// REMOVE_SA_ADDRESS (once) requests go from its home address, where its
// SAs are, to the home agent, carrying the second interface's address.
func (s *protRun) secondDecrypted(t *testing.T) {
	args, keys := s.keyLogArgs(t)
	addr := hex.EncodeToString(netip.MustParseAddr(testbed.SecondAddr).AsSlice())
	// One request crosses several captured links (from fa1: rt's link to
	// fa1, then the home link) and may be retransmitted: counted once by
	// IKE SA and message ID.
	count := map[string]int{}
	seen := map[string]bool{}
	for _, file := range s.pcaps {
		for _, r := range tsharktest.Fields(t, file, append(slices.Clone(args), "-Y", "isakmp.exchangetype == 35"),
			"frame.number", "isakmp.auth.method") {
			if len(r) < 2 || r[1] == "" {
				t.Errorf("%s: frame %s: tshark could not decrypt the IKE_AUTH message with the key logs", filepath.Base(file), r[0])
			}
		}
		for _, n := range []struct {
			name string
			typ  int
		}{{"ADD_SA_ADDRESS", 40973}, {"REMOVE_SA_ADDRESS", 40974}} {
			rows := tsharktest.Fields(t, file, append(slices.Clone(args), "-Y",
				fmt.Sprintf("isakmp.notify.msgtype == %d && isakmp.flag_r == 0", n.typ)),
				"ip.src", "ip.dst", "isakmp.notify.data", "isakmp.ispi", "isakmp.messageid")
			for _, r := range rows {
				if len(r) < 5 {
					continue
				}
				key := n.name + " " + r[3] + " " + r[4]
				if seen[key] {
					continue
				}
				seen[key] = true
				src, dst := last(r[0]), last(r[1])
				if src != testbed.HomeAddr || dst != testbed.HAAddr {
					t.Errorf("%s: %s from %s to %s, want from the mobile's home address %s to the home agent %s",
						filepath.Base(file), n.name, src, dst, testbed.HomeAddr, testbed.HAAddr)
					continue
				}
				if !strings.Contains(strings.ReplaceAll(r[2], ":", ""), addr) {
					t.Errorf("%s: %s without the address %s: notification data %s", filepath.Base(file), n.name, testbed.SecondAddr, r[2])
					continue
				}
				count[n.name]++
			}
		}
	}
	t.Logf("%d IKE SAs in the key logs; decrypted: %d ADD_SA_ADDRESS and %d REMOVE_SA_ADDRESS of %s",
		keys, count["ADD_SA_ADDRESS"], count["REMOVE_SA_ADDRESS"], testbed.SecondAddr)
	if count["ADD_SA_ADDRESS"] != 2 || count["REMOVE_SA_ADDRESS"] != 1 {
		t.Errorf("decrypted %d ADD_SA_ADDRESS and %d REMOVE_SA_ADDRESS requests of %s, want 2 and 1",
			count["ADD_SA_ADDRESS"], count["REMOVE_SA_ADDRESS"], testbed.SecondAddr)
	}
}
