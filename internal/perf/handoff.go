package perf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/dynamics-go/dynamics/internal/testbed"
	"github.com/dynamics-go/dynamics/libdynamics/api"
)

// HandoffOptions configure the handoff section.
type HandoffOptions struct {
	// BinDir holds dynhad, dynfad and dynmnd.
	BinDir string
	// LocalMoves is how many moves between fa1 and fa2 under gfa are
	// measured (default 10).
	LocalMoves int
	// Dwell is how long the mobile stays at each stop at least (default
	// 2 s); up to one advertisement interval more is added at random.
	Dwell time.Duration
	// PingInterval is the ping's interval (default 10 ms: 100 a second).
	PingInterval time.Duration
	// LogDir keeps the configurations and the daemons' logs; a temporary
	// directory when empty (removed afterwards).
	LogDir string
	Log    *slog.Logger
}

func (o HandoffOptions) withDefaults() HandoffOptions {
	if o.LocalMoves <= 0 {
		o.LocalMoves = 10
	}
	if o.Dwell <= 0 {
		o.Dwell = 2 * time.Second
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 10 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// handoffAdvInterval is the agents' AgentAdvInterval on the bed: a mobile
// notices a move when it hears the new agent's advertisement, so the
// interval bounds the time a move goes unnoticed.
const handoffAdvInterval = 500 * time.Millisecond

// Move is one move of the mobile on the testbed and what was measured.
type Move struct {
	From, To string
	// At is when the mobile's link was moved; Answered when the first ping
	// sent after that was answered.
	At, Answered time.Time
	// Heard is when the mobile logged that it heard the new agent's
	// advertisement ("moved to a foreign agent"), Registered when it
	// logged the accepted reply; zero for moves to no foreign agent.
	Heard, Registered time.Time
	// Local reports that a switching agent answered (the mobile's log).
	Local bool
	// HARequests is how many registration requests the home agent decided
	// on during the move (its get_status counter "requests").
	HARequests uint64
	// Lost is how many pings sent from At until the next move went
	// unanswered; Sent how many were sent.
	Lost, Sent int
}

// Gap is the time from hearing the new agent to the accepted reply.
func (m Move) Gap() time.Duration {
	if m.Heard.IsZero() || m.Registered.IsZero() {
		return 0
	}
	return m.Registered.Sub(m.Heard)
}

// Label names the move for the plot: "fa1→fa2", and "local" when a
// switching agent answered it.
func (m Move) Label() string {
	s := m.From + "→" + m.To
	if m.Local {
		s += " local"
	}
	return s
}

// HandoffResult is the handoff section's outcome: its figures, every move,
// and the plot of the pings across the run.
type HandoffResult struct {
	Figures []Figure
	Moves   []Move
	Plot    Plot
}

// Handoff runs the roaming route on the hierarchical testbed
// (internal/testbed: gfa above fa1 and fa2) with the suite's daemons and a
// ping from cn to the mobile's home address every PingInterval: home ->
// fa1 (a full registration, through gfa to the home agent), LocalMoves
// moves between fa1 and fa2 (answered by gfa as switching agent), out of
// the tree to the co-located address, into the tree again at fa1 (full
// registrations both), and home. For every move it takes the time from the
// mobile hearing the new agent to its accepted reply (from dynmnd's debug
// log), the pings lost, and the requests the home agent decided on (its
// control API's counters). The figures compare the local moves with the
// full ones, the baseline: a full move is what a local one saves. It needs
// root.
func Handoff(ctx context.Context, opts HandoffOptions) (res HandoffResult, err error) {
	opts = opts.withDefaults()
	for _, d := range []string{testbed.HADaemon, testbed.FADaemon, testbed.MNDaemon} {
		if _, err := os.Stat(filepath.Join(opts.BinDir, d)); err != nil {
			return res, fmt.Errorf("%s: %w (run make build)", d, err)
		}
	}
	dir := opts.LogDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "dynbench-bed-"); err != nil {
			return res, err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	bed, err := testbed.New(testbed.Options{Hierarchical: true, Lifetime: 300 * time.Second, LogDir: dir,
		AdvInterval: handoffAdvInterval,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		if errors.Is(err, testbed.ErrNotRoot) {
			return res, ErrNotRoot
		}
		return res, err
	}
	defer func() { err = errors.Join(err, bed.Close()) }()
	conf := filepath.Join(dir, "conf")
	if err := bed.WriteConfigs(conf); err != nil {
		return res, err
	}
	daemons, err := bed.StartAgents(opts.BinDir, conf)
	if err != nil {
		return res, err
	}
	ping, err := bed.StartPingerEvery(testbed.CN, testbed.HomeAddr, opts.PingInterval)
	if err != nil {
		return res, err
	}
	start := time.Now()
	if _, err := ping.WaitReply(start, 20*time.Second); err != nil {
		return res, fmt.Errorf("the mobile at home: %w", err)
	}
	time.Sleep(opts.Dwell)

	route := []string{testbed.AtFA1}
	for i := range opts.LocalMoves {
		route = append(route, []string{testbed.AtFA2, testbed.AtFA1}[i%2])
	}
	route = append(route, testbed.AtColocated, testbed.AtFA1, testbed.AtHome)
	admin := bed.AdminSocket(testbed.HA)
	mn := daemons[testbed.MN]
	for _, to := range route {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		m := Move{From: bed.Where(), To: to}
		before, err := counter(admin, "requests")
		if err != nil {
			return res, err
		}
		m.At = time.Now()
		if err := bed.Move(to); err != nil {
			return res, err
		}
		r, err := ping.WaitReply(m.At, 20*time.Second)
		if err != nil {
			return res, fmt.Errorf("moved %s -> %s: %w", m.From, to, err)
		}
		m.Answered = r.Received
		if to == testbed.AtFA1 || to == testbed.AtFA2 {
			deadline := time.Now().Add(10 * time.Second)
			for {
				var ok bool
				if m.Heard, m.Registered, m.Local, ok = mobileHandoff(mn.Output(), m.At); ok {
					break
				}
				if time.Now().After(deadline) {
					return res, fmt.Errorf("moved %s -> %s: the mobile logged no registration", m.From, to)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		// A random part of the stay spreads the moves over the phase of
		// the agents' advertisements, which the time to notice a move
		// depends on.
		if rest := opts.Dwell + rand.N(handoffAdvInterval) - time.Since(m.At); rest > 0 {
			time.Sleep(rest)
		}
		after, err := counter(admin, "requests")
		if err != nil {
			return res, err
		}
		m.HARequests = after - before
		opts.Log.Info("move", "from", m.From, "to", m.To, "local", m.Local, "gap", m.Gap(), "answered_after", m.Answered.Sub(m.At), "ha_requests", m.HARequests)
		res.Moves = append(res.Moves, m)
	}
	time.Sleep(testbed.PingWait)
	for i := range res.Moves {
		end := time.Now()
		if i+1 < len(res.Moves) {
			end = res.Moves[i+1].At
		}
		st := ping.Stats(res.Moves[i].At, end)
		res.Moves[i].Lost, res.Moves[i].Sent = st.Lost, st.Sent
	}
	res.Plot = roamingPlot(ping.Results(), res.Moves, start, opts.PingInterval)
	res.Figures = handoffFigures(res.Moves, opts)
	return res, nil
}

// roamingPlot draws the pings and the moves.
func roamingPlot(pings []testbed.PingResult, moves []Move, start time.Time, interval time.Duration) Plot {
	p := Plot{Width: 1000, Title: fmt.Sprintf("Ping from cn to the mobile's home address every %v on the hierarchical testbed", interval)}
	for _, r := range pings {
		if r.Sent.IsZero() {
			continue
		}
		pt := PlotPoint{X: r.Sent.Sub(start).Seconds(), Lost: !r.Replied}
		if r.Replied {
			pt.Y = float64(r.RTT) / float64(time.Millisecond)
		}
		p.Points = append(p.Points, pt)
	}
	for _, m := range moves {
		p.Marks = append(p.Marks, PlotMark{X: m.At.Sub(start).Seconds(), Label: m.Label()})
	}
	return p
}

// handoffFigures sums the moves up: local moves against full ones (those
// that reached the home agent through a foreign agent).
func handoffFigures(moves []Move, opts HandoffOptions) []Figure {
	var local, full []Move
	for _, m := range moves {
		switch {
		case m.Heard.IsZero():
		case m.Local:
			local = append(local, m)
		default:
			full = append(full, m)
		}
	}
	gaps := func(ms []Move) []float64 {
		var v []float64
		for _, m := range ms {
			v = append(v, float64(m.Gap().Microseconds())/1000)
		}
		return v
	}
	lost := func(ms []Move) []float64 {
		var v []float64
		for _, m := range ms {
			v = append(v, float64(m.Lost))
		}
		return v
	}
	var haLocal, haFull uint64
	for _, m := range local {
		haLocal += m.HARequests
	}
	for _, m := range full {
		haFull += m.HARequests
	}
	rate := fmt.Sprintf("%.0f pings a second", float64(time.Second)/float64(opts.PingInterval))
	lg, fg := gaps(local), gaps(full)
	figs := []Figure{
		Figure{Section: SectionHandoff, Key: "handoff.local.gap", Name: "local move: advertisement heard -> reply (median)",
			Value: round2(median(lg)), Unit: "ms",
			Note: fmt.Sprintf("%d moves fa1 <-> fa2 answered by gfa: %s ms; baseline: %d moves that reached the home agent: %s ms",
				len(local), list(lg), len(full), list(fg))}.
			WithBaseline("full move", round2(median(fg))).WithTargets(AtMost(5)),
		Figure{Section: SectionHandoff, Key: "handoff.local.gap.max", Name: "local move: advertisement heard -> reply (max)",
			Value: round2(slices.Max(append(lg, 0))), Unit: "ms"}.WithBaseline("full move", round2(slices.Max(append(fg, 0)))),
		Figure{Section: SectionHandoff, Key: "handoff.local.lost", Name: "local move: pings lost (median)",
			Value: median(lost(local)), Unit: "pings",
			Note: fmt.Sprintf("%s; local moves: %s; full moves: %s", rate, list(lost(local)), list(lost(full)))}.
			WithBaseline("full move", median(lost(full))),
		Figure{Section: SectionHandoff, Key: "handoff.local.ha_requests", Name: "local moves: requests at the home agent",
			Value: float64(haLocal), Unit: "",
			Note: fmt.Sprintf("the home agent's requests counter over %d local moves; over the %d full moves: %d", len(local), len(full), haFull)}.
			WithBaseline("full moves", float64(haFull)).WithTargets(AtMost(0)),
	}
	return figs
}

// mobileHandoff finds in dynmnd's log the first "moved to a foreign agent"
// logged at or after since (it heard a new agent) and the first
// "registered" after that, and whether that registration was local.
func mobileHandoff(out string, since time.Time) (heard, registered time.Time, local, ok bool) {
	since = since.Truncate(time.Millisecond)
	for _, s := range strings.Split(out, "\n") {
		m := logLineRE.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			continue
		}
		msg := strings.Trim(m[2], `"`)
		switch {
		case heard.IsZero():
			if msg == "moved to a foreign agent" && !at.Before(since) {
				heard = at
			}
		case msg == "registered":
			return heard, at, strings.Contains(m[3], " local=true"), true
		}
	}
	return heard, time.Time{}, false, false
}

var logLineRE = regexp.MustCompile(`^time=(\S+) level=\S+ (?:source=\S+ )?msg=("(?:[^"\\]|\\.)*"|\S+)(.*)$`)

// counter reads one counter of an agent's get_status.
func counter(socket, name string) (uint64, error) {
	c, err := api.Dial(socket)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	st, err := c.GetStatus(5 * time.Second)
	if err != nil {
		return 0, err
	}
	for _, ct := range st.Counters {
		if ct.Name == name {
			return ct.Value, nil
		}
	}
	return 0, fmt.Errorf("%s reports no counter %q", socket, name)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func list(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = num(x)
	}
	return strings.Join(parts, " ")
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }
