package nlkernel

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

// tunnelLinkTypes are the link types a tunnel driver makes: ipip links
// (LinkDriver) and TUN devices (the userspace driver). Only links of these
// types named with the prefix are taken for leftovers.
var tunnelLinkTypes = map[string]bool{"ipip": true, "tuntap": true}

// ensureTunnel creates or updates a tunnel through the driver. k.mu is held.
func (k *Kernel) ensureTunnel(t kernel.Tunnel) error {
	if k.driver == nil {
		return fmt.Errorf("%w: no tunnel driver", kernel.ErrUnsupported)
	}
	if err := k.driver.AddTunnel(t); err != nil {
		return err
	}
	k.changed("tunnel set", t.String())
	return nil
}

// removeTunnel deletes a tunnel through the driver and, when it was not made
// by this Kernel, deletes an ipip or TUN link of that name left by an earlier
// run. The kernel deletes the routes, neighbour and proxy entries on the
// device with it, so they are forgotten. k.mu is held.
func (k *Kernel) removeTunnel(name string, owned bool) error {
	if k.driver != nil {
		if err := k.driver.DelTunnel(name); err != nil {
			return err
		}
	}
	if owned {
		k.changed("tunnel deleted", kernel.Tunnel{Name: name}.Key())
	} else if err := k.removeTunnelLink(name); err != nil {
		return err
	}
	k.forgetDevice(name)
	return nil
}

// removeTunnelLink deletes the link name if it is an ipip or TUN link named
// with the prefix. k.mu is held.
func (k *Kernel) removeTunnelLink(name string) error {
	if !strings.HasPrefix(name, k.opts.TunnelPrefix) {
		return nil
	}
	l, err := k.h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	if !tunnelLinkTypes[l.Type()] {
		return nil
	}
	if err := k.h.LinkDel(l); err != nil {
		return fmt.Errorf("delete %s link %s: %w", l.Type(), name, err)
	}
	k.changed("tunnel link deleted", kernel.Tunnel{Name: name}.Key())
	return nil
}
