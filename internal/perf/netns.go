package perf

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/vishvananda/netns"
)

// namespace is a network namespace the bench tool made for one section.
// The tool builds it with iproute2 (as internal/netnstest does for tests);
// the daemons it measures never run ip themselves.
type namespace struct {
	name string
}

// newNamespace makes a namespace with its loopback up. Close deletes it.
func newNamespace(base string) (*namespace, error) {
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("perf: needs iproute2's ip: %w", err)
	}
	sweepNamespaces()
	ns := &namespace{name: fmt.Sprintf("%s%d-%s", nsPrefix, os.Getpid(), base)}
	_ = exec.Command("ip", "netns", "del", ns.name).Run() // a leftover of an earlier run with this pid
	if err := ipRun("netns", "add", ns.name); err != nil {
		return nil, err
	}
	if err := ns.ip("link", "set", "lo", "up"); err != nil {
		return nil, errors.Join(err, ns.Close())
	}
	return ns, nil
}

// nsPrefix begins the names of the namespaces the registration section
// makes; the pid of the process that made them follows.
const nsPrefix = "dynbench"

// sweepNamespaces deletes the namespaces of earlier runs whose process is
// gone (killed before it could clean up).
func sweepNamespaces() {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), nsPrefix)
		if !ok {
			continue
		}
		pid, _, ok := strings.Cut(rest, "-")
		n, err := strconv.Atoi(pid)
		if !ok || err != nil || n == os.Getpid() || syscall.Kill(n, 0) != syscall.ESRCH {
			continue
		}
		_ = exec.Command("ip", "netns", "del", e.Name()).Run()
	}
}

// ErrNotRoot is returned by the sections that need network namespaces when
// the program is not root.
var ErrNotRoot = errors.New("needs root to create network namespaces")

// ip runs `ip -n NS args...`.
func (ns *namespace) ip(args ...string) error {
	return ipRun(append([]string{"-n", ns.name}, args...)...)
}

// command returns a command that runs in the namespace.
func (ns *namespace) command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.name, name}, args...)...)
}

// do runs fn on a fresh OS thread inside the namespace; sockets fn opens
// stay in it. The thread is never handed back to the scheduler, so no
// other goroutine inherits the namespace.
func (ns *namespace) do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // no unlock: the thread ends with the goroutine
		h, err := netns.GetFromName(ns.name)
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
	return <-errc
}

// Close deletes the namespace; processes still in it are the caller's to
// end first.
func (ns *namespace) Close() error { return ipRun("netns", "del", ns.name) }

func ipRun(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
