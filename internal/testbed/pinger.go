package testbed

import (
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PingInterval is the interval between the echo requests of StartPinger's
// Pinger.
const PingInterval = 100 * time.Millisecond

// PingWait is how long a request may wait for its reply before it counts
// as lost.
const PingWait = time.Second

// PingResult is what became of one echo request.
type PingResult struct {
	Seq      int
	Sent     time.Time     // from the reply's round trip, else estimated to about an interval
	Replied  bool          // a reply arrived (however late)
	Received time.Time     // when the first reply arrived
	RTT      time.Duration // of the first reply
	Dups     int           // duplicate replies
	Error    string        // an ICMP error reported for it ("Destination Host Unreachable")
	rank     int           // how good Sent is: see apply
}

// Ranks of a send time, best last.
const (
	sentFilled    = iota // an interval after the previous request
	sentGuessed          // an interval before "no answer yet", or when an error came
	sentAnnounced        // "no answer yet" for the previous request, printed as this one left
	sentExact            // reply time minus round trip
)

// PingStats summarise the requests sent in a window.
type PingStats struct {
	Sent     int // requests whose fate is known or pending
	Received int
	Lost     int // no reply within PingWait
	Pending  int // sent less than PingWait ago, no reply yet
	Errors   int // requests answered by an ICMP error instead
	LastRTT  time.Duration
	// LongestOutage spans the longest run of consecutive lost requests,
	// from the first one's send time to one interval after the last's.
	LongestOutage time.Duration
	// FirstReply is the send time of the first answered request in the
	// window (zero if none).
	FirstReply time.Time
}

// Pinger runs `ping` in the background and keeps the fate of every request.
type Pinger struct {
	From, To string
	// Interval is the time between requests.
	Interval time.Duration
	proc     *Proc

	mu      sync.Mutex
	res     []PingResult // res[i] is icmp_seq i+1
	changed chan struct{}
	started time.Time
	other   []string // lines not understood
}

// StartPinger runs `ping -n -D -O -i 0.1 -W 1 to` inside from's namespace
// until Stop or Close. Every request's fate is parsed from ping's output.
func (b *Bed) StartPinger(from, to string) (*Pinger, error) {
	return b.StartPingerEvery(from, to, PingInterval)
}

// StartPingerEvery is StartPinger with another interval between requests,
// at least 2ms (what ping allows root), to measure short outages: at 10ms
// each lost request is 10ms without connectivity.
func (b *Bed) StartPingerEvery(from, to string, interval time.Duration) (*Pinger, error) {
	if _, err := exec.LookPath("ping"); err != nil {
		return nil, fmt.Errorf("testbed: %w: ping", ErrMissingCommand)
	}
	if interval < 2*time.Millisecond {
		return nil, fmt.Errorf("testbed: ping interval %v is below 2ms", interval)
	}
	p := &Pinger{From: from, To: to, Interval: interval, changed: make(chan struct{}), started: time.Now()}
	proc, err := b.start(from, &lineWriter{fn: p.line}, "ping", "-n", "-D", "-O",
		"-i", strconv.FormatFloat(interval.Seconds(), 'f', -1, 64),
		"-W", strconv.Itoa(int(PingWait/time.Second)), to)
	if err != nil {
		return nil, err
	}
	p.proc = proc
	return p, nil
}

// Stop ends the ping process.
func (p *Pinger) Stop() error { return p.proc.Stop() }

// Proc returns the ping process.
func (p *Pinger) Proc() *Proc { return p.proc }

var (
	replyRE    = regexp.MustCompile(`^\[(\d+\.\d+)\] \d+ bytes from [^:]+: icmp_seq=(\d+) .*time=([0-9.]+) ms( \(DUP!\))?`)
	noAnswerRE = regexp.MustCompile(`^\[(\d+\.\d+)\] no answer yet for icmp_seq=(\d+)`)
	errorRE    = regexp.MustCompile(`^\[(\d+\.\d+)\] From \S+ icmp_seq=(\d+) (.*)$`)
)

// pingLine is one parsed line of ping's output.
type pingLine struct {
	kind string // "reply", "noanswer", "error"
	at   time.Time
	seq  int
	rtt  time.Duration
	dup  bool
	msg  string
}

func parsePingLine(s string) (pingLine, bool) {
	var m []string
	var l pingLine
	switch {
	case replyRE.MatchString(s):
		m = replyRE.FindStringSubmatch(s)
		l.kind = "reply"
		ms, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return l, false
		}
		l.rtt = time.Duration(ms * float64(time.Millisecond))
		l.dup = m[4] != ""
	case noAnswerRE.MatchString(s):
		m = noAnswerRE.FindStringSubmatch(s)
		l.kind = "noanswer"
	case errorRE.MatchString(s):
		m = errorRE.FindStringSubmatch(s)
		l.kind = "error"
		l.msg = strings.TrimSpace(m[3])
	default:
		return l, false
	}
	sec, frac, _ := strings.Cut(m[1], ".")
	secs, err1 := strconv.ParseInt(sec, 10, 64)
	frac = (frac + "000000000")[:9]
	nsec, err2 := strconv.ParseInt(frac, 10, 64)
	seq, err3 := strconv.Atoi(m[2])
	if err1 != nil || err2 != nil || err3 != nil || seq <= 0 {
		return l, false
	}
	l.at = time.Unix(secs, nsec)
	l.seq = seq
	return l, true
}

