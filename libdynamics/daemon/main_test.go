package daemon

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/config"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
)

// testCommand is a daemon whose Serve logs a registration decision and a
// debug line, then reloads its file once.
func testCommand(reloaded *testConf) Command[testConf] {
	return Command[testConf]{
		Name: "dyntestd",
		Role: "test daemon",
		Load: func(path string) (testConf, error) {
			f, err := config.Load(path)
			if err != nil {
				return testConf{}, err
			}
			var c testConf
			return c, config.Decode(f, &c)
		},
		Facility: func(c testConf) string { return c.Facility },
		Serve: func(c testConf, log *slog.Logger, reload func() (testConf, error)) error {
			log.Debug("registration request", logging.KeyHome, "10.1.0.10")
			log.Info("registration accepted", logging.KeyHome, "10.1.0.10", logging.KeyCoA, "10.0.1.2",
				logging.KeyHA, c.Addr, logging.KeyFA, "10.0.1.2", logging.KeyID, 42, logging.KeyCode, 0)
			var err error
			*reloaded, err = reload()
			return err
		},
	}
}

func writeConf(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dyntestd.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// In the background the daemon logs to syslog under its name, with its
// process id and the facility of its configuration, and without debug
// records unless --debug; Serve's reload reads the same file again.
func TestMainSyslog(t *testing.T) {
	sockPath := filepath.Join(t.TempDir(), "log.sock")
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	receive := func() (string, bool) {
		buf := make([]byte, 4096)
		_ = sock.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := sock.Read(buf)
		return string(buf[:n]), err == nil
	}

	conf := writeConf(t, "Addr 10.1.0.1\nIface eth0\nFacility local5\n")
	var reloaded testConf
	var stdout, stderr bytes.Buffer
	code := run(testCommand(&reloaded), []string{"-c", conf}, &stdout, &stderr,
		logging.Options{SyslogNetwork: "unixgram", SyslogAddr: sockPath})
	if code != 0 || stderr.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	got, ok := receive()
	// local5 is facility 21; info is severity 6.
	re := regexp.MustCompile(fmt.Sprintf(`^<%d>.* dyntestd\[%d\]: registration accepted home=10\.1\.0\.10 coa=10\.0\.1\.2 ha=10\.1\.0\.1 fa=10\.0\.1\.2 id=42 code=0\n$`,
		21*8+6, os.Getpid()))
	if !ok || !re.MatchString(got) {
		t.Errorf("syslog got %q, want %s", got, re)
	}
	if extra, ok := receive(); ok {
		t.Errorf("unexpected syslog message %q (debug records without --debug?)", extra)
	}
	if reloaded.Addr.String() != "10.1.0.1" || reloaded.Facility != "local5" {
		t.Errorf("reload read %+v", reloaded)
	}

	// The default facility is local0 (16), and --debug adds debug records
	// with their call site.
	conf = writeConf(t, "Addr 10.1.0.1\nIface eth0\n")
	code = run(testCommand(&reloaded), []string{"-c", conf, "--debug"}, &stdout, &stderr,
		logging.Options{SyslogNetwork: "unixgram", SyslogAddr: sockPath})
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	first, _ := receive()
	second, _ := receive()
	if !regexp.MustCompile(fmt.Sprintf(`^<%d>.* dyntestd\[%d\]: registration request source=daemon/main_test\.go:\d+ home=10\.1\.0\.10\n$`, 16*8+7, os.Getpid())).MatchString(first) ||
		!strings.HasPrefix(second, fmt.Sprintf("<%d>", 16*8+6)) {
		t.Errorf("with --debug got %q and %q", first, second)
	}
}

// --fg logs to stderr as text, --debug adds the debug records.
func TestMainForeground(t *testing.T) {
	conf := writeConf(t, "Addr 10.1.0.1\nIface eth0\n")
	var reloaded testConf
	for _, c := range []struct {
		args  []string
		debug bool
	}{{[]string{"--fg"}, false}, {[]string{"--fg", "--debug"}, true}} {
		var stdout, stderr bytes.Buffer
		if code := Main(testCommand(&reloaded), append([]string{"-c", conf}, c.args...), &stdout, &stderr); code != 0 {
			t.Fatalf("%q: exit %d", c.args, code)
		}
		out := stderr.String()
		if !regexp.MustCompile(`(?m)^time=\S+ level=INFO (source=\S+ )?msg="registration accepted" home=10\.1\.0\.10 coa=10\.0\.1\.2 ha=10\.1\.0\.1 fa=10\.0\.1\.2 id=42 code=0$`).MatchString(out) {
			t.Errorf("%q: stderr %q", c.args, out)
		}
		if got := strings.Contains(out, `msg="registration request"`); got != c.debug {
			t.Errorf("%q: debug record logged %v, want %v:\n%s", c.args, got, c.debug, out)
		}
	}
}
