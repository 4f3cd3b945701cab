package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/api"
	"github.com/dynamics-go/dynamics/tools/internal/clitest"
)

// syncBuffer is an output written by one goroutine and read by another.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitFor waits until cond holds, failing the test after a few seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func haTool() *Tool {
	return &Tool{Name: "dynha_tool", Agent: "ha", Daemon: "dynhad", Prompt: "dynha> ", About: "test",
		Commands: []Command{List("ha"), Show(), Destroy(), Status(true)}}
}

func mnTool() *Tool {
	return &Tool{Name: "dynmn_tool", Agent: "mn", Daemon: "dynmnd", Prompt: "dynmn> ", About: "test",
		Commands: []Command{Status(true), MobileCareOf(), Connect(), Confirm(), Tunnel(true)}}
}

func runTool(t *Tool, stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errb strings.Builder
	code = t.Run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"2", 2 * time.Second, false},
		{"0.5", 500 * time.Millisecond, false},
		{"500ms", 500 * time.Millisecond, false},
		{"1m", time.Minute, false},
		{"0", 0, true},
		{"-1", 0, true},
		{"-2s", 0, true},
		{"soon", 0, true},
		{"NaN", 0, true},
		{"Inf", 0, true},
		{"1e300", 0, true},
		{"25h", 0, true},
		{"", 0, true},
	} {
		got, err := parseDuration(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		msg  string
	}{
		{nil, ExitOK, ""},
		{&usageError{"usage: list [interval]"}, ExitUsage, "usage: list [interval]"},
		{&api.Error{Code: api.NotAvailable}, ExitAgent, "not available"},
		{withContext(api.ErrNotAvailable, noTunnel(mustAddr("10.1.0.99"))), ExitAgent, "not available: 10.1.0.99 has no tunnel"},
		{withContext(&api.Error{Code: api.NotAvailable, Message: "no binding"}, noTunnel(mustAddr("10.1.0.99"))), ExitAgent, "not available: no binding"},
		{withContext(api.ErrNotPermitted, noTunnel(mustAddr("10.1.0.99"))), ExitAgent, "not permitted"},
		{&api.Error{Code: api.Denied, Message: "home agent: 131 mobile node failed authentication"}, ExitAgent,
			"registration denied: home agent: 131 mobile node failed authentication"},
		{&api.Error{Code: api.Timeout, Message: "no reply from the home agent"}, ExitTimeout, "timeout: no reply from the home agent"},
		{&api.Error{Code: -99}, ExitAgent, "error -99"},
		{&timeoutError{daemon: "dynmnd", timeout: time.Second}, ExitTimeout, "timeout: dynmnd did not answer within 1s"},
		{&unreachableError{daemon: "dynfad", path: "/x.sock", err: &net.OpError{Op: "dial", Net: "unix",
			Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}, ExitUnreachable,
			"agent unreachable: is dynfad running? socket /x.sock (connect: connection refused)"},
		{&unreachableError{daemon: "dynfad", path: "/x.sock", lost: true, err: io.EOF}, ExitUnreachable,
			"agent unreachable: lost the connection to dynfad on socket /x.sock (EOF)"},
		{errInterrupted, ExitAgent, "interrupted"},
		{errors.New("undecodable get_status reply: short"), ExitAgent, "undecodable get_status reply: short"},
	} {
		code, msg := classify(tc.err)
		if code != tc.code || msg != tc.msg {
			t.Errorf("classify(%v) = %d %q, want %d %q", tc.err, code, msg, tc.code, tc.msg)
		}
	}
}

// Refreshing prints a block per interval until the context ends, which
// ends the command successfully.
func TestRefreshUntilCancelled(t *testing.T) {
	for _, jsonOut := range []bool{false, true} {
		t.Run(fmt.Sprint("json=", jsonOut), func(t *testing.T) {
			a := clitest.Start(t, "ha")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var out, errb syncBuffer
			args := []string{"-p", a.Admin, "status", "0.02"}
			if jsonOut {
				args = append([]string{"-json"}, args...)
			}
			done := make(chan int)
			go func() { done <- haTool().Run(ctx, args, strings.NewReader(""), &out, &errb) }()
			waitFor(t, "three results", func() bool { return a.StatusCalls() >= 3 })
			cancel()
			select {
			case code := <-done:
				if code != ExitOK {
					t.Fatalf("exit %d, stderr %q", code, errb.String())
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the refresh did not stop")
			}
			got := out.String()
			if jsonOut {
				lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
				if len(lines) < 2 || !strings.Contains(lines[0], `"requests":42`) || !strings.Contains(lines[1], `"requests":43`) {
					t.Fatalf("want successive documents with the counter rising:\n%s", got)
				}
				return
			}
			blocks := strings.Split(got, "\n\n== ")
			if len(blocks) < 2 || !strings.HasPrefix(got, "== status every 20ms, ") {
				t.Fatalf("want at least two blocks under headers:\n%s", got)
			}
			if !strings.Contains(blocks[0], "requests   42") || !strings.Contains(blocks[1], "requests   43") {
				t.Fatalf("the blocks do not follow the agent:\n%s", got)
			}
			if strings.Contains(got, "\x1b[") {
				t.Fatalf("screen control sequences without a terminal:\n%q", got)
			}
		})
	}
}

// An error ends a refresh with its exit status.
func TestRefreshStopsOnError(t *testing.T) {
	a := clitest.Start(t, "ha")
	done := make(chan int)
	var out, errb syncBuffer
	go func() {
		done <- haTool().Run(context.Background(), []string{"-p", a.Admin, "show", "10.1.0.10", "0.02"}, nil, &out, &errb)
	}()
	waitFor(t, "a first block", func() bool { return strings.Contains(out.String(), "10.2.0.1") })
	a.SetTunnels(nil)
	select {
	case code := <-done:
		if code != ExitAgent || !strings.Contains(errb.String(), "not available: 10.1.0.10 has no tunnel") {
			t.Fatalf("exit %d, stderr %q", code, errb.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the refresh went on")
	}
}

// SIGINT in a session ends the refresh and returns to the prompt.
func TestInteractiveInterrupt(t *testing.T) {
	a := clitest.Start(t, "mn")
	inR, inW := io.Pipe()
	var out, errb syncBuffer
	done := make(chan int)
	go func() { done <- mnTool().Run(context.Background(), []string{"-p", a.Admin}, inR, &out, &errb) }()
	fmt.Fprintln(inW, "STATUS 0.02")
	waitFor(t, "two blocks", func() bool { return a.StatusCalls() >= 2 && strings.Count(out.String(), "== status") >= 2 })
	// The refresh has SIGINT in hand from before its first block.
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(inW, "careof")
	waitFor(t, "the next command", func() bool { return strings.HasSuffix(out.String(), "10.2.0.1\n") })
	fmt.Fprintln(inW, "quit")
	select {
	case code := <-done:
		if code != ExitOK || errb.String() != "" {
			t.Fatalf("exit %d, stderr %q", code, errb.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("quit did not end the session")
	}
	inW.Close()
}

func TestTimeout(t *testing.T) {
	a := clitest.Start(t, "ha")
	a.Hang()
	start := time.Now()
	code, stdout, stderr := runTool(haTool(), "", "-p", a.Admin, "-t", "100ms", "list")
	if code != ExitTimeout || stdout != "" || stderr != "dynha_tool: timeout: dynhad did not answer within 100ms\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	// In a session the next command dials afresh.
	code, _, stderr = runTool(haTool(), "status\nlist\n", "-p", a.Admin, "-t", "0.05")
	if code != ExitTimeout || strings.Count(stderr, "timeout: dynhad did not answer within 50ms\n") != 2 {
		t.Errorf("session: exit %d, stderr %q", code, stderr)
	}
}

// connect waits without a limit unless -t is given, and is abandoned when
// the context ends; the agent sees its call cancelled.
func TestBlockingCall(t *testing.T) {
	a := clitest.Start(t, "mn")
	a.Hang()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var out, errb syncBuffer
	go func() { done <- mnTool().Run(ctx, []string{"-p", a.Admin, "connect"}, nil, &out, &errb) }()
	waitFor(t, "the connect call", func() bool { return len(a.Calls()) == 1 })
	select {
	case code := <-done:
		t.Fatalf("connect returned %d: %s", code, errb.String())
	case <-time.After(100 * time.Millisecond):
	}
	cancel()
	select {
	case code := <-done:
		if code != ExitAgent || errb.String() != "dynmn_tool: interrupted\n" {
			t.Fatalf("exit %d, stderr %q", code, errb.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("connect was not abandoned")
	}

	code, _, stderr := runTool(mnTool(), "", "-p", a.Admin, "-t", "50ms", "confirm")
	if code != ExitTimeout || !strings.Contains(stderr, "within 50ms") {
		t.Fatalf("confirm -t 50ms: exit %d, %q", code, stderr)
	}
}

// The timeouts of plain and blocking calls, with and without -t.
func TestCallTimeouts(t *testing.T) {
	plain, blocking := List("ha"), Connect()
	for _, tc := range []struct {
		cmd  Command
		opts options
		want time.Duration
	}{
		{plain, options{}, DefaultTimeout},
		{blocking, options{}, 0},
		{plain, options{timeout: time.Second, set: true}, time.Second},
		{blocking, options{timeout: time.Minute, set: true}, time.Minute},
	} {
		s := &Session{opts: tc.opts, cmd: tc.cmd}
		if got := s.timeout(); got != tc.want {
			t.Errorf("%s with %+v: timeout %v, want %v", tc.cmd.Name, tc.opts, got, tc.want)
		}
	}
}

func TestDenied(t *testing.T) {
	a := clitest.Start(t, "mn")
	a.FailConnect(&api.Error{Code: api.Denied, Message: "home agent: 131 mobile node failed authentication"})
	code, _, stderr := runTool(mnTool(), "", "-p", a.Admin, "connect")
	if code != ExitAgent || stderr != "dynmn_tool: registration denied: home agent: 131 mobile node failed authentication\n" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// permissionDial dials like api.Dial, except that the socket admin is
// refused for lack of permission.
func permissionDial(admin string) func(string) (*api.Client, error) {
	return func(path string) (*api.Client, error) {
		if path == admin {
			return nil, fmt.Errorf("%w: socket %s: %w", api.ErrUnreachable, path,
				&net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.EACCES)})
		}
		return api.Dial(path)
	}
}

func TestMonitorFallback(t *testing.T) {
	a := clitest.Start(t, "ha")
	tool := haTool()
	tool.socket = func(agent string, admin bool) string {
		if agent != "ha" {
			t.Errorf("default socket of %q", agent)
		}
		if admin {
			return a.Admin
		}
		return a.Monitor
	}
	tool.dial = permissionDial(a.Admin)
	note := "dynha_tool: no permission for " + a.Admin + "; using the read-only monitor socket " + a.Monitor + "\n"

	// A read-only command falls back and says so.
	code, stdout, stderr := runTool(tool, "", "list")
	if code != ExitOK || !strings.Contains(stdout, "10.1.0.10") || stderr != note {
		t.Errorf("list: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	// A command that changes the agent does not, and says what to do.
	code, stdout, stderr = runTool(tool, "", "destroy", "10.1.0.10")
	want := "dynha_tool: permission denied: socket " + a.Admin + " is " + owner(a.Admin) + "; run as " + ownerName(a.Admin) + "\n"
	if code != ExitUnreachable || stdout != "" || stderr != want {
		t.Errorf("destroy: exit %d, stdout %q, stderr %q\nwant %q", code, stdout, stderr, want)
	}

	// In a session the note comes once.
	code, stdout, stderr = runTool(tool, "list\nstatus\ndestroy 10.1.0.10\nshow 10.1.0.11\n")
	if code != ExitUnreachable || strings.Count(stderr, note) != 1 || !strings.Contains(stdout, "counters:") ||
		!strings.Contains(stdout, "10.3.0.1") || !strings.Contains(stderr, "permission denied") {
		t.Errorf("session: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	// Naming the admin socket with -p: no fallback, a hint.
	code, _, stderr = runTool(tool, "", "-p", a.Admin, "list")
	if code != ExitUnreachable || !strings.HasSuffix(stderr, " or use -p "+a.Monitor+"\n") {
		t.Errorf("-p admin: exit %d, stderr %q", code, stderr)
	}
	if calls := a.Calls(); len(calls) != 4 || strings.Contains(strings.Join(calls, ","), "destroy") {
		t.Errorf("agent served %q", calls)
	}

	// No monitor socket either: the admin socket's error, no hint.
	tool.socket = func(_ string, admin bool) string {
		if admin {
			return a.Admin
		}
		return a.Dir + "/none.sock"
	}
	code, _, stderr = runTool(tool, "", "status")
	if code != ExitUnreachable || !strings.HasPrefix(stderr, "dynha_tool: permission denied: socket "+a.Admin) || strings.Contains(stderr, "-p") {
		t.Errorf("no monitor socket: exit %d, stderr %q", code, stderr)
	}
}

// The same with real file permissions, where they bind.
func TestMonitorFallbackPermissions(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root connects to any socket whatever its mode; TestMonitorFallback covers the logic")
	}
	a := clitest.Start(t, "ha")
	if err := os.Chmod(a.Admin, 0); err != nil {
		t.Fatal(err)
	}
	tool := haTool()
	tool.socket = func(_ string, admin bool) string {
		if admin {
			return a.Admin
		}
		return a.Monitor
	}
	code, stdout, stderr := runTool(tool, "", "list")
	if code != ExitOK || !strings.Contains(stdout, "10.1.0.10") || !strings.Contains(stderr, "using the read-only monitor socket") {
		t.Errorf("list: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, _, stderr = runTool(tool, "", "destroy", "10.1.0.10")
	if code != ExitUnreachable || !strings.Contains(stderr, "permission denied: socket "+a.Admin) {
		t.Errorf("destroy: exit %d, stderr %q", code, stderr)
	}
}

// A socket nobody listens on is refused: unreachable.
func TestRefused(t *testing.T) {
	dir, err := os.MkdirTemp("", "clitest")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "ha.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	code, _, stderr := runTool(haTool(), "", "-p", path, "status")
	if code != ExitUnreachable || stderr != "dynha_tool: agent unreachable: is dynhad running? socket "+path+" (connect: connection refused)\n" {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// rawAgent serves path with answer, which handles each connection.
func rawAgent(t *testing.T, answer func(c net.Conn)) string {
	dir, err := os.MkdirTemp("", "clitest")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ha.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			answer(c)
			c.Close()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		os.RemoveAll(dir)
	})
	return path
}

// An agent that hangs up mid-call is unreachable; one that answers
// nonsense is an error of the agent's.
func TestBrokenAgents(t *testing.T) {
	hangUp := rawAgent(t, func(c net.Conn) { api.ReadRequest(c) })
	code, _, stderr := runTool(haTool(), "", "-p", hangUp, "list")
	if code != ExitUnreachable || !strings.Contains(stderr, "agent unreachable: lost the connection to dynhad on socket "+hangUp) {
		t.Errorf("hang-up: exit %d, stderr %q", code, stderr)
	}

	nonsense := rawAgent(t, func(c net.Conn) {
		for {
			if _, err := api.ReadRequest(c); err != nil {
				return
			}
			b, _ := api.Reply{Code: api.OK, Data: []byte{0xff}}.Marshal()
			c.Write(b)
		}
	})
	code, _, stderr = runTool(haTool(), "", "-p", nonsense, "status")
	if code != ExitAgent || !strings.Contains(stderr, "dynha_tool: undecodable get_status reply") {
		t.Errorf("nonsense: exit %d, stderr %q", code, stderr)
	}
}

func TestModes(t *testing.T) {
	a := clitest.Start(t, "mn")
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
		mode   string
	}{
		{[]string{"tunnel"}, 0, "tunnelling mode: full\n", "", "full"},
		{[]string{"TUNNEL", "Triangle"}, 0, "tunnelling mode set to triangle\n", "", "triangle"},
		{[]string{"tunnel"}, 0, "tunnelling mode: triangle\n", "", "triangle"},
		{[]string{"tunnel", "gre"}, ExitUsage, "", "dynmn_tool: unknown tunnelling mode \"gre\"; usage: tunnel [full|triangle|none]\n", "triangle"},
		{[]string{"tunnel", "none", "now"}, ExitUsage, "", "dynmn_tool: usage: tunnel [full|triangle|none]\n", "triangle"},
		{[]string{"tunnel", "none"}, 0, "tunnelling mode set to none\n", "", "none"},
	} {
		code, stdout, stderr := runTool(mnTool(), "", append([]string{"-p", a.Admin}, tc.args...)...)
		if code != tc.code || stdout != tc.stdout || stderr != tc.stderr || a.Mode() != tc.mode {
			t.Errorf("%q: exit %d, stdout %q, stderr %q, mode %s", tc.args, code, stdout, stderr, a.Mode())
		}
	}
	// Setting the mode is not read-only.
	code, _, stderr := runTool(mnTool(), "", "-p", a.Monitor, "tunnel", "full")
	if code != ExitAgent || !strings.Contains(stderr, "not permitted") || a.Mode() != "none" {
		t.Errorf("monitor socket: exit %d, stderr %q, mode %s", code, stderr, a.Mode())
	}
}

func TestHelp(t *testing.T) {
	code, stdout, _ := runTool(haTool(), "help\nhelp show\nhelp nope\nhelp a b\nquit now\n")
	if code != ExitUsage {
		t.Errorf("exit %d", code)
	}
	lines := strings.Split(stdout, "\n")
	// One line per command.
	n := 0
	for _, l := range lines {
		for _, c := range []string{"help [command]", "quit", "list [interval]", "show <home> [interval]", "destroy <home>", "status [interval]"} {
			if strings.HasPrefix(l, "  "+c+" ") {
				n++
			}
		}
	}
	if n != 6 {
		t.Errorf("%d command lines, want 6:\n%s", n, stdout)
	}
	if !strings.Contains(stdout, "usage: show <home> [interval]\n  show every field") {
		t.Errorf("help show:\n%s", stdout)
	}
}
