package nlkernel

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

// arpConn is what GratuitousARP needs of an ARP client (*arp.Client).
type arpConn interface {
	WriteTo(p *arp.Packet, addr net.HardwareAddr) error
	Close() error
}

// dialARP opens an ARP client (an AF_PACKET socket) on ifi; it is called in
// the Kernel's network namespace.
func dialARP(ifi *net.Interface) (arpConn, error) { return arp.Dial(ifi) }

// arpClient is the ARP client kept open for one device, with the index and
// hardware address of the device it was opened on: a device deleted and
// made again under the same name gets a new client.
type arpClient struct {
	index int
	hw    string
	conn  arpConn
}

// GratuitousARP implements kernel.Kernel (RFC 5944 section 4.6): it
// broadcasts an ARP request and an ARP reply whose sender and target
// protocol addresses are both ip and whose sender hardware address (and the
// reply's target hardware address) is dev's. dev needs an Ethernet address
// and an IPv4 address of its own. Callers repeat it a few times for
// reliability, as the RFC allows.
//
// The ARP client of each device is opened by the first announcement on it
// and kept open until Close: opening and closing an AF_PACKET socket costs
// milliseconds, sending two frames on an open one microseconds. A client
// whose write fails is closed, and the next announcement opens another.
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
	req, err := arp.NewPacket(arp.OperationRequest, a.HardwareAddr, ip, make(net.HardwareAddr, 6), ip)
	if err != nil {
		return fmt.Errorf("nlkernel: gratuitous ARP for %s on %s: %w", ip, dev, err)
	}
	rep, err := arp.NewPacket(arp.OperationReply, a.HardwareAddr, ip, a.HardwareAddr, ip)
	if err != nil {
		return fmt.Errorf("nlkernel: gratuitous ARP for %s on %s: %w", ip, dev, err)
	}
	c, err := k.arpClient(a.Index, a.MTU, a.Name, a.HardwareAddr, a.Flags)
	if err != nil {
		return fmt.Errorf("nlkernel: gratuitous ARP for %s on %s: %w", ip, dev, err)
	}
	for _, p := range []*arp.Packet{req, rep} {
		if err := c.WriteTo(p, ethernet.Broadcast); err != nil {
			k.closeARP(dev)
			return fmt.Errorf("nlkernel: gratuitous ARP for %s on %s: %w", ip, dev, err)
		}
	}
	k.log.Debug("gratuitous ARP sent", "iface", dev, "home", ip)
	return nil
}

// arpClient returns the open ARP client of the device, opening one when
// there is none or the device is not the one it was opened on. k.mu is
// held.
func (k *Kernel) arpClient(index, mtu int, name string, hw net.HardwareAddr, flags net.Flags) (arpConn, error) {
	if c, ok := k.arps[name]; ok {
		if c.index == index && c.hw == string(hw) {
			return c.conn, nil
		}
		k.closeARP(name)
	}
	ifi := &net.Interface{Index: index, MTU: mtu, Name: name, HardwareAddr: hw, Flags: flags}
	var conn arpConn
	err := inNS(k.ns, func() error {
		var err error
		conn, err = k.dialARP(ifi)
		return err
	})
	if err != nil {
		return nil, err
	}
	k.arps[name] = &arpClient{index: index, hw: string(hw), conn: conn}
	return conn, nil
}

// closeARP closes the ARP client of dev, if any. k.mu is held.
func (k *Kernel) closeARP(dev string) error {
	c, ok := k.arps[dev]
	if !ok {
		return nil
	}
	delete(k.arps, dev)
	return c.conn.Close()
}
