package nlkernel

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/internal/netnstest"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

var (
	mobile  = netip.MustParseAddr("10.1.0.10")
	visitor = netip.MustParseAddr("10.1.0.20")
	visHW   = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x20}

	fwd      = kernel.Sysctl{Name: "net/ipv4/ip_forward", Value: "1"}
	proxyARP = kernel.Sysctl{Name: "net/ipv4/conf/eth0/proxy_arp", Value: "1"}
	tun1     = kernel.Tunnel{Name: "dyn1", Local: netip.MustParseAddr("10.1.0.1"), Remote: netip.MustParseAddr("10.0.1.2")}
	tun2     = kernel.Tunnel{Name: "dyn2", Local: netip.MustParseAddr("10.1.0.1"), Remote: netip.MustParseAddr("10.0.2.2")}
	host1    = kernel.Route{Dst: netip.PrefixFrom(mobile, 32), Dev: "dyn1"}
	reverse  = kernel.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: "eth0", Gw: netip.MustParseAddr("10.2.0.1"), Src: netip.MustParseAddr("10.1.0.1"), Table: 100}
	revRule  = kernel.Rule{Priority: 1000, Src: netip.PrefixFrom(mobile, 32), IIf: "eth0", Table: 100}
	proxy    = kernel.ProxyARP{IP: mobile, Dev: "eth0"}
	neigh    = kernel.Neighbor{IP: visitor, Dev: "eth0", HWAddr: visHW}
)

// everything is one entry of each kind and more.
func everything() []kernel.Entry {
	return []kernel.Entry{revRule, reverse, host1, proxy, neigh, tun1, fwd, proxyARP}
}

