package clitest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/api"
)

// Agent is a fake agent serving its admin and monitor sockets.
type Agent struct {
	*Fake
	Admin   string // the admin socket's path
	Monitor string // the monitor socket's path
	Dir     string // the directory holding both
}

// Start serves a fake agent of kind ("ha", "fa" or "mn") on an admin and a
// monitor socket in a new directory, until the test ends.
func Start(t testing.TB, kind string) *Agent {
	t.Helper()
	// Unix socket paths are short (108 bytes): not under t.TempDir(),
	// whose name carries the test's.
	dir, err := os.MkdirTemp("", "clitest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	a := &Agent{Fake: NewFake(kind), Dir: dir,
		Admin: filepath.Join(dir, kind+".sock"), Monitor: filepath.Join(dir, kind+"-monitor.sock")}
	srv := api.NewServer(a.Backend(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	for _, s := range []struct {
		path  string
		mode  os.FileMode
		admin bool
	}{{a.Admin, api.AdminMode, true}, {a.Monitor, api.MonitorMode, false}} {
		ln, err := api.Listen(s.path, s.mode)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		go func() { done <- srv.Serve(ctx, ln, s.admin) }()
	}
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("serving the fake %s: %v", kind, err)
			}
		}
	})
	return a
}
