package nlkernel

import (
	"net/netip"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dynamics-go/dynamics/internal/netnstest"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

var (
	coaAddr = kernel.Address{Prefix: netip.MustParsePrefix("10.4.0.10/24"), Dev: "eth0"}
	toHA    = kernel.Route{Dst: netip.MustParsePrefix("10.1.0.100/32"), Dev: "eth0", Gw: netip.MustParseAddr("10.4.0.1"),
		Src: netip.MustParseAddr("10.4.0.10")}
)

// addrs returns the IPv4 addresses of dev in ns as "a.b.c.d/len".
func addrs(t *testing.T, ns *netnstest.NS, dev string) []string {
	t.Helper()
	var out []string
	for _, l := range ipJSON(t, ns, "-4", "addr", "show", "dev", dev) {
		infos, _ := l["addr_info"].([]any)
		for _, i := range infos {
			m := i.(map[string]any)
			out = append(out, netip.PrefixFrom(netip.MustParseAddr(m["local"].(string)), int(m["prefixlen"].(float64))).String())
		}
	}
	slices.Sort(out)
	return out
}

func TestAddress(t *testing.T) {
	h := newHost(t)
	state := filepath.Join(t.TempDir(), "state")
	k := newKernel(t, h.ns, nil, Options{StateFile: state})

	// Passed route first: the address must be there before a route that
	// prefers it as source.
	if err := k.Ensure(toHA, coaAddr); err != nil {
		t.Fatal(err)
	}
	wantList(t, "addresses", addrs(t, h.ns, "eth0"), "10.1.0.1/24", "10.4.0.10/24")
	wantList(t, "routes", routes(t, h.ns, "158"), "dst=10.1.0.100 gateway=10.4.0.1 dev=eth0 prefsrc=10.4.0.10")
	l, err := loadState(state)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := l.entries[coaAddr.Key()]; !ok {
		t.Errorf("the state file does not record %s", coaAddr)
	}

	t.Run("idempotent", func(t *testing.T) {
		before := k.Changes()
		if err := k.Ensure(coaAddr); err != nil {
			t.Fatal(err)
		}
		if err := k.Sync([]kernel.Entry{coaAddr, toHA}); err != nil {
			t.Fatal(err)
		}
		if n := k.Changes() - before; n != 0 {
			t.Errorf("Ensure and Sync of a present address made %d changes", n)
		}
	})

	t.Run("prefix length replaced", func(t *testing.T) {
		wider := kernel.Address{Prefix: netip.MustParsePrefix("10.4.0.10/16"), Dev: "eth0"}
		if err := k.Ensure(wider); err != nil {
			t.Fatal(err)
		}
		wantList(t, "addresses", addrs(t, h.ns, "eth0"), "10.1.0.1/24", "10.4.0.10/16")
		if err := k.Ensure(coaAddr, toHA); err != nil {
			t.Fatal(err)
		}
		wantList(t, "addresses", addrs(t, h.ns, "eth0"), "10.1.0.1/24", "10.4.0.10/24")
	})

	t.Run("removal takes the routes from it", func(t *testing.T) {
		if err := k.Remove(coaAddr); err != nil {
			t.Fatal(err)
		}
		wantList(t, "addresses", addrs(t, h.ns, "eth0"), "10.1.0.1/24")
		wantList(t, "routes", routes(t, h.ns, "158"))
		if got := kernel.Render(k.Entries()); got != "" {
			t.Errorf("Entries after the address went:\n%s", got)
		}
	})

	t.Run("foreign address left alone", func(t *testing.T) {
		theirs := kernel.Address{Prefix: netip.MustParsePrefix("10.1.0.1/24"), Dev: "eth0"}
		if err := k.Remove(theirs); err != nil {
			t.Fatal(err)
		}
		wantList(t, "addresses", addrs(t, h.ns, "eth0"), "10.1.0.1/24")
	})

	t.Run("leftover removed by Sync after a crash", func(t *testing.T) {
		if err := k.Ensure(coaAddr); err != nil {
			t.Fatal(err)
		}
		abandon(k)
		next := newKernel(t, h.ns, nil, Options{StateFile: state})
		if err := next.Sync(nil); err != nil {
			t.Fatal(err)
		}
		wantList(t, "addresses", addrs(t, h.ns, "eth0"), "10.1.0.1/24")
	})
}
