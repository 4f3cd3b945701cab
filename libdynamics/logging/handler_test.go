package logging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"log/syslog"
	"net/netip"
	"regexp"
	"testing"
	"time"
)

// recorder is a priorityWriter that keeps what it was sent.
type recorder struct {
	sev []syslog.Priority
	msg []string
}

func (r *recorder) add(p syslog.Priority, m string) error {
	r.sev = append(r.sev, p)
	r.msg = append(r.msg, m)
	return nil
}
func (r *recorder) Debug(m string) error   { return r.add(syslog.LOG_DEBUG, m) }
func (r *recorder) Info(m string) error    { return r.add(syslog.LOG_INFO, m) }
func (r *recorder) Notice(m string) error  { return r.add(syslog.LOG_NOTICE, m) }
func (r *recorder) Warning(m string) error { return r.add(syslog.LOG_WARNING, m) }
func (r *recorder) Err(m string) error     { return r.add(syslog.LOG_ERR, m) }
func (r *recorder) Crit(m string) error    { return r.add(syslog.LOG_CRIT, m) }

var _ priorityWriter = (*syslog.Writer)(nil)

type lease struct{ home netip.Addr }

func (l lease) LogValue() slog.Value {
	return slog.GroupValue(slog.Any(KeyHome, l.home), slog.Int("ttl", 600))
}

func TestSyslogRendering(t *testing.T) {
	home := netip.MustParseAddr("10.1.0.10")
	tests := []struct {
		name string
		log  func(*slog.Logger)
		want string
	}{
		{"fixed keys", func(l *slog.Logger) {
			l.Info("registration accepted", KeyHome, home, KeyCoA, netip.MustParseAddr("10.2.0.1"),
				KeyID, uint64(0xdeadbeef), KeyCode, 0, KeyIface, "eth0")
		}, "registration accepted home=10.1.0.10 coa=10.2.0.1 id=3735928559 code=0 iface=eth0"},
		{"quoting", func(l *slog.Logger) {
			l.Info("x", "s", "two words", "eq", "a=b", "q", `say "hi"`, "empty", "", "ctl", "a\nb", "bad", "\xff")
		}, `x s="two words" eq="a=b" q="say \"hi\"" empty="" ctl="a\nb" bad="\xff"`},
		{"message with a line break", func(l *slog.Logger) {
			l.Info("two\nlines", "k", 1)
		}, `"two\nlines" k=1`},
		{"message with spaces kept", func(l *slog.Logger) {
			l.Info("a  b = c")
		}, "a  b = c"},
		{"types", func(l *slog.Logger) {
			l.Info("t", "err", errors.New("no route"), "d", 1500*time.Millisecond, "b", true,
				"f", 0.5, "key", []byte{0xde, 0xad}, "when", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
				"st", struct{ A int }{7})
		}, `t err="no route" d=1.5s b=true f=0.5 key=dead when=2024-01-02T03:04:05Z st={A:7}`},
		{"groups", func(l *slog.Logger) {
			l.Info("g", slog.Group("bind", KeyHome, home, slog.Group("x", "y", 1)), slog.Group("empty"))
		}, "g bind.home=10.1.0.10 bind.x.y=1"},
		{"with attrs and group", func(l *slog.Logger) {
			l.With(KeyHA, "10.1.0.1").WithGroup("req").With("n", 1).Info("m", "k", "v")
		}, "m ha=10.1.0.1 req.n=1 req.k=v"},
		{"empty group added nothing", func(l *slog.Logger) {
			l.WithGroup("req").Info("m")
		}, "m"},
		{"log valuer", func(l *slog.Logger) {
			l.Info("lease", "l", lease{home})
		}, "lease l.home=10.1.0.10 l.ttl=600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			tt.log(slog.New(&syslogHandler{w: rec, level: slog.LevelInfo}))
			if len(rec.msg) != 1 || rec.msg[0] != tt.want {
				t.Errorf("got %q\nwant %q", rec.msg, tt.want)
			}
		})
	}
}

func TestSyslogLevels(t *testing.T) {
	rec := &recorder{}
	l := slog.New(&syslogHandler{w: rec, level: slog.LevelInfo})
	l.Debug("dropped")
	l.Info("i")
	l.Log(context.Background(), LevelNotice, "n")
	l.Warn("w")
	l.Error("e")
	l.Log(context.Background(), LevelCritical, "c")
	want := []syslog.Priority{syslog.LOG_INFO, syslog.LOG_NOTICE, syslog.LOG_WARNING, syslog.LOG_ERR, syslog.LOG_CRIT}
	if fmt.Sprint(rec.sev) != fmt.Sprint(want) || fmt.Sprint(rec.msg) != "[i n w e c]" {
		t.Errorf("got %v %q, want %v [i n w e c]", rec.sev, rec.msg, want)
	}
}

func TestSyslogDebugAddsSource(t *testing.T) {
	rec := &recorder{}
	l := slog.New(&syslogHandler{w: rec, level: slog.LevelDebug, addSource: true})
	l.Debug("packet", "len", 24)
	if len(rec.msg) != 1 || rec.sev[0] != syslog.LOG_DEBUG {
		t.Fatalf("got %v %q, want one debug message", rec.sev, rec.msg)
	}
	if !regexp.MustCompile(`^packet source=logging/handler_test\.go:\d+ len=24$`).MatchString(rec.msg[0]) {
		t.Errorf("got %q", rec.msg[0])
	}
}
