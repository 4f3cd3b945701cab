package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/dynamics-go/dynamics/internal/testbed"
)

// recoverWithin is how soon after a move the ping must be answered again
// for the move to count as a success.
const recoverWithin = 10 * time.Second

// demo is one run.
type demo struct {
	opts        options
	out, errOut io.Writer

	bed     *testbed.Bed
	ping    *testbed.Pinger
	daemons map[string]*testbed.Proc
	dead    map[string]bool
	base    testbed.State
	stops   []stop
}

// stop is one place on the route and the time the mobile spent there.
type stop struct {
	from, to    string
	start, end  time.Time
	answeredMsg bool
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

func (d *demo) run(ctx context.Context) (code int) {
	logDir := d.opts.logDir
	if logDir == "" {
		var err error
		if logDir, err = os.MkdirTemp("", "dyndemo-"); err != nil {
			fmt.Fprintf(d.errOut, "dyndemo: %v\n", err)
			return exitFail
		}
	} else if err := os.MkdirAll(logDir, 0o755); err != nil {
		fmt.Fprintf(d.errOut, "dyndemo: %v\n", err)
		return exitFail
	}
	level := slog.LevelWarn
	if d.opts.verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(d.errOut, &slog.HandlerOptions{Level: level}))

	kind := "flat"
	if d.opts.hier {
		kind = "hierarchical"
	}
	if d.opts.ipsec {
		kind += " testbed, registration signalling under IPsec,"
	} else {
		kind += " testbed"
	}
	d.printf("Building the %s...\n", kind)
	bed, err := testbed.New(testbed.Options{Hierarchical: d.opts.hier, IPsec: d.opts.ipsec, TunnelingMode: d.opts.mode,
		Logger: logger, LogDir: logDir})
	if err != nil {
		fmt.Fprintf(d.errOut, "dyndemo: %v\n", err)
		return exitFail
	}
	d.bed = bed
	defer func() {
		d.printf("\nTearing down: stopping the daemons and the ping, removing the namespaces...\n")
		if err := bed.Close(); err != nil {
			fmt.Fprintf(d.errOut, "dyndemo: teardown: %v\n", err)
			if code == exitOK {
				code = exitFail
			}
			return
		}
		d.printf("Testbed removed. Configurations and daemon logs: %s\n", logDir)
	}()
	d.printf("%s\n", drawing(d.opts.hier))

	if d.base, err = bed.Snapshot(); err != nil {
		fmt.Fprintf(d.errOut, "dyndemo: %v\n", err)
		return exitFail
	}
	if err := bed.WriteConfigs(logDir); err != nil {
		fmt.Fprintf(d.errOut, "dyndemo: %v\n", err)
		return exitFail
	}
	d.daemons, err = bed.StartAgents(d.opts.binDir, logDir)
	if err != nil {
		fmt.Fprintf(d.errOut, "dyndemo: %v\n", err)
		return exitFail
	}
	d.dead = map[string]bool{}
	for _, role := range append(bed.Agents(), testbed.MN) {
		p := d.daemons[role]
		d.printf("  %-6s in %-4s pid %-7d log %s/%s-%s.log\n", p.Name, role, p.PID(), logDir, role, p.Name)
	}
	if d.ping, err = bed.StartPinger(testbed.CN, testbed.HomeAddr); err != nil {
		fmt.Fprintf(d.errOut, "dyndemo: %v\n", err)
		return exitFail
	}
	if d.opts.ipsec {
		d.printf("%s", ipsecLines(bed.IPsecHops(), logDir))
	}
	d.printf("  ping from cn %s to the mobile's home address %s every %v\n",
		testbed.CNAddr, testbed.HomeAddr, testbed.PingInterval)

	route := d.opts.route
	for i, place := range route {
		s := stop{from: "", to: place}
		if i > 0 {
			s.from = route[i-1]
			d.banner(fmt.Sprintf("MOVE %d/%d: %s -> %s", i, len(route)-1, s.from, place), where(place, d.opts.hier))
			if err := bed.Move(place); err != nil {
				fmt.Fprintf(d.errOut, "dyndemo: %v\n", err)
				return exitFail
			}
		} else {
			title := "START: the mobile node is at home"
			if d.opts.ipsec {
				title += " (registrations in ESP on every hop: -ipsec)"
			}
			d.banner(title, where(place, d.opts.hier))
		}
		s.start = time.Now()
		d.stops = append(d.stops, s)
		if !d.dwell(ctx, &d.stops[len(d.stops)-1]) {
			d.printf("\nInterrupted.\n")
			d.stops[len(d.stops)-1].end = time.Now()
			d.summary(false)
			return exitInterrupted
		}
		d.stops[len(d.stops)-1].end = time.Now()
		d.agentTables()
		if d.opts.kernel {
			d.kernelState()
		}
	}
	d.printf("\nWaiting %v for the last replies...\n", testbed.PingWait)
	select {
	case <-ctx.Done():
	case <-time.After(testbed.PingWait + testbed.PingInterval):
	}
	if !d.summary(true) {
		return exitFail
	}
	return exitOK
}

