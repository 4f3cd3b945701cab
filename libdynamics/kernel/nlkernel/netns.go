package nlkernel

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// currentNS returns the network namespace of the calling OS thread and a
// netlink route handle bound to it. The handle's socket is made on that
// thread, so no setns (and no privilege) is needed.
func currentNS() (netns.NsHandle, *netlink.Handle, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ns, err := netns.Get()
	if err != nil {
		return netns.None(), nil, fmt.Errorf("nlkernel: network namespace of the calling thread: %w", err)
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return netns.None(), nil, fmt.Errorf("nlkernel: netlink: %w", err)
	}
	return ns, h, nil
}

// inNS runs fn on an OS thread inside ns, for what netlink handles cannot
// carry: /proc/sys files and packet sockets, which belong to the namespace of
// the thread that opens them. fn runs on a goroutine of its own, locked to its
// thread; if the thread cannot return to its namespace it is left locked, so
// the runtime discards it instead of reusing it elsewhere.
func inNS(ns netns.NsHandle, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("nlkernel: network namespace of the current thread: %w", err)
			return
		}
		defer orig.Close()
		if orig.Equal(ns) {
			defer runtime.UnlockOSThread()
			done <- fn()
			return
		}
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("nlkernel: enter network namespace: %w", err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		}
		done <- ferr
	}()
	return <-done
}
