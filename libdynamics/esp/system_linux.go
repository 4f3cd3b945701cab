package esp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// tunPath is the TUN clone device.
const tunPath = "/dev/net/tun"

// openSystem creates the TUN device name with the given MTU, up, and a
// netlink handle for routes and rules, both in the network namespace of the
// calling OS thread.
func openSystem(name string, mtu int) (device, router, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ns, err := netns.Get()
	if err != nil {
		return nil, nil, fmt.Errorf("get network namespace: %w", err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, nil, fmt.Errorf("open netlink handle: %w", err)
	}
	dev, err := openTUN(name)
	if err != nil {
		h.Close()
		return nil, nil, err
	}
	fail := func(err error) (device, router, error) {
		dev.Close()
		h.Close()
		return nil, nil, err
	}
	// Set while the device is down and before it gets an address: no
	// IPv6 on a device that carries IPv4, and loose reverse path
	// filtering, since datagrams from a peer arrive on the device whether
	// or not the route back to their source leads into it.
	if err := writeSysctl("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", "1"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fail(fmt.Errorf("disable IPv6 on %s: %w", name, err))
	}
	if err := writeSysctl("/proc/sys/net/ipv4/conf/"+name+"/rp_filter", "2"); err != nil {
		return fail(fmt.Errorf("set rp_filter on %s: %w", name, err))
	}
	link, err := h.LinkByName(name)
	if err != nil {
		return fail(fmt.Errorf("find link %s: %w", name, err))
	}
	if err := h.LinkSetMTU(link, mtu); err != nil {
		return fail(fmt.Errorf("set link %s mtu %d: %w", name, mtu, err))
	}
	if err := h.LinkSetUp(link); err != nil {
		return fail(fmt.Errorf("set link %s up: %w", name, err))
	}
	return dev, &netlinkRouter{h: h, link: link.Attrs().Index, name: name}, nil
}

// tun is a TUN device (IFF_TUN|IFF_NO_PI): every read returns one datagram
// and every write injects one. The descriptor is non-blocking and in the
// runtime poller, so Close wakes a blocked reader.
type tun struct{ f *os.File }

// openTUN creates the TUN device name in the network namespace of the
// calling thread.
func openTUN(name string) (*tun, error) {
	fd, err := unix.Open(tunPath, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s (is the tun module loaded?): %w", tunPath, err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("TUN device name %q: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("create TUN device %s (a link of that name exists?): %w", name, err)
	}
	if got := ifr.Name(); got != name {
		unix.Close(fd)
		return nil, fmt.Errorf("create TUN device %s: kernel named it %s", name, got)
	}
	return &tun{f: os.NewFile(uintptr(fd), tunPath+":"+name)}, nil
}

func (t *tun) Read(p []byte) (int, error)  { return t.f.Read(p) }
func (t *tun) Write(p []byte) (int, error) { return t.f.Write(p) }
func (t *tun) Close() error                { return t.f.Close() }

// netlinkRouter adds routes into the device and policy routing rules
// through a netlink handle bound to the device's namespace.
type netlinkRouter struct {
	h    *netlink.Handle
	link int
	name string
}

func (r *netlinkRouter) route(table int, dst netip.Prefix) *netlink.Route {
	return &netlink.Route{
		LinkIndex: r.link,
		Dst:       prefixNet(dst),
		Table:     table,
		Scope:     netlink.SCOPE_LINK,
	}
}

func (r *netlinkRouter) addRoute(table int, dst netip.Prefix, src netip.Addr) error {
	rt := r.route(table, dst)
	if src.IsValid() && r.isLocal(src) {
		rt.Src = net.IP(src.AsSlice())
	}
	if err := r.h.RouteReplace(rt); err != nil {
		return fmt.Errorf("route %s dev %s table %d: %w", dst, r.name, table, err)
	}
	return nil
}

// isLocal reports whether a is configured on the host.
func (r *netlinkRouter) isLocal(a netip.Addr) bool {
	addrs, err := r.h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return false
	}
	for _, ad := range addrs {
		if got, ok := netip.AddrFromSlice(ad.IP); ok && got.Unmap() == a {
			return true
		}
	}
	return false
}

func (r *netlinkRouter) delRoute(table int, dst netip.Prefix) error {
	err := r.h.RouteDel(r.route(table, dst))
	if err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete route %s table %d: %w", dst, table, err)
	}
	return nil
}

func (r *netlinkRouter) rule(ru rule) *netlink.Rule {
	nr := netlink.NewRule()
	nr.Family = netlink.FAMILY_V4
	nr.Priority = ru.Priority
	nr.Table = ru.Table
	if ru.Dst.IsValid() {
		nr.Dst = prefixNet(ru.Dst)
	}
	if ru.Protocol != 0 {
		nr.IPProto = int(ru.Protocol)
	}
	if ru.SrcPort != 0 {
		nr.Sport = netlink.NewRulePortRange(ru.SrcPort, ru.SrcPort)
	}
	if ru.DstPort != 0 {
		nr.Dport = netlink.NewRulePortRange(ru.DstPort, ru.DstPort)
	}
	return nr
}

func (r *netlinkRouter) addRule(ru rule) error {
	if err := r.h.RuleAdd(r.rule(ru)); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("rule %s: %w", ru, err)
	}
	return nil
}

func (r *netlinkRouter) delRule(ru rule) error {
	err := r.h.RuleDel(r.rule(ru))
	if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("delete rule %s: %w", ru, err)
	}
	return nil
}

func (r *netlinkRouter) close() error {
	r.h.Close()
	return nil
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
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
