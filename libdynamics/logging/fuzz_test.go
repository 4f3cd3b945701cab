package logging

import (
	"log/slog"
	"strconv"
	"strings"
	"testing"
)

// FuzzRender checks that a syslog record stays on one line whatever its
// message, key and value, and that key and value read back exactly: as
// written when unquoted, through strconv.Unquote when quoted.
func FuzzRender(f *testing.F) {
	f.Add("registration accepted", KeyHome, "10.1.0.10")
	f.Add("two\nlines", "a key", "x=y")
	f.Add("", "", "")
	f.Add("\x00\x7f", "k\"", "\xff\xfe")
	f.Add("tab\there", "iface", "eth0 \u2028")
	f.Fuzz(func(t *testing.T, msg, key, val string) {
		rec := &recorder{}
		slog.New(&syslogHandler{w: rec, level: slog.LevelInfo}).Info(msg, key, val)
		if len(rec.msg) != 1 {
			t.Fatalf("got %d messages", len(rec.msg))
		}
		out := rec.msg[0]
		if strings.ContainsAny(out, "\n\r") {
			t.Fatalf("record spans lines: %q", out)
		}
		m := string(appendMessage(nil, msg))
		if !strings.HasPrefix(out, m) {
			t.Fatalf("%q does not start with the message %q", out, m)
		}
		if strings.HasPrefix(m, `"`) && m != msg {
			if u, err := strconv.Unquote(m); err != nil || u != msg {
				t.Fatalf("message %q reads back as %q, %v", m, u, err)
			}
		} else if m != msg {
			t.Fatalf("message %q changed to %q", msg, m)
		}
		attr := out[len(m):]
		k, v := string(appendString(nil, key)), string(appendString(nil, val))
		if attr != " "+k+"="+v {
			t.Fatalf("attribute %q, want %q", attr, " "+k+"="+v)
		}
		for _, c := range []struct{ raw, text string }{{key, k}, {val, v}} {
			if c.text == c.raw {
				if needsQuote(c.raw) {
					t.Fatalf("%q written unquoted", c.raw)
				}
				continue
			}
			if u, err := strconv.Unquote(c.text); err != nil || u != c.raw {
				t.Fatalf("%q reads back as %q, %v; want %q", c.text, u, err, c.raw)
			}
		}
	})
}
