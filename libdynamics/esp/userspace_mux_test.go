package esp

import (
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/dynamics-go/dynamics/internal/memnet"
)

// TestUserspaceMuxPerAddress: this side's address moves (MOBIKE): a second
// Mux on the new address is added, the outbound SA's Local moves to it and
// its ESP leaves from the new address; ESP arriving on either Mux is
// opened until the old one is removed.
func TestUserspaceMuxPerAddress(t *testing.T) {
	n := memnet.New()
	ca, _ := n.Listen(outerA.String())
	cb, _ := n.Listen(outerB.String())
	a, b := newEndpoint(t, ca), newEndpoint(t, cb)
	childSA(t, a, b, 5, 0x1000, 0x2000, AESGCM16, gcmKey)

	var mu sync.Mutex
	var sent []netip.AddrPort // sources of the datagrams to B
	n.Drop = func(from, to netip.AddrPort, p []byte) bool {
		if to == outerB {
			mu.Lock()
			sent = append(sent, from)
			mu.Unlock()
		}
		return false
	}
	lastFrom := func() netip.AddrPort {
		mu.Lock()
		defer mu.Unlock()
		if len(sent) == 0 {
			return netip.AddrPort{}
		}
		return sent[len(sent)-1]
	}
	ping := icmpEcho(innerA, innerB, "A to B")
	pong := icmpEcho(innerB, innerA, "B to A")
	a.dev.rx <- ping
	b.expect(t, ping, "before the move")
	if f := lastFrom(); f != outerA {
		t.Fatalf("ESP from %s before the move, want %s", f, outerA)
	}

	moved := netip.MustParseAddrPort("198.51.100.1:4500")
	cm, err := n.Listen(moved.String())
	if err != nil {
		t.Fatal(err)
	}
	m2 := NewMux(cm, MuxOptions{Logger: testLogger(t)})
	t.Cleanup(func() { m2.Close() })
	if err := a.u.AddMux(m2); err != nil {
		t.Fatal(err)
	}
	if err := a.u.AddMux(m2); !errors.Is(err, ErrExists) {
		t.Errorf("adding a Mux twice: %v, want ErrExists", err)
	}
	if err := a.u.AddMux(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("adding a nil Mux: %v, want ErrInvalid", err)
	}
	if got := a.u.Muxes(); !slices.Equal(got, []netip.AddrPort{outerA, moved}) {
		t.Errorf("Muxes %v", got)
	}
	if _, rules := a.rt.snapshot(); len(rules) != 3 { // 500, 4500 and the policy's
		t.Errorf("a second Mux on port 4500 changed the rules: %v", rules)
	}

	// The outbound SA moves to the new address: its ESP leaves from there.
	out, _ := pair(0x1000, ModeTunnel, AESGCM16, gcmKey)
	out.ReqID = 5
	out.Local = moved
	if err := a.u.UpdateSA(out); err != nil {
		t.Fatal(err)
	}
	a.dev.rx <- ping
	b.expect(t, ping, "after the move")
	if f := lastFrom(); f != moved {
		t.Fatalf("ESP from %s after the move, want %s", f, moved)
	}

	// An SA on an address without a Mux: counted, not sent from another.
	stray := out
	stray.Local = netip.MustParseAddrPort("203.0.113.9:4500")
	if err := a.u.UpdateSA(stray); err != nil {
		t.Fatal(err)
	}
	a.dev.rx <- ping
	a.waitStats(t, "no Mux on the SA's address", func(s Stats) bool { return s.Drops.Send == 1 })
	b.quiet(t, "SA on an address without a Mux")
	if err := a.u.UpdateSA(out); err != nil {
		t.Fatal(err)
	}

	// ESP to the old address is still opened while its Mux is there.
	b.dev.rx <- pong
	a.expect(t, pong, "to the old address")
	a.u.RemoveMux(a.mux)
	a.u.RemoveMux(a.mux) // twice: nothing
	if got := a.u.Muxes(); !slices.Equal(got, []netip.AddrPort{moved}) {
		t.Errorf("Muxes after RemoveMux %v", got)
	}
	b.dev.rx <- pong
	a.quiet(t, "to the old address after its Mux is removed")

	// B's outbound SA follows (the peer's view of the move).
	_, bOut := pair(0x2000, ModeTunnel, AESGCM16, gcmKey)
	bOut.Direction, bOut.ReqID, bOut.Remote = Outbound, 5, moved
	if err := b.u.UpdateSA(bOut); err != nil {
		t.Fatal(err)
	}
	b.dev.rx <- pong
	a.expect(t, pong, "to the new address")
	a.dev.rx <- ping
	b.expect(t, ping, "from the new address with one Mux left")
	if f := lastFrom(); f != moved {
		t.Errorf("ESP from %s, want %s", f, moved)
	}
	a.waitStats(t, "A's counters", func(s Stats) bool { return s.PacketsIn == 2 && s.PacketsOut == 3 })

	if err := a.u.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.u.AddMux(m2); !errors.Is(err, ErrClosed) {
		t.Errorf("AddMux after Close: %v, want ErrClosed", err)
	}
}

// TestUserspaceMuxBypassPort: a Mux on another port gets its bypass rule
// unless the options named the ports.
func TestUserspaceMuxBypassPort(t *testing.T) {
	n := memnet.New()
	ca, _ := n.Listen(outerA.String())
	a := newEndpoint(t, ca)
	c2, _ := n.Listen("192.0.2.1:4501")
	m2 := NewMux(c2, MuxOptions{Logger: testLogger(t)})
	t.Cleanup(func() { m2.Close() })
	if err := a.u.AddMux(m2); err != nil {
		t.Fatal(err)
	}
	_, rules := a.rt.snapshot()
	want := rule{Priority: DefaultRulePriority - 1, Table: tableMain, Protocol: protoUDP, SrcPort: 4501}
	if !slices.Contains(rules, want) {
		t.Errorf("rules %v lack %v", rules, want)
	}
	if err := a.u.Close(); err != nil {
		t.Fatal(err)
	}
	if _, rules := a.rt.snapshot(); len(rules) != 0 {
		t.Errorf("rules left after Close: %v", rules)
	}

	c3, _ := n.Listen("192.0.2.3:4500")
	mux := NewMux(c3, MuxOptions{Logger: testLogger(t)})
	t.Cleanup(func() { mux.Close() })
	rt := newFakeRouter()
	u, err := newUserspace(UserspaceOptions{Mux: mux, BypassPorts: []uint16{500}, Logger: testLogger(t)}, DefaultDevice, DefaultMTU, newFakeDevice(), rt)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	c4, _ := n.Listen("192.0.2.3:4600")
	m4 := NewMux(c4, MuxOptions{Logger: testLogger(t)})
	t.Cleanup(func() { m4.Close() })
	if err := u.AddMux(m4); err != nil {
		t.Fatal(err)
	}
	if _, rules := rt.snapshot(); len(rules) != 1 || rules[0].SrcPort != 500 {
		t.Errorf("with BypassPorts given, rules %v, want only port 500's", rules)
	}
}
