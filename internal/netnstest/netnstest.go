// Package netnstest builds throw-away network namespaces, veth links and
// bridges for privileged tests, and removes them (and the processes started in
// them) when the test ends, whether it passed or failed.
//
// Tests use the iproute2 `ip` command to build the test hosts; the code under
// test never does. Every name carries a per-process prefix so parallel test
// binaries do not collide.
package netnstest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// RequireRoot skips the test unless it runs as root with `ip` available.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root to create network namespaces (run `sudo make test`)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipped: needs the iproute2 `ip` command to build test namespaces")
	}
}

// RequireCommand skips the test unless name is on PATH.
func RequireCommand(t testing.TB, name, why string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("skipped: needs %s (%s); .ci/run installs it", name, why)
	}
}

var seq atomic.Int64

// Unique returns a short name unique to this process: base plus a counter
// and the pid, at most 15 bytes when base is at most 4.
func Unique(base string) string {
	return fmt.Sprintf("%s%d%d", base, seq.Add(1), os.Getpid()%100000)
}

// NS is a network namespace made for one test.
type NS struct {
	Name string
	t    testing.TB
}

// New creates a namespace named after base, brings its loopback up, and
// deletes it (ending every process started in it with Start) at cleanup.
func New(t testing.TB, base string) *NS {
	t.Helper()
	RequireRoot(t)
	ns := &NS{Name: "dt" + Unique(base), t: t}
	Run(t, "ip", "netns", "add", ns.Name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "pids", ns.Name).Output(); err == nil {
			self := strconv.Itoa(os.Getpid())
			for _, p := range strings.Fields(string(out)) {
				// A thread of the test itself may still be in the
				// namespace (InNS, Do): killing it would end the whole
				// test binary before the other cleanups run.
				if p == self {
					continue
				}
				_ = exec.Command("kill", "-9", p).Run()
			}
		}
		_ = exec.Command("ip", "netns", "del", ns.Name).Run()
	})
	ns.Run("ip", "link", "set", "lo", "up")
	return ns
}

// Run runs a command on the host and fails the test if it fails.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Run runs a command inside the namespace and fails the test if it fails.
func (ns *NS) Run(name string, args ...string) string {
	ns.t.Helper()
	return Run(ns.t, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Output runs a command inside the namespace and returns its combined output
// and error without failing the test.
func (ns *NS) Output(name string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...).CombinedOutput()
	return string(out), err
}

// Command returns an unstarted command that will run inside the namespace.
func (ns *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Start starts a long-running command inside the namespace. At cleanup it is
// sent SIGTERM, then SIGKILL after two seconds, by its own PID. Its output is
// collected in the returned buffer.
func (ns *NS) Start(name string, args ...string) (*exec.Cmd, *SyncBuffer) {
	ns.t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
	buf := &SyncBuffer{}
	cmd.Stdout, cmd.Stderr = buf, buf
	if err := cmd.Start(); err != nil {
		ns.t.Fatalf("start %s in %s: %v", name, ns.Name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	ns.t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return cmd, buf
}

// Do runs fn with the calling goroutine's OS thread inside the namespace and
// returns to the original namespace afterwards. Sockets and netlink handles
// opened in fn stay bound to the namespace after Do returns.
func (ns *NS) Do(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	h, err := netns.GetFromName(ns.Name)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		return err
	}
	defer func() { _ = netns.Set(orig) }()
	return fn()
}

// Handle opens the namespace, for netlink.NewHandleAt and the like. The
// caller closes it.
func (ns *NS) Handle() (netns.NsHandle, error) { return netns.GetFromName(ns.Name) }

// Veth joins a and b with a veth pair named aDev (in a) and bDev (in b).
// Either namespace may be nil for the host namespace.
func Veth(t testing.TB, a *NS, aDev string, b *NS, bDev string) {
	t.Helper()
	tmpA, tmpB := Unique("va"), Unique("vb")
	Run(t, "ip", "link", "add", tmpA, "type", "veth", "peer", "name", tmpB)
	move := func(ns *NS, tmp, dev string) {
		if ns == nil {
			Run(t, "ip", "link", "set", tmp, "name", dev)
			Run(t, "ip", "link", "set", dev, "up")
			t.Cleanup(func() { _ = exec.Command("ip", "link", "del", dev).Run() })
			return
		}
		Run(t, "ip", "link", "set", tmp, "netns", ns.Name)
		ns.Run("ip", "link", "set", tmp, "name", dev)
		ns.Run("ip", "link", "set", dev, "up")
	}
	move(a, tmpA, aDev)
	move(b, tmpB, bDev)
}

// Bridge creates a bridge named dev inside ns, up.
func (ns *NS) Bridge(dev string) {
	ns.t.Helper()
	ns.Run("ip", "link", "add", dev, "type", "bridge")
	ns.Run("ip", "link", "set", dev, "up")
}

// Addr adds cidr (for example "10.1.0.1/24") to dev inside ns.
func (ns *NS) Addr(dev, cidr string) {
	ns.t.Helper()
	ns.Run("ip", "addr", "add", cidr, "dev", dev)
}

// Sysctl writes a sysctl inside ns (key with dots or slashes).
func (ns *NS) Sysctl(key, value string) {
	ns.t.Helper()
	ns.Run("sysctl", "-q", "-w", strings.ReplaceAll(key, "/", ".")+"="+value)
}

// SyncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// RunIn runs a command inside the named namespace and fails the test if it
// fails, returning its combined output. For namespaces made outside New.
func RunIn(t testing.TB, ns string, args ...string) string {
	t.Helper()
	return Run(t, "ip", append([]string{"netns", "exec", ns}, args...)...)
}

// InNS runs fn on a fresh OS thread inside the named namespace and fails
// the test if fn fails; sockets fn opens stay in the namespace. The thread
// is never returned to the scheduler, so no other goroutine can inherit its
// namespace.
func InNS(t testing.TB, ns string, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // no unlock: the thread ends with the goroutine
		h, err := netns.GetFromName(ns)
		if err != nil {
			errc <- err
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	if err := <-errc; err != nil {
		t.Fatalf("in %s: %v", ns, err)
	}
}

// BuildCommand builds the command in the test's package directory (go
// build .) into dir as name and returns its path, failing the test on a
// build error; dir "" is a fresh temporary directory.
func BuildCommand(t testing.TB, dir, name string) string {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	bin := filepath.Join(dir, name)
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, out)
	}
	return bin
}
