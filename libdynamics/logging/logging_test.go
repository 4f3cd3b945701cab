package logging

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestForeground(t *testing.T) {
	var buf bytes.Buffer
	logger, closer, err := New(Options{Daemon: "dynhad", Foreground: true, Writer: &buf})
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	logger.Debug("hidden")
	logger.Info("registration accepted", KeyHome, "10.1.0.10", KeyCode, 0)
	logger.Log(t.Context(), LevelNotice, "binding added", KeyHome, "10.1.0.10")
	logger.Log(t.Context(), LevelCritical, "kernel gone")
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	want := []string{
		`^time=\S+ level=INFO msg="registration accepted" home=10\.1\.0\.10 code=0$`,
		`^time=\S+ level=NOTICE msg="binding added" home=10\.1\.0\.10$`,
		`^time=\S+ level=CRITICAL msg="kernel gone"$`,
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, re := range want {
		if !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Errorf("line %d: %q does not match %s", i+1, lines[i], re)
		}
	}
}

func TestForegroundDebug(t *testing.T) {
	var buf bytes.Buffer
	logger, _, err := New(Options{Foreground: true, Debug: true, Writer: &buf})
	if err != nil {
		t.Fatal(err)
	}
	logger.Debug("packet", "len", 24)
	re := regexp.MustCompile(`^time=\S+ level=DEBUG source=logging/logging_test\.go:\d+ msg=packet len=24\n$`)
	if !re.MatchString(buf.String()) {
		t.Errorf("got %q", buf.String())
	}
}

func TestNewBadFacility(t *testing.T) {
	for _, fg := range []bool{true, false} {
		_, _, err := New(Options{Foreground: fg, Facility: "local9", Writer: &bytes.Buffer{}})
		if !errors.Is(err, ErrFacility) {
			t.Errorf("foreground %v: got %v, want ErrFacility", fg, err)
		}
	}
}

// listen opens a Unix datagram socket standing in for syslogd.
func listen(t *testing.T) (*net.UnixConn, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, path
}

func receive(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no syslog message: %v", err)
	}
	return string(buf[:n])
}

func TestSyslog(t *testing.T) {
	conn, path := listen(t)
	logger, closer, err := New(Options{
		Daemon: "dynhad", Facility: "local3", SyslogNetwork: "unixgram", SyslogAddr: path,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()

	logger.Debug("not at info level")
	logger.Warn("reply lost", KeyHome, "10.1.0.10", KeyFA, "10.2.0.1", KeyCode, 71)
	logger.Info("binding added", KeyHome, "10.1.0.10")

	pid := os.Getpid()
	// <PRI> is facility*8 + severity: local3 is 19, warning 4, info 6.
	for _, want := range []struct {
		pri  int
		text string
	}{
		{19*8 + 4, "reply lost home=10.1.0.10 fa=10.2.0.1 code=71"},
		{19*8 + 6, "binding added home=10.1.0.10"},
	} {
		got := receive(t, conn)
		re := regexp.MustCompile(fmt.Sprintf(`^<%d>[^<>]+ dynhad\[%d\]: %s\n$`, want.pri, pid, regexp.QuoteMeta(want.text)))
		if !re.MatchString(got) {
			t.Errorf("got %q, want <%d>... dynhad[%d]: %s", got, want.pri, pid, want.text)
		}
	}
}

func TestSyslogDefaultFacility(t *testing.T) {
	conn, path := listen(t)
	logger, closer, err := New(Options{Daemon: "dynfad", Debug: true, SyslogNetwork: "unixgram", SyslogAddr: path})
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	logger.Debug("advertisement sent", KeyIface, "eth1")
	got := receive(t, conn)
	// local0 is 16, debug 7.
	re := regexp.MustCompile(fmt.Sprintf(`^<%d>[^<>]+ dynfad\[%d\]: advertisement sent source=logging/logging_test\.go:\d+ iface=eth1\n$`,
		16*8+7, os.Getpid()))
	if !re.MatchString(got) {
		t.Errorf("got %q", got)
	}
}

func TestSyslogUnreachableFallsBack(t *testing.T) {
	var buf bytes.Buffer
	logger, closer, err := New(Options{
		Daemon: "dynmnd", SyslogNetwork: "unixgram", SyslogAddr: filepath.Join(t.TempDir(), "absent.sock"), Writer: &buf,
	})
	if err != nil {
		t.Fatalf("New failed instead of falling back: %v", err)
	}
	defer closer.Close()
	logger.Info("moved", KeyFA, "10.3.0.1")
	out := buf.String()
	if !regexp.MustCompile(`(?m)^time=\S+ level=WARN msg="syslog unreachable, logging to stderr instead" err=".*absent\.sock.*"$`).MatchString(out) {
		t.Errorf("no fallback warning in %q", out)
	}
	if !regexp.MustCompile(`(?m)^time=\S+ level=INFO msg=moved fa=10\.3\.0\.1$`).MatchString(out) {
		t.Errorf("record not logged to the fallback: %q", out)
	}
}
