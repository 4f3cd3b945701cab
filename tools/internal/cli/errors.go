package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/api"
)

// Exit statuses, the same for every tool.
const (
	ExitOK          = 0 // success
	ExitAgent       = 1 // the agent answered with an error
	ExitUsage       = 2 // bad command line, command or arguments
	ExitUnreachable = 3 // no socket, connection refused, no permission
	ExitTimeout     = 4 // the agent did not answer in time
)

// exitStatuses is the paragraph every tool's help ends with.
const exitStatuses = `Exit status: 0 success, 1 the agent answered with an error, 2 usage error,
3 agent unreachable (no socket, refused, no permission), 4 timeout.
`

// usageError is a bad command, argument or flag. Its text is one line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usagef returns a usageError for cmd: the reason (if any) and the
// command's one-line usage.
func usagef(cmd Command, format string, a ...any) error {
	u := "usage: " + cmd.usage()
	if format == "" {
		return &usageError{u}
	}
	return &usageError{fmt.Sprintf(format, a...) + "; " + u}
}

// errInterrupted is returned by a call abandoned on SIGINT.
var errInterrupted = errors.New("interrupted")

// unreachableError is an agent that could not be reached.
type unreachableError struct {
	daemon  string // "dynhad"
	path    string
	monitor string // the monitor socket to suggest on a permission error, or ""
	lost    bool   // the connection broke during a call
	err     error
}

func (e *unreachableError) Error() string {
	if errors.Is(e.err, os.ErrPermission) {
		s := fmt.Sprintf("permission denied: socket %s is %s; run as %s", e.path, owner(e.path), ownerName(e.path))
		if e.monitor != "" {
			s += " or use -p " + e.monitor
		}
		return s
	}
	if e.lost {
		return fmt.Sprintf("agent unreachable: lost the connection to %s on socket %s (%s)", e.daemon, e.path, syscallText(e.err))
	}
	return fmt.Sprintf("agent unreachable: is %s running? socket %s (%s)", e.daemon, e.path, syscallText(e.err))
}

func (e *unreachableError) Unwrap() error { return e.err }

// owner names who owns path: "root's", "alice's", or "not accessible"
// when it cannot be told.
func owner(path string) string {
	n := ownerName(path)
	if n == "its owner" {
		return "not accessible"
	}
	return n + "'s"
}

func ownerName(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "its owner"
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "its owner"
	}
	id := strconv.FormatUint(uint64(st.Uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return "uid " + id
}

// syscallText is the innermost useful text of a dial error:
// "connect: no such file or directory".
func syscallText(err error) string {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Error()
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// timeoutError is a call the agent did not answer in time.
type timeoutError struct {
	daemon  string
	timeout time.Duration
}

func (e *timeoutError) Error() string {
	if e.timeout > 0 {
		return fmt.Sprintf("timeout: %s did not answer within %v", e.daemon, e.timeout)
	}
	return fmt.Sprintf("timeout: %s did not answer in time", e.daemon)
}

// codeText is how a person reads an API return value.
var codeText = map[api.Code]string{
	api.NotPermitted:      "not permitted",
	api.NotAvailable:      "not available",
	api.Failed:            "failed",
	api.Denied:            "registration denied",
	api.Timeout:           "timeout",
	api.InvalidParams:     "invalid parameters",
	api.UndefinedFunction: "not supported by this agent",
	api.TooLong:           "too long",
	api.InProgress:        "in progress",
	api.Cancelled:         "cancelled",
}

// agentText is the text of an error the agent answered with: the return
// value as words, then the agent's message, or fallback when it gave none.
func agentText(e *api.Error, fallback string) string {
	name, ok := codeText[e.Code]
	if !ok {
		name = fmt.Sprintf("error %d", e.Code)
	}
	msg := e.Message
	if msg == "" {
		msg = fallback
	}
	if msg == "" {
		return name
	}
	return name + ": " + msg
}

// contextError adds a command's own words to an agent's answer that has
// no message of its own, e.g. "10.1.0.99 has no tunnel" to not available.
type contextError struct {
	err  error
	text map[api.Code]string
}

func (e *contextError) Error() string { return e.err.Error() }
func (e *contextError) Unwrap() error { return e.err }

// withContext attaches texts to err for the return values named.
func withContext(err error, text map[api.Code]string) error {
	if err == nil {
		return nil
	}
	return &contextError{err, text}
}

// classify turns an error into its exit status and the line to print.
func classify(err error) (int, string) {
	var (
		ue *usageError
		re *unreachableError
		te *timeoutError
		ae *api.Error
		ce *contextError
	)
	switch {
	case err == nil:
		return ExitOK, ""
	case errors.As(err, &ue):
		return ExitUsage, ue.msg
	case errors.As(err, &te):
		return ExitTimeout, te.Error()
	case errors.As(err, &re):
		return ExitUnreachable, re.Error()
	case errors.As(err, &ae):
		fallback := ""
		if errors.As(err, &ce) {
			fallback = ce.text[ae.Code]
		}
		if ae.Code == api.Timeout {
			return ExitTimeout, agentText(ae, fallback)
		}
		return ExitAgent, agentText(ae, fallback)
	case errors.Is(err, errInterrupted):
		return ExitAgent, "interrupted"
	}
	return ExitAgent, err.Error()
}
