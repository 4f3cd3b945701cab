package api

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestListenModeAndDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "dynamics")
	for _, mode := range []fs.FileMode{AdminMode, MonitorMode} {
		path := filepath.Join(dir, fmt.Sprintf("s%o.sock", mode))
		ln, err := Listen(path, mode)
		if err != nil {
			t.Fatalf("Listen(%s): %v", path, err)
		}
		if got := ln.Addr().String(); got != path {
			t.Errorf("Addr() = %q, want %q", got, path)
		}
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want a socket with %v", path, fi.Mode(), mode)
		}
		ln.Close()
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after Close: %v, want it removed", path, err)
		}
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("socket directory: %v, %v; want mode 0755", fi, err)
	}
	// Only the two sockets' files were ever there: no temporary left.
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left in the socket directory: %v", ents)
	}
}

// A path just short enough for a socket address works although the
// temporary name Listen binds first would not fit.
func TestListenLongPath(t *testing.T) {
	dir, err := os.MkdirTemp("", "apilong")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	name := strings.Repeat("s", maxSocketPath-1-len(dir)-1)
	path := filepath.Join(dir, name)
	if len(path) != maxSocketPath-1 {
		t.Fatalf("path of %d bytes", len(path))
	}
	ln, err := Listen(path, AdminMode)
	if err != nil {
		t.Fatalf("Listen(a %d-byte path): %v", len(path), err)
	}
	ln.Close()
	if _, err := Listen(path+"s", AdminMode); err == nil {
		t.Fatalf("Listen(a %d-byte path) succeeded", len(path)+1)
	}
}

func TestListenRefusesNonSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ha.sock")
	if err := os.WriteFile(path, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path, AdminMode); !errors.Is(err, ErrNotSocket) {
		t.Fatalf("Listen over a regular file: %v, want ErrNotSocket", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "precious" {
		t.Fatalf("the regular file after Listen: %q, %v", b, err)
	}
	dir := filepath.Join(t.TempDir(), "adir")
	os.Mkdir(dir, 0o755)
	if _, err := Listen(dir, AdminMode); !errors.Is(err, ErrNotSocket) {
		t.Fatalf("Listen over a directory: %v, want ErrNotSocket", err)
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ha.sock")
	// A socket left by an agent that died: the file stays, nobody listens.
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the stale socket: %v", err)
	}
	ln, err := Listen(path, AdminMode)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go NewServer(newFake(), nil).Serve(ctx, ln, true)
	if err := dial(t, path).Dummy(5 * time.Second); err != nil {
		t.Fatalf("a call on the replacing socket: %v", err)
	}
}

func TestListenRefusesLiveSocket(t *testing.T) {
	path := serve(t, newFake(), true)
	if _, err := Listen(path, AdminMode); !errors.Is(err, ErrSocketInUse) {
		t.Fatalf("Listen on a socket a server answers: %v, want ErrSocketInUse", err)
	}
	// The running server is undisturbed.
	if err := dial(t, path).Dummy(5 * time.Second); err != nil {
		t.Fatalf("the first server after the refused Listen: %v", err)
	}
}

// Closing a listener whose path another listener has taken over leaves the
// newer socket alone.
func TestListenCloseKeepsNewerSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ha.sock")
	first, err := Listen(path, AdminMode)
	if err != nil {
		t.Fatal(err)
	}
	first.(*listener).UnixListener.Close() // dies without removing its file
	second, err := Listen(path, AdminMode)
	if err != nil {
		t.Fatalf("Listen after the first died: %v", err)
	}
	defer second.Close()
	first.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the second listener's socket after the first's Close: %v", err)
	}
}

// The permission test re-executes the test binary as nobody with this
// variable naming the mode, and the sockets in these.
const (
	helperEnv        = "DYNAMICS_API_TEST_HELPER"
	helperAdminEnv   = "DYNAMICS_API_TEST_ADMIN"
	helperMonitorEnv = "DYNAMICS_API_TEST_MONITOR"
)

// TestHelperProcess is the unprivileged client of TestSocketPermissions;
// it does nothing in a normal run.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "unprivileged-client" {
		t.Skip("helper of TestSocketPermissions")
	}
	_, err := Dial(os.Getenv(helperAdminEnv))
	switch {
	case err == nil:
		fmt.Println("admin: connected")
	case errors.Is(err, os.ErrPermission) && errors.Is(err, ErrUnreachable):
		fmt.Println("admin: refused:", err)
	default:
		fmt.Println("admin: other error:", err)
	}
	c, err := Dial(os.Getenv(helperMonitorEnv))
	if err != nil {
		fmt.Println("monitor: dial:", err)
		return
	}
	defer c.Close()
	st, err := c.GetStatus(5 * time.Second)
	if err != nil {
		fmt.Println("monitor: get_status:", err)
		return
	}
	fmt.Println("monitor: agent", st.Agent)
	if err := c.DestroyTunnel(goldenHome, 5*time.Second); errors.Is(err, ErrNotPermitted) {
		fmt.Println("monitor: destroy_tunnel not permitted")
	} else {
		fmt.Println("monitor: destroy_tunnel:", err)
	}
}

// A user other than root cannot use the admin socket (mode 0600) but can
// use the monitor socket (mode 0666) for read-only calls.
func TestSocketPermissions(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root to run a client as another user (uid 65534); run `sudo make test`")
	}
	if os.Getenv(helperEnv) != "" {
		t.Skip("inside the helper")
	}
	// A directory nobody can traverse, holding the sockets and a copy of
	// the test binary nobody can execute (t.TempDir and the go build
	// directory are root's only).
	dir, err := os.MkdirTemp("", "dynamics-api-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm()&0o001 == 0 {
			t.Skipf("skipped: uid 65534 cannot traverse %s, the parent of the temporary directory (set TMPDIR)", d)
		}
		if d == "/" {
			break
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "api.test")
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}

	f := newFake()
	admin := filepath.Join(dir, "ha.sock")
	monitor := filepath.Join(dir, "ha-monitor.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	t.Cleanup(func() { cancel(); <-done; <-done })
	srv := NewServer(f, testLogger(t))
	for _, s := range []struct {
		path  string
		mode  fs.FileMode
		admin bool
	}{{admin, AdminMode, true}, {monitor, MonitorMode, false}} {
		ln, err := Listen(s.path, s.mode)
		if err != nil {
			t.Fatal(err)
		}
		go func() { srv.Serve(ctx, ln, s.admin); done <- struct{}{} }()
	}

	cmd := exec.Command(exe, "-test.run=^TestHelperProcess$", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), helperEnv+"=unprivileged-client", helperAdminEnv+"="+admin, helperMonitorEnv+"="+monitor)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper as uid 65534: %v\n%s", err, out)
	}
	for _, want := range []string{
		"admin: refused: agent unreachable: socket " + admin + ": permission denied",
		"monitor: agent mn",
		"monitor: destroy_tunnel not permitted",
	} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("helper output lacks %q:\n%s", want, out)
		}
	}
	if len(f.tunnels) != 1 {
		t.Errorf("the unprivileged client changed the backend: %v", f.calls)
	}
	// Root itself uses both.
	if err := dial(t, admin).DestroyTunnel(goldenHome, 5*time.Second); err != nil {
		t.Errorf("root on the admin socket: %v", err)
	}
}
