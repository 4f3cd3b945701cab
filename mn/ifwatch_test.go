package mn

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/netnstest"
)

// TestNetnsNetlinkWatcher follows an interface (a veth whose peer is up)
// in a throw-away namespace: down without an address, up with one, the
// address replaced, the link down and up, its peer down, the link gone.
func TestNetnsNetlinkWatcher(t *testing.T) {
	netnstest.RequireRoot(t)
	ns := netnstest.New(t, "mnw")
	ns.Run("ip", "link", "add", "wl0", "type", "veth", "peer", "name", "wl1")
	ns.Run("ip", "link", "set", "wl1", "up")

	type report struct {
		name string
		addr netip.Addr
	}
	reports := make(chan report, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ns.Do(func() error {
			return NetlinkWatcher{}.Watch(ctx, []string{"wl0", "absent0"}, func(name string, addr netip.Addr) {
				reports <- report{name, addr}
			})
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Watch: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Watch did not return after cancel")
		}
	})
	expect := func(name string, addr netip.Addr) {
		t.Helper()
		for {
			select {
			case r := <-reports:
				if r.name == name && r.addr == addr {
					return
				}
				t.Logf("report %s %v (waiting for %s %v)", r.name, r.addr, name, addr)
			case <-time.After(5 * time.Second):
				t.Fatalf("no report of %s %v", name, addr)
			}
		}
	}
	// The first look reports every interface named.
	expect("wl0", netip.Addr{})
	expect("absent0", netip.Addr{})

	a1, a2 := netip.MustParseAddr("10.5.0.10"), netip.MustParseAddr("10.6.0.10")
	ns.Run("ip", "addr", "add", a1.String()+"/24", "dev", "wl0")
	ns.Run("ip", "link", "set", "wl0", "up")
	expect("wl0", a1)
	ns.Run("ip", "addr", "add", a2.String()+"/24", "dev", "wl0")
	ns.Run("ip", "addr", "del", a1.String()+"/24", "dev", "wl0")
	expect("wl0", a2)
	ns.Run("ip", "link", "set", "wl0", "down")
	expect("wl0", netip.Addr{})
	ns.Run("ip", "link", "set", "wl0", "up")
	expect("wl0", a2)
	ns.Run("ip", "link", "set", "wl1", "down") // carrier lost
	expect("wl0", netip.Addr{})
	ns.Run("ip", "link", "set", "wl1", "up")
	expect("wl0", a2)
	ns.Run("ip", "link", "del", "wl0")
	expect("wl0", netip.Addr{})
}
