package ipip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// openSystem opens the raw socket and a netlink handle in the network
// namespace of the calling thread and remembers that namespace for TUN
// devices.
func openSystem() (*system, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("get network namespace: %w", err)
	}
	sock, err := openRawSocket()
	if err != nil {
		ns.Close()
		return nil, err
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		sock.Close()
		ns.Close()
		return nil, fmt.Errorf("open netlink handle: %w", err)
	}
	return &system{
		conn:  sock,
		links: netlinkLinks{h},
		open: func(name string) (device, error) {
			var dev device
			err := inNamespace(ns, func() error {
				t, err := openTUN(name)
				if err == nil {
					dev = t
				}
				return err
			})
			return dev, err
		},
		prepare: func(name string) error {
			return inNamespace(ns, func() error { return prepareTUN(name) })
		},
		close: func() error {
			h.Close()
			return ns.Close()
		},
	}, nil
}

// inNamespace runs fn on an OS thread inside ns. If the thread cannot be
// returned to its own namespace afterwards it stays locked, so the runtime
// ends it with the goroutine instead of reusing it.
func inNamespace(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		cur, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("get network namespace: %w", err)
			return
		}
		defer cur.Close()
		if cur.Equal(ns) {
			err := fn()
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		err = fn()
		if rerr := netns.Set(cur); rerr == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// netlinkLinks configures links through a netlink handle bound to the
// driver's namespace.
type netlinkLinks struct{ h *netlink.Handle }

func (l netlinkLinks) setUp(name string, mtu int) error {
	link, err := l.h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find link %s: %w", name, err)
	}
	if link.Attrs().MTU != mtu {
		if err := l.h.LinkSetMTU(link, mtu); err != nil {
			return fmt.Errorf("set link %s mtu %d: %w", name, mtu, err)
		}
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := l.h.LinkSetUp(link); err != nil {
			return fmt.Errorf("set link %s up: %w", name, err)
		}
	}
	return nil
}

func (l netlinkLinks) lowerMTU(remote netip.Addr) (int, error) {
	routes, err := l.h.RouteGet(remote.AsSlice())
	if err != nil {
		return 0, fmt.Errorf("route to %s: %w", remote, err)
	}
	if len(routes) == 0 {
		return 0, fmt.Errorf("route to %s: %w", remote, errors.New("none"))
	}
	link, err := l.h.LinkByIndex(routes[0].LinkIndex)
	if err != nil {
		return 0, fmt.Errorf("link of route to %s: %w", remote, err)
	}
	mtu := link.Attrs().MTU
	if r := routes[0].MTU; r > 0 && r < mtu {
		mtu = r
	}
	return mtu, nil
}

// prepareTUN sets two sysctls of the new device name in the calling
// thread's namespace; both go away with the device.
//
// net.ipv4.conf.<name>.accept_local=1: the driver writes ICMP errors into the
// device from the tunnel's local address, which the kernel otherwise drops as
// martians (its own address arriving from outside). Strict reverse path
// filtering (rp_filter 1) on the device drops them all the same; loose (2)
// does not.
//
// net.ipv6.conf.<name>.disable_ipv6=1: an IP-in-IP tunnel carries IPv4 only,
// so the device gets no link-local address and sends no router solicitations
// or MLD reports for the driver to drop. Kernels without IPv6 skip this.
func prepareTUN(name string) error {
	if err := writeSysctl("/proc/sys/net/ipv4/conf/"+name+"/accept_local", "1"); err != nil {
		return err
	}
	err := writeSysctl("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", "1")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

func writeSysctl(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
