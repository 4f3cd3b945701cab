package mn

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
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
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// registerAt takes the node to a fresh foreign agent and registers it there
// with lifetime 300.
func (b *bed) registerAt(n byte) (*fakeAgent, *mip.Request) {
	b.t.Helper()
	fa, hub := b.foreignAgent(n)
	b.move(hub)
	fa.advertise(1000)
	req := fa.request()
	fa.reply(req, mip.CodeAccepted, 300)
	b.waitState(StateRegistered)
	return fa, req
}

func counterMap(s api.Status) map[string]uint64 {
	m := map[string]uint64{}
	for _, c := range s.Counters {
		m[c.Name] = c.Value
	}
	return m
}

// TestAPIStatus checks get_status and get_care_of_addr at home, registered
// through a foreign agent, and after a denial.
func TestAPIStatus(t *testing.T) {
	b := newBed(t, testConfig())
	ctx := apiCtx(t)
	s, err := b.node.GetStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Agent != "mn" || s.Version != version.Version || s.DataPath != "fake" || s.State != "Starting" ||
		s.Home != homeAddr || s.HA != haAddr || s.CareOf.IsValid() || s.TunnelingMode != "full" || s.Iface != "eth0" {
		t.Errorf("status at start %+v", s)
	}
	if _, err := b.node.GetCareOfAddr(ctx, homeAddr); apiCode(err) != api.NotAvailable {
		t.Errorf("GetCareOfAddr unregistered: %v, want not available", err)
	}

	fa, req := b.registerAt(1)
	b.advance(100 * time.Second)
	s, err = b.node.GetStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.State != "Connected" || s.CareOf != fa.cfg.coa || s.FA != fa.cfg.addr || s.Lifetime != 300*time.Second ||
		s.Remaining != 200*time.Second {
		t.Errorf("status registered %+v", s)
	}
	if coa, err := b.node.GetCareOfAddr(ctx, netip.Addr{}); err != nil || coa != fa.cfg.coa {
		t.Errorf("GetCareOfAddr = %s, %v; want %s", coa, err, fa.cfg.coa)
	}

	// Confirm sends a fresh request; the home agent denies it.
	r := b.goCall(b.node.Confirm)
	again := fa.request()
	if again.ID == req.ID {
		t.Fatal("Confirm sent no fresh request")
	}
	fa.reply(again, mip.CodeHAProhibited, 0)
	if err := r.result(t); apiCode(err) != api.Denied {
		t.Errorf("denied Confirm: %v, want code %d", err, api.Denied)
	}
	c := counterMap(mustStatus(t, b))
	for name, want := range map[string]uint64{
		"requests": 2, "replies": 2, "accepted": 1, "denied": 1, "denied.129": 1, "moves": 1,
		"discards.malformed": 0, "discards.unknown_extension": 0, "discards.authentication": 0, "discards.unmatched": 0,
	} {
		if got, ok := c[name]; !ok || got != want {
			t.Errorf("counter %s = %d (present %v), want %d", name, got, ok, want)
		}
	}
	if c["advertisements"] == 0 || c["solicitations"] == 0 {
		t.Errorf("counters %v: no advertisement heard or solicitation sent", c)
	}
}

