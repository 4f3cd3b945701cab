package kernel

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
)

// homeAgent is what a home agent wants for one mobile away from home.
func homeAgent() []Entry {
	return []Entry{rule, route, proxy, tunnel, fwd}
}

func mustEnsure(t *testing.T, k Kernel, entries ...Entry) {
	t.Helper()
	if err := k.Ensure(entries...); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
}

func TestFakeConvergence(t *testing.T) {
	f := NewFake("eth0", "eth1")
	f.SetSysctl(fwd.Name, "0")

	mustEnsure(t, f, homeAgent()...)
	want := Render(homeAgent())
	if got := f.Render(); got != want {
		t.Fatalf("after Ensure:\n%s\nwant:\n%s", got, want)
	}
	if v, _ := f.Sysctl(fwd.Name); v != "1" {
		t.Errorf("%s = %q after Ensure, want 1", fwd.Name, v)
	}
	if n := f.Changes(); n != 5 {
		t.Errorf("Changes() = %d after ensuring 5 entries, want 5", n)
	}

	t.Run("idempotent", func(t *testing.T) {
		before := f.Changes()
		mustEnsure(t, f, homeAgent()...)
		mustEnsure(t, f, tunnel, route)
		if err := f.Sync(homeAgent()); err != nil {
			t.Fatal(err)
		}
		if got := f.Changes() - before; got != 0 {
			t.Errorf("repeating Ensure and Sync made %d changes, want 0: %v", got, f.Ops()[before:])
		}
	})

	t.Run("change replaces by key", func(t *testing.T) {
		moved := Route{Dst: route.Dst, Dev: "dyn2"}
		tun2 := Tunnel{Name: "dyn2", Local: tunnel.Local, Remote: netip.MustParseAddr("10.0.2.2")}
		before := f.Changes()
		mustEnsure(t, f, moved, tun2)
		if got := f.Ops()[before:]; !slices.Equal(got, []string{"add " + tun2.String(), "replace " + moved.String()}) {
			t.Errorf("ops = %q, want the tunnel added, then the route replaced", got)
		}
		if f.Has(route) || !f.Has(moved) {
			t.Errorf("route not replaced:\n%s", f.Render())
		}
		mustEnsure(t, f, route)
	})

	t.Run("remove", func(t *testing.T) {
		if err := f.Remove(proxy, rule); err != nil {
			t.Fatal(err)
		}
		if f.Has(proxy) || f.Has(rule) {
			t.Errorf("removed entries still present:\n%s", f.Render())
		}
		before := f.Changes()
		if err := f.Remove(proxy, rule); err != nil {
			t.Fatalf("removing absent entries: %v", err)
		}
		if f.Changes() != before {
			t.Errorf("removing absent entries made changes: %v", f.Ops()[before:])
		}
		// Remove matches by key, whatever the other fields say.
		if err := f.Remove(Route{Dst: route.Dst, Dev: "elsewhere"}); err != nil {
			t.Fatal(err)
		}
		if f.Has(route) {
			t.Error("Remove by key left the route")
		}
	})
}

func TestFakeSync(t *testing.T) {
	f := NewFake()
	mustEnsure(t, f, homeAgent()...)
	other := Route{Dst: netip.MustParsePrefix("10.1.0.11/32"), Dev: "dyn1"}
	mustEnsure(t, f, other)

	// The mobile 10.1.0.10 has deregistered: only the tunnel (still used by
	// 10.1.0.11) and forwarding remain wanted.
	want := []Entry{fwd, tunnel, other}
	if err := f.Sync(want); err != nil {
		t.Fatal(err)
	}
	if got := f.Render(); got != Render(want) {
		t.Fatalf("after Sync:\n%s\nwant:\n%s", got, Render(want))
	}
	var kinds []Kind
	for _, e := range f.Entries() {
		kinds = append(kinds, e.Kind())
	}
	if !slices.Equal(kinds, []Kind{KindSysctl, KindTunnel, KindRoute}) {
		t.Errorf("Entries kinds = %v, want sysctl, tunnel, route", kinds)
	}

	if err := f.Sync(nil); err != nil {
		t.Fatal(err)
	}
	if e := f.Entries(); len(e) != 0 {
		t.Errorf("Sync(nil) left %v", e)
	}
	if _, set := f.Sysctl(fwd.Name); set {
		t.Error("Sync(nil) did not restore the unset sysctl")
	}
}

