package testbed

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParsePingLine(t *testing.T) {
	tests := []struct {
		line string
		want pingLine
		ok   bool
	}{
		{"[1795464830.875684] 64 bytes from 10.1.0.10: icmp_seq=1 ttl=63 time=0.103 ms",
			pingLine{kind: "reply", at: time.Unix(1795464830, 875684000), seq: 1, rtt: 103 * time.Microsecond}, true},
		{"[1795464830.875684] 64 bytes from 10.1.0.10: icmp_seq=12 ttl=63 time=1204 ms (DUP!)",
			pingLine{kind: "reply", at: time.Unix(1795464830, 875684000), seq: 12, rtt: 1204 * time.Millisecond, dup: true}, true},
		{"[1795464831.5] no answer yet for icmp_seq=7",
			pingLine{kind: "noanswer", at: time.Unix(1795464831, 500000000), seq: 7}, true},
		{"[1795464832.000001] From 198.51.100.1 icmp_seq=9 Destination Host Unreachable",
			pingLine{kind: "error", at: time.Unix(1795464832, 1000), seq: 9, msg: "Destination Host Unreachable"}, true},
		{"PING 10.1.0.10 (10.1.0.10) 56(84) bytes of data.", pingLine{}, false},
		{"--- 10.1.0.10 ping statistics ---", pingLine{}, false},
		{"[1795464831.5] no answer yet for icmp_seq=0", pingLine{}, false},
	}
	for _, tt := range tests {
		got, ok := parsePingLine(tt.line)
		if ok != tt.ok {
			t.Errorf("%q: ok %v, want %v", tt.line, ok, tt.ok)
			continue
		}
		if ok && (got.kind != tt.want.kind || !got.at.Equal(tt.want.at) || got.seq != tt.want.seq ||
			got.rtt != tt.want.rtt || got.dup != tt.want.dup || got.msg != tt.want.msg) {
			t.Errorf("%q:\n got %+v\nwant %+v", tt.line, got, tt.want)
		}
	}
}

func TestPingerStats(t *testing.T) {
	base := time.Unix(1800000000, 0)
	p := &Pinger{Interval: PingInterval, changed: make(chan struct{}), started: base}
	ms := func(n int) time.Time { return base.Add(time.Duration(n) * time.Millisecond) }
	// Requests leave every 100 ms; replies come an RTT later; "no answer
	// yet" is printed as the next request leaves; request 6 is never
	// mentioned.
	for _, l := range []struct {
		at   time.Time
		text string
	}{
		{ms(1), "64 bytes from 10.1.0.10: icmp_seq=1 ttl=63 time=1.000 ms"},
		{ms(101), "64 bytes from 10.1.0.10: icmp_seq=2 ttl=63 time=1.000 ms"},
		{ms(300), "no answer yet for icmp_seq=3"},
		{ms(400), "no answer yet for icmp_seq=4"},
		{ms(450), "From 10.1.0.254 icmp_seq=5 Destination Host Unreachable"},
		{ms(500), "no answer yet for icmp_seq=5"},
		{ms(602), "64 bytes from 10.1.0.10: icmp_seq=7 ttl=63 time=2.000 ms"},
		{ms(703), "64 bytes from 10.1.0.10: icmp_seq=8 ttl=63 time=3.000 ms"},
	} {
		p.line(stamp(l.at) + " " + l.text)
	}
	res := p.Results()
	if len(res) != 8 {
		t.Fatalf("%d results, want 8: %+v", len(res), res)
	}
	for _, r := range res {
		want := base.Add(time.Duration(r.Seq-1) * PingInterval)
		if d := r.Sent.Sub(want); d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("seq %d sent %v after base, want %v", r.Seq, r.Sent.Sub(base), want.Sub(base))
		}
	}
	if res[4].Error != "Destination Host Unreachable" {
		t.Errorf("seq 5 error %q", res[4].Error)
	}
	now := base.Add(10 * time.Second)
	s := stats(res, time.Time{}, time.Time{}, now, PingInterval)
	want := PingStats{Sent: 8, Received: 4, Lost: 4, Errors: 1, LastRTT: 3 * time.Millisecond,
		LongestOutage: 4 * PingInterval, FirstReply: base}
	if s != want {
		t.Errorf("stats\n got %+v\nwant %+v", s, want)
	}
	// A window from request 3 to request 7 (exclusive).
	s = stats(res, base.Add(2*PingInterval), base.Add(6*PingInterval), now, PingInterval)
	if s.Sent != 4 || s.Lost != 4 || s.Received != 0 {
		t.Errorf("window stats %+v", s)
	}
	// Seen right after request 8 left, 8 is pending, not lost.
	s = stats(res, base.Add(7*PingInterval), time.Time{}, base.Add(7*PingInterval+time.Millisecond), PingInterval)
	if s.Sent != 1 || s.Received != 1 {
		t.Errorf("last window %+v", s)
	}
	s = stats(res, base.Add(5*PingInterval), base.Add(6*PingInterval), base.Add(6*PingInterval), PingInterval)
	if s.Pending != 1 || s.Lost != 0 {
		t.Errorf("young unanswered request should be pending: %+v", s)
	}
	if got := s.String(); !strings.Contains(got, "pending  1") {
		t.Errorf("String() = %q", got)
	}
}

func stamp(t time.Time) string { return fmt.Sprintf("[%d.%06d]", t.Unix(), t.Nanosecond()/1000) }
