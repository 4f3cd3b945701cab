package daemon

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/dynamics-go/dynamics/libdynamics/logging"
)

// Command describes one daemon for Main.
type Command[C any] struct {
	Name     string                       // the binary and syslog identity, e.g. "dynhad"
	Role     string                       // what it is, for log lines, e.g. "home agent"
	Load     func(path string) (C, error) // reads and checks the configuration file
	Facility func(C) string               // the configured syslog facility
	// Serve opens the sockets and the kernel, runs until SIGTERM or
	// SIGINT, and removes the daemon's kernel state. reload reads the
	// configuration file given at start-up again, for SIGHUP (see Reload).
	Serve func(cfg C, log *slog.Logger, reload func() (C, error)) error
}

// Main is the body of every daemon's main: it parses the flags, prints the
// version, loads the configuration (printing `file:line: label: message` and
// returning 2 on a broken file), sets up logging and serves. It returns the
// exit status.
func Main[C any](cmd Command[C], args []string, stdout, stderr io.Writer) int {
	return run(cmd, args, stdout, stderr, logging.Options{})
}

// run is Main with the syslog server of logOpts (tests pass a socket of
// their own); the rest of logOpts comes from the flags and configuration.
func run[C any](cmd Command[C], args []string, stdout, stderr io.Writer, logOpts logging.Options) int {
	flags, err := ParseFlags(cmd.Name, args, stderr)
	if err != nil {
		if errors.Is(err, ErrHelp) {
			return 0
		}
		return 2
	}
	if flags.Version {
		fmt.Fprintln(stdout, VersionString(cmd.Name))
		return 0
	}
	cfg, err := cmd.Load(flags.Config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitCode(err)
	}
	logOpts.Daemon = cmd.Name
	logOpts.Foreground = flags.Foreground
	logOpts.Debug = flags.Debug
	logOpts.Facility = cmd.Facility(cfg)
	logOpts.Writer = stderr
	log, closer, err := logging.New(logOpts)
	if err != nil {
		fmt.Fprintf(stderr, "%s: SyslogFacility: %v\n", flags.Config, err)
		return 2
	}
	defer closer.Close()
	reload := func() (C, error) { return cmd.Load(flags.Config) }
	if err := cmd.Serve(cfg, log, reload); err != nil {
		log.Error(cmd.Role+" stopped", logging.KeyErr, err)
		return ExitCode(err)
	}
	return 0
}
