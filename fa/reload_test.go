package fa

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/daemon"
	"github.com/dynamics-go/dynamics/libdynamics/discovery"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// reload applies cfg to the running agent.
func (b *bed) reload(cfg Config) error {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return b.agent.Reload(ctx, cfg)
}

func (b *bed) logLines(msg string) []string {
	var out []string
	for _, l := range strings.Split(b.logs.String(), "\n") {
		if strings.Contains(l, msg) {
			out = append(out, l)
		}
	}
	return out
}

// The advertised settings, the limits and the security association change
// at once; the visitor registered before keeps its entry, expiry and
// kernel state, and an advertisement tells mobiles at once.
func TestReloadKeepsVisitors(t *testing.T) {
	b := newBed(t, testConfig())
	id := mip.TimestampID(start)
	b.register(b.mn, home, id, 600, mip.FlagReverseTunnel)
	var before Visitor
	b.do(func(s *State) { before, _ = s.Visitor(home) })
	changes := b.kern.Changes()
	b.advance(10 * time.Second)
	b.advert(b.mn) // one, however long the clock jumped

	cfg := testConfig()
	cfg.MaxLifetime = 300 * time.Second
	cfg.MaxVisitors = 1
	cfg.ReverseTunnel = false
	newSA := mip.SecurityAssociation{SPI: 2500, Alg: mip.HMACMD5, Key: []byte("the new fh key..")}
	cfg.Security[0].SPI, cfg.Security[0].Key = newSA.SPI, newSA.Key
	if err := b.reload(cfg); err != nil {
		t.Fatalf("reload: %v", err)
	}
	want := "changed=MaxLifetime,MaxVisitors,ReverseTunnel,SECURITY ha_updated=10.1.0.1"
	if l := b.logLines(`msg="configuration reloaded"`); len(l) != 1 || !strings.Contains(l[0], want) {
		t.Errorf("reload log lines %q, want %q", l, want)
	}
	adv := b.advert(b.mn).adv.MobilityAgent()
	if adv.RegistrationLifetime != 300 || adv.Flags&discovery.FlagReverseTunnel != 0 || adv.Flags&discovery.FlagBusy == 0 {
		t.Errorf("advertisement after the reload: lifetime %d flags %s", adv.RegistrationLifetime, adv.Flags)
	}
	if b.kern.Changes() != changes {
		t.Errorf("reload touched the kernel: %v", b.kern.Ops())
	}
	var after Visitor
	b.do(func(s *State) { after, _ = s.Visitor(home) })
	if after.ID != before.ID || !after.Expiry.Equal(before.Expiry) || after.Tunnel != before.Tunnel ||
		kernel.Render(after.Entries) != kernel.Render(before.Entries) {
		t.Errorf("visitor before %+v, after %+v", before, after)
	}
	b.hasAll(visitorKernel(home, mnMAC, true)...)
	b.hasAll(tunnelKernel()...)

	// The new limits.
	for _, c := range []struct {
		h        netip.Addr
		lifetime uint16
		flags    mip.Flags
		code     mip.Code
	}{
		{home, 600, 0, mip.CodeFALifetimeTooLong},
		{home, 300, mip.FlagReverseTunnel, mip.CodeFAReverseTunnel},
		{home2, 300, 0, mip.CodeFAInsufficientResources},
	} {
		b.send(b.mn, c.h, marshal(t, request(c.h, id+uint64(c.lifetime)+uint64(c.flags), c.lifetime, c.flags)))
		if r := b.replyFor(b.mn); r.Code != c.code {
			t.Errorf("%s lifetime %d flags %s: reply %s, want %s", c.h, c.lifetime, c.flags, r.Code, c.code)
		}
	}
	b.haNothing()
	// The renewal goes up with the new Foreign-Home key.
	b.send(b.mn, home, marshal(t, request(home, id+1000, 300, 0)))
	raw, _ := b.haRecv()
	if err := mip.VerifyRequest(raw, mip.TypeForeignHome, newSA); err != nil {
		t.Errorf("relayed under the new key: %v", err)
	}
}