func TestFakeOrdering(t *testing.T) {
	f := NewFake("eth0", "eth1")
	// Passed route first: the route on dyn1 can only be made once the tunnel
	// exists, so the fake (like the kernel) would reject it out of order.
	mustEnsure(t, f, route, tunnel)
	ops := f.Ops()
	if len(ops) != 2 || !strings.HasPrefix(ops[0], "add ip tunnel") || !strings.HasPrefix(ops[1], "add ip route") {
		t.Fatalf("ops = %q, want the tunnel before the route", ops)
	}
	if err := f.Remove(tunnel, route); err != nil {
		t.Fatal(err)
	}
	ops = f.Ops()[2:]
	if len(ops) != 2 || ops[0] != "del "+route.String() || ops[1] != "del "+tunnel.String() {
		t.Fatalf("ops = %q, want the route deleted before the tunnel", ops)
	}
}

func TestFakeDevices(t *testing.T) {
	f := NewFake("eth0")
	if err := f.Ensure(route); !errors.Is(err, ErrNoDevice) {
		t.Fatalf("route on a missing tunnel: %v, want ErrNoDevice", err)
	}
	if err := f.Ensure(ProxyARP{IP: proxy.IP, Dev: "eth9"}); !errors.Is(err, ErrNoDevice) {
		t.Fatalf("proxy entry on a missing link: %v, want ErrNoDevice", err)
	}
	if err := f.GratuitousARP("eth9", proxy.IP); !errors.Is(err, ErrNoDevice) {
		t.Fatalf("gratuitous ARP on a missing link: %v, want ErrNoDevice", err)
	}
	// A rule's iif may name a device that does not exist yet.
	mustEnsure(t, f, rule)

	// Deleting a tunnel takes what lives on its device with it.
	onTunnel := Neighbor{IP: neigh.IP, Dev: "dyn1", HWAddr: hw}
	mustEnsure(t, f, tunnel, route, onTunnel, proxy)
	if err := f.Remove(tunnel); err != nil {
		t.Fatal(err)
	}
	if f.Has(route) || f.Has(onTunnel) {
		t.Errorf("entries on a deleted tunnel survived:\n%s", f.Render())
	}
	if !f.Has(proxy) || !f.Has(rule) {
		t.Errorf("entries elsewhere went with the tunnel:\n%s", f.Render())
	}
}

func TestFakeInvalid(t *testing.T) {
	f := NewFake()
	bad := []Entry{
		Route{Dst: netip.MustParsePrefix("10.1.0.10/32")},
		&tunnel,
		Rule{Priority: 5, Src: rule.Src, Table: 254},
	}
	for _, b := range bad {
		if err := f.Ensure(tunnel, b); !errors.Is(err, ErrInvalid) {
			t.Errorf("Ensure(%v) = %v, want ErrInvalid", b, err)
		}
		if err := f.Remove(b); !errors.Is(err, ErrInvalid) {
			t.Errorf("Remove(%v) = %v, want ErrInvalid", b, err)
		}
		if err := f.Sync([]Entry{b}); !errors.Is(err, ErrInvalid) {
			t.Errorf("Sync(%v) = %v, want ErrInvalid", b, err)
		}
	}
	moved := Route{Dst: route.Dst, Dev: "dyn2"}
	if err := f.Ensure(tunnel, route, moved); !errors.Is(err, ErrInvalid) {
		t.Errorf("Ensure with two routes to one destination = %v, want ErrInvalid", err)
	}
	if n := f.Changes(); n != 0 {
		t.Errorf("a batch with an invalid entry made %d changes, want none: %q", n, f.Ops())
	}
}