// line takes one line of ping's output.
func (p *Pinger) line(s string) {
	l, ok := parsePingLine(s)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !ok {
		if !pingChatter(s) {
			p.other = append(p.other, s)
		}
		return
	}
	p.apply(l)
	close(p.changed)
	p.changed = make(chan struct{})
}

// pingChatter reports lines of ping's output that carry no result: the
// banner and the statistics printed at exit.
func pingChatter(s string) bool {
	return s == "" || strings.HasPrefix(s, "PING ") || strings.HasPrefix(s, "--- ") ||
		strings.Contains(s, "packets transmitted") || strings.HasPrefix(s, "rtt ")
}

// apply records l; p.mu is held.
func (p *Pinger) apply(l pingLine) {
	p.grow(l.seq)
	r := &p.res[l.seq-1]
	switch l.kind {
	case "reply":
		if r.Replied {
			if l.dup {
				r.Dups++
			}
			return
		}
		r.Replied, r.Received, r.RTT = true, l.at, l.rtt
		r.set(l.at.Add(-l.rtt), sentExact)
	case "noanswer":
		// Printed as request seq+1 leaves, about an interval after seq.
		r.set(l.at.Add(-p.Interval), sentGuessed)
		p.grow(l.seq + 1)
		p.res[l.seq].set(l.at, sentAnnounced)
	case "error":
		if r.Error == "" {
			r.Error = l.msg
		}
		r.set(l.at, sentGuessed)
	}
	p.fill()
}

// set takes t as the send time unless a better one is known.
func (r *PingResult) set(t time.Time, rank int) {
	if r.Sent.IsZero() || rank > r.rank {
		r.Sent, r.rank = t, rank
	}
}

// grow makes room for seq; p.mu is held.
func (p *Pinger) grow(seq int) {
	for len(p.res) < seq {
		p.res = append(p.res, PingResult{Seq: len(p.res) + 1})
	}
}

// fill estimates send times that no line has given, an interval after the
// previous request; p.mu is held.
func (p *Pinger) fill() {
	prev := p.started.Add(-p.Interval)
	for i := range p.res {
		p.res[i].set(prev.Add(p.Interval), sentFilled)
		prev = p.res[i].Sent
	}
}

// Results returns a copy of every request's fate so far.
func (p *Pinger) Results() []PingResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]PingResult(nil), p.res...)
}

// Unparsed returns the lines of ping's output that were not understood.
func (p *Pinger) Unparsed() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.other...)
}

// Stats summarises the requests sent in [from, to); a zero bound is open.
// Requests younger than PingWait without a reply count as pending, so call
// it PingWait after to for a final count.
func (p *Pinger) Stats(from, to time.Time) PingStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return stats(p.res, from, to, time.Now(), p.Interval)
}

// Total summarises every request so far.
func (p *Pinger) Total() PingStats { return p.Stats(time.Time{}, time.Time{}) }

func stats(res []PingResult, from, to, now time.Time, interval time.Duration) PingStats {
	var s PingStats
	var runStart, runEnd time.Time
	endRun := func() {
		if !runStart.IsZero() {
			if d := runEnd.Sub(runStart) + interval; d > s.LongestOutage {
				s.LongestOutage = d
			}
		}
		runStart = time.Time{}
	}
	for _, r := range res {
		if (!from.IsZero() && r.Sent.Before(from)) || (!to.IsZero() && !r.Sent.Before(to)) {
			continue
		}
		s.Sent++
		if r.Error != "" && !r.Replied {
			s.Errors++
		}
		switch {
		case r.Replied:
			s.Received++
			s.LastRTT = r.RTT
			if s.FirstReply.IsZero() {
				s.FirstReply = r.Sent
			}
			endRun()
		case now.Sub(r.Sent) <= PingWait:
			s.Pending++
		default:
			s.Lost++
			if runStart.IsZero() {
				runStart = r.Sent
			}
			runEnd = r.Sent
		}
	}
	endRun()
	return s
}

// ErrPingExited is returned by WaitReply when ping is no longer running.
var ErrPingExited = errors.New("testbed: ping exited")

// WaitReply waits up to timeout for a reply to a request sent at or after
// after, and returns that request's result.
func (p *Pinger) WaitReply(after time.Time, timeout time.Duration) (PingResult, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		for _, r := range p.res {
			if r.Replied && !r.Sent.Before(after) {
				p.mu.Unlock()
				return r, nil
			}
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-p.proc.Done():
			return PingResult{}, fmt.Errorf("%w: %s", ErrPingExited, strings.TrimSpace(p.proc.Output()))
		case <-deadline.C:
			return PingResult{}, fmt.Errorf("testbed: no reply from %s to a ping sent after %s within %v",
				p.To, after.Format("15:04:05.000"), timeout)
		}
	}
}

// String formats s as one line: "sent 120  recv 110  lost 9  pending 1  last rtt 0.21 ms".
func (s PingStats) String() string {
	rtt := "-"
	if s.LastRTT > 0 {
		rtt = fmt.Sprintf("%.2f ms", float64(s.LastRTT)/float64(time.Millisecond))
	}
	line := fmt.Sprintf("sent %4d  recv %4d  lost %3d  pending %2d  last rtt %s", s.Sent, s.Received, s.Lost, s.Pending, rtt)
	if s.Errors > 0 {
		line += fmt.Sprintf("  icmp errors %d", s.Errors)
	}
	return line
}
