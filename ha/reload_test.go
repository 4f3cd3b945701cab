package ha

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/memnet"
	"github.com/dynamics-go/dynamics/libdynamics/binding"
	"github.com/dynamics-go/dynamics/libdynamics/daemon"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/tunnel"
)

// reload applies cfg to the running agent.
func (b *bed) reload(cfg Config) error {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return b.agent.Reload(ctx, cfg)
}

// logLines returns the log lines holding msg.
func (b *bed) logLines(msg string) []string {
	var out []string
	for _, l := range strings.Split(b.logs.String(), "\n") {
		if strings.Contains(l, msg) {
			out = append(out, l)
		}
	}
	return out
}

// oneMobile is testConfig without the second mobile.
func oneMobile() Config {
	c := testConfig()
	c.Authorized = c.Authorized[:1]
	return c
}

// A mobile added to AUTHORIZEDLIST registers at once; the binding of a
// mobile the reload leaves alone keeps its identification, its expiry and
// its kernel entries, untouched.
func TestReloadAddsMobile(t *testing.T) {
	b := newBed(t, oneMobile())
	b.register(req{})
	m2 := b.build(req{home: home2, mh: &mn2SA, coa: fa2Addr, lifetime: 600, fh: &fa2SA})
	if rep := b.exchange(b.fa2, m2); rep.Code != mip.CodeHAMobileAuthFailed {
		t.Fatalf("unlisted mobile: reply %s", rep.Code)
	}
	var before Binding
	b.do(func(s *State) { before, _ = s.Binding(home) })
	changes := b.kern.Changes()
	b.advance(10 * time.Second)

	cfg := testConfig()
	for i := range cfg.Authorized {
		cfg.Authorized[i].Line = 40 + i // the file moved around: not a change
	}
	if err := b.reload(cfg); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if b.kern.Changes() != changes {
		t.Errorf("reload touched the kernel: %v", b.kern.Ops())
	}
	var after Binding
	var st MobileState
	b.do(func(s *State) { after, _ = s.Binding(home); st = s.MobileState(home2) })
	if after.ID != before.ID || !after.Expiry.Equal(before.Expiry) || after.Tunnel != before.Tunnel || after.CareOf != before.CareOf {
		t.Errorf("binding before %+v, after %+v", before, after)
	}
	if st != MobileHome {
		t.Errorf("added mobile is %s, want home", st)
	}
	lines := b.logLines(`msg="configuration reloaded"`)
	if len(lines) != 1 || !strings.Contains(lines[0], "changed=AUTHORIZEDLIST added=10.1.0.11") ||
		strings.Contains(lines[0], "removed=") || strings.Contains(lines[0], "updated=") {
		t.Errorf("reload log lines %q", lines)
	}

	m2 = b.build(req{home: home2, mh: &mn2SA, coa: fa2Addr, lifetime: 600, support: true, fh: &fa2SA})
	rep := b.exchange(b.fa2, m2)
	if rep.Code != mip.CodeAccepted {
		t.Fatalf("added mobile: reply %s", rep.Code)
	}
	verifyReply(t, rep, mn2SA, &fa2SA)
	b.has(bindingEntries(home2, "dynha2", fa2Addr)...)
	b.has(bindingEntries(home, "dynha1", fa1Addr)...)
}

