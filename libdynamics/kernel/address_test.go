package kernel

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
)

var (
	coa     = Address{Prefix: netip.MustParsePrefix("10.4.0.10/24"), Dev: "eth0"}
	viaCoA  = Route{Dst: netip.MustParsePrefix("10.1.0.1/32"), Dev: "eth0", Gw: netip.MustParseAddr("10.4.0.1"), Src: netip.MustParseAddr("10.4.0.10")}
	defHome = Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: "eth0", Gw: netip.MustParseAddr("10.4.0.1"), Src: netip.MustParseAddr("10.1.0.10")}
)

func TestAddressValidate(t *testing.T) {
	p := netip.MustParsePrefix
	for _, c := range []struct {
		name string
		a    Address
		ok   bool
	}{
		{"host bits kept", coa, true},
		{"host address", Address{Prefix: p("10.1.0.10/32"), Dev: "eth0"}, true},
		{"no prefix", Address{Dev: "eth0"}, false},
		{"IPv6", Address{Prefix: p("2001:db8::1/64"), Dev: "eth0"}, false},
		{"prefix length 0", Address{Prefix: p("10.4.0.10/0"), Dev: "eth0"}, false},
		{"unspecified", Address{Prefix: p("0.0.0.0/8"), Dev: "eth0"}, false},
		{"multicast", Address{Prefix: p("224.0.0.1/32"), Dev: "eth0"}, false},
		{"no device", Address{Prefix: p("10.4.0.10/24")}, false},
	} {
		err := Validate(c.a)
		if (err == nil) != c.ok {
			t.Errorf("%s: Validate(%v) = %v, want ok=%v", c.name, c.a, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v does not wrap ErrInvalid", c.name, err)
		}
	}
	if err := Validate(&coa); !errors.Is(err, ErrInvalid) {
		t.Errorf("Validate(pointer) = %v, want ErrInvalid", err)
	}
}

func TestAddressKeyAndString(t *testing.T) {
	wider := Address{Prefix: netip.MustParsePrefix("10.4.0.10/16"), Dev: "eth0"}
	if coa.Key() != wider.Key() {
		t.Errorf("keys %q and %q differ: the prefix length must not identify an address", coa.Key(), wider.Key())
	}
	if other := (Address{Prefix: coa.Prefix, Dev: "eth1"}); other.Key() == coa.Key() {
		t.Errorf("the same address on two devices has one key %q", coa.Key())
	}
	if got, want := coa.String(), "ip addr replace 10.4.0.10/24 dev eth0"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// An address is ensured before the routes that prefer it as their source
// and removed after them, whatever the order given.
func TestAddressOrder(t *testing.T) {
	f := NewFake("eth0")
	mustEnsure(t, f, viaCoA, defHome, coa, tunnel)
	ops := f.Ops()
	if i := slices.Index(ops, "add "+coa.String()); i < 0 || i > slices.Index(ops, "add "+viaCoA.String()) ||
		i < slices.Index(ops, "add "+tunnel.String()) {
		t.Errorf("ops %q: want the tunnel, then the address, then the routes", ops)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	ops = f.Ops()[4:]
	if ops[len(ops)-2] != "del "+coa.String() {
		t.Errorf("close ops %q: want the address removed after the routes, before the tunnel", ops)
	}
}

// Removing an address takes the routes preferring it as source with it;
// replacing its prefix length does not.
func TestFakeAddressRemovalTakesRoutes(t *testing.T) {
	f := NewFake("eth0")
	mustEnsure(t, f, coa, viaCoA, defHome)
	mustEnsure(t, f, Address{Prefix: netip.MustParsePrefix("10.4.0.10/16"), Dev: "eth0"})
	if !f.Has(viaCoA) {
		t.Fatalf("replacing the prefix length removed %s", viaCoA)
	}
	if err := f.Remove(coa); err != nil {
		t.Fatal(err)
	}
	if f.Has(viaCoA) {
		t.Errorf("%s survived the removal of its source address", viaCoA)
	}
	if !f.Has(defHome) {
		t.Errorf("%s, from another source, went with the address", defHome)
	}
}

// A tunnel takes the addresses on its device with it.
func TestFakeTunnelTakesAddresses(t *testing.T) {
	f := NewFake("eth0")
	onTunnel := Address{Prefix: netip.MustParsePrefix("192.0.2.1/32"), Dev: tunnel.Name}
	mustEnsure(t, f, tunnel, onTunnel)
	if err := f.Remove(tunnel); err != nil {
		t.Fatal(err)
	}
	if f.Has(onTunnel) {
		t.Errorf("%s survived its tunnel", onTunnel)
	}
	if err := f.Ensure(onTunnel); !errors.Is(err, ErrNoDevice) {
		t.Errorf("address on a missing device: %v, want ErrNoDevice", err)
	}
}
