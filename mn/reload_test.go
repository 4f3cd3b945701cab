package mn

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/daemon"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
)

// syncLog is a log buffer the node's loop writes while the test reads.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) lines(msg string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(s, msg) {
			out = append(out, s)
		}
	}
	return out
}

// logTo sends the node's log to a buffer from now on.
func (b *bed) logTo() *syncLog {
	b.t.Helper()
	logs := &syncLog{}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := b.node.Do(ctx, func(l *Loop) { l.log = slog.New(slog.NewTextHandler(logs, nil)) }); err != nil {
		b.t.Fatal(err)
	}
	return logs
}

func (b *bed) reload(cfg Config) error {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return b.node.Reload(ctx, cfg)
}

// rawRequest returns the next request the agent receives, unchecked.
func (a *fakeAgent) rawRequest() *mip.Request {
	a.b.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		f, ok := a.next(time.Until(deadline))
		if !ok {
			a.b.t.Fatal("no request")
		}
		if f.ip.Protocol != link.ProtoUDP {
			continue
		}
		u, err := link.ParseUDP(link.AppendIPv4(nil, f.ip.Src, f.ip.Dst, f.ip.Protocol, f.ip.TTL, f.ip.Payload))
		if err != nil {
			a.b.t.Fatal(err)
		}
		req, err := mip.ParseRequest(u.Payload)
		if err != nil {
			a.b.t.Fatal(err)
		}
		return req
	}
}

// A reload keeps the registration in force; the new lifetime and security
// association go into the next request, the new retry interval times its
// retransmission.
func TestReloadKeepsRegistration(t *testing.T) {
	b, fa, _ := registeredAt(t, testConfig(), 300)
	logs := b.logTo()
	before := b.status()
	changes := b.k.Changes()

	cfg := testConfig()
	cfg.Lifetime = 200 * time.Second
	newSA := mip.SecurityAssociation{SPI: 1500, Alg: mip.KeyedMD5PrefixSuffix, Key: []byte("another secret")}
	cfg.SPI, cfg.Algorithm, cfg.SharedSecret = newSA.SPI, algorithm(newSA.Alg), newSA.Key
	cfg.RetryInterval, cfg.MaxRetryInterval = 2*time.Second, 2*time.Second
	cfg.HomeGateway = netip.MustParseAddr("10.1.0.253")
	if err := b.reload(cfg); err != nil {
		t.Fatalf("reload: %v", err)
	}
	want := "changed=HomeGateway,SPI,Algorithm,SharedSecret,Lifetime,RetryInterval,MaxRetryInterval"
	if l := logs.lines(`msg="configuration reloaded"`); len(l) != 1 || !strings.HasSuffix(l[0], want) {
		t.Errorf("reload log lines %q, want %q", l, want)
	}
	after := b.status()
	if after.State != StateRegistered || after.CareOf != before.CareOf || !after.Expiry.Equal(before.Expiry) || after.Pending {
		t.Errorf("status before %+v, after %+v", before, after)
	}
	if b.k.Changes() != changes {
		t.Errorf("reload away from home touched the kernel: %v", b.k.Ops())
	}
	fa.noRequest()

	// The renewal, at 80% of the 300 s granted.
	b.advance(240 * time.Second)
	req := fa.rawRequest()
	if req.Lifetime != 200 {
		t.Errorf("renewal lifetime %d, want the new 200", req.Lifetime)
	}
	if err := mip.VerifyRequest(req.Raw(), mip.TypeMobileHome, newSA); err != nil {
		t.Errorf("renewal not under the new security association: %v", err)
	}
	b.advance(time.Second)
	fa.noRequest()
	b.advance(time.Second)
	if again := fa.rawRequest(); again.ID == req.ID {
		t.Error("retransmission with the same identification")
	}
	// Shorter intervals apply to the request outstanding: its next
	// retransmission comes one new interval from now, not 2 s.
	cfg.RetryInterval, cfg.MaxRetryInterval = 500*time.Millisecond, 500*time.Millisecond
	if err := b.reload(cfg); err != nil {
		t.Fatal(err)
	}
	b.advance(500 * time.Millisecond)
	fa.rawRequest()
}

// The tunneling mode follows the file only when the file's changes: one
// set through the control API survives a reload that leaves it alone.
func TestReloadTunnelingMode(t *testing.T) {
	b, fa, _ := registeredAt(t, testConfig(), 300)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := b.node.SetTunnelingMode(ctx, "none"); err != nil {
		t.Fatal(err)
	}
	fa.reply(fa.request(), mip.CodeAccepted, 300)
	b.waitState(StateRegistered)

	cfg := testConfig()
	cfg.MaxRetryCount = 7
	if err := b.reload(cfg); err != nil {
		t.Fatal(err)
	}
	if m := b.status().Mode; m != TunnelNone {
		t.Errorf("mode %s after a reload that left TunnelingMode alone, want none", m)
	}
	fa.noRequest()

	cfg.TunnelingMode = TunnelTriangle
	if err := b.reload(cfg); err != nil {
		t.Fatal(err)
	}
	if m := b.status().Mode; m != TunnelTriangle {
		t.Errorf("mode %s, want triangle", m)
	}
	req := fa.request()
	if req.Flags.Has(mip.FlagReverseTunnel) {
		t.Errorf("triangle mode request flags %q", req.Flags)
	}
	fa.reply(req, mip.CodeAccepted, 300)
	b.waitState(StateRegistered)
	b.wantKernel(agentSet(fa, true)...)
}

