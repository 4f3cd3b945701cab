package ipip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

var _ kernel.TunnelDriver = (*Driver)(nil)

// defaultLinkMTU is assumed for the outer link when the route to a tunnel's
// remote end cannot be looked up, as the kernel's ipip driver does.
const defaultLinkMTU = 1500

// device is a TUN device as the data path uses it.
type device interface {
	// ReadBatch waits for a datagram, then reads up to len(bufs), storing
	// their lengths in sizes. It returns os.ErrClosed after Close.
	ReadBatch(bufs [][]byte, sizes []int) (int, error)
	// Write injects one datagram.
	Write(p []byte) (int, error)
	// WriteBatch injects pkts[i][offset:], IPv4 datagrams trimmed to
	// their total length, in order within each flow; the offset bytes
	// before each (at least deviceHeadroom) are the device's scratch
	// space. mtu is the tunnel's inner MTU. It returns how many were
	// written, their bytes, and the last error; os.ErrClosed after Close.
	// Only one goroutine may call it at a time.
	WriteBatch(pkts [][]byte, offset, mtu int) (n, bytes int, err error)
	// Close closes the device, which removes it.
	Close() error
}

// conn is the raw IP-in-IP socket shared by all tunnels.
type conn interface {
	// ReadBatch waits for an outer datagram, then reads up to len(bufs),
	// storing their lengths in sizes. It returns os.ErrClosed after Close.
	ReadBatch(bufs [][]byte, sizes []int) (int, error)
	// WriteBatch sends whole outer datagrams to dst and reports how many
	// were sent before the first failure. Safe for concurrent use.
	WriteBatch(pkts [][]byte, dst netip.Addr) (int, error)
	Close() error
}

// links configures the links of TUN devices.
type links interface {
	// setUp sets the named link's MTU and brings it up.
	setUp(name string, mtu int) error
	// lowerMTU returns the MTU of the path the route to remote takes.
	lowerMTU(remote netip.Addr) (int, error)
}

// system is the operating system side of a Driver: its raw socket, the
// netlink handle that configures links, and the namespace TUN devices are
// created in.
type system struct {
	conn  conn
	links links
	open  func(name string) (device, error)
	// prepare readies a new device before it goes up: it lets it receive
	// datagrams from a local source address, as the driver's ICMP errors
	// are, and keeps IPv6 off it. nil if there is nothing to do.
	prepare func(name string) error
	close   func() error
}

