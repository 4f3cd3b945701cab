package logging

import (
	"context"
	"encoding"
	"fmt"
	"log/slog"
	"log/syslog"
	"path/filepath"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// priorityWriter sends one message at a syslog severity; *syslog.Writer
// is one, with the facility it was dialled with.
type priorityWriter interface {
	Debug(m string) error
	Info(m string) error
	Notice(m string) error
	Warning(m string) error
	Err(m string) error
	Crit(m string) error
}

func writeAt(w priorityWriter, sev syslog.Priority, msg string) error {
	switch sev {
	case syslog.LOG_DEBUG:
		return w.Debug(msg)
	case syslog.LOG_INFO:
		return w.Info(msg)
	case syslog.LOG_NOTICE:
		return w.Notice(msg)
	case syslog.LOG_WARNING:
		return w.Warning(msg)
	case syslog.LOG_ERR:
		return w.Err(msg)
	}
	return w.Crit(msg)
}

// syslogHandler renders a record as "message key=value key=value" and
// sends it at the severity of its level. It leaves out the time and the
// level: syslog records both.
type syslogHandler struct {
	w         priorityWriter
	level     slog.Leveler
	addSource bool
	attrs     []byte // rendered by WithAttrs, each with a leading space
	group     string // key prefix from WithGroup: "a.b."
}

var _ slog.Handler = (*syslogHandler)(nil)

func (h *syslogHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *syslogHandler) Handle(_ context.Context, r slog.Record) error {
	b := make([]byte, 0, 128)
	b = appendMessage(b, r.Message)
	if h.addSource && r.PC != 0 {
		b = appendAttr(b, "", slog.String(slog.SourceKey, sourceOf(r)))
	}
	b = append(b, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		b = appendAttr(b, h.group, a)
		return true
	})
	return writeAt(h.w, Severity(r.Level), string(b))
}

func (h *syslogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	h2 := *h
	h2.attrs = append([]byte(nil), h.attrs...)
	for _, a := range as {
		h2.attrs = appendAttr(h2.attrs, h.group, a)
	}
	return &h2
}

func (h *syslogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.group = h.group + name + "."
	return &h2
}

// sourceOf renders a record's call site as "dir/file.go:line".
func sourceOf(r slog.Record) string {
	src := r.Source()
	if src == nil {
		return ""
	}
	return shortSource(src)
}

func shortSource(src *slog.Source) string {
	dir, file := filepath.Split(src.File)
	return filepath.Join(filepath.Base(dir), file) + ":" + strconv.Itoa(src.Line)
}

// appendMessage writes the message as is unless it holds control
// characters (a line break would split the syslog line), which are then
// escaped inside quotes.
func appendMessage(b []byte, msg string) []byte {
	for _, r := range msg {
		if r < ' ' || r == 0x7f {
			return strconv.AppendQuote(b, msg)
		}
	}
	return append(b, msg...)
}

// appendAttr writes " key=value", flattening groups into dotted keys and
// dropping empty attributes, as slog's text handler does.
func appendAttr(b []byte, group string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return b
	}
	if a.Value.Kind() == slog.KindGroup {
		g := group
		if a.Key != "" {
			g += a.Key + "."
		}
		for _, ga := range a.Value.Group() {
			b = appendAttr(b, g, ga)
		}
		return b
	}
	b = append(b, ' ')
	b = appendString(b, group+a.Key)
	b = append(b, '=')
	return appendString(b, valueText(a.Value))
}

func valueText(v slog.Value) string {
	switch v.Kind() {
	case slog.KindString:
		return v.String()
	case slog.KindTime:
		return v.Time().Format(time.RFC3339Nano)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return x.Error()
		case encoding.TextMarshaler:
			if t, err := x.MarshalText(); err == nil {
				return string(t)
			}
		case []byte:
			return fmt.Sprintf("%x", x)
		}
		return fmt.Sprintf("%+v", v.Any())
	}
	return v.String()
}

// appendString writes s, quoted if it is empty or holds a space, '=',
// '"' or anything unprintable, so that key=value pairs split cleanly.
func appendString(b []byte, s string) []byte {
	if needsQuote(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return true
		}
		if r == ' ' || r == '=' || r == '"' || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}
