// Command dyndemo shows Mobile IPv4 at work on the namespace testbed: it
// builds the testbed, starts dynhad, dynfad and dynmnd on it, pings the
// mobile's home address from the correspondent host without pause, and moves
// the mobile home -> fa1 -> fa2 -> home. Each move gets a banner, every
// second a line about the ping, and after each stop the tables the agents
// report through their control API's monitor sockets (the home agent's
// bindings, each foreign agent's visitors, the mobile's connection) and,
// with -kernel, the kernel state the daemons installed on every host; a
// table of lost pings per move closes the run. With -ipsec every
// registration hop (mobile-home agent, foreign agent-home agent, and in the
// hierarchy foreign agent-gfa and gfa-home agent) travels in ESP over IKEv2
// SAs with MOBIKE-X, and the IKE keys are logged beside the configurations
// for Wireshark. Everything is removed at the end, also after Ctrl-C or
// SIGTERM.
//
//	dyndemo [-hier] [-ipsec] [-mode full|triangle|none] [-dwell SECONDS] [-route home,fa1,fa2,home] [-kernel] [-bin DIR] [-logs DIR] [-v]
//
// It needs root (network namespaces), iproute2 and ping, and the daemon
// binaries next to it (`make demo` builds them into bin/ first).
//
// Exit status: 0 when the ping was answered at every stop within ten
// seconds, 1 when it was not or the demo could not run, 2 on a usage error,
// 130 when interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dynamics-go/dynamics/internal/testbed"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFail        = 1
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	// SIGHUP (the terminal went away) and SIGPIPE (`dyndemo | head` done
	// reading) end the run like Ctrl-C, through the teardown, instead of
	// killing the program with the namespaces still there.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command line.
type options struct {
	hier    bool
	ipsec   bool
	mode    string
	dwell   time.Duration
	route   []string
	binDir  string
	logDir  string
	verbose bool
	kernel  bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("dyndemo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.hier, "hier", false, "use the hierarchical testbed (gfa above fa1 and fa2)")
	fs.BoolVar(&o.ipsec, "ipsec", false, "protect the registration signalling of every hop with IPsec (IKEv2, MOBIKE-X, ESP)")
	fs.StringVar(&o.mode, "mode", "full", "the mobile's tunnelling `mode`: full (reverse tunnel), triangle or none")
	dwell := fs.Float64("dwell", 8, "`seconds` to stay at each stop")
	route := fs.String("route", "home,fa1,fa2,home", "comma-separated `stops` among home, fa1, fa2, colocated; the first is the start")
	fs.StringVar(&o.binDir, "bin", "", "`directory` holding dynhad, dynfad and dynmnd (default: the one holding dyndemo)")
	fs.StringVar(&o.logDir, "logs", "", "`directory` for the configurations and daemon logs (default: a new one under $TMPDIR, kept)")
	fs.BoolVar(&o.verbose, "v", false, "also print every testbed step")
	fs.BoolVar(&o.kernel, "kernel", false, "after each stop, also print the kernel state the daemons changed on every host")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dyndemo [-hier] [-ipsec] [-mode full|triangle|none] [-dwell SECONDS] [-route home,fa1,fa2,home] [-kernel] [-bin DIR] [-logs DIR] [-v]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *dwell < 1 || *dwell > 3600 {
		return o, fmt.Errorf("-dwell %v: want 1 to 3600 seconds", *dwell)
	}
	o.dwell = time.Duration(*dwell * float64(time.Second))
	switch o.mode {
	case "full", "triangle", "none":
	default:
		return o, fmt.Errorf("-mode %q: want full, triangle or none", o.mode)
	}
	var err error
	if o.route, err = parseRoute(*route); err != nil {
		return o, err
	}
	return o, nil
}

// parseRoute checks a list of stops.
func parseRoute(s string) ([]string, error) {
	var stops []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch f {
		case testbed.AtHome, testbed.AtFA1, testbed.AtFA2, testbed.AtColocated:
		default:
			return nil, fmt.Errorf("-route: unknown stop %q (want home, fa1, fa2 or colocated)", f)
		}
		if len(stops) > 0 && stops[len(stops)-1] == f {
			return nil, fmt.Errorf("-route: %s twice in a row is no move", f)
		}
		stops = append(stops, f)
	}
	if len(stops) < 2 {
		return nil, errors.New("-route: want at least two stops")
	}
	if stops[0] != testbed.AtHome {
		return nil, errors.New("-route: the mobile starts at home")
	}
	return stops, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "dyndemo: %v\n", err)
		return exitUsage
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "dyndemo: needs root to build network namespaces; run it as root (sudo make demo)")
		return exitFail
	}
	if o.binDir == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "dyndemo: cannot find the daemons: %v; give -bin DIR\n", err)
			return exitFail
		}
		o.binDir = filepath.Dir(exe)
	}
	var missing []string
	for _, d := range []string{testbed.HADaemon, testbed.FADaemon, testbed.MNDaemon} {
		if fi, err := os.Stat(filepath.Join(o.binDir, d)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			missing = append(missing, filepath.Join(o.binDir, d))
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "dyndemo: daemon binary missing: %s\n(run `make build`, or give -bin DIR)\n", strings.Join(missing, ", "))
		return exitFail
	}
	d := &demo{opts: o, out: stdout, errOut: stderr}
	return d.run(ctx)
}
