package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/testbed"
	"github.com/dynamics-go/dynamics/internal/tsharktest"
)

// hierPingInterval is the ping's interval on the hierarchical bed: 100
// requests a second, so each one lost is 10 ms without connectivity.
const hierPingInterval = 10 * time.Millisecond

// hierLifetime is the registration lifetime the mobile asks for: long
// enough that no renewal reaches the home agent while the moves run.
const hierLifetime = 300 * time.Second

// hierRoundTrips is how many times the mobile goes fa1 -> fa2 -> fa1
// under gfa.
const hierRoundTrips = 10

// hierLinger is the agents' TunnelLinger on the bed: long enough for the
// tunnels to the lowest agents to be taken again on every move back and
// forth (the steps between two moves, with their captures, take a few
// seconds), short enough for them to be gone soon after the mobile is home.
const hierLinger = 5 * time.Second

// gfaLink names gfa's link down to each lowest agent, and the addresses at
// its two ends: gfa's and the lowest agent's.
var gfaLink = map[string]struct{ iface, gfa, fa string }{
	testbed.FA1: {"eth1", testbed.FA1Upper, testbed.FA1Addr},
	testbed.FA2: {"eth2", testbed.FA2Upper, testbed.FA2Addr},
}

// handoff is one move of the mobile and what the test measured of it.
type handoff struct {
	from, to string
	at       time.Time // when the mobile was moved
	answered time.Time // the first reply to a ping sent after the move
	// heard is when the mobile logged the move (it heard the new agent's
	// advertisement), registered when it logged the accepted reply.
	heard, registered time.Time
	local             bool // the reply was a switching agent's
	reachedHA         bool // the home agent accepted a registration for it
}

// hierScenario is the state shared by the steps of TestHierarchy.
type hierScenario struct {
	bed       *testbed.Bed
	dir       string
	conf      string
	bin       string
	daemons   map[string]*testbed.Proc
	ping      *testbed.Pinger
	base      testbed.State // before the daemons started
	home      testbed.State // daemons running, mobile at home
	moves     []handoff
	pcaps     []string
	longCap   []*testbed.Proc
	longPcaps []string // the long captures' files: the mobile's link, gfa's links down
	// homeCap captures registration traffic on the home link during the
	// local moves.
	homeCap     *testbed.Proc
	homeCapFile string
}

// TestHierarchy is the hierarchy's scenario (DESIGN.md section 6): gfa above
// fa1 and fa2, a ping from cn to the mobile's home address at 100 per second
// throughout. The first registration through fa1 reaches the home agent;
// the moves between fa1 and fa2 are answered by gfa, and the home agent
// hears nothing of them; the branch left behind keeps no state; a move out
// of the tree and back, and home, still work; a restarted gfa makes the
// next move a full registration again.
func TestHierarchy(t *testing.T) {
	requireHost(t)
	bin := requireDaemons(t)
	dir := keepDir(t)
	// The daemons' logs go beside the captures: with DYN_E2E_KEEP they
	// stay, to follow one handoff message by message.
	bed, err := testbed.New(testbed.Options{Hierarchical: true, Lifetime: hierLifetime, Logger: logger(t), LogDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := bed.Close(); err != nil {
			t.Errorf("closing the testbed: %v", err)
		}
	})
	h := &hierScenario{bed: bed, dir: dir, bin: bin}
	h.setup(t)

	for _, step := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"1-first-registration-reaches-ha", h.firstRegistration},
		{"2-local-move-answered-by-gfa", h.localMove},
		{"3-back-and-forth", h.backAndForth},
		{"4-out-of-the-tree", h.outOfTree},
		{"5-into-the-tree-again", h.intoTree},
		{"6-restarted-gfa", h.restartedGFA},
		{"7-home", h.backHome},
	} {
		if !t.Run(step.name, step.fn) {
			h.report(t)
			t.Fatalf("step %s failed; the later steps depend on it", step.name)
		}
	}
	h.report(t)
	t.Run("8-tshark-decodes", h.decodes)
	t.Run("9-clean-exit", h.cleanExit)
}

