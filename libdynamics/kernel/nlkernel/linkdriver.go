package nlkernel

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

var _ kernel.TunnelDriver = (*linkDriver)(nil)

// linkDriver makes tunnels as the kernel's ipip links.
type linkDriver struct {
	mu     sync.Mutex
	h      *netlink.Handle
	err    error // why h could not be made
	log    *slog.Logger
	made   map[string]bool
	closed bool
}

// NewLinkDriver returns the tunnel driver that makes ipip links through
// netlink, in the network namespace of the calling OS thread. Where the
// kernel has no ipip module, AddTunnel fails with an error wrapping
// kernel.ErrUnsupported; ProbeIPIP tells beforehand. Only opts.Logger is
// used.
func NewLinkDriver(opts Options) kernel.TunnelDriver {
	d := &linkDriver{log: opts.Logger, made: make(map[string]bool)}
	if d.log == nil {
		d.log = slog.Default()
	}
	ns, h, err := currentNS()
	if err != nil {
		d.err = err
		return d
	}
	ns.Close()
	d.h = h
	return d
}

// Name implements kernel.TunnelDriver.
func (d *linkDriver) Name() string { return "netlink" }

// AddTunnel implements kernel.TunnelDriver: it creates the ipip link t.Name
// (PMTU discovery on, so the outer header has DF set and the inner MTU
// follows the path), or updates one of that name in place, and sets it up.
func (d *linkDriver) AddTunnel(t kernel.Tunnel) error {
	if err := t.Validate(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usable(); err != nil {
		return err
	}
	want := &netlink.Iptun{
		LinkAttrs: netlink.LinkAttrs{Name: t.Name, MTU: t.MTU},
		Local:     t.Local.AsSlice(),
		Remote:    t.Remote.AsSlice(),
		Ttl:       ttl(t),
		PMtuDisc:  1,
	}
	l, err := d.h.LinkByName(t.Name)
	var nf netlink.LinkNotFoundError
	switch {
	case errors.As(err, &nf):
		if err := d.h.LinkAdd(want); err != nil {
			return ipipError(t.Name, err)
		}
		d.made[t.Name] = true
		l = want
		d.log.Info("tunnel added", "iface", t.Name, "local", t.Local, "remote", t.Remote)
	case err != nil:
		return fmt.Errorf("nlkernel: tunnel %s: %w", t.Name, err)
	default:
		cur, ok := l.(*netlink.Iptun)
		if !ok {
			return fmt.Errorf("nlkernel: tunnel %s: a %s link of that name exists", t.Name, l.Type())
		}
		if !cur.Local.Equal(want.Local) || !cur.Remote.Equal(want.Remote) || cur.Ttl != want.Ttl || cur.PMtuDisc != want.PMtuDisc {
			want.Index = cur.Index
			if err := d.h.LinkModify(want); err != nil {
				return fmt.Errorf("nlkernel: update tunnel %s: %w", t.Name, err)
			}
			d.log.Info("tunnel updated", "iface", t.Name, "local", t.Local, "remote", t.Remote)
		}
		if t.MTU != 0 && cur.MTU != t.MTU {
			if err := d.h.LinkSetMTU(l, t.MTU); err != nil {
				return fmt.Errorf("nlkernel: tunnel %s mtu %d: %w", t.Name, t.MTU, err)
			}
		}
		d.made[t.Name] = true
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		if err := d.h.LinkSetUp(l); err != nil {
			return fmt.Errorf("nlkernel: set tunnel %s up: %w", t.Name, err)
		}
	}
	return nil
}

// DelTunnel implements kernel.TunnelDriver. Only an ipip link is deleted: a
// link of another type with that name is not this driver's.
func (d *linkDriver) DelTunnel(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usable(); err != nil {
		return err
	}
	delete(d.made, name)
	return d.del(name)
}

// del deletes the ipip link name if there is one. d.mu is held.
func (d *linkDriver) del(name string) error {
	l, err := d.h.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("nlkernel: tunnel %s: %w", name, err)
	}
	if _, ok := l.(*netlink.Iptun); !ok {
		return nil
	}
	if err := d.h.LinkDel(l); err != nil {
		return fmt.Errorf("nlkernel: delete tunnel %s: %w", name, err)
	}
	d.log.Info("tunnel deleted", "iface", name)
	return nil
}

// Close implements kernel.TunnelDriver: it deletes every tunnel the driver
// made or updated. Closing twice is not an error.
func (d *linkDriver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if d.h == nil {
		return nil
	}
	var errs []error
	for name := range d.made {
		errs = append(errs, d.del(name))
	}
	d.made = nil
	d.h.Close()
	return errors.Join(errs...)
}

// usable reports why the driver cannot be used. d.mu is held.
func (d *linkDriver) usable() error {
	switch {
	case d.closed:
		return kernel.ErrClosed
	case d.err != nil:
		return d.err
	}
	return nil
}

// ttl returns the outer TTL of t; 0 means 64 (a TTL inherited from the
// inner packet would rule out PMTU discovery).
func ttl(t kernel.Tunnel) uint8 {
	if t.TTL == 0 {
		return 64
	}
	return t.TTL
}

// ipipError explains a failure to create an ipip link. A kernel without the
// ipip module (and without the means to load it) answers EOPNOTSUPP.
func ipipError(name string, err error) error {
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EAFNOSUPPORT) {
		return fmt.Errorf("%w: ipip link %s: the kernel has no ipip module (load it with modprobe ipip, or use the userspace tunnel driver): %w",
			kernel.ErrUnsupported, name, err)
	}
	return fmt.Errorf("nlkernel: create ipip link %s: %w", name, err)
}

// ProbeIPIP reports whether the kernel can make ipip links in the network
// namespace of the calling OS thread: it creates a probe link and deletes it
// again. The error wraps kernel.ErrUnsupported when the ipip module is
// missing.
func ProbeIPIP() error {
	ns, h, err := currentNS()
	if err != nil {
		return fmt.Errorf("nlkernel: probe ipip: %w", err)
	}
	ns.Close()
	defer h.Close()
	name := fmt.Sprintf("dynprobe%d", os.Getpid()%10000000)
	if l, err := h.LinkByName(name); err == nil {
		_ = h.LinkDel(l) // a probe left by a process of the same pid
	}
	probe := &netlink.Iptun{
		LinkAttrs: netlink.LinkAttrs{Name: name},
		Local:     net.IPv4(192, 0, 2, 1), // documentation addresses (RFC 5737)
		Remote:    net.IPv4(192, 0, 2, byte(2+os.Getpid()%250)),
		Ttl:       64,
		PMtuDisc:  1,
	}
	if err := h.LinkAdd(probe); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return nil // another probe with these endpoints: the kernel can
		}
		return ipipError(name, err)
	}
	if err := h.LinkDel(probe); err != nil {
		return fmt.Errorf("nlkernel: delete ipip probe %s: %w", name, err)
	}
	return nil
}
