package cli

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/dynamics-go/dynamics/tools/internal/clitest"
)

// openPTY returns the two sides of a new pseudo-terminal.
func openPTY(t *testing.T) (control, term *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	control = os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		control.Close()
		t.Skipf("cannot unlock a pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		control.Close()
		t.Skipf("no pseudo-terminal number: %v", err)
	}
	term, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		control.Close()
		t.Skipf("cannot open the pseudo-terminal: %v", err)
	}
	t.Cleanup(func() {
		term.Close()
		control.Close()
	})
	return control, term
}

// On a terminal a session prompts, edits lines, keeps a history, and
// repaints a refresh on a cleared screen.
func TestTerminalSession(t *testing.T) {
	control, tty := openPTY(t)
	a := clitest.Start(t, "ha")
	var screen, errb syncBuffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := control.Read(buf)
			screen.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	done := make(chan int)
	go func() { done <- haTool().Run(context.Background(), []string{"-p", a.Admin}, tty, tty, &errb) }()

	type step struct {
		keys string
		want func(string) bool
		what string
	}
	count := func(s string, n int) func(string) bool {
		return func(out string) bool { return strings.Count(out, s) >= n }
	}
	for _, st := range []step{
		{"", count("dynha> ", 1), "the prompt"},
		// "lsi", two backspaces, "ist": "list".
		{"lsi\x7f\x7fist\r", count("dyn0", 1), "the table"},
		// Up arrow: the last line again.
		{"\x1b[A\r", count("dyn0", 2), "the table from history"},
		{"status 0.02\r", count("\x1b[H\x1b[2J== status every 20ms", 2), "two refreshed screens"},
	} {
		if st.keys != "" {
			if _, err := control.WriteString(st.keys); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, st.what, func() bool { return st.want(screen.String()) })
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the prompt after the refresh", func() bool {
		out := screen.String()
		return strings.HasSuffix(strings.TrimRight(out, " "), "dynha>") || strings.HasSuffix(out, "dynha> ")
	})
	control.WriteString("\x04") // Ctrl-D ends the session.
	select {
	case code := <-done:
		if code != ExitOK || errb.String() != "" {
			t.Fatalf("exit %d, stderr %q", code, errb.String())
		}
	case <-waitTimeout():
		t.Fatalf("Ctrl-D did not end the session; screen:\n%q", screen.String())
	}
	if calls := a.Calls(); len(calls) < 4 || calls[0] != "get_tunnels" || calls[1] != "get_tunnels" || calls[2] != "get_status" {
		t.Errorf("agent served %q", calls)
	}
}
