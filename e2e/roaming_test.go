package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/testbed"
	"github.com/dynamics-go/dynamics/internal/tsharktest"
)

// recoverBound is how soon after each move the ping must be answered again.
const recoverBound = 10 * time.Second

// settleBound is how long state may take to converge after the ping has
// recovered (a revocation, a deregistration, a daemon's exit).
const settleBound = 5 * time.Second

// tunnelTraffic is how long a step lets the ping run through a tunnel
// before it looks at the capture.
const tunnelTraffic = 1500 * time.Millisecond

// stopRecord is one place the mobile was taken to.
type stopRecord struct {
	from, to string
	at       time.Time // when it was moved (or, at home, the ping started)
	answered time.Time // when the first reply to a later request arrived
}

// scenario is the state shared by the steps of TestRoaming.
type scenario struct {
	bed       *testbed.Bed
	dir       string
	ping      *testbed.Pinger
	pingStart time.Time
	daemons   map[string]*testbed.Proc
	base      testbed.State // before the daemons started
	home      testbed.State // daemons running, mobile at home
	stops     []stopRecord
	pcaps     []string        // every capture, for tshark
	longCap   []*testbed.Proc // captures running for the whole scenario
}

// TestRoaming is issue 4's scenario on the flat bed: a ping from cn to the
// mobile's home address runs throughout while the mobile moves home -> fa1
// -> fa2 -> the link without an agent -> home.
func TestRoaming(t *testing.T) {
	requireHost(t)
	bin := requireDaemons(t)
	bed := newBed(t, false)
	s := &scenario{bed: bed, dir: keepDir(t)}
	s.setup(t, bin)

	for _, step := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"1-at-home", s.atHome},
		{"2-fa1", s.toFA1},
		{"3-fa2", s.toFA2},
		{"4-colocated", s.toColocated},
		{"5-back-home", s.backHome},
	} {
		if !t.Run(step.name, step.fn) {
			s.logLosses(t)
			t.Fatalf("step %s failed; the later steps depend on it", step.name)
		}
	}
	s.logLosses(t)
	t.Run("6-tshark-decodes", s.decodes)
	t.Run("7-clean-exit", s.cleanExit)
}