// A shorter SolicitInterval brings the next solicitation forward.
func TestReloadSolicitInterval(t *testing.T) {
	cfg := testConfig()
	cfg.SolicitInterval = 10 * time.Second
	b := newBed(t, cfg)
	b.advance(time.Second)
	if n := b.stats().Solicitations; n != 1 {
		t.Fatalf("%d solicitations, want the first only", n)
	}
	cfg.SolicitInterval = time.Second
	if err := b.reload(cfg); err != nil {
		t.Fatal(err)
	}
	b.advance(time.Second)
	if n := b.stats().Solicitations; n != 2 {
		t.Errorf("%d solicitations a second after the reload, want 2", n)
	}
}

// At home a new HomeGateway moves the default route at once.
func TestReloadHomeGateway(t *testing.T) {
	b := newBed(t, testConfig())
	b.ha.advertise(1000)
	req, _ := b.ha.request()
	b.ha.reply(req, mip.CodeAccepted, 0)
	b.waitState(StateHome)
	b.wantKernel(homeSet()...)

	cfg := testConfig()
	gw := netip.MustParseAddr("10.1.0.253")
	cfg.HomeGateway = gw
	if err := b.reload(cfg); err != nil {
		t.Fatal(err)
	}
	b.wantKernel(homeSet()[0], kernel.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: "eth0", Gw: gw, Src: homeAddr})
}

// Labels that need a restart keep their running values and are named in
// one warning line and in the error; the rest applies.
func TestReloadRestartLabels(t *testing.T) {
	b, fa, _ := registeredAt(t, testConfig(), 300)
	logs := b.logTo()
	cfg := testConfig()
	cfg.HA = netip.MustParseAddr("10.1.0.2")
	cfg.Interface = "eth1"
	cfg.StartDisconnected = true
	cfg.Colocated = nil
	cfg.HomeNet = netip.MustParsePrefix("10.1.0.0/16")
	cfg.HomeGateway = netip.MustParseAddr("10.1.9.1") // in the new prefix, not the running one
	cfg.Lifetime = 100 * time.Second
	err := b.reload(cfg)
	var rerr *daemon.ReloadError
	if !errors.As(err, &rerr) {
		t.Fatalf("reload: %v", err)
	}
	if want := []string{"HAIPAddress", "HomeNetPrefix", "Interface", "StartDisconnected", "COLOCATED"}; !slices.Equal(rerr.Restart, want) {
		t.Errorf("restart labels %q, want %q", rerr.Restart, want)
	}
	if len(rerr.Rejected) != 1 || !strings.Contains(rerr.Rejected[0].Error(), "HomeGateway") {
		t.Errorf("rejected %v", rerr.Rejected)
	}
	if l := logs.lines(`level=WARN msg="needs a restart: HAIPAddress, HomeNetPrefix, Interface, StartDisconnected, COLOCATED"`); len(l) != 1 {
		t.Errorf("restart warning lines %q", l)
	}
	if l := logs.lines(`msg="configuration reloaded"`); len(l) != 1 || !strings.HasSuffix(l[0], "changed=Lifetime") {
		t.Errorf("reload log lines %q", l)
	}
	if s := b.status(); s.HA != haAddr || s.State != StateRegistered {
		t.Errorf("status %+v", s)
	}
	b.advance(240 * time.Second)
	req := fa.request()
	if req.HomeAgent != haAddr || req.Lifetime != 100 {
		t.Errorf("renewal to %s lifetime %d", req.HomeAgent, req.Lifetime)
	}
}

// The IPsec labels and IPSEC_INTERFACES need a restart: they keep their
// running values and are named in the one warning, with the others.
func TestReloadIPsecLabels(t *testing.T) {
	b, _, _ := registeredAt(t, testConfig(), 300)
	logs := b.logTo()
	cfg := testConfig()
	cfg.IPsecPSK = "changed"
	cfg.Peers = []secure.PeerEntry{{Peer: secure.PeerPrefix(netip.MustParsePrefix("10.1.0.1/32")), ID: "-", PSK: "-"}}
	cfg.IPsecInterfaces = []IPsecInterface{{Name: "wlan0"}}
	cfg.Interface = "eth1"
	cfg.Lifetime = 100 * time.Second
	err := b.reload(cfg)
	var rerr *daemon.ReloadError
	if !errors.As(err, &rerr) {
		t.Fatalf("reload: %v", err)
	}
	if want := []string{"IPsecPSK", "IPSEC", "Interface", "IPSEC_INTERFACES"}; !slices.Equal(rerr.Restart, want) {
		t.Errorf("restart labels %q, want %q", rerr.Restart, want)
	}
	if l := logs.lines(`level=WARN msg="needs a restart: IPsecPSK, IPSEC, Interface, IPSEC_INTERFACES"`); len(l) != 1 {
		t.Errorf("restart warning lines %q", l)
	}
	if l := logs.lines(`msg="configuration reloaded"`); len(l) != 1 || !strings.HasSuffix(l[0], "changed=Lifetime") {
		t.Errorf("reload log lines %q", l)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var running Config
	if err := b.node.Do(ctx, func(l *Loop) { running = *l.cfg }); err != nil {
		t.Fatal(err)
	}
	if running.IPsecPSK != "" || running.Peers != nil || running.IPsecInterfaces != nil || running.Lifetime != 100*time.Second {
		t.Errorf("running configuration: PSK %q, peers %v, interfaces %v, lifetime %s", running.IPsecPSK,
			running.Peers, running.IPsecInterfaces, running.Lifetime)
	}

	// Reloading the same again changes nothing more and warns the same.
	if err := b.reload(cfg); !errors.As(err, &rerr) || len(rerr.Restart) != 4 {
		t.Errorf("second reload: %v", err)
	}
}