// A mobile removed from AUTHORIZEDLIST loses its binding, its route and
// proxy ARP entry and its share of the tunnel at once; the foreign agent
// that held it is sent a revocation, and the mobile's next request is
// denied with 131. The other mobile's binding, on the same tunnel, stays.
func TestReloadRemovesMobile(t *testing.T) {
	b := newBed(t, testConfig())
	b.register(req{})
	b.register(req{home: home2, mh: &mn2SA})
	b.has(bindingEntries(home2, "dynha1", fa1Addr)...)
	var before Binding
	b.do(func(s *State) { before, _ = s.Binding(home) })

	if err := b.reload(oneMobile()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if b.kern.Has(kernel.Route{Dst: netip.PrefixFrom(home2, 32), Dev: "dynha1"}) || b.kern.Has(kernel.ProxyARP{IP: home2, Dev: "eth0"}) {
		t.Errorf("removed mobile's entries stayed:\n%s", b.kern.Render())
	}
	b.has(bindingEntries(home, "dynha1", fa1Addr)...)
	var tunnels []tunnel.Tunnel
	var after Binding
	var st MobileState
	b.do(func(s *State) {
		tunnels = s.Tunnels()
		after, _ = s.Binding(home)
		st = s.MobileState(home2)
		if _, ok := s.Binding(home2); ok {
			t.Error("removed mobile's binding stayed")
		}
	})
	if len(tunnels) != 1 || tunnels[0].Refs != 1 {
		t.Errorf("tunnels after the removal: %+v", tunnels)
	}
	if after.ID != before.ID || !after.Expiry.Equal(before.Expiry) {
		t.Errorf("kept binding changed: before %+v, after %+v", before, after)
	}
	if st != MobileUnknown {
		t.Errorf("removed mobile is %s", st)
	}
	rv, _ := b.readRevocation(b.fa1, fa1SA)
	if rv.Home != home2 || rv.ForeignDomain != fa1Addr {
		t.Errorf("revocation %+v", rv)
	}
	if l := b.logLines(`msg="configuration reloaded"`); len(l) != 1 || !strings.Contains(l[0], "changed=AUTHORIZEDLIST removed=10.1.0.11") {
		t.Errorf("reload log lines %q", l)
	}

	rep := b.exchange(b.fa1, b.build(req{home: home2, mh: &mn2SA, lifetime: 600, support: true, fh: &fa1SA}))
	if rep.Code != mip.CodeHAMobileAuthFailed {
		t.Errorf("removed mobile's request: reply %s, want 131", rep.Code)
	}
	if s := b.stats(); s.Bindings != 1 {
		t.Errorf("bindings %d after the denial", s.Bindings)
	}

	// With its last binding gone the tunnel goes too.
	cfg := oneMobile()
	cfg.Authorized = nil
	if err := b.reload(cfg); err != nil {
		t.Fatal(err)
	}
	b.onlyBase()
}

// A changed key applies to the next request: the binding stays, a request
// under the old key is denied with 131 and one under the new key accepted.
// A changed replay protection takes effect too.
func TestReloadChangesKey(t *testing.T) {
	b := newBed(t, testConfig())
	b.register(req{})
	changes := b.kern.Changes()
	cfg := testConfig()
	newSA := mip.SecurityAssociation{SPI: 1500, Alg: mip.HMACMD5, Key: []byte("a brand new key!")}
	cfg.Authorized[0].SPI, cfg.Authorized[0].Key = newSA.SPI, newSA.Key
	if err := b.reload(cfg); err != nil {
		t.Fatal(err)
	}
	if l := b.logLines(`msg="configuration reloaded"`); len(l) != 1 || !strings.Contains(l[0], "changed=AUTHORIZEDLIST updated=10.1.0.10") {
		t.Errorf("reload log lines %q", l)
	}
	if b.kern.Changes() != changes {
		t.Errorf("key change touched the kernel: %v", b.kern.Ops())
	}
	var st MobileState
	b.do(func(s *State) { st = s.MobileState(home) })
	if st != MobileAway {
		t.Errorf("mobile is %s after a key change", st)
	}
	rep := b.exchange(b.fa1, b.build(req{lifetime: 600, support: true, fh: &fa1SA}))
	if rep.Code != mip.CodeHAMobileAuthFailed {
		t.Errorf("old key: reply %s", rep.Code)
	}
	verifyReply(t, rep, newSA, &fa1SA)
	rep = b.register(req{mh: &newSA})
	verifyReply(t, rep, newSA, &fa1SA)

	// Nonce replay protection from now on: a timestamp is a mismatch
	// answered with the agent's nonce.
	cfg.Authorized[0].Replay = replay(mip.ReplayNonce)
	newSA.Replay = mip.ReplayNonce
	if err := b.reload(cfg); err != nil {
		t.Fatal(err)
	}
	rep = b.exchange(b.fa1, b.build(req{mh: &newSA, lifetime: 600, support: true, fh: &fa1SA}))
	if rep.Code != mip.CodeIDMismatch {
		t.Errorf("timestamp under nonce protection: reply %s", rep.Code)
	}
}

// MaxLifetime, MaxBindings, RequireFAAuth and the SECURITY section apply to
// the next request; the lifetime already granted stays.
func TestReloadLimits(t *testing.T) {
	b := newBed(t, testConfig())
	b.register(req{})
	var before Binding
	b.do(func(s *State) { before, _ = s.Binding(home) })

	cfg := testConfig()
	cfg.MaxLifetime = 100 * time.Second
	cfg.MaxBindings = 1
	cfg.RequireFAAuth = true
	cfg.Security = cfg.Security[:1] // fa2 no longer shares an association
	if err := b.reload(cfg); err != nil {
		t.Fatal(err)
	}
	var after Binding
	b.do(func(s *State) { after, _ = s.Binding(home) })
	if after.Lifetime != before.Lifetime || !after.Expiry.Equal(before.Expiry) {
		t.Errorf("granted lifetime changed: %s until %s", after.Lifetime, after.Expiry)
	}
	want := "changed=MaxBindings,MaxLifetime,RequireFAAuth,SECURITY fa_removed=10.0.2.2"
	if l := b.logLines(`msg="configuration reloaded"`); len(l) != 1 || !strings.Contains(l[0], want) {
		t.Errorf("reload log lines %q, want %q", l, want)
	}
	if rep := b.register(req{lifetime: 600}); rep.Lifetime != 100 {
		t.Errorf("renewal granted %d s, want the new MaxLifetime 100", rep.Lifetime)
	}
	m2 := b.build(req{home: home2, mh: &mn2SA, lifetime: 600, support: true, fh: &fa1SA})
	if rep := b.exchange(b.fa1, m2); rep.Code != mip.CodeHAInsufficientResources {
		t.Errorf("a second binding under MaxBindings 1: reply %s", rep.Code)
	}
	// fa2, without an association, must now authenticate: 132.
	m := b.build(req{coa: fa2Addr, lifetime: 600})
	if rep := b.exchange(b.fa2, m); rep.Code != mip.CodeHAForeignAgentAuthFailed {
		t.Errorf("unauthenticated foreign agent: reply %s", rep.Code)
	}
}

// Labels that need a restart keep their running values and are named in
// one warning line and in the error; the rest of the file applies. An
// AUTHORIZEDLIST entry the running HomeNetPrefix does not hold is refused.
func TestReloadRestartLabels(t *testing.T) {
	b := newBed(t, testConfig())
	b.register(req{})
	changes := b.kern.Changes()
	cfg := testConfig()
	cfg.HAIPAddress = netip.MustParseAddr("10.9.0.1")
	cfg.HomeNetPrefix = netip.MustParsePrefix("10.9.0.0/24")
	cfg.HomeInterface = "eth9"
	cfg.TunnelPrefix = "other"
	cfg.MaxLifetime = 300 * time.Second
	cfg.Authorized = append(cfg.Authorized, MobileEntry{Home: netip.MustParseAddr("10.9.0.10"), SPI: 7, Alg: algorithm(mip.HMACMD5), Key: []byte("k"), Line: 12})
	err := b.reload(cfg)
	var rerr *daemon.ReloadError
	if !errors.As(err, &rerr) {
		t.Fatalf("reload error %v, want a *daemon.ReloadError", err)
	}
	if want := []string{"HAIPAddress", "HomeNetPrefix", "HomeInterface", "TunnelPrefix"}; !slices.Equal(rerr.Restart, want) {
		t.Errorf("restart labels %q, want %q", rerr.Restart, want)
	}
	if len(rerr.Rejected) != 1 || !strings.Contains(rerr.Rejected[0].Error(), "10.9.0.10") ||
		!strings.Contains(err.Error(), "needs a restart: HAIPAddress, HomeNetPrefix, HomeInterface, TunnelPrefix") {
		t.Errorf("error %q", err)
	}
	if l := b.logLines(`level=WARN msg="needs a restart: HAIPAddress, HomeNetPrefix, HomeInterface, TunnelPrefix"`); len(l) != 1 {
		t.Errorf("restart warning lines %q in\n%s", l, b.logs)
	}
	if l := b.logLines(`msg="configuration reloaded"`); len(l) != 1 || !strings.Contains(l[0], "changed=MaxLifetime ") && !strings.HasSuffix(l[0], "changed=MaxLifetime") {
		t.Errorf("reload log lines %q", l)
	}
	if b.kern.Changes() != changes {
		t.Errorf("reload touched the kernel: %v", b.kern.Ops())
	}
	// The agent still answers as 10.1.0.1, routes through eth0 and dynha1,
	// and grants the new MaxLifetime.
	rep := b.register(req{lifetime: 600})
	if rep.HomeAgent != haAddr || rep.Lifetime != 300 {
		t.Errorf("reply from %s lifetime %d", rep.HomeAgent, rep.Lifetime)
	}
	b.has(bindingEntries(home, "dynha1", fa1Addr)...)
	var st MobileState
	b.do(func(s *State) { st = s.MobileState(netip.MustParseAddr("10.9.0.10")) })
	if st != MobileUnknown {
		t.Errorf("refused entry is %s", st)
	}
}

// A changed AgentAdvInterval moves the next advertisement to one new
// interval after the last; a changed AgentAdvLifetime is advertised at
// once.
func TestReloadAdvertisementInterval(t *testing.T) {
	cfg := testConfig()
	cfg.AgentAdvInterval = time.Second
	cfg.AgentAdvLifetime = 3 * time.Second
	b := newBed(t, cfg)
	b.advert() // the first, at start
	b.advance(time.Second)
	b.advert()

	cfg.AgentAdvInterval = 5 * time.Second
	if err := b.reload(cfg); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		b.advance(time.Second)
		b.noAdvert()
	}
	b.advance(time.Second)
	if _, adv := b.advert(); adv.Lifetime != 3 {
		t.Errorf("advertised lifetime %d", adv.Lifetime)
	}

	cfg.AgentAdvLifetime = 20 * time.Second
	if err := b.reload(cfg); err != nil {
		t.Fatal(err)
	}
	if _, adv := b.advert(); adv.Lifetime != 20 {
		t.Errorf("advertised lifetime %d after the reload, want 20 at once", adv.Lifetime)
	}
	b.advance(4 * time.Second)
	b.noAdvert()
	b.advance(time.Second)
	b.advert()
	if s := b.stats(); s.Advertisements != 5 {
		t.Errorf("%d advertisements, want 5", s.Advertisements)
	}
}

