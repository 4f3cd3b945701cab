// Command dynbench measures the suite: home agent registration throughput,
// handoff gaps, the tunnel data path and the binding table's scale, each
// against a baseline taken in the same run. It prints a table (figure,
// value, baseline, ratio, target, met?) and writes the same figures as
// JSON. See docs/PERFORMANCE.md for the figures and package perf for how
// each is taken.
//
//	dynbench [-only registration,protected,handoff,datapath,tables] [-quick] [-json FILE | -out DIR] [-plot FILE]
//
// The sections that build network namespaces need root; without it they
// are skipped, and the table and JSON say so.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/dynamics-go/dynamics/internal/perf"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // a section failed
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command line.
type options struct {
	only     []string
	quick    bool
	netns    bool
	jsonPath string
	outDir   string
	plotPath string
	binDir   string
	verbose  bool
	keep     string
	debug    bool

	mobiles  int
	careOfs  int
	deployed int
	duration time.Duration
	window   int
	batch    int

	echoServer string
	echoBatch  int
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("dynbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	only := fs.String("only", strings.Join(perf.Sections, ","), "comma-separated `sections` to run: "+strings.Join(perf.Sections, ", "))
	fs.BoolVar(&o.quick, "quick", false, "a short run with small numbers (for tests; the figures mean little)")
	fs.BoolVar(&o.netns, "netns", true, "run the parts that build network namespaces (root); false runs only the in-process parts")
	fs.StringVar(&o.jsonPath, "json", "", "write the figures as JSON to `file` (default bench.json in the -out directory)")
	fs.StringVar(&o.outDir, "out", ".", "`directory` for bench.json")
	fs.StringVar(&o.plotPath, "plot", "", "run a roaming run on the testbed and draw its pings as SVG into `file` (root)")
	fs.StringVar(&o.binDir, "bin", "", "`directory` of the daemons (default: dynbench's own directory)")
	fs.BoolVar(&o.verbose, "v", false, "log progress to stderr")
	fs.StringVar(&o.keep, "keep", "", "keep the daemons' configuration and logs in `directory`")
	fs.BoolVar(&o.debug, "debug", false, "run the daemons with --debug (slower; for looking into a figure)")
	fs.IntVar(&o.mobiles, "mobiles", 0, "simulated mobiles (default 10000; 500 with -quick)")
	fs.IntVar(&o.careOfs, "careofs", 0, "care-of addresses the mobiles are spread over (default 100; 10 with -quick)")
	fs.IntVar(&o.deployed, "deployed", 0, "mobiles of the first-registration run as deployed, with state file and gratuitous ARPs (default 200; 20 with -quick)")
	fs.DurationVar(&o.duration, "duration", 0, "length of each re-registration run (default 10s; 300ms with -quick)")
	fs.IntVar(&o.window, "window", 0, "outstanding registration requests (default 256)")
	fs.IntVar(&o.batch, "batch", 0, "datagrams per system call in the load generator (default 64)")
	fs.StringVar(&o.echoServer, "echo-server", "", "internal: serve the echo baseline on `addr:port`")
	fs.IntVar(&o.echoBatch, "echo-batch", perf.EchoBatch, "internal: the echo server's batch")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dynbench [-only SECTIONS] [-quick] [-json FILE | -out DIR] [-plot FILE] [-v]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return o, fmt.Errorf("dynbench: unexpected argument %q", fs.Arg(0))
	}
	for _, s := range strings.Split(*only, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(perf.Sections, s) {
			return o, fmt.Errorf("dynbench: -only: unknown section %q (want %s)", s, strings.Join(perf.Sections, ", "))
		}
		if !slices.Contains(o.only, s) {
			o.only = append(o.only, s)
		}
	}
	if o.jsonPath == "" {
		o.jsonPath = filepath.Join(o.outDir, "bench.json")
	}
	if o.quick {
		o.mobiles = or(o.mobiles, 500)
		o.careOfs = or(o.careOfs, 10)
		o.deployed = or(o.deployed, 20)
		o.duration = or(o.duration, 300*time.Millisecond)
	}
	return o, nil
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func run(ctx context.Context, argv []string, stdout, stderr io.Writer) int {
	o, err := parse(argv[1:], stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	if o.echoServer != "" {
		if err := perf.ServeEcho(ctx, o.echoServer, o.echoBatch, stdout); err != nil {
			fmt.Fprintln(stderr, "dynbench: echo server:", err)
			return exitFail
		}
		return exitOK
	}
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	b := &bench{opts: o, argv: argv, log: log, stdout: stdout, stderr: stderr}
	rep, failed := b.run(ctx)
	if err := rep.WriteTable(stdout); err != nil {
		fmt.Fprintln(stderr, "dynbench:", err)
		return exitFail
	}
	if err := rep.WriteJSONFile(o.jsonPath); err != nil {
		fmt.Fprintln(stderr, "dynbench:", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "\nfigures written to %s\n", o.jsonPath)
	if failed {
		return exitFail
	}
	return exitOK
}
