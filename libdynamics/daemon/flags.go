package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/dynamics-go/dynamics/libdynamics/version"
)

// Flags are the command-line options every daemon takes.
type Flags struct {
	Config     string // -c FILE
	Foreground bool   // --fg: stay in the foreground, log to stderr
	Debug      bool   // --debug: message-level detail
	Version    bool   // --version: print the version and exit
}

// ErrHelp is returned by ParseFlags when -h or --help was given; the usage
// has been printed.
var ErrHelp = flag.ErrHelp

// ParseFlags parses args (without the program name) for the named daemon.
// Long options take one or two dashes, as Go's flag package allows.
func ParseFlags(name string, args []string, stderr io.Writer) (Flags, error) {
	var f Flags
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.Config, "c", "/etc/dynamics/"+name+".conf", "configuration `file`")
	fs.BoolVar(&f.Foreground, "fg", false, "run in the foreground and log to stderr")
	fs.BoolVar(&f.Debug, "debug", false, "log message-level detail")
	fs.BoolVar(&f.Version, "version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [-c FILE] [--fg] [--debug] [--version]\n", name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return f, fmt.Errorf("%s: unexpected argument %q", name, fs.Arg(0))
	}
	return f, nil
}

// VersionString is what --version prints.
func VersionString(name string) string {
	return fmt.Sprintf("%s (Dynamics in Go) %s", name, version.Version)
}

// Signals returns a context cancelled on SIGTERM or SIGINT and a channel
// that receives on SIGHUP. stop releases the signal handlers.
func Signals(parent context.Context) (ctx context.Context, hup <-chan os.Signal, stop func()) {
	ctx, cancel := signal.NotifyContext(parent, syscall.SIGTERM, syscall.SIGINT)
	h := make(chan os.Signal, 1)
	signal.Notify(h, syscall.SIGHUP)
	return ctx, h, func() { signal.Stop(h); cancel() }
}

// ExitCode maps an error from a daemon's main to its exit status: 0 for
// nil, 2 for a usage or configuration error, 1 otherwise.
func ExitCode(err error) int {
	var cfg interface{ ConfigError() bool }
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &cfg) && cfg.ConfigError():
		return 2
	}
	return 1
}
