package nlkernel

import (
	"bytes"
	"errors"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

// ensureProxy adds a proxy neighbour entry (NTF_PROXY): the kernel answers
// ARP requests for p.IP arriving on p.Dev, provided forwarding is on for the
// device and the route to p.IP leaves by another device. k.mu is held.
func (k *Kernel) ensureProxy(p kernel.ProxyARP) error {
	idx, err := k.index(p.Dev)
	if err != nil {
		return err
	}
	n := &netlink.Neigh{
		LinkIndex: idx,
		Family:    netlink.FAMILY_V4,
		Flags:     netlink.NTF_PROXY,
		State:     netlink.NUD_PERMANENT,
		IP:        p.IP.AsSlice(),
	}
	if err := k.h.NeighSet(n); err != nil {
		return err
	}
	k.changed("proxy entry added", p.String())
	return nil
}

// removeProxy deletes a proxy neighbour entry; an absent one, or one whose
// device is gone, is not an error. k.mu is held.
func (k *Kernel) removeProxy(p kernel.ProxyARP) error {
	idx, err := k.index(p.Dev)
	if errors.Is(err, kernel.ErrNoDevice) {
		return nil
	}
	if err != nil {
		return err
	}
	err = k.h.NeighDel(&netlink.Neigh{
		LinkIndex: idx,
		Family:    netlink.FAMILY_V4,
		Flags:     netlink.NTF_PROXY,
		IP:        p.IP.AsSlice(),
	})
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	k.changed("proxy entry deleted", p.Key())
	return nil
}

// ensureNeighbor sets a permanent neighbour entry. k.mu is held.
func (k *Kernel) ensureNeighbor(n kernel.Neighbor) error {
	idx, err := k.index(n.Dev)
	if err != nil {
		return err
	}
	err = k.h.NeighSet(&netlink.Neigh{
		LinkIndex:    idx,
		Family:       netlink.FAMILY_V4,
		State:        netlink.NUD_PERMANENT,
		IP:           n.IP.AsSlice(),
		HardwareAddr: n.HWAddr,
	})
	if err != nil {
		return err
	}
	k.changed("neighbour set", n.String())
	return nil
}

// removeNeighbor deletes a permanent neighbour entry. One recorded by an
// earlier run (not owned) is deleted only while it still holds the recorded
// hardware address permanently; otherwise someone else has set it since.
// k.mu is held.
func (k *Kernel) removeNeighbor(n kernel.Neighbor, owned bool) error {
	idx, err := k.index(n.Dev)
	if errors.Is(err, kernel.ErrNoDevice) {
		return nil
	}
	if err != nil {
		return err
	}
	if !owned {
		cur, err := k.neighbor(idx, n)
		if err != nil {
			return err
		}
		if cur == nil || cur.State&netlink.NUD_PERMANENT == 0 || !bytes.Equal(cur.HardwareAddr, n.HWAddr) {
			return nil
		}
	}
	err = k.h.NeighDel(&netlink.Neigh{LinkIndex: idx, Family: netlink.FAMILY_V4, IP: n.IP.AsSlice()})
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	k.changed("neighbour deleted", n.Key())
	return nil
}

// neighbor returns the kernel's neighbour entry for n.IP on interface idx,
// or nil.
func (k *Kernel) neighbor(idx int, n kernel.Neighbor) (*netlink.Neigh, error) {
	list, err := k.h.NeighList(idx, netlink.FAMILY_V4)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].IP.Equal(n.IP.AsSlice()) {
			return &list[i], nil
		}
	}
	return nil, nil
}