func mustStatus(t *testing.T, b *bed) api.Status {
	t.Helper()
	s, err := b.node.GetStatus(apiCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAPITunnelingMode checks that set_tunneling_mode takes effect at
// once: the kernel loses the default route in mode none, and the node
// registers again without the T flag.
func TestAPITunnelingMode(t *testing.T) {
	b := newBed(t, testConfig())
	ctx := apiCtx(t)
	fa, req := b.registerAt(1)
	if !req.Flags.Has(mip.FlagReverseTunnel) {
		t.Fatalf("full mode asked for no reverse tunnel: %s", req.Flags)
	}
	b.wantKernel(agentSet(fa, true)...)

	if err := b.node.SetTunnelingMode(ctx, "none"); err != nil {
		t.Fatal(err)
	}
	if m, err := b.node.GetTunnelingMode(ctx); err != nil || m != "none" {
		t.Errorf("GetTunnelingMode = %q, %v", m, err)
	}
	b.wantKernel(agentSet(fa, false)...)
	renewal := fa.request()
	if renewal.Flags.Has(mip.FlagReverseTunnel) || renewal.Lifetime == 0 {
		t.Errorf("request after the change: flags %s lifetime %d", renewal.Flags, renewal.Lifetime)
	}
	fa.reply(renewal, mip.CodeAccepted, 300)
	b.sync()
	if s := mustStatus(t, b); s.State != "Connected" || s.TunnelingMode != "none" {
		t.Errorf("status %+v", s)
	}
	b.wantKernel(agentSet(fa, false)...)

	// Back to full: the default route returns while the renewal asks for T.
	if err := b.node.SetTunnelingMode(ctx, "FULL"); err != nil {
		t.Fatal(err)
	}
	b.wantKernel(agentSet(fa, true)...)
	if r := fa.request(); !r.Flags.Has(mip.FlagReverseTunnel) {
		t.Errorf("request back in full mode: flags %s", r.Flags)
	}
	if err := b.node.SetTunnelingMode(ctx, "bidirectional"); apiCode(err) != api.InvalidParams {
		t.Errorf("SetTunnelingMode(bidirectional): %v, want invalid params", err)
	}
}

// TestAPIUpdateLocationAndHome checks update_location (a solicitation and a
// fresh request through the agent) and home_update (a deregistration
// straight to the home agent).
func TestAPIUpdateLocationAndHome(t *testing.T) {
	b := newBed(t, testConfig())
	ctx := apiCtx(t)
	fa, req := b.registerAt(1)
	sols := b.stats().Solicitations
	if err := b.node.UpdateLocation(ctx); err != nil {
		t.Fatal(err)
	}
	if got := b.stats().Solicitations; got != sols+1 {
		t.Errorf("solicitations %d after update_location, want %d", got, sols+1)
	}
	r := fa.request()
	if r.ID == req.ID || r.Lifetime == 0 || r.CareOf != fa.cfg.coa {
		t.Errorf("update_location request %+v", r)
	}
	fa.reply(r, mip.CodeAccepted, 300)
	b.sync()

	if err := b.node.HomeUpdate(ctx); err != nil {
		t.Fatal(err)
	}
	dereg, from := b.ha.request()
	if dereg.Lifetime != 0 || dereg.CareOf != homeAddr || from.Addr() != homeAddr {
		t.Errorf("home_update sent %+v from %s, want a deregistration from home", dereg, from)
	}
	if s := mustStatus(t, b); s.State != "Deregistering" || s.CareOf.IsValid() {
		t.Errorf("status after home_update %+v", s)
	}
	b.ha.reply(dereg, mip.CodeAccepted, 0)
	b.waitState(StateHome)
	if s := mustStatus(t, b); s.State != "At home" {
		t.Errorf("status at home %+v", s)
	}
	b.wantKernel(homeSet()...)
}

// TestAPIDisconnected checks the calls a disconnected node refuses, and
// the states Disconnect goes through.
func TestAPIDisconnected(t *testing.T) {
	b := newBed(t, disconnectedConfig())
	ctx := apiCtx(t)
	if s := mustStatus(t, b); s.State != "Disconnected" {
		t.Errorf("state %q, want Disconnected", s.State)
	}
	if err := b.node.UpdateLocation(ctx); apiCode(err) != api.NotPermitted {
		t.Errorf("UpdateLocation disconnected: %v, want not permitted", err)
	}
	if err := b.node.HomeUpdate(ctx); apiCode(err) != api.NotPermitted {
		t.Errorf("HomeUpdate disconnected: %v, want not permitted", err)
	}
	if err := b.node.Confirm(ctx); apiCode(err) != api.NotAvailable {
		t.Errorf("Confirm disconnected: %v, want not available", err)
	}
	b.wantKernel()
}

// TestAPIErrorCodes checks the control API's return values of the
// blocking calls' errors, and the message of a denial.
func TestAPIErrorCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		code api.Code
		is   error
	}{
		{ErrInProgress, api.InProgress, api.ErrInProgress},
		{ErrCancelled, api.Cancelled, api.ErrCancelled},
		{ErrDisconnected, api.NotAvailable, api.ErrNotAvailable},
		{&DeniedError{Code: mip.CodeFAMobileAuthFailed}, api.Denied, api.ErrDenied},
	} {
		if got := api.CodeOf(c.err); got != c.code {
			t.Errorf("CodeOf(%v) = %d, want %d", c.err, got, c.code)
		}
		if !errors.Is(c.err, c.is) || errors.Is(c.err, api.ErrFailed) {
			t.Errorf("%v: errors.Is %v false, or it matches failed", c.err, c.is)
		}
	}
	var e *api.Error
	if !errors.As(error(&DeniedError{Code: mip.CodeFAMobileAuthFailed}), &e) ||
		e.Message != "registration denied: code 67 (mobile node failed authentication)" {
		t.Errorf("denial as the API gives it: %+v", e)
	}
}

