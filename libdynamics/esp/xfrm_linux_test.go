package esp

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dynamics-go/dynamics/internal/netnstest"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

// requireXFRM skips the test, giving the kernel's reason, unless an ESP
// state can be added in ns.
func requireXFRM(t *testing.T, ns *netnstest.NS) {
	t.Helper()
	err := ns.Do(ProbeXFRM)
	if errors.Is(err, kernel.ErrUnsupported) {
		t.Skipf("skipped: the kernel has no ESP here, so XFRM cannot be tested (the userspace data path is what runs): %v", err)
	}
	if err != nil {
		t.Fatalf("ProbeXFRM: %v", err)
	}
}

// TestProbeXFRMLeavesNothing: whatever the kernel answers, the probe leaves
// no state behind.
func TestProbeXFRMLeavesNothing(t *testing.T) {
	ns := netnstest.New(t, "xp")
	err := ns.Do(ProbeXFRM)
	t.Logf("ProbeXFRM: %v", err)
	if err != nil && !errors.Is(err, kernel.ErrUnsupported) {
		t.Errorf("ProbeXFRM failed for another reason than missing ESP: %v", err)
	}
	if out := ns.Run("ip", "xfrm", "state"); strings.TrimSpace(out) != "" {
		t.Errorf("states left behind:\n%s", out)
	}
}

