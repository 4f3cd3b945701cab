package mn

import (
	"context"
	"errors"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NetlinkWatcher is the AddrWatcher of a real mobile node: it follows the
// interfaces' links and IPv4 addresses through netlink subscriptions (link
// and IPv4 address changes) in the network namespace of the goroutine
// that calls Watch. An interface counts as up when it is administratively
// up and its operational state is up or unknown (a dummy device); its
// address is the first global, non-deprecated IPv4 address on it.
type NetlinkWatcher struct{}

var _ AddrWatcher = NetlinkWatcher{}

// errWatchEnded is returned when the kernel ends a subscription.
var errWatchEnded = errors.New("mn: netlink subscription ended")

// Watch implements AddrWatcher.
func (NetlinkWatcher) Watch(ctx context.Context, names []string, report func(name string, addr netip.Addr)) error {
	done := make(chan struct{})
	links := make(chan netlink.LinkUpdate, 64)
	addrs := make(chan netlink.AddrUpdate, 64)
	var subscribed []func()
	defer func() {
		close(done)
		// The subscriptions close their channels once their sockets
		// are closed; draining lets a send in progress finish.
		for _, drain := range subscribed {
			drain()
		}
	}()
	// Subscribed before the first look, so no change goes unseen.
	if err := netlink.LinkSubscribeWithOptions(links, done, netlink.LinkSubscribeOptions{}); err != nil {
		return err
	}
	subscribed = append(subscribed, func() {
		for range links {
		}
	})
	if err := netlink.AddrSubscribeWithOptions(addrs, done, netlink.AddrSubscribeOptions{}); err != nil {
		return err
	}
	subscribed = append(subscribed, func() {
		for range addrs {
		}
	})

	last := make(map[string]netip.Addr, len(names))
	scan := func() {
		for _, name := range names {
			a := ifaceIPv4(name)
			if prev, ok := last[name]; ok && prev == a {
				continue
			}
			last[name] = a
			report(name, a)
		}
	}
	scan()
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-links:
			if !ok {
				links = nil
				return errWatchEnded
			}
		case _, ok := <-addrs:
			if !ok {
				addrs = nil
				return errWatchEnded
			}
		}
		scan()
	}
}

// ifaceIPv4 returns the address an interface offers: the first global,
// non-deprecated IPv4 address while the interface is up, else the zero
// Addr.
func ifaceIPv4(name string) netip.Addr {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return netip.Addr{}
	}
	a := l.Attrs()
	if a.Flags&net.FlagUp == 0 || (a.OperState != netlink.OperUp && a.OperState != netlink.OperUnknown) {
		return netip.Addr{}
	}
	list, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return netip.Addr{}
	}
	for _, ad := range list {
		if ad.IPNet == nil || ad.Scope != unix.RT_SCOPE_UNIVERSE ||
			ad.Flags&(unix.IFA_F_DEPRECATED|unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) != 0 {
			continue
		}
		if ip, ok := netip.AddrFromSlice(ad.IP.To4()); ok && ip.Is4() {
			return ip
		}
	}
	return netip.Addr{}
}