// setup starts the long captures, the daemons and the ping, and waits for
// the mobile to be answered at home.
func (h *hierScenario) setup(t *testing.T) {
	var err error
	if h.base, err = h.bed.Snapshot(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ role, iface, name string }{
		{testbed.MN, testbed.MNIface, "mn"},
		{testbed.GFA, "eth1", "gfa-fa1"},
		{testbed.GFA, "eth2", "gfa-fa2"},
	} {
		p, file := h.capture(t, c.role, c.iface, c.name)
		h.longCap = append(h.longCap, p)
		h.longPcaps = append(h.longPcaps, file)
	}
	h.conf = filepath.Join(h.dir, "conf")
	if err := h.bed.WriteConfigs(h.conf); err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{testbed.GFA, testbed.FA1, testbed.FA2} {
		f, err := os.OpenFile(filepath.Join(h.conf, testbed.ConfigFile(role)), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = fmt.Fprintf(f, "\n# Tunnels to other agents stay this long after their last visitor.\nTunnelLinger %v\n", hierLinger)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	h.daemons, err = h.bed.StartAgents(h.bin, h.conf)
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, role := range append(h.bed.Agents(), testbed.MN) {
			if p := h.daemons[role]; p != nil {
				t.Logf("---- %s in %s (last lines) ----\n%s", p.Name, role, tail(p.Output(), 80))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if h.ping, err = h.bed.StartPingerEvery(testbed.CN, testbed.HomeAddr, hierPingInterval); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ping.WaitReply(start, recoverBound); err != nil {
		t.Fatalf("at home: %v", err)
	}
	time.Sleep(time.Second)
	if h.home, err = h.bed.Snapshot(); err != nil {
		t.Fatal(err)
	}
}

func (h *hierScenario) capture(t *testing.T, role, iface, name string, filter ...string) (*testbed.Proc, string) {
	t.Helper()
	file := filepath.Join(h.dir, name+".pcap")
	p, err := h.bed.Capture(role, iface, file, filter...)
	if err != nil {
		t.Fatal(err)
	}
	h.pcaps = append(h.pcaps, file)
	return p, file
}

// haAccepted counts the registrations the home agent has accepted, from
// its log.
func (h *hierScenario) haAccepted() int {
	return strings.Count(h.daemons[testbed.HA].Output(), `msg="registration accepted"`)
}

// move takes the mobile to where, waits for the ping to be answered again
// and for the mobile to log its registration, and records the handoff.
// wantLocal says whether a switching agent must have answered, and with it
// whether the home agent may accept a registration (it must, otherwise).
func (h *hierScenario) move(t *testing.T, where string, wantLocal bool) handoff {
	t.Helper()
	haBefore := h.haAccepted()
	m := handoff{from: h.bed.Where(), to: where, at: time.Now()}
	if err := h.bed.Move(where); err != nil {
		t.Fatal(err)
	}
	r, err := h.ping.WaitReply(time.Now(), recoverBound)
	if err != nil {
		h.moves = append(h.moves, m)
		t.Fatalf("moved %s -> %s: %v", m.from, m.to, err)
	}
	m.answered = r.Received
	if where == testbed.AtFA1 || where == testbed.AtFA2 {
		err := eventually(settleBound, func() error {
			var ok bool
			m.heard, m.registered, m.local, ok = mobileHandoff(h.daemons[testbed.MN].Output(), m.at)
			if !ok {
				return fmt.Errorf("the mobile has logged no registration through %s since the move", where)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
		if m.local != wantLocal {
			t.Errorf("moved %s -> %s: the mobile's registration was local=%v, want %v", m.from, m.to, m.local, wantLocal)
		}
	}
	// The home agent's log line follows its reply; give it a moment.
	time.Sleep(100 * time.Millisecond)
	m.reachedHA = h.haAccepted() > haBefore
	if wantLocal && m.reachedHA {
		t.Errorf("moved %s -> %s: the home agent accepted %d registrations", m.from, m.to, h.haAccepted()-haBefore)
	}
	h.moves = append(h.moves, m)
	t.Logf("moved %s -> %s: answered again after %.0f ms; the mobile registered %.0f ms after hearing the new agent (local=%v, home agent reached=%v)",
		m.from, m.to, ms(m.answered.Sub(m.at)), ms(m.registered.Sub(m.heard)), m.local, m.reachedHA)
	return m
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// mobileHandoff finds in dynmnd's log the first move logged at or after
// since ("moved to a foreign agent": it heard a new agent), and the first
// registration accepted after that, and whether it was local.
func mobileHandoff(out string, since time.Time) (heard, registered time.Time, local, ok bool) {
	since = since.Truncate(time.Millisecond)
	for _, l := range logLines(out) {
		switch {
		case heard.IsZero():
			if l.msg == "moved to a foreign agent" && !l.at.Before(since) {
				heard = l.at
			}
		case l.msg == "registered":
			return heard, l.at, strings.Contains(l.rest, " local=true"), true
		}
	}
	return heard, time.Time{}, false, false
}

// logLine is one line of a daemon's foreground log.
type logLine struct {
	at        time.Time
	msg, rest string
}

var logRE = regexp.MustCompile(`^time=(\S+) level=\S+ (?:source=\S+ )?msg=("(?:[^"\\]|\\.)*"|\S+)(.*)$`)

func logLines(out string) []logLine {
	var lines []logLine
	for _, s := range strings.Split(out, "\n") {
		m := logRE.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			continue
		}
		msg := m[2]
		if strings.HasPrefix(msg, `"`) {
			if msg, err = strconv.Unquote(msg); err != nil {
				continue
			}
		}
		lines = append(lines, logLine{at: at, msg: msg, rest: m[3]})
	}
	return lines
}

// chain checks the tunnel chain on gfa's link to fa for a while of
// pinging: IP-in-IP from gfa to fa carrying cn's pings, and from fa to gfa
// carrying the mobile's replies (the reverse tunnel); with upstream also on
// gfa's link to rt, between the home agent and gfa.
func (h *hierScenario) chain(t *testing.T, fa string, upstream bool) {
	t.Helper()
	l := gfaLink[fa]
	down, downFile := h.capture(t, testbed.GFA, l.iface, "chain-"+fa+"-"+strconv.Itoa(len(h.moves)), "ip proto 4")
	var up *testbed.Proc
	var upFile string
	if upstream {
		up, upFile = h.capture(t, testbed.GFA, testbed.FAUpstreamIface, "chain-ha-"+strconv.Itoa(len(h.moves)), "ip proto 4")
	}
	time.Sleep(tunnelTraffic)
	for _, p := range []*testbed.Proc{down, up} {
		if p != nil {
			if err := p.Stop(); err != nil {
				t.Error(err)
			}
		}
	}
	pkts, err := readPcap(downFile)
	if err != nil {
		t.Fatal(err)
	}
	in := tunnelled(pkts, l.gfa, l.fa, testbed.CNAddr, testbed.HomeAddr)
	out := tunnelled(pkts, l.fa, l.gfa, testbed.HomeAddr, testbed.CNAddr)
	t.Logf("IP-in-IP between gfa and %s: %d gfa -> %s (cn -> mn), %d %s -> gfa (mn -> cn)", fa, in, fa, out, fa)
	if in == 0 || out == 0 {
		t.Errorf("want IP-in-IP both ways between gfa %s and %s %s", l.gfa, fa, l.fa)
	}
	if !upstream {
		return
	}
	pkts, err = readPcap(upFile)
	if err != nil {
		t.Fatal(err)
	}
	in = tunnelled(pkts, testbed.HAAddr, testbed.GFAAddr, testbed.CNAddr, testbed.HomeAddr)
	out = tunnelled(pkts, testbed.GFAAddr, testbed.HAAddr, testbed.HomeAddr, testbed.CNAddr)
	t.Logf("IP-in-IP between the home agent and gfa: %d ha -> gfa, %d gfa -> ha", in, out)
	if in == 0 || out == 0 {
		t.Errorf("want IP-in-IP both ways between the home agent and gfa %s", testbed.GFAAddr)
	}
}

// visitorState lists the state role holds for the mobile: a route for the
// home address, or through a tunnel device other than the default route of
// that tunnel's own table (which the tunnel has while it exists, mobile or
// not: the agents keep tunnels to other agents lingering after their last
// visitor), a rule for the home address, a permanent neighbour entry.
func (h *hierScenario) visitorState(role string) ([]string, error) {
	var left []string
	out, err := h.bed.IP(role, "route", "show", "table", "all")
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, testbed.HomeAddr+" ") || (strings.Contains(l, " dev dyn") && !tunnelTableRoute.MatchString(l)) {
			left = append(left, "route "+strings.TrimSpace(l))
		}
	}
	if out, err = h.bed.IP(role, "rule", "show"); err != nil {
		return nil, err
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, " "+testbed.HomeAddr+" ") {
			left = append(left, "rule "+strings.TrimSpace(l))
		}
	}
	if out, err = h.bed.IP(role, "neigh", "show", "nud", "permanent"); err != nil {
		return nil, err
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, testbed.HomeAddr+" ") {
			left = append(left, "permanent neighbour "+strings.TrimSpace(l))
		}
	}
	return left, nil
}

// tunnelTableRoute is the default route of a foreign agent's tunnel in its
// own routing table (2000 + the tunnel's number), as `ip route show table
// all` prints it.
var tunnelTableRoute = regexp.MustCompile(`^default dev (dynfa\d+) table (\d+) `)

// tunnelsUp counts the tunnel devices the foreign agents have made, from
// their logs.
func (h *hierScenario) tunnelsUp() int {
	n := 0
	for _, role := range []string{testbed.GFA, testbed.FA1, testbed.FA2} {
		n += strings.Count(h.daemons[role].Output(), `msg="tunnel up"`)
	}
	return n
}

// clean waits for roles to hold no state for the mobile.
func (h *hierScenario) clean(t *testing.T, why string, roles ...string) {
	t.Helper()
	for _, role := range roles {
		var left []string
		err := eventually(settleBound, func() error {
			var err error
			if left, err = h.visitorState(role); err != nil {
				return err
			}
			if len(left) > 0 {
				return fmt.Errorf("%d entries", len(left))
			}
			return nil
		})
		if err != nil {
			t.Errorf("%s: %s still holds state for the mobile after %v: %s", why, role, settleBound, strings.Join(left, "; "))
		}
	}
}

// holds checks that role holds the visitor's route.
func (h *hierScenario) holds(t *testing.T, role string) {
	t.Helper()
	left, err := h.visitorState(role)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range left {
		if strings.HasPrefix(l, "route "+testbed.HomeAddr+" ") {
			return
		}
	}
	t.Errorf("%s has no route for the mobile: %q", role, left)
}

func (h *hierScenario) firstRegistration(t *testing.T) {
	before := h.haAccepted()
	m := h.move(t, testbed.AtFA1, false)
	if !m.reachedHA {
		t.Errorf("the first registration through fa1 did not reach the home agent (%d accepted before, %d after)",
			before, h.haAccepted())
	}
	h.chain(t, testbed.FA1, true)
	h.holds(t, testbed.GFA)
	h.holds(t, testbed.FA1)
}

func (h *hierScenario) localMove(t *testing.T) {
	h.homeCap, h.homeCapFile = h.capture(t, testbed.HA, testbed.HAIface, "home-link-local-moves", "udp port 434")
	h.move(t, testbed.AtFA2, true)
	h.chain(t, testbed.FA2, false)
	h.holds(t, testbed.GFA)
	h.holds(t, testbed.FA2)
	h.clean(t, "after the move to fa2", testbed.FA1)
}

func (h *hierScenario) backAndForth(t *testing.T) {
	// The tunnels to both lowest agents exist since the first local move;
	// going back and forth takes them again, lingering, and makes none.
	made := h.tunnelsUp()
	defer func() {
		if n := h.tunnelsUp() - made; n != 0 {
			t.Errorf("the agents made %d tunnels while the mobile went back and forth, want none", n)
		}
	}()
	for i := range 2 * hierRoundTrips {
		to, left := testbed.AtFA1, testbed.FA2
		if i%2 == 1 {
			to, left = testbed.AtFA2, testbed.FA1
		}
		h.move(t, to, true)
		h.clean(t, fmt.Sprintf("move %d to %s", i+1, to), left)
		if t.Failed() {
			return
		}
	}
	h.chain(t, testbed.FA2, true)
	if err := h.homeCap.Stop(); err != nil {
		t.Error(err)
	}
	pkts, err := readPcap(h.homeCapFile)
	if err != nil {
		t.Fatal(err)
	}
	n := registrations(pkts, testbed.GFAAddr, testbed.HAAddr) + registrations(pkts, testbed.HAAddr, testbed.GFAAddr)
	t.Logf("registration messages on the home link during %d local moves: %d (%d packets to or from port 434)",
		2*hierRoundTrips+1, n, len(pkts))
	if len(pkts) != 0 {
		t.Errorf("the home link carried %d registration packets during the local moves, want none", len(pkts))
	}
}

func (h *hierScenario) outOfTree(t *testing.T) {
	m := h.move(t, testbed.AtColocated, false)
	if !m.reachedHA {
		t.Error("the co-located registration did not reach the home agent")
	}
	h.clean(t, "out of the tree", testbed.GFA, testbed.FA1, testbed.FA2)
}

func (h *hierScenario) intoTree(t *testing.T) {
	m := h.move(t, testbed.AtFA1, false)
	if !m.reachedHA {
		t.Error("the registration into the tree did not reach the home agent")
	}
	h.chain(t, testbed.FA1, true)
	h.move(t, testbed.AtFA2, true) // with the new session key
	h.clean(t, "after the move to fa2", testbed.FA1)
}

// restartedGFA restarts gfa: it forgets its bindings, so the next move
// goes to the home agent (a full registration, a new session key). The
// lowest agent left then keeps its entry (nobody knows to revoke it) until
// a move through it replaces it; the move after that is local again and
// cleans up.
func (h *hierScenario) restartedGFA(t *testing.T) {
	p := h.daemons[testbed.GFA]
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Exited(); err != nil {
		t.Errorf("gfa exited with %v after SIGTERM", err)
	}
	np, err := h.bed.StartDaemon(testbed.GFA, h.bin, h.conf)
	if err != nil {
		t.Fatal(err)
	}
	h.daemons[testbed.GFA] = np
	m := h.move(t, testbed.AtFA1, false)
	if !m.reachedHA {
		t.Error("the move after gfa restarted did not reach the home agent")
	}
	h.chain(t, testbed.FA1, true)
	h.move(t, testbed.AtFA2, true)
	h.clean(t, "after the move back to fa2", testbed.FA1)
	h.holds(t, testbed.FA2)
}

func (h *hierScenario) backHome(t *testing.T) {
	h.move(t, testbed.AtHome, false)
	h.clean(t, "back home", testbed.GFA, testbed.FA1, testbed.FA2)
	// gfa's tunnels down to fa1 and fa2 linger a while after their last
	// use, then go: the agents hold what they held before the trip.
	settlesTo(t, h.bed, h.home, settleBound+hierLinger, "back home, not as before the trip")
}

// report logs each handoff's figures and compares local moves with moves
// that reached the home agent: when the mobile heard the new agent after
// the move (movement detection: the new agent's next advertisement, or
// the old one's silence), the time from hearing it to the accepted reply
// (from the mobile's log), when the ping was answered again, and the pings
// lost at 100 per second between the move and the next.
func (h *hierScenario) report(t *testing.T) {
	if h.ping == nil || len(h.moves) == 0 {
		return
	}
	time.Sleep(testbed.PingWait)
	var b strings.Builder
	fmt.Fprintf(&b, "handoffs (ping every %v):\n", h.ping.Interval)
	fmt.Fprintf(&b, "  %-3s %-22s %-6s %11s %9s %13s %6s %11s\n", "#", "move", "kind", "heard after", "heard->ok",
		"answered after", "lost", "outage")
	type sum struct {
		gaps       []float64
		lost       float64
		maxLost    int
		heardMS    float64
		answeredMS float64
	}
	sums := map[string]*sum{}
	for i, m := range h.moves {
		end := time.Now().Add(-testbed.PingWait)
		if i+1 < len(h.moves) {
			end = h.moves[i+1].at
		}
		ps := h.ping.Stats(m.at, end)
		kind := "full"
		switch {
		case m.to != testbed.AtFA1 && m.to != testbed.AtFA2:
			kind = m.to
		case m.local:
			kind = "local"
		}
		gap, heard := "-", "-"
		if !m.registered.IsZero() && !m.heard.IsZero() {
			gap = fmt.Sprintf("%.0f ms", ms(m.registered.Sub(m.heard)))
			heard = fmt.Sprintf("%.0f ms", ms(m.heard.Sub(m.at)))
			if kind == "local" || kind == "full" {
				s := sums[kind]
				if s == nil {
					s = &sum{}
					sums[kind] = s
				}
				s.gaps = append(s.gaps, ms(m.registered.Sub(m.heard)))
				s.lost += float64(ps.Lost)
				s.maxLost = max(s.maxLost, ps.Lost)
				s.heardMS += ms(m.heard.Sub(m.at))
				s.answeredMS += ms(m.answered.Sub(m.at))
			}
		}
		answered := "never"
		if !m.answered.IsZero() {
			answered = fmt.Sprintf("%.0f ms", ms(m.answered.Sub(m.at)))
		}
		fmt.Fprintf(&b, "  %-3d %-22s %-6s %11s %9s %13s %6d %8.0f ms\n", i+1, m.from+" -> "+m.to, kind, heard, gap, answered,
			ps.Lost, ms(ps.LongestOutage))
	}
	for _, kind := range []string{"local", "full"} {
		s := sums[kind]
		if s == nil {
			continue
		}
		n := float64(len(s.gaps))
		var total float64
		for _, g := range s.gaps {
			total += g
		}
		sorted := slices.Clone(s.gaps)
		slices.Sort(sorted)
		fmt.Fprintf(&b, "  %s moves between foreign agents: %d; new agent heard %.0f ms after the move on average; "+
			"heard->accepted reply mean %.1f ms, median %.0f (%.0f..%.0f); ping answered again after %.0f ms on average; "+
			"pings lost mean %.1f, most %d\n",
			kind, len(s.gaps), s.heardMS/n, total/n, sorted[len(sorted)/2], sorted[0], sorted[len(sorted)-1],
			s.answeredMS/n, s.lost/n, s.maxLost)
	}
	t.Log(b.String())
}

// decodes checks that tshark decodes every registration message and agent
// advertisement on the mobile's link and on gfa's links down, the
// hierarchy's extensions included, without malformed packets or expert
// warnings.
func (h *hierScenario) decodes(t *testing.T) {
	for _, p := range h.longCap {
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
	}
	tsharktest.Require(t)
	const filter = "mip || icmp.type == 9 || icmp.type == 10"
	for _, pcap := range h.longPcaps {
		n := tsharkCount(t, pcap, filter)
		problems := tsharktest.Expert(t, pcap, "-Y", filter)
		t.Logf("%s: %d registration and discovery messages, %d problems", filepath.Base(pcap), n, len(problems))
		for _, p := range problems {
			t.Errorf("%s: %s", filepath.Base(pcap), p)
		}
		if n == 0 {
			t.Errorf("%s: no registration message captured", filepath.Base(pcap))
		}
	}
}

// cleanExit stops the daemons with SIGTERM and checks they exit 0 and take
// every kernel entry they made with them.
func (h *hierScenario) cleanExit(t *testing.T) {
	if err := h.ping.Stop(); err != nil {
		t.Error(err)
	}
	for _, role := range []string{testbed.MN, testbed.FA2, testbed.FA1, testbed.GFA, testbed.HA} {
		p := h.daemons[role]
		if err := p.Stop(); err != nil {
			t.Error(err)
			continue
		}
		if _, err := p.Exited(); err != nil {
			t.Errorf("%s in %s exited with %v after SIGTERM", p.Name, role, err)
		}
	}
	settlesTo(t, h.bed, h.base, settleBound, "after the daemons exited, not as before they started")
}
