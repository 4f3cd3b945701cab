package daemon

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/api"
)

type statusBackend struct{}

func (statusBackend) GetStatus(context.Context) (api.Status, error) {
	return api.Status{Agent: "ha"}, nil
}

// ServeAPI opens the admin socket 0600 and the monitor socket 0666, both
// answering, and stop removes them; an empty path leaves a socket off; a
// socket that cannot be opened is an error naming its label.
func TestServeAPI(t *testing.T) {
	dir := t.TempDir()
	admin, monitor := filepath.Join(dir, "a.sock"), filepath.Join(dir, "m.sock")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	stop, err := ServeAPI(context.Background(), statusBackend{}, admin, monitor, log)
	if err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]fs.FileMode{admin: 0o600, monitor: 0o666} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, %v; want mode %v", path, fi.Mode(), err, mode)
			continue
		}
		c, err := api.Dial(path)
		if err != nil {
			t.Fatal(err)
		}
		if s, err := c.GetStatus(5 * time.Second); err != nil || s.Agent != "ha" {
			t.Errorf("%s: status %+v, %v", path, s, err)
		}
		c.Close()
	}
	stop()
	for _, path := range []string{admin, monitor} {
		if _, err := os.Stat(path); err == nil {
			t.Errorf("%s left behind", path)
		}
	}

	stop, err = ServeAPI(context.Background(), statusBackend{}, "", monitor, log)
	if err != nil {
		t.Fatal(err)
	}
	stop()

	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ServeAPI(context.Background(), statusBackend{}, admin, filepath.Join(blocker, "m.sock"), log); err == nil ||
		!strings.HasPrefix(err.Error(), "MonitorSocket: ") {
		t.Errorf("a monitor socket under a file: %v, want an error naming MonitorSocket", err)
	}
	if _, err := os.Stat(admin); err == nil {
		t.Error("the admin socket stayed after the monitor socket failed")
	}
}