// Options configure a Driver.
type Options struct {
	// Logger receives tunnel changes and data path errors; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Driver is the userspace kernel.TunnelDriver: a TUN device per tunnel and
// one raw IP-in-IP socket, with the encapsulation done in the process. See
// the package documentation for its goroutines and namespace.
type Driver struct {
	log *slog.Logger
	sys *system

	mu      sync.Mutex // guards tunnels and closed, serialises changes
	tunnels map[string]*tunnel
	closed  bool

	// peers maps endpoint pairs to tunnels for the receive path; it is
	// replaced, never modified, under mu.
	peers  atomic.Pointer[map[pairKey]*tunnel]
	stats  counters
	reader chan struct{} // closed when the raw socket reader returns

	lastSendLog, lastRecvLog, lastDeviceLog atomic.Int64 // unix nanoseconds
}

// tunnel is one tunnel's device, settings and goroutine.
type tunnel struct {
	name string
	dev  device
	cfg  atomic.Pointer[settings]
	done chan struct{} // closed when the device reader returns
}

// settings are a tunnel's current endpoints and MTU.
type settings struct {
	local, remote netip.Addr
	ttl           uint8
	mtu           int // inner MTU
}

// pairKey identifies a tunnel by outer remote (high half) and local address.
type pairKey uint64

func keyOf(remote, local [4]byte) pairKey {
	return pairKey(binary.BigEndian.Uint32(remote[:]))<<32 | pairKey(binary.BigEndian.Uint32(local[:]))
}

// NewDriver opens the raw socket and netlink handle in the network namespace
// of the calling OS thread and starts the receive goroutine. TUN devices made
// later by AddTunnel are created in the same namespace.
func NewDriver(opts Options) (*Driver, error) {
	sys, err := openSystem()
	if err != nil {
		return nil, fmt.Errorf("ipip: %w", err)
	}
	return newDriver(opts, sys), nil
}

func newDriver(opts Options, sys *system) *Driver {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	d := &Driver{
		log:     log,
		sys:     sys,
		tunnels: make(map[string]*tunnel),
		reader:  make(chan struct{}),
	}
	d.peers.Store(&map[pairKey]*tunnel{})
	go d.receive()
	return d
}

// Name implements kernel.TunnelDriver.
func (d *Driver) Name() string { return "userspace" }

// Stats returns the driver's counters.
func (d *Driver) Stats() Stats { return d.stats.snapshot() }

// AddTunnel creates the TUN device t.Name, sets its MTU and brings it up, or
// updates an existing tunnel of that name in place. A tunnel with MTU 0 gets
// the MTU of the route to t.Remote less HeaderLen. Two tunnels may not share
// both endpoints.
func (d *Driver) AddTunnel(t kernel.Tunnel) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if strings.Contains(t.Name, "%") {
		return fmt.Errorf("%w: tunnel name %q", kernel.ErrInvalid, t.Name)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return kernel.ErrClosed
	}
	for _, o := range d.tunnels {
		c := o.cfg.Load()
		if o.name != t.Name && c.local == t.Local && c.remote == t.Remote {
			return fmt.Errorf("%w: tunnel %s has the endpoints of %s (%s to %s)", kernel.ErrInvalid, t.Name, o.name, t.Local, t.Remote)
		}
	}
	s := &settings{local: t.Local, remote: t.Remote, ttl: t.TTL, mtu: t.MTU}
	if s.mtu == 0 {
		link, err := d.sys.links.lowerMTU(t.Remote)
		if err != nil {
			d.log.Debug("no route to tunnel remote, assuming a 1500-byte link", "iface", t.Name, "err", err)
			link = defaultLinkMTU
		}
		s.mtu = min(max(InnerMTU(link), MinMTU), MaxInnerLen)
	}
	tn, ok := d.tunnels[t.Name]
	if ok && tn.stopped() {
		// The device failed (someone deleted the link, say): make it
		// again rather than keep a tunnel that forwards nothing.
		d.log.Warn("tunnel device failed, recreating it", "iface", t.Name)
		delete(d.tunnels, t.Name)
		d.publish()
		tn.stop()
		ok = false
	}
	if ok {
		if err := d.sys.links.setUp(t.Name, s.mtu); err != nil {
			return fmt.Errorf("ipip: update tunnel %s: %w", t.Name, err)
		}
		if old := tn.cfg.Load(); *old != *s {
			tn.cfg.Store(s)
			d.log.Info("tunnel updated", "iface", t.Name, "local", t.Local, "remote", t.Remote, "mtu", s.mtu)
		}
		d.publish()
		return nil
	}
	dev, err := d.sys.open(t.Name)
	if err != nil {
		return fmt.Errorf("ipip: add tunnel %s: %w", t.Name, err)
	}
	if d.sys.prepare != nil {
		if err := d.sys.prepare(t.Name); err != nil {
			d.log.Warn("cannot tune the tunnel device; the kernel may drop the driver's ICMP fragmentation needed replies",
				"iface", t.Name, "err", err)
		}
	}
	if err := d.sys.links.setUp(t.Name, s.mtu); err != nil {
		dev.Close()
		return fmt.Errorf("ipip: add tunnel %s: %w", t.Name, err)
	}
	tn = &tunnel{name: t.Name, dev: dev, done: make(chan struct{})}
	tn.cfg.Store(s)
	d.tunnels[t.Name] = tn
	d.publish()
	go d.transmit(tn)
	d.log.Info("tunnel added", "iface", t.Name, "local", t.Local, "remote", t.Remote, "mtu", s.mtu)
	return nil
}

// publish replaces the receive path's view of the tunnels. d.mu is held.
func (d *Driver) publish() {
	m := make(map[pairKey]*tunnel, len(d.tunnels))
	for _, tn := range d.tunnels {
		c := tn.cfg.Load()
		m[keyOf(c.remote.As4(), c.local.As4())] = tn
	}
	d.peers.Store(&m)
}

// DelTunnel deletes the named tunnel and its device; an absent one is not an
// error.
func (d *Driver) DelTunnel(name string) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return kernel.ErrClosed
	}
	tn, ok := d.tunnels[name]
	if !ok {
		d.mu.Unlock()
		return nil
	}
	delete(d.tunnels, name)
	d.publish()
	d.mu.Unlock()
	err := tn.stop()
	d.log.Info("tunnel deleted", "iface", name)
	if err != nil {
		return fmt.Errorf("ipip: delete tunnel %s: %w", name, err)
	}
	return nil
}

// stopped reports whether the device reader has returned.
func (tn *tunnel) stopped() bool {
	select {
	case <-tn.done:
		return true
	default:
		return false
	}
}

// stop closes the device and waits for its reader to return.
func (tn *tunnel) stop() error {
	err := tn.dev.Close()
	<-tn.done
	return err
}

// Close deletes every tunnel, closes the raw socket and waits for every
// goroutine of the driver to return. Closing twice is not an error.
func (d *Driver) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	tunnels := d.tunnels
	d.tunnels = map[string]*tunnel{}
	d.publish()
	d.mu.Unlock()

	var errs []error
	for name, tn := range tunnels {
		if err := tn.stop(); err != nil {
			errs = append(errs, fmt.Errorf("delete tunnel %s: %w", name, err))
		}
	}
	if err := d.sys.conn.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close raw socket: %w", err))
	}
	<-d.reader
	if d.sys.close != nil {
		if err := d.sys.close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ipip: close: %w", err)
	}
	return nil
}
