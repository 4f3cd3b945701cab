package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/api"
)

// DefaultTimeout is how long a call waits for its answer unless -t says
// otherwise. Blocking calls (connect, confirm) wait without a limit.
const DefaultTimeout = 5 * time.Second

// Tool is one operator tool: its names and its commands. help and quit are
// added by Run.
type Tool struct {
	Name   string // the command's name, "dynha_tool"
	Agent  string // the agent it speaks to: "ha", "fa" or "mn"
	Daemon string // that agent's daemon, "dynhad"
	Prompt string // the interactive prompt, "dynha> "
	About  string // one paragraph on what the tool is for

	Commands []Command

	// Hooks for tests: how a socket is dialled and where the default
	// sockets are. Nil means api.Dial and api.DefaultSocket.
	dial   func(path string) (*api.Client, error)
	socket func(agent string, admin bool) string
}

// Command is one command of a tool.
type Command struct {
	Name  string // lower case; matched without regard to case
	Args  string // the arguments' synopsis, "<home> [interval]"
	Help  string // one line
	Write bool   // changes the agent: needs the admin socket
	// Blocking commands wait for the agent without a time limit unless -t
	// is given.
	Blocking bool
	// Run carries out the command. args are the words after its name.
	Run func(ctx context.Context, s *Session, args []string) error
}

func (c Command) usage() string {
	if c.Args == "" {
		return c.Name
	}
	return c.Name + " " + c.Args
}

// options are a tool's parsed flags.
type options struct {
	path    string        // -p; "" means the default admin socket
	json    bool          // -json
	timeout time.Duration // -t
	set     bool          // -t was given; otherwise the defaults hold
}

// Run carries out one command line of the tool and returns its exit
// status: the command given after the flags, or an interactive session
// reading commands from stdin when there is none.
func (t *Tool) Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	opts, rest, err := t.parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		t.writeUsage(stdout)
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\nRun '%s -h' for usage.\n", t.Name, err, t.Name)
		return ExitUsage
	}
	s := t.newSession(opts, stdout, stderr)
	defer s.close()
	if len(rest) == 0 {
		return s.interactive(ctx, stdin)
	}
	code, _ := s.execute(ctx, rest, false)
	return code
}

func (t *Tool) parseFlags(args []string) (options, []string, error) {
	fs := flag.NewFlagSet(t.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o options
	fs.StringVar(&o.path, "p", "", "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.Func("t", "", func(v string) error {
		d, err := parseDuration(v)
		if err != nil {
			return err
		}
		o.timeout, o.set = d, true
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return o, nil, err
	}
	return o, fs.Args(), nil
}

// parseDuration reads a Go duration ("2s", "500ms") or a number of
// seconds ("2", "0.5"). It must be positive and at most a day.
func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		f, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("%q is not a duration (like 5s, 500ms or 2)", v)
		}
		if f > maxDuration.Seconds() {
			return 0, fmt.Errorf("%q is longer than %v", v, maxDuration)
		}
		d = time.Duration(f * float64(time.Second))
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration", v)
	}
	if d > maxDuration {
		return 0, fmt.Errorf("%q is longer than %v", v, maxDuration)
	}
	return d, nil
}

// maxDuration bounds timeouts and intervals.
const maxDuration = 24 * time.Hour

// lookup finds a command by name, without regard to case.
func (t *Tool) lookup(name string) (Command, bool) {
	for _, c := range t.all() {
		if strings.EqualFold(c.Name, name) {
			return c, true
		}
	}
	return Command{}, false
}

// all is the tool's commands with help and quit first.
func (t *Tool) all() []Command {
	cmds := []Command{
		{Name: "help", Args: "[command]", Help: "list the commands, or show how to use one"},
		{Name: "quit", Help: "end the session"},
	}
	return append(cmds, t.Commands...)
}

// writeCommands lists the commands, one line each.
func (t *Tool) writeCommands(w io.Writer) {
	width := 0
	for _, c := range t.all() {
		width = max(width, len(c.usage()))
	}
	for _, c := range t.all() {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.usage(), c.Help)
	}
}

// writeUsage is the -h text.
func (t *Tool) writeUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s [-p PATH] [-json] [-t DURATION] [command [args]]\n\n%s\n\n", t.Name, t.About)
	fmt.Fprintf(w, `With a command, %s runs it and exits; without one it reads commands
from stdin, at a %q prompt with line editing and history on a terminal.
Command names are matched without regard to case. An interval (seconds,
or a duration like 500ms) repeats a command until interrupted.

Flags:
  -p PATH      the agent's socket (default %s); a read-only
               command falls back to %s
               when the default is not accessible
  -json        print each result as one JSON document
  -t DURATION  how long each call waits for the agent (default %v; connect and
               confirm wait without a limit unless -t is given)
  -h           this help

Commands:
`, t.Name, t.Prompt, t.defaultSocket(true), t.defaultSocket(false), DefaultTimeout)
	t.writeCommands(w)
	fmt.Fprint(w, "\n"+exitStatuses)
}

func (t *Tool) defaultSocket(admin bool) string {
	if t.socket != nil {
		return t.socket(t.Agent, admin)
	}
	return api.DefaultSocket(t.Agent, admin)
}

func (t *Tool) dialSocket(path string) (*api.Client, error) {
	if t.dial != nil {
		return t.dial(path)
	}
	return api.Dial(path)
}
