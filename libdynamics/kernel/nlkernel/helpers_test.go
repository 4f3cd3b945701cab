package nlkernel

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/dynamics-go/dynamics/internal/netnstest"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

// tunDriver is a test kernel.TunnelDriver for kernels without ipip: it makes
// each tunnel a persistent TUN device named like the tunnel, which, like an
// ipip link, outlives a crashed daemon. It carries no traffic.
type tunDriver struct {
	ns   *netnstest.NS
	mu   sync.Mutex
	made map[string]bool
}

var _ kernel.TunnelDriver = (*tunDriver)(nil)

func newTunDriver(ns *netnstest.NS) *tunDriver {
	return &tunDriver{ns: ns, made: map[string]bool{}}
}

func (d *tunDriver) Name() string { return "tuntest" }

func (d *tunDriver) AddTunnel(t kernel.Tunnel) error {
	if err := t.Validate(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ns.Do(func() error {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		defer h.Close()
		l, err := h.LinkByName(t.Name)
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			tt := &netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: t.Name}, Mode: netlink.TUNTAP_MODE_TUN}
			if err := h.LinkAdd(tt); err != nil {
				return fmt.Errorf("tuntest: add %s: %w", t.Name, err)
			}
			if l, err = h.LinkByName(t.Name); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		d.made[t.Name] = true
		if t.MTU != 0 {
			if err := h.LinkSetMTU(l, t.MTU); err != nil {
				return err
			}
		}
		return h.LinkSetUp(l)
	})
}

func (d *tunDriver) DelTunnel(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.made, name)
	return d.del(name)
}

func (d *tunDriver) del(name string) error {
	return d.ns.Do(func() error {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		defer h.Close()
		l, err := h.LinkByName(name)
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		if err != nil {
			return err
		}
		if l.Type() != "tuntap" {
			return nil
		}
		return h.LinkDel(l)
	})
}

func (d *tunDriver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for name := range d.made {
		errs = append(errs, d.del(name))
	}
	d.made = map[string]bool{}
	return errors.Join(errs...)
}

// testLogger logs to the test's output, shown when it fails or with -v.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newKernel makes a Kernel inside ns and closes it at cleanup (before the
// namespace goes).
func newKernel(t *testing.T, ns *netnstest.NS, drv kernel.TunnelDriver, opts Options) *Kernel {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	var k *Kernel
	if err := ns.Do(func() (err error) { k, err = New(drv, opts); return err }); err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k
}

// abandon simulates a daemon that crashed once its state file recorded
// its changes: the Kernel's handles go, and its entries stay in the kernel.
func abandon(k *Kernel) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.writer != nil {
		k.writer.close()
	}
	k.closed = true
	k.h.Close()
	k.ns.Close()
}

// host is a namespace with eth0 (10.1.0.1/24) joined by a veth to a peer
// namespace (eth0, 10.1.0.2/24).
type host struct {
	ns, peer *netnstest.NS
}

func newHost(t *testing.T) host {
	t.Helper()
	h := host{ns: netnstest.New(t, "k"), peer: netnstest.New(t, "p")}
	netnstest.Veth(t, h.ns, "eth0", h.peer, "eth0")
	h.ns.Addr("eth0", "10.1.0.1/24")
	h.peer.Addr("eth0", "10.1.0.2/24")
	return h
}

// ipJSON runs `ip -j args...` in ns and decodes its output.
func ipJSON(t *testing.T, ns *netnstest.NS, args ...string) []map[string]any {
	t.Helper()
	out := ns.Run("ip", append([]string{"-j"}, args...)...)
	var v []map[string]any
	if strings.TrimSpace(out) == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("ip -j %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return v
}

// line renders selected fields of an `ip -j` object as "k=v" words, missing
// fields left out, so tests compare short stable strings.
func line(obj map[string]any, fields ...string) string {
	var parts []string
	for _, f := range fields {
		if v, ok := obj[f]; ok {
			parts = append(parts, fmt.Sprintf("%s=%v", f, v))
		}
	}
	return strings.Join(parts, " ")
}

// routes returns the routes in every table with protocol proto ("158",
// "boot", ...), as `ip route show table all` reports them.
func routes(t *testing.T, ns *netnstest.NS, proto string) []string {
	t.Helper()
	var out []string
	for _, r := range ipJSON(t, ns, "route", "show", "table", "all") {
		p, ok := r["protocol"]
		if !ok {
			p = "boot" // ip leaves out the default protocol
		}
		if p == proto {
			out = append(out, line(r, "dst", "gateway", "dev", "table", "prefsrc"))
		}
	}
	slices.Sort(out)
	return out
}

// rules returns the rules with protocol proto ("" for none), as `ip rule`
// reports them.
func rules(t *testing.T, ns *netnstest.NS, proto string) []string {
	t.Helper()
	var out []string
	for _, r := range ipJSON(t, ns, "rule", "show") {
		p, _ := r["protocol"].(string)
		if p == proto && r["priority"] != 0.0 && r["priority"] != 32766.0 && r["priority"] != 32767.0 {
			out = append(out, line(r, "priority", "src", "srclen", "iif", "table"))
		}
	}
	slices.Sort(out)
	return out
}

// proxies returns the proxy neighbour entries, as `ip neigh show proxy`
// reports them.
func proxies(t *testing.T, ns *netnstest.NS) []string {
	t.Helper()
	var out []string
	for _, n := range ipJSON(t, ns, "neigh", "show", "proxy") {
		out = append(out, line(n, "dst", "dev"))
	}
	slices.Sort(out)
	return out
}

// permanent returns the permanent neighbour entries, as `ip neigh show nud
// permanent` reports them.
func permanent(t *testing.T, ns *netnstest.NS) []string {
	t.Helper()
	var out []string
	for _, n := range ipJSON(t, ns, "neigh", "show", "nud", "permanent") {
		out = append(out, line(n, "dst", "dev", "lladdr"))
	}
	slices.Sort(out)
	return out
}

// links returns the names of the links in ns.
func links(t *testing.T, ns *netnstest.NS) []string {
	t.Helper()
	var out []string
	for _, l := range ipJSON(t, ns, "link", "show") {
		out = append(out, fmt.Sprint(l["ifname"]))
	}
	slices.Sort(out)
	return out
}

// sysctl reads a sysctl inside ns.
func sysctl(t *testing.T, ns *netnstest.NS, name string) string {
	t.Helper()
	return strings.TrimSpace(ns.Run("cat", "/proc/sys/"+name))
}

func wantList(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }
