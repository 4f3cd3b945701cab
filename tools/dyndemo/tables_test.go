package main

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/testbed"
	"github.com/dynamics-go/dynamics/libdynamics/api"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// agentStub answers get_tunnels and get_status with fixed values.
type agentStub struct {
	tunnels []api.Tunnel
	status  api.Status
}

func (a agentStub) GetTunnels(context.Context) ([]api.Tunnel, error) { return a.tunnels, nil }

func (a agentStub) GetTunnelInfo(context.Context, netip.Addr) (api.Tunnel, error) {
	return api.Tunnel{}, api.ErrNotAvailable
}

func (a agentStub) GetStatus(context.Context) (api.Status, error) { return a.status, nil }

// serveStub serves a on a monitor socket in a temporary directory.
func serveStub(t *testing.T, a agentStub) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "monitor.sock")
	ln, err := api.Listen(path, api.MonitorMode)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.NewServer(a, nil).Serve(ctx, ln, false) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return path
}

func TestAgentTables(t *testing.T) {
	home := netip.MustParseAddr(testbed.HomeAddr)
	ha := netip.MustParseAddr(testbed.HAAddr)
	fa1 := netip.MustParseAddr(testbed.FA1Addr)
	binding := api.Tunnel{Home: home, CareOf: fa1, HA: ha, Peer: fa1, Flags: mip.FlagReverseTunnel,
		Lifetime: 60 * time.Second, Remaining: 42 * time.Second, State: "registered", Iface: "dynha1"}
	visitor := api.Tunnel{Home: home, CareOf: fa1, HA: ha, Peer: ha, Lifetime: 60 * time.Second,
		Remaining: 41 * time.Second, State: "renewing", Iface: "dynfa1", Link: "eth1"}

	got := tunnelLines(testbed.HA, serveStub(t, agentStub{tunnels: []api.Tunnel{binding}}))
	want := "binding 10.1.0.10 -> care-of 10.0.1.2, tunnel dynha1, flags T, 42s of 60s left"
	if len(got) != 1 || got[0] != want {
		t.Errorf("home agent's lines %q, want %q", got, want)
	}
	got = tunnelLines(testbed.FA1, serveStub(t, agentStub{tunnels: []api.Tunnel{visitor}}))
	want = "visitor 10.1.0.10 renewing on eth1, home agent 10.1.0.1, tunnel dynfa1, 41s of 60s left"
	if len(got) != 1 || got[0] != want {
		t.Errorf("foreign agent's lines %q, want %q", got, want)
	}
	// gfa reaches the mobile through a lower agent, not on a link.
	upper := visitor
	upper.Link, upper.Lower = "", netip.MustParseAddr(testbed.FA2Addr)
	got = tunnelLines(testbed.GFA, serveStub(t, agentStub{tunnels: []api.Tunnel{upper}}))
	want = "visitor 10.1.0.10 renewing via lower agent 10.0.2.2, home agent 10.1.0.1, tunnel dynfa1, 41s of 60s left"
	if len(got) != 1 || got[0] != want {
		t.Errorf("upper foreign agent's lines %q, want %q", got, want)
	}
	if got := tunnelLines(testbed.FA2, serveStub(t, agentStub{})); len(got) != 1 || got[0] != "no visitors" {
		t.Errorf("empty foreign agent: %q", got)
	}
	if got := tunnelLines(testbed.HA, serveStub(t, agentStub{})); len(got) != 1 || got[0] != "no bindings" {
		t.Errorf("empty home agent: %q", got)
	}

	status := api.Status{Agent: "mn", State: "Connected", CareOf: fa1, FA: netip.MustParseAddr(testbed.FA1VisitorAddr),
		TunnelingMode: "full", Lifetime: 60 * time.Second, Remaining: 30 * time.Second}
	if got, want := mobileLine(serveStub(t, agentStub{status: status})),
		"Connected, care-of 10.0.1.2 through foreign agent 10.2.0.1, mode full, 30s of 60s left"; got != want {
		t.Errorf("mobile line %q, want %q", got, want)
	}
	status = api.Status{Agent: "mn", State: "At home", TunnelingMode: "triangle"}
	if got, want := mobileLine(serveStub(t, agentStub{status: status})), "At home, mode triangle"; got != want {
		t.Errorf("mobile line at home %q, want %q", got, want)
	}

	// An agent that does not answer is said so, not fatal.
	missing := filepath.Join(t.TempDir(), "none.sock")
	if got := tunnelLines(testbed.HA, missing); len(got) != 1 || !strings.HasPrefix(got[0], "(no answer: ") {
		t.Errorf("unreachable agent: %q", got)
	}
	if got := mobileLine(""); !strings.HasPrefix(got, "(no answer: ") {
		t.Errorf("no socket: %q", got)
	}
}
