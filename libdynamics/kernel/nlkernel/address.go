package nlkernel

import (
	"errors"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

// addrNet converts an address with its prefix length, host bits kept.
func addrNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// ensureAddress configures a.Prefix on a.Dev (RTM_NEWADDR with
// NLM_F_REPLACE). The kernel identifies an address by address and prefix
// length, so one this Kernel made with another prefix length is deleted
// first. k.mu is held.
func (k *Kernel) ensureAddress(a kernel.Address) error {
	l, err := k.link(a.Dev)
	if err != nil {
		return err
	}
	for _, m := range []map[string]kernel.Entry{k.owned, k.left.entries} {
		if cur, ok := m[a.Key()].(kernel.Address); ok && cur.Prefix != a.Prefix {
			if err := k.delAddress(l, cur); err != nil {
				return err
			}
		}
	}
	if err := k.h.AddrReplace(l, &netlink.Addr{IPNet: addrNet(a.Prefix)}); err != nil {
		return err
	}
	k.changed("address set", a.String())
	return nil
}

// removeAddress deletes an address this Kernel or the state file's run made;
// a missing address or device is not an error. One recorded by an earlier
// run (not owned) is deleted only while it still has the recorded prefix
// length. The kernel deletes the routes preferring the address as source
// with it, so they are forgotten. k.mu is held.
func (k *Kernel) removeAddress(a kernel.Address, owned bool) error {
	l, err := k.link(a.Dev)
	if errors.Is(err, kernel.ErrNoDevice) {
		return nil
	}
	if err != nil {
		return err
	}
	if !owned {
		list, err := k.h.AddrList(l, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		found := false
		for _, cur := range list {
			if p, ok := addrPrefix(cur); ok && p == a.Prefix {
				found = true
			}
		}
		if !found {
			return nil
		}
	}
	return k.delAddress(l, a)
}

// delAddress deletes a from link l and forgets the routes the kernel deletes
// with it. k.mu is held.
func (k *Kernel) delAddress(l netlink.Link, a kernel.Address) error {
	err := k.h.AddrDel(l, &netlink.Addr{IPNet: addrNet(a.Prefix)})
	if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) {
		return nil
	}
	if err != nil {
		return err
	}
	k.changed("address deleted", a.String())
	k.forgetSource(a.Prefix.Addr())
	return nil
}

// forgetSource drops the owned and leftover routes preferring src as their
// source, which the kernel deleted with the address. k.mu is held.
func (k *Kernel) forgetSource(src netip.Addr) {
	for _, m := range []map[string]kernel.Entry{k.owned, k.left.entries} {
		for key, e := range m {
			if r, ok := e.(kernel.Route); ok && r.Src == src {
				delete(m, key)
			}
		}
	}
}

// addrPrefix converts a kernel address, host bits kept.
func addrPrefix(a netlink.Addr) (netip.Prefix, bool) {
	if a.IPNet == nil {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	bits, _ := a.Mask.Size()
	return netip.PrefixFrom(ip.Unmap(), bits), true
}

// snapshotAddresses reads the IPv4 addresses of every link for Sync.
func (k *Kernel) snapshotAddresses(names map[int]string) (map[string]kernel.Address, error) {
	var list []netlink.Addr
	if err := retryDump(func() (err error) { list, err = k.h.AddrList(nil, netlink.FAMILY_V4); return err }); err != nil {
		return nil, err
	}
	out := make(map[string]kernel.Address, len(list))
	for _, a := range list {
		p, ok := addrPrefix(a)
		if !ok || !p.Addr().Is4() || names[a.LinkIndex] == "" {
			continue
		}
		e := kernel.Address{Prefix: p, Dev: names[a.LinkIndex]}
		out[e.Key()] = e
	}
	return out, nil
}
