package nlkernel

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

// GratuitousARP implements kernel.Kernel (RFC 5944 section 4.6): it
// broadcasts an ARP request and an ARP reply whose sender and target
// protocol addresses are both ip and whose sender hardware address (and the
// reply's target hardware address) is dev's. dev needs an Ethernet address
// and an IPv4 address of its own. Callers repeat it a few times for
// reliability, as the RFC allows.
func (k *Kernel) GratuitousARP(dev string, ip netip.Addr) error {
	if dev == "" || !ip.Is4() {
		return fmt.Errorf("%w: gratuitous ARP needs a device and an IPv4 address", kernel.ErrInvalid)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return kernel.ErrClosed
	}
	l, err := k.link(dev)
	if err != nil {
		return fmt.Errorf("nlkernel: gratuitous ARP for %s: %w", ip, err)
	}
	a := l.Attrs()
	if len(a.HardwareAddr) != 6 {
		return fmt.Errorf("nlkernel: gratuitous ARP for %s on %s: %w: not an Ethernet device", ip, dev, kernel.ErrUnsupported)
	}
	ifi := &net.Interface{Index: a.Index, MTU: a.MTU, Name: a.Name, HardwareAddr: a.HardwareAddr, Flags: a.Flags}
	req, err := arp.NewPacket(arp.OperationRequest, a.HardwareAddr, ip, make(net.HardwareAddr, 6), ip)
	if err != nil {
		return fmt.Errorf("nlkernel: gratuitous ARP for %s on %s: %w", ip, dev, err)
	}
	rep, err := arp.NewPacket(arp.OperationReply, a.HardwareAddr, ip, a.HardwareAddr, ip)
	if err != nil {
		return fmt.Errorf("nlkernel: gratuitous ARP for %s on %s: %w", ip, dev, err)
	}
	err = inNS(k.ns, func() error {
		c, err := arp.Dial(ifi)
		if err != nil {
			return err
		}
		defer c.Close()
		for _, p := range []*arp.Packet{req, rep} {
			if err := c.WriteTo(p, ethernet.Broadcast); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("nlkernel: gratuitous ARP for %s on %s: %w", ip, dev, err)
	}
	k.log.Debug("gratuitous ARP sent", "iface", dev, "home", ip)
	return nil
}