// Advertisements off at start leave the home link closed: turning them on
// needs a restart.
func TestReloadAdvertisementsNeedLink(t *testing.T) {
	n := memnet.New()
	conn, err := n.Listen(netip.AddrPortFrom(haAddr, 434).String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var logs logBuffer
	a, err := New(Options{Config: testConfig(), Conn: conn, Kernel: kernel.NewFake("eth0"),
		Clock: binding.NewManualClock(start), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.AgentAdvInterval = time.Second
	cfg.ReplayWindow = 3 * time.Second
	err = a.reload(cfg) // the loop is not running: the test is the loop
	var rerr *daemon.ReloadError
	if !errors.As(err, &rerr) || !slices.Equal(rerr.Restart, []string{"AgentAdvInterval"}) {
		t.Fatalf("reload: %v", err)
	}
	if a.cfg.AgentAdvInterval != 0 || a.replay.Window != 3*time.Second {
		t.Errorf("running AgentAdvInterval %s, replay window %s", a.cfg.AgentAdvInterval, a.replay.Window)
	}
	if _, ok := a.nextDeadline(); ok {
		t.Error("an advertisement was scheduled without a home link")
	}
	if !strings.Contains(logs.String(), `msg="needs a restart: AgentAdvInterval"`) {
		t.Errorf("log:\n%s", logs.String())
	}
}