// dwell stays at the current stop for the dwell time, and longer (up to
// recoverWithin) while the ping has not been answered since the stop began,
// printing a ping line a second. It returns false when interrupted.
func (d *demo) dwell(ctx context.Context, s *stop) bool {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	end, latest := s.start.Add(d.opts.dwell), s.start.Add(recoverWithin)
	for {
		select {
		case <-ctx.Done():
			return false
		case now := <-tick.C:
			st := d.ping.Stats(s.start, time.Time{})
			d.printf("  t+%-3s %s\n", fmt.Sprintf("%ds", int(now.Sub(s.start).Round(time.Second)/time.Second)), st)
			d.watchDaemons()
			if !now.Before(end) && (s.answeredMsg || !now.Before(latest)) {
				return true
			}
		case <-poll.C:
			if s.answeredMsg {
				continue
			}
			if st := d.ping.Stats(s.start, time.Time{}); !st.FirstReply.IsZero() {
				s.answeredMsg = true
				d.printf("  ** ping answered: the first request sent %.2f s after the %s got its reply\n",
					st.FirstReply.Sub(s.start).Seconds(), map[bool]string{true: "start", false: "move"}[s.from == ""])
			}
		}
	}
}

// watchDaemons reports a daemon that has exited, once.
func (d *demo) watchDaemons() {
	for role, p := range d.daemons {
		if done, err := p.Exited(); done && !d.dead[role] {
			d.dead[role] = true
			d.printf("  !! %s in %s has exited (%v); its last lines:\n%s", p.Name, role, err, indent(tail(p.Output(), 10), "     "))
		}
	}
}

// kernelState prints what the daemons have installed on every host.
func (d *demo) kernelState() {
	rep, err := d.bed.Report(d.base)
	if err != nil {
		d.printf("  (kernel state unavailable: %v)\n", err)
		return
	}
	d.printf("\n  Kernel state the suite has added (+) or removed (-) on each host (ip link/addr/route/rule/neigh, sysctl):\n%s", rep)
}

func (d *demo) banner(title, detail string) {
	line := strings.Repeat("=", 78)
	d.printf("\n%s\n  %s\n  %s\n%s\n", line, title, detail, line)
}

