package testbed

import (
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func requirePrivileges(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root to create network namespaces (run `sudo make test`)")
	}
	for _, c := range []string{"ip", "sysctl", "ping"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("skipped: needs %s on PATH", c)
		}
	}
}

// testLogger sends the bed's progress to t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func hostLinks(t *testing.T) []string {
	out, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		t.Fatal(err)
	}
	return normalise("link", string(out))
}

func TestBed(t *testing.T) {
	requirePrivileges(t)
	for _, tc := range []struct {
		name string
		hier bool
	}{{"flat", false}, {"hierarchical", true}} {
		t.Run(tc.name, func(t *testing.T) { testBed(t, tc.hier) })
	}
}

func testBed(t *testing.T, hier bool) {
	linksBefore := hostLinks(t)
	b, err := New(Options{Hierarchical: hier, Logger: testLogger(t), LogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	names := b.Namespaces()
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = b.Close()
		}
	})
	if want := len(b.Hosts()) + 1; len(names) != want {
		t.Fatalf("%d namespaces %v, want %d", len(names), names, want)
	}

	reach := func(from, to string) error {
		_, err := b.Exec(from, "ping", "-n", "-q", "-c", "1", "-W", "2", to)
		return err
	}
	mustReach := func(from, to string) {
		t.Helper()
		if err := reach(from, to); err != nil {
			t.Errorf("%s cannot reach %s: %v", from, to, err)
		}
	}
	mustNotReach := func(from, to string) {
		t.Helper()
		if _, err := b.Exec(from, "ping", "-n", "-q", "-c", "1", "-W", "1", to); err == nil {
			t.Errorf("%s reaches %s, want no answer", from, to)
		}
	}

	// The routed network: every agent address from cn and from ha.
	targets := []string{HAAddr, HomeGateway, FA1Addr, FA2Addr, FA1VisitorAddr, FA2VisitorAddr, ColocatedGateway}
	if hier {
		targets = append(targets, GFAAddr, FA1Upper, FA2Upper)
	}
	for _, dst := range targets {
		mustReach(CN, dst)
		mustReach(HA, dst)
	}
	mustReach(FA1, FA2VisitorAddr)
	for _, role := range b.Agents() {
		if out, _ := b.Exec(role, "sysctl", "-n", "net.ipv4.ip_forward"); strings.TrimSpace(out) != "1" {
			t.Errorf("%s: ip_forward %q, want 1", role, strings.TrimSpace(out))
		}
	}

	// The mobile: its home address only, no route until one is added.
	out, err := b.IP(MN, "-o", "-4", "addr", "show", "dev", MNIface)
	if err != nil {
		t.Fatal(err)
	}
	if got := normalise("addr", out); !slices.Equal(got, []string{"eth0 " + HomeAddr + "/32"}) {
		t.Errorf("mobile addresses %v, want only %s/32", got, HomeAddr)
	}
	if out, _ := b.IP(MN, "route", "show"); strings.TrimSpace(out) != "" {
		t.Errorf("mobile has routes before any were added:\n%s", out)
	}
	base, err := b.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	mustNotReach(CN, HomeAddr)

	// Routes by hand, as dynmnd installs them at home.
	homeRoutes := [][]string{
		{HomePrefix, "dev", MNIface, "src", HomeAddr},
		{"default", "via", HomeGateway},
	}
	for _, r := range homeRoutes {
		if err := b.ip(MN, append([]string{"route", "add"}, r...)...); err != nil {
			t.Fatal(err)
		}
	}
	mustReach(CN, HomeAddr)
	now, err := b.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var added []string
	for _, c := range base.Diff(now) {
		added = append(added, c.String())
	}
	if len(added) != 2 || !strings.HasPrefix(added[0], "mn route + ") {
		t.Errorf("diff after adding two routes: %q", added)
	}
	if rep, err := b.Report(base); err != nil || !strings.Contains(rep, "default via "+HomeGateway) {
		t.Errorf("report (%v):\n%s", err, rep)
	}

	// A ping that keeps running across a move away and back.
	p, err := b.StartPinger(CN, HomeAddr)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := p.WaitReply(start, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := b.Move(AtFA1); err != nil {
		t.Fatal(err)
	}
	if b.Where() != AtFA1 {
		t.Errorf("Where() = %q after moving to fa1", b.Where())
	}
	away := time.Now()
	time.Sleep(time.Second)
	if err := b.Move(AtHome); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	r, err := p.WaitReply(back, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(PingWait + 2*PingInterval)
	gone := p.Stats(away, back)
	t.Logf("away %v: %s; answered again %v after the return", back.Sub(away).Round(time.Millisecond), gone,
		r.Sent.Sub(back).Round(time.Millisecond))
	if gone.Lost < 5 || gone.Received > 1 || gone.LongestOutage < 500*time.Millisecond {
		t.Errorf("away from home: %+v, want most of a second's requests lost", gone)
	}
	if before := p.Stats(start, away); before.Lost > 0 || before.Received < 5 {
		t.Errorf("at home before the move: %+v, want no loss", before)
	}
	if bad := p.Unparsed(); len(bad) > 0 {
		t.Errorf("ping lines not understood: %q", bad)
	}
	if err := p.Stop(); err != nil {
		t.Error(err)
	}

	for _, r := range homeRoutes {
		if err := b.ip(MN, append([]string{"route", "del"}, r...)...); err != nil {
			t.Fatal(err)
		}
	}
	mustNotReach(CN, HomeAddr)
	if now, err := b.Snapshot(); err != nil || len(base.Diff(now)) != 0 {
		t.Errorf("after removing the routes (%v): %v", err, base.Diff(now))
	}

	// Each link the mobile can move to, with a temporary address there.
	for _, stop := range []struct{ where, cidr, peer string }{
		{AtFA1, "10.2.0.10/24", FA1VisitorAddr},
		{AtFA2, "10.3.0.10/24", FA2VisitorAddr},
		{AtColocated, ColocatedAddr + "/24", ColocatedGateway},
		{AtHome, "10.1.0.11/24", HAAddr},
	} {
		if err := b.Move(stop.where); err != nil {
			t.Fatal(err)
		}
		if err := b.ip(MN, "addr", "add", stop.cidr, "dev", MNIface); err != nil {
			t.Fatal(err)
		}
		mustReach(MN, stop.peer)
		if stop.where != AtHome {
			mustNotReach(MN, HAAddr)
		}
		if err := b.ip(MN, "addr", "del", stop.cidr, "dev", MNIface); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Move("elsewhere"); err == nil {
		t.Error("Move to an unknown place succeeded")
	}

	// A capture on the correspondent's link sees a ping.
	pcap := filepath.Join(t.TempDir(), "cn.pcap")
	capture, err := b.Capture(RT, "eth-cn", pcap, "icmp")
	if err != nil {
		t.Fatal(err)
	}
	mustReach(CN, HAAddr)
	// tcpdump may not yet have read the reply from its socket when ping
	// returns; give it a bounded moment before stopping it.
	const want = 24 + 2*(16+98) // pcap header, an echo request and its reply
	var size int64
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if fi, err := os.Stat(pcap); err == nil {
			if size = fi.Size(); size >= want {
				break
			}
		}
	}
	if err := capture.Stop(); err != nil {
		t.Error(err)
	}
	if size < want {
		t.Errorf("capture %s: %d bytes; want an echo request and reply", pcap, size)
	}

	// Processes started in the bed end with it.
	sleeper, err := b.Start(HA, "sleep", "600")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.StartDaemon(FA1, t.TempDir(), t.TempDir()); !errors.Is(err, ErrMissingDaemon) {
		t.Errorf("StartDaemon without a binary: %v, want ErrMissingDaemon", err)
	}

	closed = true
	if err := b.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case <-sleeper.Done():
	default:
		t.Error("a process started in the bed outlived Close")
	}
	if err := syscall.Kill(sleeper.PID(), 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("pid %d still exists after Close: %v", sleeper.PID(), err)
	}
	list, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.Contains(string(list), n) {
			t.Errorf("namespace %s left after Close", n)
		}
	}
	if left := b.Namespaces(); len(left) > 0 {
		t.Errorf("bed still lists namespaces %v", left)
	}
	if after := hostLinks(t); !slices.Equal(linksBefore, after) {
		t.Errorf("host links changed: before %v, after %v", linksBefore, after)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestBedSecondInterface builds the flat bed with the mobile's second
// interface: eth1 holds SecondAddr/24 on the link without an agent, whose
// route is the only one the mobile has before dynmnd adds any; rt answers
// through it; SecondInterfaceDown takes it down (the address stays, the
// link is gone) and SecondInterfaceUp brings it back.
func TestBedSecondInterface(t *testing.T) {
	requirePrivileges(t)
	b, err := New(Options{IPsec: true, SecondInterface: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if !b.SecondInterface() {
		t.Error("SecondInterface() false on a bed built with it")
	}
	out, err := b.IP(MN, "-o", "-4", "addr", "show")
	if err != nil {
		t.Fatal(err)
	}
	got := slices.DeleteFunc(normalise("addr", out), func(s string) bool { return strings.HasPrefix(s, "lo ") })
	if want := []string{"eth0 " + HomeAddr + "/32", MNSecondIface + " " + SecondAddr + "/24"}; !slices.Equal(got, want) {
		t.Errorf("mobile addresses %v, want %v", got, want)
	}
	out, err = b.IP(MN, "route", "show")
	if err != nil {
		t.Fatal(err)
	}
	if routes := strings.Split(strings.TrimSpace(out), "\n"); len(routes) != 1 ||
		!strings.HasPrefix(routes[0], ColocatedPrefix+" dev "+MNSecondIface) {
		t.Errorf("mobile routes before dynmnd:\n%s\nwant only %s on %s", out, ColocatedPrefix, MNSecondIface)
	}
	reach := func() error {
		_, err := b.Exec(MN, "ping", "-n", "-q", "-c", "1", "-W", "1", "-I", MNSecondIface, ColocatedGateway)
		return err
	}
	if err := reach(); err != nil {
		t.Errorf("the mobile cannot reach rt %s through %s: %v", ColocatedGateway, MNSecondIface, err)
	}
	state := func() string {
		out, err := b.IP(MN, "-o", "link", "show", "dev", MNSecondIface)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if err := b.SecondInterfaceDown(); err != nil {
		t.Fatal(err)
	}
	if s := state(); !strings.Contains(s, "state DOWN") || strings.Contains(s, "<BROADCAST,MULTICAST,UP") {
		t.Errorf("after SecondInterfaceDown: %s", s)
	}
	if err := reach(); err == nil {
		t.Error("rt answers through the mobile's second interface while it is down")
	}
	if out, _ := b.IP(MN, "-o", "-4", "addr", "show", "dev", MNSecondIface); !strings.Contains(out, SecondAddr+"/24") {
		t.Errorf("the second interface lost its address going down: %q", out)
	}
	if err := b.SecondInterfaceUp(); err != nil {
		t.Fatal(err)
	}
	if err := eventuallyReach(reach); err != nil {
		t.Errorf("after SecondInterfaceUp the mobile cannot reach rt through %s: %v", MNSecondIface, err)
	}
	plain := &Bed{opts: Options{}.withDefaults()}
	if err := plain.SecondInterfaceDown(); err == nil {
		t.Error("SecondInterfaceDown on a bed without a second interface succeeded")
	}
}

// eventuallyReach retries reach for a few seconds: a link just brought up
// may take a moment to carry traffic.
func eventuallyReach(reach func() error) error {
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err = reach(); err == nil {
			return nil
		}
	}
	return err
}
