package secure

import (
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/esp"
)

// fakeKernel keeps policies in a map and refuses what a kernel would.
type fakeKernel struct {
	policies map[esp.PolicyKey]esp.Policy
	muxes    int
	closed   bool
}

func newFakeKernel() *fakeKernel { return &fakeKernel{policies: make(map[esp.PolicyKey]esp.Policy)} }

func (k *fakeKernel) Name() string             { return "fake" }
func (k *fakeKernel) AddSA(esp.SA) error       { return nil }
func (k *fakeKernel) UpdateSA(esp.SA) error    { return nil }
func (k *fakeKernel) DeleteSA(esp.SAKey) error { return nil }
func (k *fakeKernel) Close() error             { k.closed = true; return nil }
func (k *fakeKernel) DeletePolicy(key esp.PolicyKey) error {
	delete(k.policies, key)
	return nil
}

func (k *fakeKernel) AddPolicy(p esp.Policy) error {
	if _, ok := k.policies[p.Key()]; ok {
		return esp.ErrExists
	}
	k.policies[p.Key()] = p
	return nil
}

func (k *fakeKernel) UpdatePolicy(p esp.Policy) error {
	if _, ok := k.policies[p.Key()]; !ok {
		return esp.ErrNotFound
	}
	k.policies[p.Key()] = p
	return nil
}

// fakeMuxKernel also takes Muxes, as esp.Userspace does.
type fakeMuxKernel struct{ *fakeKernel }

func (k fakeMuxKernel) AddMux(*esp.Mux) error { k.muxes++; return nil }
func (k fakeMuxKernel) RemoveMux(*esp.Mux)    { k.muxes-- }

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// transport returns the policy pair of a transport-mode child between
// local and the peer, as the engine installs it for signalling.
func transport(local, peer string) (out, in esp.Policy) {
	l, r := pfx(local+"/32"), pfx(peer+"/32")
	out = esp.Policy{Direction: esp.Outbound, Mode: esp.ModeTransport, Selector: esp.Selector{Src: l, Dst: r, Protocol: 17, DstPort: 434},
		Local: l.Addr(), Remote: r.Addr(), ReqID: 1}
	in = esp.Policy{Direction: esp.Inbound, Mode: esp.ModeTransport, Selector: esp.Selector{Src: r, Dst: l, Protocol: 17, SrcPort: 434},
		Local: l.Addr(), Remote: r.Addr(), ReqID: 1}
	return out, in
}

