package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/dynamics-go/dynamics/libdynamics/api"
)

// Session is one run of a tool: its options, its output and its
// connection to the agent, kept across the commands of an interactive
// session.
type Session struct {
	tool   *Tool
	opts   options
	stdout io.Writer
	stderr io.Writer
	tty    bool // stdout is a terminal

	out io.Writer // where commands print: stdout, or a refresh block

	cmd Command // the command running

	client  *api.Client
	path    string // the socket client is connected to
	monitor bool   // client is the read-only monitor socket reached by fallback
	noted   bool   // the fallback to the monitor socket has been reported
}

func (t *Tool) newSession(o options, stdout, stderr io.Writer) *Session {
	s := &Session{tool: t, opts: o, stdout: stdout, stderr: stderr, out: stdout}
	if f, ok := stdout.(*os.File); ok {
		s.tty = term.IsTerminal(int(f.Fd()))
	}
	return s
}

// close ends the connection, if any.
func (s *Session) close() { s.drop() }

// drop closes the connection; the next call dials again.
func (s *Session) drop() {
	if s.client != nil {
		s.client.Close()
		s.client, s.path, s.monitor = nil, "", false
	}
}

// execute runs one command line (its words) and returns its exit status,
// and whether the session is to end. interactive says whether it is one
// line of a session, where errors are printed without the tool's name and
// SIGINT ends the command but not the session.
func (s *Session) execute(ctx context.Context, words []string, interactive bool) (code int, quit bool) {
	name, args := words[0], words[1:]
	var err error
	switch strings.ToLower(name) {
	case "quit":
		if len(args) > 0 {
			err = &usageError{"usage: quit"}
			break
		}
		return ExitOK, true
	case "help":
		err = s.help(args)
	default:
		cmd, ok := s.tool.lookup(name)
		if !ok {
			err = &usageError{fmt.Sprintf("unknown command %q; type help", name)}
			break
		}
		if interactive {
			var stop context.CancelFunc
			ctx, stop = signal.NotifyContext(ctx, os.Interrupt)
			defer stop()
		}
		s.cmd = cmd
		err = cmd.Run(ctx, s, args)
	}
	code, msg := classify(err)
	if msg != "" {
		if interactive {
			fmt.Fprintln(s.stderr, msg)
		} else {
			fmt.Fprintf(s.stderr, "%s: %s\n", s.tool.Name, msg)
		}
	}
	return code, false
}

// help lists the commands, or shows how to use the one named.
func (s *Session) help(args []string) error {
	switch len(args) {
	case 0:
		fmt.Fprintf(s.stdout, "%s commands:\n", s.tool.Name)
		s.tool.writeCommands(s.stdout)
		fmt.Fprint(s.stdout, "\n"+exitStatuses)
		return nil
	case 1:
		cmd, ok := s.tool.lookup(args[0])
		if !ok {
			return &usageError{fmt.Sprintf("unknown command %q; type help", args[0])}
		}
		fmt.Fprintf(s.stdout, "usage: %s\n  %s\n", cmd.usage(), cmd.Help)
		return nil
	}
	return &usageError{"usage: help [command]"}
}

// timeout is how long the running command's calls wait.
func (s *Session) timeout() time.Duration {
	switch {
	case s.opts.set:
		return s.opts.timeout
	case s.cmd.Blocking:
		return 0
	}
	return DefaultTimeout
}

// connect returns a connection fit for the running command: the -p
// socket, or the default admin socket, or for a read-only command the
// monitor socket when the admin socket is not accessible.
func (s *Session) connect() (*api.Client, error) {
	write := s.cmd.Write
	if s.client != nil && !(write && s.monitor) {
		return s.client, nil
	}
	s.drop()
	admin, monitor := s.tool.defaultSocket(true), s.tool.defaultSocket(false)
	path := s.opts.path
	if path == "" {
		path = admin
	}
	c, err := s.tool.dialSocket(path)
	if err == nil {
		s.client, s.path = c, path
		return c, nil
	}
	perm := errors.Is(err, os.ErrPermission)
	ue := &unreachableError{daemon: s.tool.Daemon, path: path, err: err}
	if !perm || write || path != admin {
		return nil, ue
	}
	ue.monitor = monitor
	if s.opts.path != "" {
		// The user named the admin socket: no quiet fallback.
		return nil, ue
	}
	mc, merr := s.tool.dialSocket(monitor)
	if merr != nil {
		ue.monitor = "" // no use suggesting it
		return nil, ue
	}
	if !s.noted {
		fmt.Fprintf(s.stderr, "%s: no permission for %s; using the read-only monitor socket %s\n", s.tool.Name, admin, monitor)
		s.noted = true
	}
	s.client, s.path, s.monitor = mc, monitor, true
	return mc, nil
}

// call makes one API call with the running command's timeout and returns
// the reply's data. SIGINT (in a session) or a cancelled ctx abandons the
// call, which closes the connection and makes the agent cancel it. An
// error that is not the agent's answer leaves the connection closed, so
// the next call dials again.
func (s *Session) call(ctx context.Context, fn api.Func, params []byte) ([]byte, error) {
	c, err := s.connect()
	if err != nil {
		return nil, err
	}
	cctx, timeout := ctx, s.timeout()
	if timeout > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	data, err := c.Call(cctx, fn, params)
	if err == nil {
		return data, nil
	}
	if ctx.Err() != nil {
		s.drop()
		return nil, errInterrupted
	}
	if cctx.Err() != nil || expired(cctx) && errors.Is(err, api.ErrTimeout) {
		// The client's time ran out (its socket deadline may fire a
		// moment before the context notices).
		s.drop()
		return nil, &timeoutError{daemon: s.tool.Daemon, timeout: timeout}
	}
	var ae *api.Error
	if errors.As(err, &ae) {
		return nil, err // the agent's answer
	}
	path := s.path
	s.drop()
	return nil, &unreachableError{daemon: s.tool.Daemon, path: path, lost: true, err: err}
}

// expired reports whether ctx's deadline has passed.
func expired(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// emit prints one result: v as one JSON document with -json, otherwise
// what human writes.
func (s *Session) emit(v any, human func(w io.Writer)) error {
	if s.opts.json {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = s.out.Write(append(b, '\n'))
		return err
	}
	var buf bytes.Buffer
	human(&buf)
	_, err := s.out.Write(buf.Bytes())
	return err
}

// repeat runs fn once, or with an interval every that often until ctx is
// cancelled or SIGINT comes, which ends the refresh without an error. On a
// terminal each result replaces the last on a cleared screen; elsewhere
// the results follow one another, each under a header line (none with
// -json, where each result is its own document).
func (s *Session) repeat(ctx context.Context, what string, every time.Duration, fn func(ctx context.Context) error) error {
	if every == 0 {
		return fn(ctx)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	defer func() { s.out = s.stdout }()
	for n := 0; ; n++ {
		var block bytes.Buffer
		s.out = &block
		err := fn(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		var head bytes.Buffer
		switch {
		case s.opts.json:
		case s.tty:
			fmt.Fprintf(&head, "\x1b[H\x1b[2J%s\n\n", header(what, every))
		default:
			if n > 0 {
				head.WriteByte('\n')
			}
			fmt.Fprintf(&head, "%s\n", header(what, every))
		}
		s.stdout.Write(append(head.Bytes(), block.Bytes()...))
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func header(what string, every time.Duration) string {
	return fmt.Sprintf("== %s every %v, %s (Ctrl-C stops)", what, every, time.Now().Format("15:04:05"))
}