func TestFakeClose(t *testing.T) {
	f := NewFake("eth0", "eth1")
	f.SetSysctl(fwd.Name, "0")
	mustEnsure(t, f, homeAgent()...)
	mustEnsure(t, f, neigh, Sysctl{Name: "net/ipv4/conf/eth0/proxy_arp", Value: "1"})
	if err := f.GratuitousARP("eth0", proxy.IP); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if s := f.Render(); s != "" {
		t.Errorf("Close left:\n%s", s)
	}
	if v, _ := f.Sysctl(fwd.Name); v != "0" {
		t.Errorf("%s = %q after Close, want the original 0", fwd.Name, v)
	}
	if _, set := f.Sysctl("net/ipv4/conf/eth0/proxy_arp"); set {
		t.Error("Close did not restore a sysctl that had no value")
	}
	ops := f.Ops()
	last := ops[len(ops)-1]
	if !strings.Contains(last, "sysctl") {
		t.Errorf("last op %q: sysctls are restored after everything else", last)
	}
	if err := f.Ensure(route); !errors.Is(err, ErrClosed) {
		t.Errorf("Ensure after Close = %v, want ErrClosed", err)
	}
	if err := f.Sync(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync after Close = %v, want ErrClosed", err)
	}
	if err := f.GratuitousARP("eth0", proxy.IP); !errors.Is(err, ErrClosed) {
		t.Errorf("GratuitousARP after Close = %v, want ErrClosed", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestFakeFailOn(t *testing.T) {
	f := NewFake()
	boom := errors.New("netlink: boom")
	f.FailOn(KindRoute, boom)
	err := f.Ensure(tunnel, route, rule)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), route.Dst.String()) {
		t.Fatalf("Ensure = %v, want the injected error naming the route", err)
	}
	if !f.Has(tunnel) || f.Has(route) || f.Has(rule) {
		t.Errorf("after a failed route: want the tunnel only (the rule comes after routes):\n%s", f.Render())
	}
	// No change needed: no failure.
	mustEnsure(t, f, tunnel)

	f.FailOn(KindRoute, nil)
	mustEnsure(t, f, tunnel, route, rule, proxy)

	f.FailOn(KindProxyARP, boom)
	if err := f.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close = %v, want the injected error", err)
	}
	if got := f.Render(); got != proxy.String()+"\n" {
		t.Errorf("after a failed Close: want only the proxy entry left, got\n%s", got)
	}

	g := NewFake()
	g.FailARP(boom)
	if err := g.GratuitousARP("eth0", proxy.IP); !errors.Is(err, boom) {
		t.Errorf("GratuitousARP = %v, want the injected error", err)
	}
	if len(g.ARPs()) != 0 {
		t.Error("a failed gratuitous ARP was recorded")
	}
}

func TestFakeARP(t *testing.T) {
	f := &Fake{} // the zero Fake accepts any device
	ip := netip.MustParseAddr("10.1.0.10")
	for range 2 {
		if err := f.GratuitousARP("eth0", ip); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.ARPs(); len(got) != 2 || got[0] != (ARP{Dev: "eth0", IP: ip}) {
		t.Errorf("ARPs = %v", got)
	}
	if err := f.GratuitousARP("eth0", netip.MustParseAddr("2001:db8::1")); !errors.Is(err, ErrInvalid) {
		t.Errorf("IPv6 gratuitous ARP = %v, want ErrInvalid", err)
	}
}

func TestFakeConcurrent(t *testing.T) {
	f := NewFake()
	mustEnsure(t, f, tunnel)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				r := Route{Dst: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 1, byte(i), byte(j)}), 32), Dev: "dyn1"}
				if err := f.Ensure(r); err != nil {
					t.Error(err)
					return
				}
				_ = f.Render()
				_ = f.Entries()
				if j%2 == 1 {
					if err := f.Remove(r); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if n := len(f.Entries()); n != 1+8*25 {
		t.Errorf("%d entries, want %d", n, 1+8*25)
	}
	if n := f.Changes(); n != 1+8*50+8*25 {
		t.Errorf("%d changes, want %d", n, 1+8*50+8*25)
	}
}