// TestSnapshotUserspace: the home agent's view, userspace data path: a
// configured mobile and foreign agents prefix, then a mobile's SA that
// moves to a care-of address outside every entry.
func TestSnapshotUserspace(t *testing.T) {
	var snap atomic.Pointer[snapshot]
	snap.Store(&snapshot{entries: []netip.Prefix{pfx("10.1.0.10/32"), pfx("10.0.0.0/16")}, device: 7})
	fk := newFakeKernel()
	changes := 0
	k := newWatch(fakeMuxKernel{fk}, &snap, func() { changes++ })
	if _, ok := k.(interface{ AddMux(*esp.Mux) error }); !ok {
		t.Fatal("the watch over a Mux-taking kernel hides AddMux from the engine")
	}
	if _, ok := newWatch(fk, &snap, nil).(interface{ AddMux(*esp.Mux) error }); ok {
		t.Fatal("the watch over XFRM-like kernel claims AddMux")
	}
	if err := k.(interface{ AddMux(*esp.Mux) error }).AddMux(nil); err != nil || fk.muxes != 1 {
		t.Fatalf("AddMux not passed on: %v, %d", err, fk.muxes)
	}
	s := snap.Load()
	for _, tc := range []struct {
		src            string
		ifindex        int
		required, prot bool
	}{
		{"10.1.0.10", 7, true, true},   // the mobile, out of the ESP device
		{"10.1.0.10", 2, true, false},  // the mobile, in clear
		{"10.0.3.2", 2, true, false},   // a foreign agent in the prefix, in clear
		{"10.1.0.11", 2, false, false}, // a mobile without an entry
		{"10.1.0.11", 0, false, false},
		{"10.2.0.50", 7, false, true},
	} {
		if v := s.verdict(addr(tc.src), tc.ifindex); v.Required != tc.required || v.Protected != tc.prot || v.Drop() != (tc.required && !tc.prot) {
			t.Errorf("%s on %d: %+v", tc.src, tc.ifindex, v)
		}
	}
	if s.ready(addr("10.1.0.10")) || !s.ready(addr("198.51.100.1")) {
		t.Errorf("ready before any SA: mobile %v, unprotected peer %v", s.ready(addr("10.1.0.10")), s.ready(addr("198.51.100.1")))
	}

	out, in := transport("10.1.0.1", "10.1.0.10")
	if err := k.AddPolicy(out); err != nil {
		t.Fatal(err)
	}
	if err := k.AddPolicy(in); err != nil {
		t.Fatal(err)
	}
	if s := snap.Load(); !s.ready(addr("10.1.0.10")) || s.ready(addr("10.0.3.2")) || changes != 2 {
		t.Errorf("after the mobile's SA: ready %v, foreign agent ready %v, changes %d", s.ready(addr("10.1.0.10")), s.ready(addr("10.0.3.2")), changes)
	}
	// A refused policy changes nothing.
	if err := k.AddPolicy(out); !errors.Is(err, esp.ErrExists) || changes != 2 {
		t.Errorf("duplicate policy: %v, changes %d", err, changes)
	}

	// MOBIKE-X moves the mobile to 10.2.0.50: the selectors change.
	if err := k.DeletePolicy(out.Key()); err != nil {
		t.Fatal(err)
	}
	if err := k.DeletePolicy(in.Key()); err != nil {
		t.Fatal(err)
	}
	out2, in2 := transport("10.1.0.1", "10.2.0.50")
	_ = k.AddPolicy(out2)
	_ = k.AddPolicy(in2)
	s = snap.Load()
	if !s.required(addr("10.2.0.50")) || !s.ready(addr("10.2.0.50")) || s.ready(addr("10.1.0.10")) {
		t.Errorf("after the move: care-of required %v ready %v; home ready %v", s.required(addr("10.2.0.50")), s.ready(addr("10.2.0.50")), s.ready(addr("10.1.0.10")))
	}
	if v := s.verdict(addr("10.2.0.50"), 3); !v.Drop() {
		t.Errorf("forged datagram from the care-of address in clear: %+v", v)
	}
	if v := s.verdict(addr("10.2.0.50"), 7); v.Drop() || !v.Required {
		t.Errorf("the mobile's datagram out of ESP: %+v", v)
	}
	// A tunnel-mode inbound policy says nothing about signalling.
	tun := esp.Policy{Direction: esp.Inbound, Mode: esp.ModeTunnel, Selector: esp.Selector{Src: pfx("192.0.2.0/24"), Dst: pfx("10.1.0.1/32")},
		Local: addr("10.1.0.1"), Remote: addr("192.0.2.1")}
	_ = k.AddPolicy(tun)
	if snap.Load().required(addr("192.0.2.5")) {
		t.Error("a tunnel-mode inbound policy made its sources required")
	}
	if err := k.Close(); err != nil || !fk.closed {
		t.Fatalf("close: %v", err)
	}
	if s := snap.Load(); s.required(addr("10.2.0.50")) || !s.required(addr("10.1.0.10")) || s.device != 7 {
		t.Errorf("after close: %+v", s)
	}
}

// TestSnapshotXFRM: with XFRM the kernel enforces inbound policies, so a
// datagram from a source an inbound transport policy covers is protected
// whatever its interface.
func TestSnapshotXFRM(t *testing.T) {
	var snap atomic.Pointer[snapshot]
	snap.Store(&snapshot{entries: []netip.Prefix{pfx("10.1.0.1/32")}, kernel: true})
	k := newWatch(newFakeKernel(), &snap, nil)
	if v := snap.Load().verdict(addr("10.1.0.1"), 0); !v.Drop() {
		t.Errorf("before the SA: %+v", v)
	}
	out, in := transport("10.1.0.10", "10.1.0.1")
	_ = k.AddPolicy(out)
	_ = k.AddPolicy(in)
	if v := snap.Load().verdict(addr("10.1.0.1"), 2); v.Drop() || !v.Required {
		t.Errorf("with the SA: %+v", v)
	}
	if err := k.UpdatePolicy(in); err != nil {
		t.Fatal(err)
	}
	if err := k.DeletePolicy(in.Key()); err != nil {
		t.Fatal(err)
	}
	if v := snap.Load().verdict(addr("10.1.0.1"), 2); !v.Drop() {
		t.Errorf("after the SA went: %+v", v)
	}
}

// TestOff: an agent without IPsec requires nothing.
func TestOff(t *testing.T) {
	var p Protector = Off{}
	if v := p.Check(addr("10.1.0.1"), 3); v.Drop() || v.Required || p.Requires(addr("10.1.0.1")) || !p.Ready(addr("10.1.0.1")) {
		t.Error("Off protects something")
	}
}