func TestEntriesAppearAndDisappear(t *testing.T) {
	h := newHost(t)
	hostForward, hostErr := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	k := newKernel(t, h.ns, newTunDriver(h.ns), Options{})
	if k.Name() != "tuntest" {
		t.Errorf("Name() = %q, want the driver's", k.Name())
	}

	// Passed in an order that would fail as given: routes before the tunnel.
	if err := k.Ensure(everything()...); err != nil {
		t.Fatal(err)
	}
	wantList(t, "routes with protocol 158", routes(t, h.ns, "158"),
		"dst=10.1.0.10 dev=dyn1",
		"dst=default gateway=10.2.0.1 dev=eth0 table=100 prefsrc=10.1.0.1")
	wantList(t, "rules with protocol 158", rules(t, h.ns, "158"), "priority=1000 src=10.1.0.10 iif=eth0 table=100")
	wantList(t, "proxy entries", proxies(t, h.ns), "dst=10.1.0.10 dev=eth0")
	wantList(t, "permanent neighbours", permanent(t, h.ns), "dst=10.1.0.20 dev=eth0 lladdr=02:00:00:00:00:20")
	if got := sysctl(t, h.ns, fwd.Name); got != "1" {
		t.Errorf("ip_forward = %s, want 1", got)
	}
	if got := sysctl(t, h.ns, proxyARP.Name); got != "1" {
		t.Errorf("eth0 proxy_arp = %s, want 1", got)
	}
	if !contains(links(t, h.ns), "dyn1") {
		t.Errorf("no tunnel device dyn1: %q", links(t, h.ns))
	}
	if got := kernel.Render(k.Entries()); got != kernel.Render(everything()) {
		t.Errorf("Entries:\n%s\nwant:\n%s", got, kernel.Render(everything()))
	}
	if hostErr == nil {
		if now, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); string(now) != string(hostForward) {
			t.Errorf("the host's ip_forward changed from %q to %q: sysctls must be written in the Kernel's namespace", hostForward, now)
		}
	}

	t.Run("idempotent", func(t *testing.T) {
		before := k.Changes()
		if err := k.Ensure(everything()...); err != nil {
			t.Fatal(err)
		}
		if err := k.Sync(everything()); err != nil {
			t.Fatal(err)
		}
		if n := k.Changes() - before; n != 0 {
			t.Errorf("Ensure and Sync of what is present made %d changes, want 0", n)
		}
		wantList(t, "routes after repeating", routes(t, h.ns, "158"),
			"dst=10.1.0.10 dev=dyn1",
			"dst=default gateway=10.2.0.1 dev=eth0 table=100 prefsrc=10.1.0.1")
		wantList(t, "rules after repeating", rules(t, h.ns, "158"), "priority=1000 src=10.1.0.10 iif=eth0 table=100")
	})

	t.Run("change", func(t *testing.T) {
		moved := kernel.Route{Dst: host1.Dst, Dev: "dyn2"}
		retabled := revRule
		retabled.Table = 101
		if err := k.Ensure(moved, retabled, tun2); err != nil {
			t.Fatal(err)
		}
		wantList(t, "routes after the move", routes(t, h.ns, "158"),
			"dst=10.1.0.10 dev=dyn2",
			"dst=default gateway=10.2.0.1 dev=eth0 table=100 prefsrc=10.1.0.1")
		wantList(t, "rules after the change", rules(t, h.ns, "158"), "priority=1000 src=10.1.0.10 iif=eth0 table=101")
		if err := k.Ensure(host1, revRule); err != nil {
			t.Fatal(err)
		}
		wantList(t, "rules changed back", rules(t, h.ns, "158"), "priority=1000 src=10.1.0.10 iif=eth0 table=100")
	})

	t.Run("remove", func(t *testing.T) {
		if err := k.Remove(revRule, proxy, neigh, reverse); err != nil {
			t.Fatal(err)
		}
		wantList(t, "routes after Remove", routes(t, h.ns, "158"), "dst=10.1.0.10 dev=dyn1")
		wantList(t, "rules after Remove", rules(t, h.ns, "158"))
		wantList(t, "proxy entries after Remove", proxies(t, h.ns))
		wantList(t, "neighbours after Remove", permanent(t, h.ns))
		before := k.Changes()
		if err := k.Remove(revRule, proxy, neigh, reverse); err != nil {
			t.Fatalf("removing absent entries: %v", err)
		}
		if n := k.Changes() - before; n != 0 {
			t.Errorf("removing absent entries made %d changes", n)
		}
		// The kernel deletes routes with their device.
		if err := k.Remove(tun1); err != nil {
			t.Fatal(err)
		}
		wantList(t, "routes after deleting the tunnel", routes(t, h.ns, "158"))
		for _, e := range k.Entries() {
			if e.Kind() == kernel.KindRoute {
				t.Errorf("Entries still holds %v after its device went", e)
			}
		}
		if err := k.Ensure(everything()...); err != nil {
			t.Fatal(err)
		}
	})

	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	wantList(t, "routes after Close", routes(t, h.ns, "158"))
	wantList(t, "rules after Close", rules(t, h.ns, "158"))
	wantList(t, "proxy entries after Close", proxies(t, h.ns))
	wantList(t, "neighbours after Close", permanent(t, h.ns))
	wantList(t, "links after Close", links(t, h.ns), "eth0", "lo")
	if got := sysctl(t, h.ns, fwd.Name); got != "0" {
		t.Errorf("ip_forward = %s after Close, want the original 0", got)
	}
	if got := sysctl(t, h.ns, proxyARP.Name); got != "0" {
		t.Errorf("proxy_arp = %s after Close, want the original 0", got)
	}
	if err := k.Ensure(fwd); !errors.Is(err, kernel.ErrClosed) {
		t.Errorf("Ensure after Close = %v, want ErrClosed", err)
	}
	if err := k.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestSyncAfterRestart(t *testing.T) {
	h := newHost(t)
	state := filepath.Join(t.TempDir(), "dynhad.state")
	opts := Options{StateFile: state}
	h.ns.Sysctl("net/ipv4/conf/eth0/rp_filter", "2")
	rpFilter := kernel.Sysctl{Name: "net/ipv4/conf/eth0/rp_filter", Value: "0"}

	first := newKernel(t, h.ns, newTunDriver(h.ns), opts)
	if err := first.Ensure(append(everything(), tun2, rpFilter, kernel.Route{Dst: netip.MustParsePrefix("10.1.0.11/32"), Dev: "dyn2"})...); err != nil {
		t.Fatal(err)
	}
	abandon(first) // the daemon crashed
	wantList(t, "the crashed run's routes", routes(t, h.ns, "158"),
		"dst=10.1.0.10 dev=dyn1", "dst=10.1.0.11 dev=dyn2",
		"dst=default gateway=10.2.0.1 dev=eth0 table=100 prefsrc=10.1.0.1")
	wantList(t, "the crashed run's rules", rules(t, h.ns, "158"), "priority=1000 src=10.1.0.10 iif=eth0 table=100")
	wantList(t, "the crashed run's proxy entries", proxies(t, h.ns), "dst=10.1.0.10 dev=eth0")

	// Entries of someone else's, some with the same keys as ours.
	h.ns.Run("ip", "route", "add", "10.9.0.0/24", "dev", "eth0")
	h.ns.Run("ip", "route", "add", "10.1.0.10/32", "dev", "eth0", "table", "200")
	h.ns.Run("ip", "route", "add", "10.1.0.11/32", "dev", "eth0", "table", "100", "proto", "static")
	h.ns.Run("ip", "rule", "add", "priority", "1000", "from", "10.9.0.0/24", "lookup", "200")
	h.ns.Run("ip", "rule", "add", "priority", "1001", "from", "10.1.0.10/32", "iif", "eth0", "lookup", "100", "protocol", "static")
	h.ns.Run("ip", "neigh", "add", "proxy", "10.1.0.99", "dev", "eth0")
	h.ns.Run("ip", "neigh", "add", "10.1.0.98", "lladdr", "02:00:00:00:00:98", "dev", "eth0", "nud", "permanent")
	netnstest.Veth(t, h.ns, "dynveth", h.peer, "other") // named like a tunnel, but a veth
	foreignRoutes := routes(t, h.ns, "boot")
	if !contains(foreignRoutes, "dst=10.1.0.10 dev=eth0 table=200") {
		t.Fatalf("foreign routes: %q", foreignRoutes)
	}
	foreignRules := rules(t, h.ns, "")
	foreignStatic := rules(t, h.ns, "static")

	second := newKernel(t, h.ns, newTunDriver(h.ns), opts)
	want := []kernel.Entry{fwd, tun1, host1}
	if err := second.Sync(want); err != nil {
		t.Fatal(err)
	}
	wantList(t, "our routes after Sync", routes(t, h.ns, "158"), "dst=10.1.0.10 dev=dyn1")
	wantList(t, "our rules after Sync", rules(t, h.ns, "158"))
	wantList(t, "proxy entries after Sync", proxies(t, h.ns), "dst=10.1.0.99 dev=eth0")
	wantList(t, "neighbours after Sync", permanent(t, h.ns), "dst=10.1.0.98 dev=eth0 lladdr=02:00:00:00:00:98")
	wantList(t, "links after Sync", links(t, h.ns), "dyn1", "dynveth", "eth0", "lo")
	wantList(t, "foreign routes after Sync", routes(t, h.ns, "boot"), foreignRoutes...)
	wantList(t, "foreign static routes after Sync", routes(t, h.ns, "static"), "dst=10.1.0.11 dev=eth0 table=100")
	wantList(t, "foreign rules after Sync", rules(t, h.ns, ""), foreignRules...)
	wantList(t, "foreign static rules after Sync", rules(t, h.ns, "static"), foreignStatic...)
	if got := sysctl(t, h.ns, proxyARP.Name); got != "0" {
		t.Errorf("proxy_arp = %s after Sync, want the value before the crashed run, 0", got)
	}
	if got := sysctl(t, h.ns, rpFilter.Name); got != "2" {
		t.Errorf("rp_filter = %s after Sync, want the value before the crashed run, 2", got)
	}
	if got := sysctl(t, h.ns, fwd.Name); got != "1" {
		t.Errorf("ip_forward = %s after Sync, want 1", got)
	}
	if got := kernel.Render(second.Entries()); got != kernel.Render(want) {
		t.Errorf("Entries after Sync:\n%s\nwant:\n%s", got, kernel.Render(want))
	}

	before := second.Changes()
	if err := second.Sync(want); err != nil {
		t.Fatal(err)
	}
	if n := second.Changes() - before; n != 0 {
		t.Errorf("a second Sync made %d changes, want 0", n)
	}

	// Sync repairs what someone deleted behind the Kernel's back.
	h.ns.Run("ip", "route", "del", "10.1.0.10/32", "dev", "dyn1")
	if err := second.Sync(want); err != nil {
		t.Fatal(err)
	}
	wantList(t, "our routes after the repair", routes(t, h.ns, "158"), "dst=10.1.0.10 dev=dyn1")

	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	wantList(t, "our routes after Close", routes(t, h.ns, "158"))
	wantList(t, "links after Close", links(t, h.ns), "dynveth", "eth0", "lo")
	wantList(t, "foreign routes after Close", routes(t, h.ns, "boot"), foreignRoutes...)
	if got := sysctl(t, h.ns, fwd.Name); got != "0" {
		t.Errorf("ip_forward = %s after Close, want 0, the value before the crashed run", got)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state file after a clean Close: %v, want it removed", err)
	}
}