// A changed PendingTimeout applies to the requests already relayed too.
func TestReloadPendingTimeout(t *testing.T) {
	b := newBed(t, testConfig())
	id := mip.TimestampID(start)
	b.send(b.mn, home, marshal(t, request(home, id, 600, 0)))
	b.haRelayed()
	b.advance(3 * time.Second)
	cfg := testConfig()
	cfg.PendingTimeout = 4 * time.Second
	if err := b.reload(cfg); err != nil {
		t.Fatal(err)
	}
	b.advance(900 * time.Millisecond)
	b.noReply(b.mn)
	b.advance(100 * time.Millisecond)
	if r := b.replyFor(b.mn); r.Code != mip.CodeFATimeout || r.ID != id {
		t.Errorf("reply %s id %x, want 78 at the new deadline", r.Code, r.ID)
	}
	// And to the next: a request relayed now times out after 4 s.
	b.send(b.mn, home, marshal(t, request(home, id+1, 600, 0)))
	b.haRelayed()
	b.advance(3900 * time.Millisecond)
	b.noReply(b.mn)
	b.advance(100 * time.Millisecond)
	if r := b.replyFor(b.mn); r.Code != mip.CodeFATimeout {
		t.Errorf("reply %s, want 78", r.Code)
	}
}

// A changed AgentAdvInterval moves the next advertisement to one new
// interval after the last.
func TestReloadAdvertisementInterval(t *testing.T) {
	b := newBed(t, testConfig()) // advertised at start
	b.advance(time.Second)
	b.advert(b.mn)
	cfg := testConfig()
	cfg.AgentAdvInterval = 3 * time.Second
	cfg.AgentAdvLifetime = 3 * time.Second // as before: not re-advertised at once
	if err := b.reload(cfg); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		b.advance(time.Second)
		b.noAdvert(b.mn)
	}
	b.advance(time.Second)
	b.advert(b.mn)
	if s := b.stats(); s.Advertisements != 3 {
		t.Errorf("%d advertisements, want 3", s.Advertisements)
	}
}

// noAdvert checks that no advertisement reaches c for a while.
func (b *bed) noAdvert(c *link.MemConn) {
	b.t.Helper()
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	defer c.SetReadDeadline(time.Time{})
	for {
		n, _, err := c.ReadFrame(buf)
		if err != nil {
			return
		}
		if ip, err := link.ParseIPv4(buf[:n]); err == nil && ip.Protocol == link.ProtoICMP {
			b.t.Errorf("%s received an advertisement", c.Info().Name)
			return
		}
	}
}

// Labels that need a restart keep their running values and are named in
// one warning line and in the error; the rest applies. A file without
// CareOfAddress keeps the running one without complaint.
func TestReloadRestartLabels(t *testing.T) {
	b := newBed(t, testConfig())
	cfg := testConfig()
	cfg.CareOfAddress = netip.Addr{}
	cfg.UpstreamInterface = "eth7"
	cfg.Interfaces = []string{"eth1", "eth2"}
	cfg.TunnelMode = daemon.TunnelUserspace
	cfg.MaxVisitors = 5
	err := b.reload(cfg)
	var rerr *daemon.ReloadError
	if !errors.As(err, &rerr) {
		t.Fatalf("reload: %v", err)
	}
	if want := []string{"UpstreamInterface", "TunnelMode", "INTERFACES"}; !slices.Equal(rerr.Restart, want) {
		t.Errorf("restart labels %q, want %q", rerr.Restart, want)
	}
	if l := b.logLines(`level=WARN msg="needs a restart: UpstreamInterface, TunnelMode, INTERFACES"`); len(l) != 1 {
		t.Errorf("restart warning lines %q", l)
	}
	if l := b.logLines(`msg="configuration reloaded"`); len(l) != 1 || !strings.HasSuffix(l[0], "changed=MaxVisitors") {
		t.Errorf("reload log lines %q", l)
	}
	var running Config
	b.do(func(*State) { running = b.agent.cfg })
	if running.CareOfAddress != coa || running.UpstreamInterface != "eth0" || !slices.Equal(running.Interfaces, []string{"eth1"}) ||
		running.TunnelMode != daemon.TunnelAuto || running.MaxVisitors != 5 {
		t.Errorf("running configuration %+v", running)
	}

	cfg = testConfig()
	cfg.CareOfAddress = netip.MustParseAddr("10.0.1.99")
	err = b.reload(cfg)
	if !errors.As(err, &rerr) || !slices.Equal(rerr.Restart, []string{"CareOfAddress"}) {
		t.Errorf("changed CareOfAddress: %v", err)
	}
	b.advance(time.Second)
	if ma := b.advert(b.mn).adv.MobilityAgent(); ma == nil || !slices.Equal(ma.CareOfAddresses, []netip.Addr{coa}) {
		t.Errorf("advertised care-of addresses %+v", ma)
	}
}
