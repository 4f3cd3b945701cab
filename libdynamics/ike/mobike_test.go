package ike

import (
	"bytes"
	"net/netip"
	"sync"
	"testing"

	"github.com/dynamics-go/dynamics/internal/memnet"
	"github.com/dynamics-go/dynamics/libdynamics/esp"
	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

const mnMoved = "10.0.0.3"

// mobikePair is a pair with MOBIKE on both sides.
func mobikePair(t *testing.T, edit func(mc, hc *Config)) (mn, ha *node, n *memnet.Network) {
	return pair(t, func(mc, hc *Config) {
		mc.MOBIKE, hc.MOBIKE = true, true
		if edit != nil {
			edit(mc, hc)
		}
	})
}

// addAddress gives the node sockets on a new address.
func (nd *node) addAddress(addr string) {
	nd.t.Helper()
	for _, s := range sockets(nd.t, nd.net, netip.MustParseAddr(addr)) {
		if err := nd.e.AddSocket(ctx(nd.t), s); err != nil {
			nd.t.Fatal(err)
		}
	}
}

// outer returns the outer addresses of a node's ESP SAs.
func (nd *node) outer() map[esp.Direction][2]netip.AddrPort {
	in, out, _ := nd.esp.snapshot()
	m := map[esp.Direction][2]netip.AddrPort{}
	for _, s := range append(in, out...) {
		m[s.Direction] = [2]netip.AddrPort{s.Local, s.Remote}
	}
	return m
}

// TestMOBIKEMove moves the initiator to a new address: a path probe and
// UPDATE_SA_ADDRESSES come from the new address, the responder answers
// with COOKIE2 echoed and NAT detection, runs a return routability check
// to the new address, and both sides' child SAs follow; the IKE SA is the
// same one. ESP goes both ways before the move, after it (leaving from the
// new address), after the responder's rekey, and once the old address's
// sockets are removed.
func TestMOBIKEMove(t *testing.T) {
	mn, ha, n := mobikePair(t, nil)
	info := up(t, mn)
	if !info.MOBIKE || !info.Encap {
		t.Fatalf("SA %+v: MOBIKE floats to port 4500", info)
	}
	espEcho(t, mn, ha, "before the move")
	mn.addAddress(mnMoved)
	var mu sync.Mutex
	var fromNew []string
	var espFrom netip.AddrPort // source of the last ESP packet to the responder
	lastESP := func() netip.AddrPort {
		mu.Lock()
		defer mu.Unlock()
		return espFrom
	}
	n.Drop = func(from, to netip.AddrPort, b []byte) bool {
		mu.Lock()
		defer mu.Unlock()
		if len(b) > 4 && !bytes.Equal(b[:4], []byte{0, 0, 0, 0}) && to.Addr().String() == haAddr {
			espFrom = from
		}
		if len(b) > 4 {
			if m, err := ikev2.Parse(b[4:]); err == nil {
				dir := "request"
				if m.IsResponse() {
					dir = "response"
				}
				if from.Addr().String() == mnMoved || to.Addr().String() == mnMoved {
					fromNew = append(fromNew, from.Addr().String()+" "+m.Exchange.String()+" "+dir)
				}
			}
		}
		return false
	}
	if err := mn.e.Move(ctx(t), info.LocalSPI, netip.MustParseAddr(mnMoved)); err != nil {
		t.Fatal(err)
	}
	moved := netip.MustParseAddrPort(mnMoved + ":4500")
	eventually(t, "the responder's child SAs at the new address", func() bool {
		return ha.outer()[esp.Outbound][1] == moved && ha.outer()[esp.Inbound][1] == moved
	})
	if got := mn.outer(); got[esp.Outbound][0] != moved || got[esp.Inbound][0] != moved {
		t.Errorf("initiator's SAs: %v", got)
	}
	a, b := mn.only(), ha.only()
	if a.SPIi != info.SPIi || b.SPIi != info.SPIi || a.Local != moved || b.Remote != moved {
		t.Errorf("after the move: initiator %v, responder %v", a, b)
	}
	mu.Lock()
	seen := append([]string(nil), fromNew...)
	mu.Unlock()
	// Probe, update, and the responder's return routability check, each
	// answered: six messages on the new path.
	want := []string{
		mnMoved + " INFORMATIONAL request", haAddr + " INFORMATIONAL response",
		mnMoved + " INFORMATIONAL request", haAddr + " INFORMATIONAL response",
		haAddr + " INFORMATIONAL request", mnMoved + " INFORMATIONAL response",
	}
	if len(seen) != len(want) {
		t.Fatalf("on the new path: %q, want %q", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Errorf("message %d on the new path: %q, want %q", i, seen[i], want[i])
		}
	}
	checkChildPair(t, mn, ha, info.Children[0].InSPI)
	checkChildPair(t, ha, mn, info.Children[0].OutSPI)
	espEcho(t, mn, ha, "after the move")
	if f := lastESP(); f != moved {
		t.Errorf("ESP from %s after the move, want %s", f, moved)
	}
	// The responder can rekey the child right after (as charon does).
	if _, err := ha.e.RekeyChild(ctx(t), b.LocalSPI, b.Children[0].InSPI); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the old child deleted after the responder's rekey", func() bool {
		c := mn.only().Children
		return len(c) == 1 && c[0].InSPI != info.Children[0].InSPI
	})
	eventually(t, "the responder's old child deleted", func() bool {
		c := ha.only().Children
		return len(c) == 1 && c[0].InSPI != b.Children[0].InSPI
	})
	espEcho(t, mn, ha, "after the responder's rekey")
	if f := lastESP(); f != moved {
		t.Errorf("ESP from %s after the rekey, want %s", f, moved)
	}

	// The old address goes: its sockets, and the data path's Mux with them.
	old := netip.MustParseAddr(mnAddr)
	if !mn.esp.muxAddrs()[netip.AddrPortFrom(old, 4500)] || !mn.esp.muxAddrs()[moved] {
		t.Errorf("the engine handed over the Muxes %v, want the old and the new address's", mn.esp.muxAddrs())
	}
	for _, port := range []uint16{500, 4500} {
		if err := mn.e.RemoveSocket(ctx(t), netip.AddrPortFrom(old, port)); err != nil {
			t.Fatal(err)
		}
	}
	if got := mn.esp.muxAddrs(); len(got) != 1 || !got[moved] {
		t.Errorf("Muxes after RemoveSocket %v, want only %s", got, moved)
	}
	espEcho(t, mn, ha, "without the old address")
}