func TestRemoveLeavesForeignEntries(t *testing.T) {
	h := newHost(t)
	k := newKernel(t, h.ns, nil, Options{})
	h.ns.Run("ip", "route", "add", "10.1.0.10/32", "dev", "eth0")
	h.ns.Run("ip", "rule", "add", "priority", "1000", "from", "10.1.0.10/32", "iif", "eth0", "lookup", "100")
	h.ns.Run("ip", "neigh", "add", "proxy", "10.1.0.10", "dev", "eth0")
	h.ns.Sysctl(fwd.Name, "1")
	sameKey := kernel.Route{Dst: netip.MustParsePrefix("10.1.0.10/32"), Dev: "eth0"}
	if err := k.Remove(sameKey, revRule, proxy, fwd); err != nil {
		t.Fatal(err)
	}
	if k.Changes() != 0 {
		t.Errorf("Remove of entries the Kernel never made changed %d things", k.Changes())
	}
	wantList(t, "foreign route", routes(t, h.ns, "boot"), "dst=10.1.0.10 dev=eth0")
	wantList(t, "foreign rule", rules(t, h.ns, ""), "priority=1000 src=10.1.0.10 iif=eth0 table=100")
	wantList(t, "foreign proxy entry", proxies(t, h.ns), "dst=10.1.0.10 dev=eth0")
	if got := sysctl(t, h.ns, fwd.Name); got != "1" {
		t.Errorf("ip_forward = %s, want the administrator's 1", got)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	wantList(t, "foreign route after Close", routes(t, h.ns, "boot"), "dst=10.1.0.10 dev=eth0")
}

func TestSysctlChangedBySomeoneElse(t *testing.T) {
	h := newHost(t)
	k := newKernel(t, h.ns, nil, Options{})
	if err := k.Ensure(fwd); err != nil {
		t.Fatal(err)
	}
	h.ns.Sysctl(fwd.Name, "0")
	h.ns.Sysctl(fwd.Name, "1") // an administrator set it again meanwhile: still ours
	rp := kernel.Sysctl{Name: "net/ipv4/conf/eth0/rp_filter", Value: "0"}
	h.ns.Sysctl(rp.Name, "1")
	if err := k.Ensure(rp); err != nil {
		t.Fatal(err)
	}
	h.ns.Sysctl(rp.Name, "2") // changed by someone else after us
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if got := sysctl(t, h.ns, fwd.Name); got != "0" {
		t.Errorf("ip_forward = %s after Close, want 0", got)
	}
	if got := sysctl(t, h.ns, rp.Name); got != "2" {
		t.Errorf("rp_filter = %s after Close, want someone else's 2 kept", got)
	}
}

func TestDevicesAndErrors(t *testing.T) {
	h := newHost(t)
	k := newKernel(t, h.ns, nil, Options{})
	if err := k.Ensure(kernel.Route{Dst: host1.Dst, Dev: "nosuch0"}); !errors.Is(err, kernel.ErrNoDevice) {
		t.Errorf("route on a missing device: %v, want ErrNoDevice", err)
	}
	if err := k.Ensure(tun1); !errors.Is(err, kernel.ErrUnsupported) {
		t.Errorf("tunnel without a driver: %v, want ErrUnsupported", err)
	}
	if err := k.GratuitousARP("nosuch0", mobile); !errors.Is(err, kernel.ErrNoDevice) {
		t.Errorf("gratuitous ARP on a missing device: %v, want ErrNoDevice", err)
	}
	if err := k.GratuitousARP("lo", mobile); !errors.Is(err, kernel.ErrUnsupported) {
		t.Errorf("gratuitous ARP on loopback: %v, want ErrUnsupported", err)
	}
	if k.Changes() != 0 {
		t.Errorf("failed calls made %d changes", k.Changes())
	}
}

func TestBatchValidation(t *testing.T) {
	// No namespace needed: nothing reaches the kernel.
	k, err := New(nil, Options{})
	if err != nil {
		t.Skipf("skipped: no netlink socket: %v", err)
	}
	defer k.Close()
	bad := [][]kernel.Entry{
		{kernel.Tunnel{Name: "tun1", Local: tun1.Local, Remote: tun1.Remote}}, // without the prefix
		{fwd, kernel.Route{Dst: netip.MustParsePrefix("10.1.0.10/24"), Dev: "eth0"}},
		{host1, kernel.Route{Dst: host1.Dst, Dev: "dyn2"}},
		{&host1},
	}
	for _, b := range bad {
		if err := k.Ensure(b...); !errors.Is(err, kernel.ErrInvalid) {
			t.Errorf("Ensure(%v) = %v, want ErrInvalid", b, err)
		}
		if err := k.Sync(b); !errors.Is(err, kernel.ErrInvalid) {
			t.Errorf("Sync(%v) = %v, want ErrInvalid", b, err)
		}
		if err := k.Remove(b...); !errors.Is(err, kernel.ErrInvalid) {
			t.Errorf("Remove(%v) = %v, want ErrInvalid", b, err)
		}
	}
	if k.Changes() != 0 {
		t.Errorf("invalid batches made %d changes", k.Changes())
	}
	if err := k.GratuitousARP("eth0", netip.MustParseAddr("2001:db8::1")); !errors.Is(err, kernel.ErrInvalid) {
		t.Errorf("IPv6 gratuitous ARP = %v, want ErrInvalid", err)
	}
}

func TestOptions(t *testing.T) {
	o, err := Options{}.withDefaults()
	if err != nil || o.TunnelPrefix != "dyn" || o.RouteProtocol != DefaultRouteProtocol || o.Logger == nil {
		t.Fatalf("defaults = %+v, %v", o, err)
	}
	for _, bad := range []Options{
		{RouteProtocol: 3},   // boot: every `ip route add` route
		{RouteProtocol: 256}, // does not fit
		{TunnelPrefix: "a/b"},
		{TunnelPrefix: strings.Repeat("d", 13)},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
		if _, err := New(nil, bad); err == nil {
			t.Errorf("New(%+v) accepted", bad)
		}
	}
}
