package logging

import (
	"io"
	"log/slog"
	"log/syslog"
	"os"
)

// Options choose where and how much a daemon logs.
type Options struct {
	// Daemon is the syslog identity ("dynhad"); empty means the program's
	// name.
	Daemon string
	// Foreground logs to Writer as slog text (time, level, message,
	// key=value attributes) instead of to syslog.
	Foreground bool
	// Debug logs debug records too, each with its call site as
	// source=dir/file.go:line.
	Debug bool
	// Facility is the syslog facility name (see ParseFacility); empty
	// means DefaultFacility, local0. It is checked in foreground mode
	// too, so a wrong name is caught whichever way the daemon runs.
	Facility string
	// SyslogNetwork and SyslogAddr name the syslog server, as for
	// syslog.Dial ("udp", "loghost:514"; "unixgram", "/run/x.sock");
	// both empty means the local syslog daemon.
	SyslogNetwork, SyslogAddr string
	// Writer receives foreground output, and background output when
	// syslog cannot be reached; nil means os.Stderr.
	Writer io.Writer
}

// New returns the logger a daemon uses for its whole run, and a Closer
// that releases the syslog connection when the daemon exits.
//
// In the background the logger writes to syslog under the given
// identity, with the process id in the tag ("dynhad[1234]: ..."), each
// record at the severity Severity gives its level and rendered as
// "message key=value ...". If syslog cannot be reached (no /dev/log, say
// in a container), New logs a warning to Writer and logs there instead,
// rather than failing: a daemon should not refuse to run for want of a
// log. The only error New returns is an unknown Facility.
func New(opts Options) (*slog.Logger, io.Closer, error) {
	name := opts.Facility
	if name == "" {
		name = DefaultFacility
	}
	facility, err := ParseFacility(name)
	if err != nil {
		return nil, nil, err
	}
	level := slog.LevelInfo
	if opts.Debug {
		level = slog.LevelDebug
	}
	w := opts.Writer
	if w == nil {
		w = os.Stderr
	}
	if opts.Foreground {
		return slog.New(textHandler(w, level, opts.Debug)), nopCloser{}, nil
	}
	sw, err := syslog.Dial(opts.SyslogNetwork, opts.SyslogAddr, facility|syslog.LOG_INFO, opts.Daemon)
	if err != nil {
		logger := slog.New(textHandler(w, level, opts.Debug))
		logger.Warn("syslog unreachable, logging to stderr instead", KeyErr, err)
		return logger, nopCloser{}, nil
	}
	h := &syslogHandler{w: sw, level: level, addSource: opts.Debug}
	return slog.New(h), sw, nil
}

// textHandler is the foreground handler: slog text with the suite's level
// names and short call sites.
func textHandler(w io.Writer, level slog.Level, addSource bool) slog.Handler {
	return slog.NewTextHandler(w, &slog.HandlerOptions{
		Level:     level,
		AddSource: addSource,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.LevelKey:
				if l, ok := a.Value.Any().(slog.Level); ok {
					return slog.String(slog.LevelKey, levelName(l))
				}
			case slog.SourceKey:
				if src, ok := a.Value.Any().(*slog.Source); ok {
					return slog.String(slog.SourceKey, shortSource(src))
				}
			}
			return a
		},
	})
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