// TestMOBIKEAddresses: the initiator announces its other addresses; the
// responder records them.
func TestMOBIKEAddresses(t *testing.T) {
	mn, ha, _ := mobikePair(t, nil)
	info := up(t, mn)
	if got := ha.only().PeerAddresses; len(got) != 0 {
		t.Errorf("before: %v", got)
	}
	mn.addAddress(mnMoved)
	mn.addAddress("10.0.0.4")
	if err := mn.e.Move(ctx(t), info.LocalSPI, netip.MustParseAddr(mnMoved)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the addresses recorded", func() bool { return len(ha.only().PeerAddresses) == 2 })
	got := ha.only().PeerAddresses
	if got[0].String() != mnAddr || got[1].String() != "10.0.0.4" {
		t.Errorf("peer addresses %v", got)
	}
}

// TestMOBIKENoNATs: with NO_NATS_ALLOWED, an update whose addresses a
// NAT rewrote is refused with UNEXPECTED_NAT_DETECTED and nothing moves.
func TestMOBIKENoNATs(t *testing.T) {
	mn, ha, n := mobikePair(t, func(mc, hc *Config) { mc.NoNATs = true })
	info := up(t, mn)
	mn.addAddress(mnMoved)
	// A "NAT": the update leaves from 10.0.0.3 but arrives from 10.0.0.9.
	nat, err := n.Listen("10.0.0.9:4500")
	if err != nil {
		t.Fatal(err)
	}
	defer nat.Close()
	go func() {
		buf := make([]byte, 65536)
		for {
			k, _, err := nat.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = nat.WriteTo(buf[:k], udp(netip.MustParseAddrPort(mnMoved+":4500")))
		}
	}()
	n.Drop = func(from, to netip.AddrPort, b []byte) bool {
		if from.Addr().String() == mnMoved && to.Addr().String() == haAddr {
			_, _ = nat.WriteTo(b, udp(to))
			return true
		}
		return false
	}
	err = mn.e.Move(ctx(t), info.LocalSPI, netip.MustParseAddr(mnMoved))
	errIs(t, err, ErrNAT, "Move through a NAT with NO_NATS_ALLOWED")
	if b := ha.only(); b.Remote.Addr().String() != mnAddr {
		t.Errorf("responder moved to %s", b.Remote)
	}
	if a := mn.only(); a.Local.Addr().String() != mnAddr {
		t.Errorf("initiator moved to %s", a.Local)
	}
}

// TestMOBIKEOnlyInitiator: the responder may not move the SA, and an SA
// without MOBIKE cannot move.
func TestMOBIKEOnlyInitiator(t *testing.T) {
	mn, ha, _ := mobikePair(t, nil)
	up(t, mn)
	ha.addAddress("10.0.0.5")
	errIs(t, ha.e.Move(ctx(t), ha.only().LocalSPI, netip.MustParseAddr("10.0.0.5")), ErrNoMOBIKE, "responder Move")

	mn2, _, _ := pair(t, nil)
	info := up(t, mn2)
	mn2.addAddress(mnMoved)
	errIs(t, mn2.e.Move(ctx(t), info.LocalSPI, netip.MustParseAddr(mnMoved)), ErrNoMOBIKE, "Move without MOBIKE")
}
