package nlkernel

import (
	"errors"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

// mainTable is the kernel's main routing table, which kernel.Route names 0.
const mainTable = unix.RT_TABLE_MAIN

// table returns the kernel's number for a kernel.Route or kernel.Rule table.
func table(t int) int {
	if t == 0 {
		return mainTable
	}
	return t
}

// ipNet converts a prefix for netlink.
func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// prefixOf converts a netlink destination; nil is the default route.
func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0), true
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), bits), true
}

// ensureRoute replaces the route with r's destination and table. A gateway
// is installed on-link, so it need not lie in a connected prefix (a mobile
// away from home reaches its foreign agent so). k.mu is held.
func (k *Kernel) ensureRoute(r kernel.Route) error {
	idx, err := k.index(r.Dev)
	if err != nil {
		return err
	}
	nr := &netlink.Route{
		Family:    netlink.FAMILY_V4,
		LinkIndex: idx,
		Dst:       ipNet(r.Dst),
		Table:     table(r.Table),
		Protocol:  netlink.RouteProtocol(k.opts.RouteProtocol),
		Type:      unix.RTN_UNICAST,
		Scope:     netlink.SCOPE_LINK,
	}
	if r.Gw.IsValid() {
		nr.Gw = r.Gw.AsSlice()
		nr.Flags = int(netlink.FLAG_ONLINK)
		nr.Scope = netlink.SCOPE_UNIVERSE
	}
	if r.Src.IsValid() {
		nr.Src = r.Src.AsSlice()
	}
	if err := k.h.RouteReplace(nr); err != nil {
		return err
	}
	k.changed("route replaced", r.String())
	return nil
}

// removeRoute deletes the route to dst in table if it carries the Kernel's
// protocol; the kernel matches the protocol, so a route of someone else's
// with the same destination stays. k.mu is held.
func (k *Kernel) removeRoute(dst netip.Prefix, t int) error {
	nr := &netlink.Route{
		Family:   netlink.FAMILY_V4,
		Dst:      ipNet(dst),
		Table:    table(t),
		Protocol: netlink.RouteProtocol(k.opts.RouteProtocol),
		Scope:    netlink.SCOPE_NOWHERE, // any scope
	}
	err := k.h.RouteDel(nr)
	if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	k.changed("route deleted", kernel.Route{Dst: dst, Table: t}.Key())
	return nil
}

// routeEntry converts a kernel route back, for Sync; names maps interface
// indexes to names.
func routeEntry(nr netlink.Route, names map[int]string) (kernel.Route, bool) {
	dst, ok := prefixOf(nr.Dst)
	if !ok || !dst.Addr().Is4() {
		return kernel.Route{}, false
	}
	r := kernel.Route{Dst: dst, Dev: names[nr.LinkIndex], Table: nr.Table}
	if r.Table == mainTable {
		r.Table = 0
	}
	r.Gw, _ = addrOf(nr.Gw)
	r.Src, _ = addrOf(nr.Src)
	return r, true
}

// addrOf converts a netlink address; nil is the zero Addr.
func addrOf(ip net.IP) (netip.Addr, bool) {
	a, ok := netip.AddrFromSlice(ip)
	return a.Unmap(), ok
}