// setup starts the long captures, the daemons and the ping.
func (s *scenario) setup(t *testing.T, bin string) {
	var err error
	if s.base, err = s.bed.Snapshot(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ role, iface, name string }{
		{testbed.MN, testbed.MNIface, "mn"},
		{testbed.HA, testbed.HAIface, "home-link"},
	} {
		p, _ := s.capture(t, c.role, c.iface, c.name)
		s.longCap = append(s.longCap, p)
	}
	conf := filepath.Join(s.dir, "conf")
	if err := s.bed.WriteConfigs(conf); err != nil {
		t.Fatal(err)
	}
	s.daemons, err = s.bed.StartAgents(bin, conf)
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, role := range append(s.bed.Agents(), testbed.MN) {
			if p := s.daemons[role]; p != nil {
				t.Logf("---- %s in %s (last lines) ----\n%s", p.Name, role, tail(p.Output(), 60))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	s.pingStart = time.Now()
	if s.ping, err = s.bed.StartPinger(testbed.CN, testbed.HomeAddr); err != nil {
		t.Fatal(err)
	}
}

// capture starts tcpdump on role's iface into <name>.pcap, kept for the
// tshark step.
func (s *scenario) capture(t *testing.T, role, iface, name string) (*testbed.Proc, string) {
	t.Helper()
	file := filepath.Join(s.dir, name+".pcap")
	p, err := s.bed.Capture(role, iface, file)
	if err != nil {
		t.Fatal(err)
	}
	s.pcaps = append(s.pcaps, file)
	return p, file
}

// move takes the mobile to where and waits for the ping to be answered
// again.
func (s *scenario) move(t *testing.T, where string) {
	t.Helper()
	from := s.bed.Where()
	at := time.Now()
	if err := s.bed.Move(where); err != nil {
		t.Fatal(err)
	}
	// Only a request sent once the mobile is on its new link proves the new
	// path: one sent while Move was re-attaching the port may still have
	// been answered over the old one.
	r, err := s.ping.WaitReply(time.Now(), recoverBound)
	if err != nil {
		s.stops = append(s.stops, stopRecord{from: from, to: where, at: at})
		t.Fatalf("moved %s -> %s: %v", from, where, err)
	}
	s.stops = append(s.stops, stopRecord{from: from, to: where, at: at, answered: r.Received})
	t.Logf("moved %s -> %s: the ping was answered again %.2f s after the move (request %d)",
		from, where, r.Received.Sub(at).Seconds(), r.Seq)
}

func (s *scenario) atHome(t *testing.T) {
	at := s.pingStart
	r, err := s.ping.WaitReply(time.Time{}, recoverBound)
	if err != nil {
		t.Fatalf("at home: %v", err)
	}
	s.stops = append(s.stops, stopRecord{to: testbed.AtHome, at: at, answered: r.Received})
	s.checkDirect(t)
	time.Sleep(time.Second)
	st, err := s.bed.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	s.home = st
	for _, h := range s.bed.Hosts() {
		for _, l := range st[h]["link"] {
			if strings.HasPrefix(l, "dyn") {
				t.Errorf("at home, %s has tunnel device %s", h, l)
			}
		}
	}
	if has(st[testbed.HA]["proxy"], testbed.HomeAddr+" ") {
		t.Errorf("at home, the home agent proxies for the mobile: %q", st[testbed.HA]["proxy"])
	}
}

// checkDirect checks that the mobile is answered on the home link without
// a tunnel: its route to cn leaves eth0 for rt, and rt knows the home
// address at the mobile's own hardware address, not by proxy.
func (s *scenario) checkDirect(t *testing.T) {
	t.Helper()
	out, err := s.bed.IP(testbed.MN, "route", "get", testbed.CNAddr, "from", testbed.HomeAddr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "via "+testbed.HomeGateway+" dev "+testbed.MNIface) {
		t.Errorf("at home, the mobile's route to cn is %q, want via %s dev %s", strings.TrimSpace(out),
			testbed.HomeGateway, testbed.MNIface)
	}
	mac, err := s.bed.IP(testbed.MN, "-br", "link", "show", "dev", testbed.MNIface)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(mac)
	if len(f) < 3 {
		t.Fatalf("cannot read the mobile's hardware address from %q", mac)
	}
	err = eventually(settleBound, func() error {
		neigh, err := s.bed.IP(testbed.RT, "neigh", "show", testbed.HomeAddr, "dev", "eth-home")
		if err != nil {
			return err
		}
		if !strings.Contains(neigh, "lladdr "+f[2]) {
			return fmt.Errorf("rt reaches the home address at %q, want the mobile's own %s", strings.TrimSpace(neigh), f[2])
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// toFA registers through fa (FA1 or FA2) and checks the tunnel both ways.
func (s *scenario) toFA(t *testing.T, fa, coa string) {
	capture, file := s.capture(t, fa, testbed.FAUpstreamIface, fa+"-upstream")
	s.move(t, fa)
	time.Sleep(tunnelTraffic)
	if err := capture.Stop(); err != nil {
		t.Error(err)
	}
	pkts, err := readPcap(file)
	if err != nil {
		t.Fatal(err)
	}
	if registrations(pkts, coa, testbed.HAAddr) == 0 || registrations(pkts, testbed.HAAddr, coa) == 0 {
		t.Errorf("no registration relayed between %s %s and the home agent (%d packets on %s's upstream link)",
			fa, coa, len(pkts), fa)
	}
	down := tunnelled(pkts, testbed.HAAddr, coa, testbed.CNAddr, testbed.HomeAddr)
	up := tunnelled(pkts, coa, testbed.HAAddr, testbed.HomeAddr, testbed.CNAddr)
	t.Logf("IP-in-IP on %s's upstream link: %d ha -> %s (cn -> mn), %d %s -> ha (mn -> cn)", fa, down, fa, up, fa)
	if down == 0 {
		t.Errorf("no IP-in-IP from the home agent to %s carrying cn's pings", fa)
	}
	if up == 0 {
		t.Errorf("no IP-in-IP from %s to the home agent carrying the mobile's replies (reverse tunnel)", fa)
	}
	st, err := s.bed.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !has(st[fa]["route"], testbed.HomeAddr+" ") {
		t.Errorf("%s has no route for the visitor %s: %q", fa, testbed.HomeAddr, st[fa]["route"])
	}
	if !has(st[testbed.HA]["proxy"], testbed.HomeAddr+" ") {
		t.Errorf("the home agent does not proxy for the away mobile: %q", st[testbed.HA]["proxy"])
	}
	if !has(st[testbed.HA]["link"], "dyn") {
		t.Errorf("the home agent has no tunnel device: %q", st[testbed.HA]["link"])
	}
}

func (s *scenario) toFA1(t *testing.T) { s.toFA(t, testbed.FA1, testbed.FA1Addr) }

func (s *scenario) toFA2(t *testing.T) {
	s.toFA(t, testbed.FA2, testbed.FA2Addr)
	if err := eventually(settleBound, func() error { return s.noVisitor(testbed.FA1) }); err != nil {
		t.Errorf("%v (%v after the ping recovered at fa2)", err, settleBound)
	}
}

// noVisitor reports visitor state left for the mobile on fa: a route for
// the home address or through a tunnel device, a rule for the home
// address (reverse tunnel), a tunnel device or a permanent neighbour entry.
func (s *scenario) noVisitor(fa string) error {
	st, err := s.bed.Snapshot()
	if err != nil {
		return err
	}
	var left []string
	for _, l := range st[fa]["route"] {
		if strings.HasPrefix(l, testbed.HomeAddr+" ") || strings.Contains(l, " "+testbed.HomeAddr+" ") ||
			strings.Contains(l, " dev dyn") {
			left = append(left, "route "+l)
		}
	}
	for _, l := range st[fa]["rule"] {
		if strings.Contains(l, " "+testbed.HomeAddr+" ") {
			left = append(left, "rule "+l)
		}
	}
	for _, l := range st[fa]["link"] {
		if strings.HasPrefix(l, "dyn") {
			left = append(left, "tunnel device "+l)
		}
	}
	for _, l := range st[fa]["neigh"] {
		if strings.HasPrefix(l, testbed.HomeAddr+" ") {
			left = append(left, "permanent neighbour "+l)
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("%s still holds visitor state: %s", fa, strings.Join(left, "; "))
	}
	return nil
}

func (s *scenario) toColocated(t *testing.T) {
	capture, file := s.capture(t, testbed.RT, "eth-nofa", "no-agent-link")
	s.move(t, testbed.AtColocated)
	time.Sleep(tunnelTraffic)
	if err := capture.Stop(); err != nil {
		t.Error(err)
	}
	pkts, err := readPcap(file)
	if err != nil {
		t.Fatal(err)
	}
	coa := testbed.ColocatedAddr
	if registrations(pkts, coa, testbed.HAAddr) == 0 || registrations(pkts, testbed.HAAddr, coa) == 0 {
		t.Errorf("no registration between the co-located care-of address %s and the home agent", coa)
	}
	down := tunnelled(pkts, testbed.HAAddr, coa, testbed.CNAddr, testbed.HomeAddr)
	up := tunnelled(pkts, coa, testbed.HAAddr, testbed.HomeAddr, testbed.CNAddr)
	t.Logf("IP-in-IP on the link without an agent: %d ha -> mn, %d mn -> ha", down, up)
	if down == 0 || up == 0 {
		t.Errorf("want IP-in-IP both ways between the home agent and %s", coa)
	}
	out, err := s.bed.IP(testbed.MN, "-o", "-4", "addr", "show", "dev", testbed.MNIface)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, " "+coa+"/24 ") {
		t.Errorf("the mobile does not hold its co-located care-of address %s/24: %q", coa, out)
	}
}

func (s *scenario) backHome(t *testing.T) {
	s.move(t, testbed.AtHome)
	s.checkDirect(t)
	settlesTo(t, s.bed, s.home, settleBound, "back home, not as before the trip")
}

// decodes checks that tshark decodes every registration message and agent
// advertisement or solicitation captured, without malformed packets or
// expert warnings.
func (s *scenario) decodes(t *testing.T) {
	for _, p := range s.longCap {
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
	}
	tsharktest.Require(t)
	const filter = "mip || icmp.type == 9 || icmp.type == 10"
	for _, pcap := range s.pcaps {
		n := tsharkCount(t, pcap, filter)
		problems := tsharktest.Expert(t, pcap, "-Y", filter)
		t.Logf("%s: %d registration and discovery messages, %d problems", filepath.Base(pcap), n, len(problems))
		for _, p := range problems {
			t.Errorf("%s: %s", filepath.Base(pcap), p)
		}
	}
	// The mobile's capture saw every kind at least once.
	mn := s.pcaps[0]
	for _, c := range []struct{ filter, what string }{
		{"mip.type == 1", "registration request"},
		{"mip.type == 3", "registration reply"},
		{"icmp.type == 9 && icmp.mip.type == 16", "agent advertisement with the mobility extension"},
	} {
		if tsharkCount(t, mn, c.filter) == 0 {
			t.Errorf("tshark finds no %s in the mobile's capture", c.what)
		}
	}
}

// cleanExit stops the daemons with SIGTERM and checks they exit 0 and take
// every kernel entry they made with them.
func (s *scenario) cleanExit(t *testing.T) {
	if err := s.ping.Stop(); err != nil {
		t.Error(err)
	}
	for _, role := range []string{testbed.MN, testbed.FA2, testbed.FA1, testbed.HA} {
		p := s.daemons[role]
		if err := p.Stop(); err != nil {
			t.Error(err)
			continue
		}
		if _, err := p.Exited(); err != nil {
			t.Errorf("%s in %s exited with %v after SIGTERM", p.Name, role, err)
		}
	}
	settlesTo(t, s.bed, s.base, settleBound, "after the daemons exited, not as before they started")
}

// logLosses logs the pings lost at each stop.
func (s *scenario) logLosses(t *testing.T) {
	if s.ping == nil || len(s.stops) == 0 {
		return
	}
	time.Sleep(testbed.PingWait)
	var b strings.Builder
	fmt.Fprintf(&b, "pings per stop (every %v):\n", testbed.PingInterval)
	fmt.Fprintf(&b, "  %-22s %5s %5s %5s %15s %21s\n", "stop", "sent", "recv", "lost", "longest outage", "answered again after")
	for i, st := range s.stops {
		end := time.Now().Add(-testbed.PingWait)
		if i+1 < len(s.stops) {
			end = s.stops[i+1].at
		}
		ps := s.ping.Stats(st.at, end)
		name := "start at " + st.to
		if st.from != "" {
			name = st.from + " -> " + st.to
		}
		again := "never"
		if !st.answered.IsZero() {
			again = fmt.Sprintf("%.2f s", st.answered.Sub(st.at).Seconds())
		}
		fmt.Fprintf(&b, "  %-22s %5d %5d %5d %13.2f s %21s\n", name, ps.Sent, ps.Received, ps.Lost,
			ps.LongestOutage.Seconds(), again)
	}
	t.Log(b.String())
}

// keepDir returns the directory for the scenario's configurations and
// captures: $DYN_E2E_KEEP when set (kept for inspection), else a temporary
// one.
func keepDir(t *testing.T) string {
	dir := os.Getenv("DYN_E2E_KEEP")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("configurations and captures are kept in %s", dir)
	return dir
}

func has(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
