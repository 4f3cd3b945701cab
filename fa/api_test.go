package fa

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/api"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/version"
)

// apiCode is the control API's return value an error from a backend call
// gives: OK for nil, Failed for an error that carries no code.
func apiCode(err error) api.Code {
	var e *api.Error
	switch {
	case err == nil:
		return api.OK
	case errors.As(err, &e):
		return e.Code
	}
	return api.Failed
}

func apiCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestAPITunnels checks the visitor table as get_tunnels and
// get_tunnel_info show it: a visitor, a mobile whose first request waits
// for its reply, and the visitor again while its renewal waits.
func TestAPITunnels(t *testing.T) {
	b := newBed(t, testConfig())
	ctx := apiCtx(t)
	id := mip.TimestampID(start)
	b.register(b.mn, home, id, 600, mip.FlagReverseTunnel)
	b.advance(100 * time.Second)
	b.send(b.other, home2, marshal(t, request(home2, id+1, 300, 0)))
	b.haRelayed()
	b.advance(2 * time.Second)

	list, err := b.agent.GetTunnels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	visitor := api.Tunnel{
		Home: home, CareOf: coa, HA: haAddr, Peer: haAddr, Lower: home, ID: id, Flags: mip.FlagReverseTunnel,
		Lifetime: 600 * time.Second, Remaining: 498 * time.Second, State: "registered", Confirmed: true,
		Iface: "dynfa1", Link: "eth1",
	}
	pending := api.Tunnel{
		Home: home2, CareOf: coa, HA: haAddr, Peer: haAddr, Lower: home2, ID: id + 1,
		Lifetime: 300 * time.Second, Remaining: 5 * time.Second, State: "pending", Link: "eth1",
	}
	if len(list) != 2 || list[0] != visitor || list[1] != pending {
		t.Fatalf("GetTunnels =\n%+v\nwant\n%+v\n%+v", list, visitor, pending)
	}
	if got, err := b.agent.GetTunnelInfo(ctx, home2); err != nil || got != pending {
		t.Errorf("GetTunnelInfo(%s) = %+v, %v", home2, got, err)
	}

	// A renewal waits for its reply: the visitor is renewing.
	b.send(b.mn, home, marshal(t, request(home, id+2, 600, mip.FlagReverseTunnel)))
	b.haRelayed()
	got, err := b.agent.GetTunnelInfo(ctx, home)
	if err != nil || got.State != "renewing" || got.ID != id || !got.Confirmed {
		t.Errorf("GetTunnelInfo while renewing = %+v, %v", got, err)
	}
	if _, err := b.agent.GetTunnelInfo(ctx, netip.MustParseAddr("10.1.0.99")); apiCode(err) != api.NotAvailable {
		t.Errorf("GetTunnelInfo of an unknown mobile: %v, want not available", err)
	}
	if _, err := b.agent.GetTunnelInfo(ctx, netip.Addr{}); apiCode(err) != api.InvalidParams {
		t.Errorf("GetTunnelInfo of no address: %v, want invalid params", err)
	}
}

// TestAPIStatus checks get_status after an accepted registration, a denial
// by the home agent and one by the agent itself.
func TestAPIStatus(t *testing.T) {
	b := newBed(t, testConfig())
	ctx := apiCtx(t)
	id := mip.TimestampID(start)
	b.register(b.mn, home, id, 600, 0)

	b.send(b.other, home2, marshal(t, request(home2, id+1, 600, 0)))
	relayed := b.haRelayed()
	b.haSend(marshal(t, haReply(relayed, mip.CodeHAProhibited, 0, fhSA)))
	if r := b.replyFor(b.other); r.Code != mip.CodeHAProhibited {
		t.Fatalf("home agent's denial relayed as %s", r.Code)
	}
	b.send(b.other, home2, marshal(t, request(home2, id+2, 700, 0)))
	if r := b.replyFor(b.other); r.Code != mip.CodeFALifetimeTooLong {
		t.Fatalf("too long a lifetime: %s", r.Code)
	}

	s, err := b.agent.GetStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Agent != "fa" || s.Version != version.Version || s.DataPath != "fake" || s.Uptime < 0 {
		t.Errorf("status %+v", s)
	}
	c := map[string]uint64{}
	for i, n := range s.Counters {
		if i > 0 && s.Counters[i-1].Name >= n.Name {
			t.Errorf("counters out of order or twice: %q then %q", s.Counters[i-1].Name, n.Name)
		}
		c[n.Name] = n.Value
	}
	for name, want := range map[string]uint64{
		"requests": 3, "relayed": 2, "accepted": 1, "replies": 2, "denied": 2, "denied.69": 1, "denied.129": 1,
		"bindings": 1, "pending": 0, "tunnels": 1, "timeouts": 0, "discards.malformed": 0,
		"discards.unknown_extension": 0, "discards.authentication": 0, "solicitations": 0,
	} {
		if got, ok := c[name]; !ok || got != want {
			t.Errorf("counter %s = %d (present %v), want %d", name, got, ok, want)
		}
	}
	if c["advertisements"] == 0 {
		t.Error("no advertisement counted")
	}
}

