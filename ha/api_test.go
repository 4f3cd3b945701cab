package ha

import (
	"context"
	"errors"
	"net/netip"
	"regexp"
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

// counterName is the form of a counter's name: lowercase words joined by
// dots.
var counterName = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)*$`)

// apiCounters turns a status's counters into a map, checking they are sorted
// by name and named once.
func apiCounters(t *testing.T, s api.Status) map[string]uint64 {
	t.Helper()
	m := map[string]uint64{}
	for i, c := range s.Counters {
		if i > 0 && s.Counters[i-1].Name >= c.Name {
			t.Errorf("counters out of order or twice: %q then %q", s.Counters[i-1].Name, c.Name)
		}
		m[c.Name] = c.Value
	}
	return m
}

// TestAPITunnels checks the binding table as get_tunnels and
// get_tunnel_info show it, and get_care_of_addr.
func TestAPITunnels(t *testing.T) {
	b := newBed(t, testConfig())
	ctx := apiCtx(t)
	if list, err := b.agent.GetTunnels(ctx); err != nil || len(list) != 0 {
		t.Fatalf("GetTunnels before any registration = %v, %v", list, err)
	}
	m := b.build(req{lifetime: 600, flags: mip.FlagReverseTunnel, support: true, fh: &fa1SA})
	if rep := b.exchange(b.fa1, m); !rep.Code.Accepted() {
		t.Fatalf("registration: %s", rep.Code)
	}
	co := b.build(req{home: home2, mh: &mn2SA, coa: colocated, lifetime: 600, flags: mip.FlagDecapsulation})
	if rep := b.exchange(b.mnCo, co); !rep.Code.Accepted() {
		t.Fatalf("co-located registration: %s", rep.Code)
	}
	b.advance(100 * time.Second)

	list, err := b.agent.GetTunnels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := api.Tunnel{
		Home: home, CareOf: fa1Addr, HA: haAddr, Peer: fa1Addr, ID: m.ID, Flags: mip.FlagReverseTunnel,
		Lifetime: 600 * time.Second, Remaining: 500 * time.Second, State: "registered", Confirmed: true, Iface: "dynha1",
	}
	if len(list) != 2 || list[0] != want || list[1].Home != home2 || list[1].Peer != colocated || list[1].Iface != "dynha2" {
		t.Fatalf("GetTunnels =\n%+v\nwant the first\n%+v\nand 10.1.0.11 through dynha2 to %s", list, want, colocated)
	}
	got, err := b.agent.GetTunnelInfo(ctx, home)
	if err != nil || got != want {
		t.Errorf("GetTunnelInfo(%s) = %+v, %v", home, got, err)
	}
	if coa, err := b.agent.GetCareOfAddr(ctx, home2); err != nil || coa != colocated {
		t.Errorf("GetCareOfAddr(%s) = %s, %v; want %s", home2, coa, err, colocated)
	}
	other := netip.MustParseAddr("10.1.0.99")
	if _, err := b.agent.GetTunnelInfo(ctx, other); apiCode(err) != api.NotAvailable {
		t.Errorf("GetTunnelInfo of a mobile without binding: %v, want not available", err)
	}
	if _, err := b.agent.GetCareOfAddr(ctx, other); apiCode(err) != api.NotAvailable {
		t.Errorf("GetCareOfAddr of a mobile without binding: %v, want not available", err)
	}
	for _, bad := range []netip.Addr{{}, netip.IPv4Unspecified(), netip.MustParseAddr("2001:db8::1")} {
		if _, err := b.agent.GetTunnelInfo(ctx, bad); apiCode(err) != api.InvalidParams {
			t.Errorf("GetTunnelInfo(%v): %v, want invalid params", bad, err)
		}
	}
}

// TestAPIStatus checks get_status after one accepted registration and one
// denial: the counters by their API names.
func TestAPIStatus(t *testing.T) {
	b := newBed(t, testConfig())
	ctx := apiCtx(t)
	b.register(req{})
	unknown := b.build(req{home: netip.MustParseAddr("10.1.0.99"), fh: &fa1SA})
	if rep := b.exchange(b.fa1, unknown); rep.Code != mip.CodeHAMobileAuthFailed {
		t.Fatalf("unknown mobile: %s", rep.Code)
	}
	s, err := b.agent.GetStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Agent != "ha" || s.Version != version.Version || s.DataPath != "fake" || s.Uptime < 0 {
		t.Errorf("status %+v", s)
	}
	// The uptime is the agent's, on its clock.
	b.advance(90 * time.Second)
	if later, err := b.agent.GetStatus(ctx); err != nil || later.Uptime-s.Uptime != 90*time.Second {
		t.Errorf("uptime %v then %v after 90s (%v)", s.Uptime, later.Uptime, err)
	}
	c := apiCounters(t, s)
	for name, want := range map[string]uint64{
		"requests": 2, "accepted": 1, "denied": 1, "denied.131": 1, "replies": 2,
		"bindings": 1, "tunnels": 1, "deregistrations": 0, "discards.malformed": 0,
		"discards.unknown_extension": 0, "discards.authentication": 0, "advertisements": 0,
	} {
		if got, ok := c[name]; !ok || got != want {
			t.Errorf("counter %s = %d (present %v), want %d", name, got, ok, want)
		}
	}
	for name := range c {
		if !counterName.MatchString(name) {
			t.Errorf("counter name %q is not lowercase and dotted", name)
		}
	}
}

// TestAPIEnableMobile checks enable_mobile: disabling removes the binding
// and its kernel state, revokes it at the foreign agent and denies the
// mobile with 129; enabling lets it register again; an unconfigured
// mobile is not available.
func TestAPIEnableMobile(t *testing.T) {
	b := newBed(t, testConfig())
	ctx := apiCtx(t)
	b.register(req{})
	b.has(bindingEntries(home, "dynha1", fa1Addr)...)

	if err := b.agent.EnableMobile(ctx, home, false); err != nil {
		t.Fatal(err)
	}
	if rv, _ := b.readRevocation(b.fa1, fa1SA); rv.Home != home {
		t.Errorf("revocation for %s, want %s", rv.Home, home)
	}
	b.onlyBase()
	if list, _ := b.agent.GetTunnels(ctx); len(list) != 0 {
		t.Errorf("tunnels after disabling: %+v", list)
	}
	var ms MobileState
	b.do(func(s *State) { ms = s.MobileState(home) })
	if ms != MobileDisabled {
		t.Errorf("mobile %s after disabling", ms)
	}
	if rep := b.exchange(b.fa1, b.build(req{lifetime: 600, support: true, fh: &fa1SA})); rep.Code != mip.CodeHAProhibited {
		t.Errorf("disabled mobile's request: %s, want %s", rep.Code, mip.CodeHAProhibited)
	}
	b.onlyBase()

	if err := b.agent.EnableMobile(ctx, home, true); err != nil {
		t.Fatal(err)
	}
	b.register(req{})
	if coa, err := b.agent.GetCareOfAddr(ctx, home); err != nil || coa != fa1Addr {
		t.Errorf("after enabling: care-of %s, %v", coa, err)
	}
	if err := b.agent.EnableMobile(ctx, netip.MustParseAddr("10.1.0.99"), false); apiCode(err) != api.NotAvailable {
		t.Errorf("EnableMobile of an unconfigured mobile: %v, want not available", err)
	}
}

// TestAPIDestroyTunnel checks destroy_tunnel: the binding, its route,
// proxy entry and tunnel go, the foreign agent is sent a revocation, and a
// second call finds nothing.
func TestAPIDestroyTunnel(t *testing.T) {
	b := newBed(t, testConfig())
	ctx := apiCtx(t)
	b.register(req{})
	if err := b.agent.DestroyTunnel(ctx, home); err != nil {
		t.Fatal(err)
	}
	if rv, _ := b.readRevocation(b.fa1, fa1SA); rv.Home != home {
		t.Errorf("revocation for %s, want %s", rv.Home, home)
	}
	b.onlyBase()
	if err := b.agent.DestroyTunnel(ctx, home); apiCode(err) != api.NotAvailable {
		t.Errorf("second DestroyTunnel: %v, want not available", err)
	}
	// The mobile is not disabled: it registers again.
	b.register(req{})
	if list, err := b.agent.GetTunnels(ctx); err != nil || len(list) != 1 || list[0].CareOf != fa1Addr {
		t.Errorf("after registering again: %+v, %v", list, err)
	}
}

// TestAPIAfterStop checks that calls on a stopped agent fail instead of
// hanging.
func TestAPIAfterStop(t *testing.T) {
	b := newBed(t, testConfig())
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.agent.GetStatus(apiCtx(t)); !errors.Is(err, ErrStopped) {
		t.Errorf("GetStatus after Run: %v, want ErrStopped", err)
	}
}

// TestSocketLabels checks AdminSocket and MonitorSocket: the defaults of
// api.DefaultSocket, "" to turn a socket off, and the refusals.
func TestSocketLabels(t *testing.T) {
	const base = "HAIPAddress 10.1.0.1\nHomeNetPrefix 10.1.0.0/24\nHomeInterface eth0\n"
	c, err := ParseConfig("test.conf", strings.NewReader(base))
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultConfig()
	if c.AdminSocket != api.DefaultSocket("ha", true) || c.MonitorSocket != api.DefaultSocket("ha", false) ||
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