// TestSocketLabels checks AdminSocket and MonitorSocket: the defaults of
// api.DefaultSocket, "" to turn a socket off, and the refusals.
func TestSocketLabels(t *testing.T) {
	const base = "MNHomeIPAddress 10.1.0.10\nHAIPAddress 10.1.0.1\nHomeNetPrefix 10.1.0.0/24\nInterface eth0\nSPI 1000\nSharedSecret 00112233\n"
	c, err := ParseConfig("test.conf", strings.NewReader(base))
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultConfig()
	if c.AdminSocket != api.DefaultSocket("mn", true) || c.MonitorSocket != api.DefaultSocket("mn", false) ||
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

// TestAPIBlockingCalls drives connect and disconnect through the control
// API's server and client: a second connect while one blocks is answered
// in progress (-9), and a disconnect cancels the blocking one (-10).
func TestAPIBlockingCalls(t *testing.T) {
	b := newBed(t, disconnectedConfig())
	ln, err := api.Listen(filepath.Join(t.TempDir(), "mn.sock"), api.AdminMode)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- api.NewServer(b.node, nil).Serve(ctx, ln, true) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	client := func() *api.Client {
		c, err := api.Dial(ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	first, second := client(), client()

	// No agent is heard: the first connect blocks.
	blocked := make(chan error, 1)
	go func() { blocked <- first.Connect(2 * wait) }()
	deadline := time.Now().Add(wait)
	for b.calls()[0] == (*waiter)(nil) {
		if time.Now().After(deadline) {
			t.Fatal("the connect did not reach the loop")
		}
		time.Sleep(time.Millisecond)
	}
	err = second.Connect(wait)
	if api.CodeOf(err) != api.InProgress || !errors.Is(err, api.ErrInProgress) {
		t.Errorf("second connect: %v, want in progress (%d)", err, api.InProgress)
	}
	if s, err := second.GetStatus(wait); err != nil || s.State != "Searching" {
		t.Errorf("status while connecting: %+v, %v", s, err)
	}
	if err := second.Disconnect(wait); err != nil {
		t.Fatalf("disconnect: %v", err)
	}
	select {
	case err := <-blocked:
		if api.CodeOf(err) != api.Cancelled || !errors.Is(err, api.ErrCancelled) {
			t.Errorf("blocked connect: %v, want cancelled (%d)", err, api.Cancelled)
		}
	case <-time.After(wait):
		t.Fatal("the blocked connect did not return")
	}
	if s, err := second.GetStatus(wait); err != nil || s.State != "Disconnected" {
		t.Errorf("status after disconnect: %+v, %v", s, err)
	}
}