// newXFRM makes an XFRM in ns, closed at cleanup.
func newXFRM(t *testing.T, ns *netnstest.NS) *XFRM {
	t.Helper()
	var x *XFRM
	if err := ns.Do(func() error {
		var err error
		x, err = NewXFRM(XFRMOptions{Logger: testLogger(t)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	if x.Name() != "xfrm" {
		t.Errorf("Name %q", x.Name())
	}
	return x
}

// normalize collapses the whitespace of ip's multi-line output.
func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestXFRMPolicies installs the policies of a tunnel-mode child SA and
// reads the kernel's table back: an out policy, an in policy and its fwd
// twin, each with its template; an update of the template's addresses (a
// MOBIKE move); deletion; nothing left after Close. Policies need no ESP in
// the kernel, so this runs everywhere.
func TestXFRMPolicies(t *testing.T) {
	ns := netnstest.New(t, "xq")
	x := newXFRM(t, ns)
	sel := Selector{Src: hostA, Dst: hostB}
	udp := Selector{Src: hostA, Dst: hostB, Protocol: protoUDP, DstPort: 434}
	pols := []Policy{
		{Direction: Outbound, Selector: sel, Mode: ModeTunnel, Local: outerA.Addr(), Remote: outerB.Addr(), ReqID: 1},
		{Direction: Inbound, Selector: reverse(sel), Mode: ModeTunnel, Local: outerA.Addr(), Remote: outerB.Addr(), ReqID: 1},
		{Direction: Outbound, Selector: udp, Mode: ModeTransport, Local: outerA.Addr(), Remote: outerB.Addr(), ReqID: 2},
		{Direction: Inbound, Selector: reverse(udp), Mode: ModeTransport, Local: outerA.Addr(), Remote: outerB.Addr(), ReqID: 2},
	}
	for _, p := range pols {
		if err := x.AddPolicy(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.AddPolicy(pols[0]); !errors.Is(err, ErrExists) {
		t.Errorf("same policy twice: %v", err)
	}
	policies := normalize(ns.Run("ip", "xfrm", "policy"))
	for _, want := range []string{
		"src 10.1.0.1/32 dst 10.2.0.1/32 dir out priority 0 ptype main tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 1 mode tunnel",
		"src 10.2.0.1/32 dst 10.1.0.1/32 dir in priority 0 ptype main tmpl src 192.0.2.2 dst 192.0.2.1 proto esp reqid 1 mode tunnel",
		"src 10.2.0.1/32 dst 10.1.0.1/32 dir fwd priority 0 ptype main tmpl src 192.0.2.2 dst 192.0.2.1 proto esp reqid 1 mode tunnel",
		"src 10.1.0.1/32 dst 10.2.0.1/32 proto udp dport 434 dir out priority 0 ptype main tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 2 mode transport",
		"src 10.2.0.1/32 dst 10.1.0.1/32 proto udp sport 434 dir in priority 0 ptype main tmpl src 192.0.2.2 dst 192.0.2.1 proto esp reqid 2 mode transport",
	} {
		if !strings.Contains(policies, want) {
			t.Errorf("policies lack %q:\n%s", want, ns.Run("ip", "xfrm", "policy"))
		}
	}
	if strings.Count(policies, "dir fwd") != 1 {
		t.Errorf("want a fwd policy for the inbound tunnel-mode policy only:\n%s", policies)
	}

	// MOBIKE: B moved to 198.51.100.7.
	p := pols[0]
	p.Remote = netip.MustParseAddr("198.51.100.7")
	if err := x.UpdatePolicy(p); err != nil {
		t.Fatal(err)
	}
	if policies := normalize(ns.Run("ip", "xfrm", "policy")); !strings.Contains(policies, "dir out priority 0 ptype main tmpl src 192.0.2.1 dst 198.51.100.7") {
		t.Errorf("template not updated:\n%s", policies)
	}
	absent := p
	absent.Selector.Dst = netip.MustParsePrefix("10.9.0.0/16")
	if err := x.UpdatePolicy(absent); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdatePolicy of an absent policy: %v", err)
	}
	if err := x.DeletePolicy(pols[1].Key()); err != nil {
		t.Fatal(err)
	}
	if policies := normalize(ns.Run("ip", "xfrm", "policy")); strings.Contains(policies, "src 10.2.0.1/32 dst 10.1.0.1/32 dir") || !strings.Contains(policies, "sport 434 dir in") {
		t.Errorf("after deleting the tunnel-mode inbound policy, want its in and fwd policies gone and the transport one kept:\n%s", policies)
	}
	if err := x.DeletePolicy(pols[1].Key()); err != nil {
		t.Errorf("deleting an absent policy: %v", err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if out := ns.Run("ip", "xfrm", "policy"); strings.TrimSpace(out) != "" {
		t.Errorf("left after Close:\n%s", out)
	}
	if err := x.AddPolicy(pols[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("AddPolicy after Close: %v", err)
	}
}

// TestXFRMStates installs UDP-encapsulated SAs of both algorithms through
// XFRM and reads the kernel's states back: algorithms, keys, ports and
// replay window; a MOBIKE update moving a state to a new address and port;
// nothing left after Close. It needs ESP in the kernel.
func TestXFRMStates(t *testing.T) {
	ns := netnstest.New(t, "xs")
	requireXFRM(t, ns)
	x := newXFRM(t, ns)
	out, _ := pair(0x1000, ModeTunnel, AESGCM16, gcmKey)
	_, in := pair(0x2000, ModeTunnel, AESCBCHMACSHA256, cbcKey)
	in.Local, in.Remote = outerA, outerB
	in.ReplayWindow = 64
	for _, sa := range []SA{out, in} {
		if err := x.AddSA(sa); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.AddSA(out); !errors.Is(err, ErrExists) {
		t.Errorf("same SA twice: %v", err)
	}
	states := normalize(ns.Run("ip", "xfrm", "state"))
	for _, want := range []string{
		"src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x00001000 reqid 1 mode tunnel",
		"aead rfc4106(gcm(aes)) 0x" + hexString(gcmKey.Enc) + " 128",
		"src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x00002000 reqid 1 mode tunnel",
		"replay-window 32", // the legacy window's most
		"auth-trunc hmac(sha256) 0x" + hexString(cbcKey.Auth) + " 128",
		"enc cbc(aes) 0x" + hexString(cbcKey.Enc),
		"encap type espinudp sport 4500 dport 4500 addr 0.0.0.0",
	} {
		if !strings.Contains(states, want) {
			t.Errorf("states lack %q:\n%s", want, ns.Run("ip", "xfrm", "state"))
		}
	}
	moved := out
	moved.Remote = netip.MustParseAddrPort("198.51.100.7:31000")
	if err := x.UpdateSA(moved); err != nil {
		t.Fatal(err)
	}
	states = normalize(ns.Run("ip", "xfrm", "state"))
	if !strings.Contains(states, "src 192.0.2.1 dst 198.51.100.7 proto esp spi 0x00001000") ||
		!strings.Contains(states, "sport 4500 dport 31000") || strings.Contains(states, "dst 192.0.2.2 proto esp spi 0x00001000") {
		t.Errorf("after the update:\n%s", states)
	}
	if err := x.DeleteSA(in.Key()); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if out := ns.Run("ip", "xfrm", "state"); strings.TrimSpace(out) != "" {
		t.Errorf("left after Close:\n%s", out)
	}
}

// TestEnableUDPEncap sets UDP_ENCAP_ESPINUDP on a socket in a fresh
// namespace, and the socket still carries what the kernel does not take:
// IKE after the non-ESP marker.
func TestEnableUDPEncap(t *testing.T) {
	ns := netnstest.New(t, "xu")
	var conn, peer *net.UDPConn
	if err := ns.Do(func() error {
		var err error
		if conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			return err
		}
		peer, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	defer peer.Close()
	if err := EnableUDPEncap(conn); err != nil {
		if errors.Is(err, unix.ENOPROTOOPT) {
			t.Skipf("skipped: the kernel has no ESP-in-UDP decapsulation: %v", err)
		}
		t.Fatal(err)
	}
	m := NewMux(conn, MuxOptions{Logger: testLogger(t)})
	defer m.Close()
	if _, err := peer.WriteToUDP(append(make([]byte, MarkerLen), make([]byte, 28)...), conn.LocalAddr().(*net.UDPAddr)); err != nil {
		t.Fatal(err)
	}
	m.IKE().SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _, err := m.IKE().ReadFrom(make([]byte, 64)); err != nil || n != 28 {
		t.Errorf("IKE through an ESP-in-UDP socket: %d octets, %v", n, err)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