// TestAPIDestroyTunnel checks destroy_tunnel: the visitor's neighbour
// entry, host route, reverse-tunnel rule and tunnel go, its request
// waiting for a reply is forgotten (the late reply is unmatched), and a
// second call finds nothing.
func TestAPIDestroyTunnel(t *testing.T) {
	b := newBed(t, testConfig())
	ctx := apiCtx(t)
	id := mip.TimestampID(start)
	b.register(b.mn, home, id, 600, mip.FlagReverseTunnel)
	b.hasAll(visitorKernel(home, mnMAC, true)...)
	b.hasAll(tunnelKernel()...)
	b.send(b.mn, home, marshal(t, request(home, id+1, 600, mip.FlagReverseTunnel)))
	renewal := b.haRelayed()

	if err := b.agent.DestroyTunnel(ctx, home); err != nil {
		t.Fatal(err)
	}
	b.onlyBase()
	if list, err := b.agent.GetTunnels(ctx); err != nil || len(list) != 0 {
		t.Errorf("GetTunnels after destroy = %+v, %v", list, err)
	}
	var st MobileState
	b.do(func(s *State) { st = s.MobileState(home) })
	if st != StateUnknown {
		t.Errorf("mobile %s after destroy", st)
	}
	b.haSend(marshal(t, haReply(renewal, mip.CodeAccepted, 600, fhSA)))
	b.waitStats("late reply discarded", func(s Stats) bool { return s.Discards.Unmatched == 1 })
	b.noReply(b.mn)
	b.onlyBase()
	if err := b.agent.DestroyTunnel(ctx, home); apiCode(err) != api.NotAvailable {
		t.Errorf("second DestroyTunnel: %v, want not available", err)
	}

	// A mobile with only a pending request is forgotten too.
	b.send(b.other, home2, marshal(t, request(home2, id+2, 600, 0)))
	b.haRelayed()
	if err := b.agent.DestroyTunnel(ctx, home2); err != nil {
		t.Fatal(err)
	}
	if s := b.stats(); s.Pending != 0 || s.Visitors != 0 {
		t.Errorf("after destroying a pending mobile: stats %+v", s)
	}
}

// TestSocketLabels checks AdminSocket and MonitorSocket: the defaults of
// api.DefaultSocket, "" to turn a socket off, and the refusals.
func TestSocketLabels(t *testing.T) {
	const base = "UpstreamInterface eth0\nINTERFACES_BEGIN\neth1\nINTERFACES_END\n"
	c, err := ParseConfig("test.conf", strings.NewReader(base))
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultConfig()
	if c.AdminSocket != api.DefaultSocket("fa", true) || c.MonitorSocket != api.DefaultSocket("fa", false) ||
		d.AdminSocket != c.AdminSocket || d.MonitorSocket != c.MonitorSocket {
		t.Errorf("default sockets %q and %q (DefaultConfig %q and %q)", c.AdminSocket, c.MonitorSocket, d.AdminSocket, d.MonitorSocket)
	}
	c, err = ParseConfig("test.conf", strings.NewReader(base+"AdminSocket \"\"\nMonitorSocket /tmp/m.sock\n"))
	if err != nil || c.AdminSocket != "" || c.MonitorSocket != "/tmp/m.sock" {
		t.Errorf("AdminSocket \"\": %q %q, %v", c.AdminSocket, c.MonitorSocket, err)
	}
	for _, bad := range []struct{ text, want string }{
		{"AdminSocket /tmp/x.sock\nMonitorSocket /tmp/x.sock\n", "MonitorSocket: \"/tmp/x.sock\" is also the AdminSocket"},
		{"MonitorSocket /" + strings.Repeat("s", 107) + "\n", "MonitorSocket: "},
	} {
		_, err := ParseConfig("test.conf", strings.NewReader(base+bad.text))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want an error with %q", bad.text, err, bad.want)
		}
	}
}
