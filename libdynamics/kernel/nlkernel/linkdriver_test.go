package nlkernel

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/internal/netnstest"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

// TestLinkDriver checks the ipip driver against what the kernel can do: with
// the ipip module it makes, updates and deletes ipip links; without it, it
// says so with an error wrapping kernel.ErrUnsupported that names ipip.
func TestLinkDriver(t *testing.T) {
	ns := netnstest.New(t, "l")
	var drv kernel.TunnelDriver
	var probe error
	if err := ns.Do(func() error {
		drv = NewLinkDriver(Options{Logger: testLogger(t)})
		probe = ProbeIPIP()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = drv.Close() })
	if drv.Name() != "netlink" {
		t.Errorf("Name() = %q", drv.Name())
	}
	if l := links(t, ns); !slicesEqual(l, []string{"lo"}) && !contains(l, "tunl0") {
		t.Errorf("ProbeIPIP left links behind: %q", l)
	}
	for _, l := range links(t, ns) {
		if strings.HasPrefix(l, "dynprobe") {
			t.Errorf("ProbeIPIP left %s behind", l)
		}
	}

	err := drv.AddTunnel(tun1)
	if probe != nil {
		t.Logf("this kernel cannot make ipip links: %v", probe)
		for what, err := range map[string]error{"ProbeIPIP": probe, "AddTunnel": err} {
			if !errors.Is(err, kernel.ErrUnsupported) || !strings.Contains(err.Error(), "ipip") {
				t.Errorf("%s = %v, want an error wrapping ErrUnsupported that mentions ipip", what, err)
			}
		}
		if contains(links(t, ns), tun1.Name) {
			t.Errorf("a failed AddTunnel left %s", tun1.Name)
		}

		// Through a Kernel, the error reaches the daemon the same way.
		var k *Kernel
		if err := ns.Do(func() (err error) { k, err = New(NewLinkDriver(Options{}), Options{Logger: testLogger(t)}); return err }); err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		if err := k.Ensure(tun1, host1); !errors.Is(err, kernel.ErrUnsupported) || !strings.Contains(err.Error(), "ipip") {
			t.Errorf("Kernel.Ensure(tunnel) = %v, want ErrUnsupported mentioning ipip", err)
		}
		if len(k.Entries()) != 0 {
			t.Errorf("entries after a failed tunnel: %v", k.Entries())
		}
		return
	}

	if err != nil {
		t.Fatalf("ProbeIPIP succeeded but AddTunnel failed: %v", err)
	}
	show := ns.Run("ip", "-d", "link", "show", tun1.Name)
	for _, want := range []string{"ipip", "remote 10.0.1.2", "local 10.1.0.1", "ttl 64", "UP"} {
		if !strings.Contains(show, want) {
			t.Errorf("ip -d link show %s lacks %q:\n%s", tun1.Name, want, show)
		}
	}
	moved := tun1
	moved.Remote = netip.MustParseAddr("10.0.9.2")
	moved.MTU = 1400
	if err := drv.AddTunnel(moved); err != nil {
		t.Fatal(err)
	}
	show = ns.Run("ip", "-d", "link", "show", tun1.Name)
	if !strings.Contains(show, "remote 10.0.9.2") || !strings.Contains(show, "mtu 1400") {
		t.Errorf("tunnel not updated in place:\n%s", show)
	}
	if err := drv.DelTunnel(tun1.Name); err != nil {
		t.Fatal(err)
	}
	if contains(links(t, ns), tun1.Name) {
		t.Error("DelTunnel left the link")
	}
	if err := drv.DelTunnel(tun1.Name); err != nil {
		t.Errorf("deleting an absent tunnel: %v", err)
	}
	if err := drv.AddTunnel(tun2); err != nil {
		t.Fatal(err)
	}
	if err := drv.Close(); err != nil {
		t.Fatal(err)
	}
	if contains(links(t, ns), tun2.Name) {
		t.Error("Close left a tunnel")
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }
