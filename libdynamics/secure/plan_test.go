package secure

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/esp"
	"github.com/dynamics-go/dynamics/libdynamics/ike"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// peerByName finds a peer of the engine's configuration.
func peerByName(t *testing.T, c ike.Config, name string) ike.Peer {
	t.Helper()
	for _, p := range c.Peers {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no peer %q in %+v", name, c.Peers)
	return ike.Peer{}
}

// TestPlanMobileNode: the mobile node initiates to its home agent: UDP
// from its own address to the home agent's port 434, transport mode.
func TestPlanMobileNode(t *testing.T) {
	_, c := decode(t, "IPsecPSK s\nIPSEC_BEGIN\n10.1.0.1 ha.example.org\nIPSEC_END\n")
	pl, err := makePlan(Options{Config: c, Local: addr("10.1.0.10"), Initiate: []netip.Addr{addr("10.1.0.1")}}, ESPUserspace)
	if err != nil {
		t.Fatal(err)
	}
	if pl.ike.LocalID != "10.1.0.10" || !pl.ike.MOBIKE || !pl.ike.ForceEncap || string(pl.ike.PSK) != "s" || pl.ike.Liveness != liveness {
		t.Errorf("ike config %+v", pl.ike)
	}
	p := peerByName(t, pl.ike, "10.1.0.1")
	if p.Address != netip.MustParseAddrPort("10.1.0.1:500") || p.RemoteID != "ha.example.org" || p.Mode != ike.ModeTransport || p.PSK != nil {
		t.Errorf("peer %+v", p)
	}
	// The local selector is the engine's (the IKE SA's address); the
	// responder narrows it to UDP.
	if len(p.LocalTS) != 0 || len(p.RemoteTS) != 1 || p.RemoteTS[0].String() != "10.1.0.1/32[17/434-434]" {
		t.Errorf("selectors %v === %v", p.LocalTS, p.RemoteTS)
	}
	if len(pl.initiators) != 1 || pl.initiators[0].addr != addr("10.1.0.1") || pl.initiators[0].name != "10.1.0.1" {
		t.Errorf("initiators %+v", pl.initiators)
	}
}

// TestPlanHomeAgent: the home agent responds to everyone: its port 434
// from a mobile anywhere (an entry inside Mobiles) or from a foreign
// agent's configured address or prefix.
func TestPlanHomeAgent(t *testing.T) {
	_, c := decode(t, "IPsecPSK s\nIPsecMOBIKEX no\nIPsecESP xfrm\nIPSEC_BEGIN\n10.1.0.10 - mn-key\n10.1.0.0/24 - -\n10.0.1.2 fa1@example.org\n10.0.0.0/16 fa@example.org\nIPSEC_END\n")
	pl, err := makePlan(Options{Config: c, Local: addr("10.1.0.1"), Mobiles: netip.MustParsePrefix("10.1.0.0/24")}, ESPXFRM)
	if err != nil {
		t.Fatal(err)
	}
	if pl.ike.ForceEncap || len(pl.initiators) != 0 {
		t.Errorf("xfrm responder: ForceEncap %v, initiators %v", pl.ike.ForceEncap, pl.initiators)
	}
	for _, tc := range []struct{ name, id, psk, remote string }{
		{"10.1.0.10", "10.1.0.10", "mn-key", "0.0.0.0/0[17/0-65535]"},
		{"10.1.0.0/24", "", "", "0.0.0.0/0[17/0-65535]"},
		{"10.0.1.2", "fa1@example.org", "", "10.0.1.2/32[17/0-65535]"},
		{"10.0.0.0/16", "fa@example.org", "", "10.0.0.0/16[17/0-65535]"},
	} {
		p := peerByName(t, pl.ike, tc.name)
		if p.RemoteID != tc.id || string(p.PSK) != tc.psk || p.Address.IsValid() || p.Mode != ike.ModeTransport {
			t.Errorf("%s: peer %+v", tc.name, p)
		}
		if len(p.LocalTS) != 1 || p.LocalTS[0].String() != "10.1.0.1/32[17/434-434]" || len(p.RemoteTS) != 1 || p.RemoteTS[0].String() != tc.remote {
			t.Errorf("%s: selectors %v === %v, want 10.1.0.1/32[17/434-434] === %s", tc.name, p.LocalTS, p.RemoteTS, tc.remote)
		}
	}
	if len(pl.entries) != 4 {
		t.Errorf("entries %v", pl.entries)
	}
}

// TestPlanForeignAgent: a foreign agent in a hierarchy initiates to its
// upper agent and responds to the agents below it.
func TestPlanForeignAgent(t *testing.T) {
	_, c := decode(t, "IPsecPSK s\nIPSEC_BEGIN\n10.0.1.1 gfa@example.org\n10.0.0.0/16 - -\nIPSEC_END\n")
	pl, err := makePlan(Options{Config: c, Local: addr("10.0.1.2"), Addresses: []netip.Addr{addr("10.0.3.1"), addr("10.0.1.2")},
		Initiate: []netip.Addr{addr("10.0.1.1"), addr("192.0.2.1")}}, ESPUserspace)
	if err != nil {
		t.Fatal(err)
	}
	up := peerByName(t, pl.ike, "10.0.1.1")
	if up.Address.Addr() != addr("10.0.1.1") || len(up.LocalTS) != 0 || up.RemoteTS[0].String() != "10.0.1.1/32[17/434-434]" {
		t.Errorf("upper agent %+v", up)
	}
	down := peerByName(t, pl.ike, "10.0.0.0/16")
	if down.Address.IsValid() || fmt.Sprint(down.LocalTS) != "[10.0.1.2/32[17/434-434] 10.0.3.1/32[17/434-434]]" || down.RemoteTS[0].String() != "10.0.0.0/16[17/0-65535]" {
		t.Errorf("lower agents %+v", down)
	}
	if len(pl.initiators) != 1 || len(pl.uncovered) != 1 || pl.uncovered[0] != addr("192.0.2.1") {
		t.Errorf("initiators %v uncovered %v", pl.initiators, pl.uncovered)
	}
}

// TestPlanErrors: an upstream peer only a prefix covers, a bad address.
func TestPlanErrors(t *testing.T) {
	_, c := decode(t, "IPsecPSK s\nIPSEC_BEGIN\n10.0.0.0/16 - -\nIPSEC_END\n")
	_, err := makePlan(Options{Config: c, Local: addr("10.0.1.2"), Initiate: []netip.Addr{addr("10.0.1.1")}}, ESPUserspace)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Line != 3 || !strings.Contains(err.Error(), "needs a line of its own") {
		t.Errorf("prefix upstream: %v", err)
	}
	if _, err := makePlan(Options{Config: c, Local: addr("fe80::1")}, ESPUserspace); !errors.Is(err, ErrConfig) {
		t.Errorf("IPv6 local: %v", err)
	}
	if _, err := Open(Options{Config: c}); !errors.Is(err, ErrConfig) {
		t.Errorf("Open without a local address: %v", err)
	}
	_, empty := decode(t, "IPsecPSK s\n")
	if _, err := Open(Options{Config: empty, Local: addr("10.0.1.2")}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "nothing to protect") {
		t.Errorf("Open without entries: %v", err)
	}
	_, badESP := decode(t, "IPsecESP kernel\nIPsecPSK s\nIPSEC_BEGIN\n10.1.0.1\nIPSEC_END\n")
	if _, err := Open(Options{Config: badESP, Local: addr("10.0.1.2")}); !errors.As(err, &ce) || ce.Label != "IPsecESP" {
		t.Errorf("Open with a bad IPsecESP: %v", err)
	}
}

// TestResolveESP: auto follows what the kernel has; others stay or fail.
func TestResolveESP(t *testing.T) {
	want := ESPUserspace
	if esp.ProbeXFRM() == nil {
		want = ESPXFRM
	}
	for in, out := range map[string]string{ESPAuto: want, ESPXFRM: ESPXFRM, ESPUserspace: ESPUserspace} {
		if got, err := ResolveESP(in); got != out || err != nil {
			t.Errorf("ResolveESP(%q) = %q, %v; want %q", in, got, err, out)
		}
	}
	if _, err := ResolveESP("none"); !errors.Is(err, ErrConfig) {
		t.Errorf("ResolveESP(none): %v", err)
	}
}
