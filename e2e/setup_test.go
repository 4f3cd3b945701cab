package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/testbed"
)

func TestMain(m *testing.M) {
	stop := testbed.CloseOnSignal()
	code := m.Run()
	stop()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// requireHost skips the test unless it can build namespaces and run the
// tools the bed and the checks use.
func requireHost(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root to create network namespaces (run `sudo make e2e`)")
	}
	for _, c := range []struct{ cmd, why string }{
		{"ip", "iproute2 builds the testbed"},
		{"sysctl", "the testbed sets forwarding and filters"},
		{"ping", "the ping from cn is what the test watches"},
		{"tcpdump", "captures show where the tunnels run"},
	} {
		if _, err := exec.LookPath(c.cmd); err != nil {
			t.Skipf("skipped: needs %s on PATH (%s)", c.cmd, c.why)
		}
	}
}

// built holds the daemon binaries, built once per test binary.
var built struct {
	once sync.Once
	dir  string
	err  error
}

// daemonNames are the binaries the scenario runs: the daemons and the
// operator tools.
var daemonNames = []string{testbed.HADaemon, testbed.FADaemon, testbed.MNDaemon,
	"dynha_tool", "dynfa_tool", "dynmn_tool", "dynmn_ctl"}

// requireDaemons builds dynhad, dynfad and dynmnd from this module into a
// temporary directory and returns it; it skips the test when they do not
// build.
func requireDaemons(t *testing.T) string {
	t.Helper()
	built.once.Do(func() { built.dir, built.err = buildDaemons() })
	if built.err != nil {
		t.Skipf("skipped: daemons not built yet: %v", built.err)
	}
	return built.dir
}

func buildDaemons() (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", errors.New("the go command is not on PATH")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	list := exec.CommandContext(ctx, goCmd, "list", "-e", "-f", `{{if eq .Name "main"}}{{.ImportPath}}{{end}}`,
		"./ha/...", "./fa/...", "./mn/...", "./tools/...")
	list.Dir = root
	out, err := list.Output()
	if err != nil {
		return "", fmt.Errorf("go list: %v", err)
	}
	found := map[string]string{}
	for _, p := range strings.Fields(string(out)) {
		found[path.Base(p)] = p
	}
	var pkgs, missing []string
	for _, name := range daemonNames {
		if p, ok := found[name]; ok {
			pkgs = append(pkgs, p)
		} else {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("no main package for %s under ha/, fa/, mn/, tools/", strings.Join(missing, ", "))
	}
	dir, err := os.MkdirTemp("", "dyn-e2e-bin-")
	if err != nil {
		return "", err
	}
	build := exec.CommandContext(ctx, goCmd, append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return dir, nil
}

// logger sends the bed's progress to t.Log.
func logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newBed builds a bed removed when the test ends.
func newBed(t *testing.T, hier bool) *testbed.Bed {
	t.Helper()
	bed, err := testbed.New(testbed.Options{Hierarchical: hier, Logger: logger(t), LogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := bed.Close(); err != nil {
			t.Errorf("closing the testbed: %v", err)
		}
	})
	return bed
}

// eventually retries check every 200 ms until it returns nil or timeout
// passes, and returns its last error.
func eventually(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// settlesTo waits up to within for the bed's kernel state to equal base,
// then reports each difference left, prefixed with what.
func settlesTo(t *testing.T, bed *testbed.Bed, base testbed.State, within time.Duration, what string) {
	t.Helper()
	var changes []testbed.Change
	err := eventually(within, func() error {
		st, err := bed.Snapshot()
		if err != nil {
			return err
		}
		if changes = base.Diff(st); len(changes) > 0 {
			return fmt.Errorf("%d differences", len(changes))
		}
		return nil
	})
	if err != nil {
		for _, c := range changes {
			t.Errorf("%s: %s", what, c)
		}
	}
}