// summary prints the table of pings per stop and reports whether the ping
// was answered soon enough at every stop; with verdict it says so too.
func (d *demo) summary(verdict bool) bool {
	ok := true
	d.printf("\n%-22s %6s %6s %6s %15s %22s\n", "stop", "sent", "recv", "lost", "longest outage", "first answer after")
	var total testbed.PingStats
	for _, s := range d.stops {
		st := d.ping.Stats(s.start, s.end)
		name := "start at " + s.to
		if s.from != "" {
			name = s.from + " -> " + s.to
		}
		var again string
		switch {
		case st.FirstReply.IsZero():
			again = "never"
			ok = false
		case st.FirstReply.Sub(s.start) > recoverWithin:
			again = fmt.Sprintf("%.2f s (too slow)", st.FirstReply.Sub(s.start).Seconds())
			ok = false
		default:
			again = fmt.Sprintf("%.2f s", st.FirstReply.Sub(s.start).Seconds())
		}
		d.printf("%-22s %6d %6d %6d %13.2f s %22s\n", name, st.Sent, st.Received, st.Lost, st.LongestOutage.Seconds(), again)
		total.Sent += st.Sent
		total.Received += st.Received
		total.Lost += st.Lost
	}
	d.printf("%-22s %6d %6d %6d\n", "total", total.Sent, total.Received, total.Lost)
	switch {
	case !verdict:
	case ok:
		d.printf("\nThe ping was answered at every stop.\n")
	default:
		d.printf("\nThe ping was NOT answered within %v at every stop; see the daemon logs.\n", recoverWithin)
	}
	return ok
}

// where describes a stop for the banners.
func where(place string, hier bool) string {
	switch place {
	case testbed.AtHome:
		return fmt.Sprintf("home link %s: home agent ha %s, no tunnel needed", testbed.HomePrefix, testbed.HAAddr)
	case testbed.AtFA1, testbed.AtFA2:
		visitor, coa, prefix := testbed.FA1VisitorAddr, testbed.FA1Addr, testbed.FA1VisitorPrefix
		if place == testbed.AtFA2 {
			visitor, coa, prefix = testbed.FA2VisitorAddr, testbed.FA2Addr, testbed.FA2VisitorPrefix
		}
		if hier {
			// In the hierarchy the home agent's tunnel ends at gfa, whose
			// address every agent of the tree advertises; a move between
			// fa1 and fa2 is answered by gfa.
			return fmt.Sprintf("visitor link %s: foreign agent %s %s under gfa, care-of address %s (the highest FA)",
				prefix, place, visitor, testbed.GFAAddr)
		}
		return fmt.Sprintf("visitor link %s: foreign agent %s %s, care-of address %s", prefix, place, visitor, coa)
	case testbed.AtColocated:
		return fmt.Sprintf("link without an agent %s: co-located care-of address %s, gateway %s",
			testbed.ColocatedPrefix, testbed.ColocatedAddr, testbed.ColocatedGateway)
	}
	return place
}

// drawing is the topology for the introduction.
func drawing(hier bool) string {
	if hier {
		return `
  cn 198.51.100.10 --- rt --- gfa 10.0.0.2 --+-- fa1 10.0.1.2 == visitor link 10.2.0.0/24
                       |                     +-- fa2 10.0.2.2 == visitor link 10.3.0.0/24
                       +== home link 10.1.0.0/24: ha 10.1.0.1, mn 10.1.0.10 (at home)
                       +== link without an agent 10.4.0.0/24 (rt 10.4.0.1)`
	}
	return `
  cn 198.51.100.10 --- rt --+-- fa1 10.0.1.2 == visitor link 10.2.0.0/24
                            +-- fa2 10.0.2.2 == visitor link 10.3.0.0/24
                            +== home link 10.1.0.0/24: ha 10.1.0.1, mn 10.1.0.10 (at home)
                            +== link without an agent 10.4.0.0/24 (rt 10.4.0.1)`
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

// ipsecLines tells which hops carry their registrations in ESP, and where
// the IKE keys are logged.
func ipsecLines(hops []testbed.IPsecHop, dir string) string {
	var b strings.Builder
	b.WriteString("  registration signalling in ESP (IKEv2 with MOBIKE-X, pre-shared key per pair) on:\n")
	for _, h := range hops {
		fmt.Fprintf(&b, "    %-4s %-15s -> %-4s %-15s (%s -> %s)\n", h.Initiator, h.InitiatorAddr, h.Responder, h.ResponderAddr,
			testbed.IPsecID(h.Initiator), testbed.IPsecID(h.Responder))
	}
	fmt.Fprintf(&b, "  IKE keys for Wireshark (ikev2_decryption_table): %s\n", testbed.KeyLogFile(dir, "*"))
	return b.String()
}
