package ha

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/memnet"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// A registration relayed by a foreign agent makes the tunnel, the host
// route and the proxy entry, announces the departure with gratuitous ARPs,
// and is answered with both authenticators and the Revocation Support
// extension.
func TestRegisterThroughForeignAgent(t *testing.T) {
	b := newBed(t, testConfig())
	m := b.build(req{lifetime: 1000, flags: mip.FlagReverseTunnel, support: true, fh: &fa1SA})
	rep := b.exchange(b.fa1, m)
	if rep.Code != mip.CodeAccepted || rep.Lifetime != 600 || rep.ID != m.ID || rep.Home != home || rep.HomeAgent != haAddr {
		t.Fatalf("reply %s lifetime %d id %x home %s ha %s", rep.Code, rep.Lifetime, rep.ID, rep.Home, rep.HomeAgent)
	}
	verifyReply(t, rep, mnSA, &fa1SA)
	if rs, err := mip.FindRevocationSupport(rep.Extensions); err != nil || rs == nil {
		t.Errorf("reply without Revocation Support: %v", err)
	}
	b.has(bindingEntries(home, "dynha1", fa1Addr)...)
	b.has(kernel.Sysctl{Name: "net/ipv4/ip_forward", Value: "1"},
		kernel.Sysctl{Name: "net/ipv4/conf/all/rp_filter", Value: "0"},
		kernel.Sysctl{Name: "net/ipv4/conf/default/rp_filter", Value: "0"})

	// Gratuitous ARPs: one at once, then one a second for two seconds.
	for i, want := range []int{1, 2, 3, 3} {
		if i > 0 {
			b.advance(time.Second)
		}
		if got := len(b.kern.ARPs()); got != want {
			t.Fatalf("after %d s: %d gratuitous ARPs, want %d", i, got, want)
		}
	}
	for _, a := range b.kern.ARPs() {
		if a.Dev != "eth0" || a.IP != home {
			t.Errorf("gratuitous ARP %+v", a)
		}
	}

	var bd Binding
	var ms MobileState
	b.do(func(s *State) { bd, _ = s.Binding(home); ms = s.MobileState(home) })
	if ms != MobileAway || bd.CareOf != fa1Addr || bd.Tunnel != "dynha1" || !bd.Revocation ||
		bd.Sender != netip.AddrPortFrom(fa1Addr, 434) || bd.Lifetime != 600*time.Second || !bd.Flags.Has(mip.FlagReverseTunnel) {
		t.Errorf("state %s, binding %+v", ms, bd)
	}
	s := b.stats()
	if s.Requests != 1 || s.Accepted != 1 || s.Replies != 1 || s.Bindings != 1 || s.Tunnels != 1 {
		t.Errorf("stats %+v", s)
	}
	if !strings.Contains(b.logs.String(), `msg="registration accepted" home=10.1.0.10 coa=10.0.1.2 ha=10.1.0.1 fa=10.0.1.2`) {
		t.Errorf("no decision line in the log:\n%s", b.logs)
	}
}

// A renewal to the same care-of address changes only the lifetime and
// identification: no kernel change, no gratuitous ARP.
func TestRenewal(t *testing.T) {
	b := newBed(t, testConfig())
	b.register(req{lifetime: 100})
	b.advance(50 * time.Second)
	changes, arps := b.kern.Changes(), len(b.kern.ARPs())
	m := b.build(req{lifetime: 300, support: true, fh: &fa1SA})
	if rep := b.exchange(b.fa1, m); rep.Code != mip.CodeAccepted || rep.Lifetime != 300 {
		t.Fatalf("renewal: %s lifetime %d", rep.Code, rep.Lifetime)
	}
	if b.kern.Changes() != changes || len(b.kern.ARPs()) != arps {
		t.Errorf("renewal changed the kernel: %v", b.kern.Ops())
	}
	var bd Binding
	b.do(func(s *State) { bd, _ = s.Binding(home) })
	if bd.ID != m.ID || !bd.Expiry.Equal(b.clock.Now().Add(300*time.Second)) {
		t.Errorf("binding %+v after renewal", bd)
	}
	// The first lifetime has passed; the renewed one holds.
	b.advance(100 * time.Second)
	b.has(bindingEntries(home, "dynha1", fa1Addr)...)
}

// Binding expiry removes everything the binding made.
func TestExpiry(t *testing.T) {
	b := newBed(t, testConfig())
	b.register(req{lifetime: 30})
	b.advance(29 * time.Second)
	b.has(bindingEntries(home, "dynha1", fa1Addr)...)
	b.advance(time.Second)
	b.onlyBase()
	s := b.stats()
	if s.Expired != 1 || s.Bindings != 0 || s.Tunnels != 0 {
		t.Errorf("stats %+v", s)
	}
	var ms MobileState
	b.do(func(st *State) { ms = st.MobileState(home) })
	if ms != MobileHome {
		t.Errorf("state %s after expiry", ms)
	}
}

// A deregistration from home removes the route and proxy entry before the
// reply is sent, so the reply reaches the mobile directly on the home link.
func TestDeregistrationFromHome(t *testing.T) {
	b := newBed(t, testConfig())
	b.register(req{})
	checked := make(chan []string, 1)
	b.net.Drop = func(from, to netip.AddrPort, _ []byte) bool {
		if from.Addr() == haAddr && to.Addr() == home {
			var left []string
			for _, e := range bindingEntries(home, "dynha1", fa1Addr) {
				if b.kern.Has(e) {
					left = append(left, e.String())
				}
			}
			checked <- left
		}
		return false
	}
	m := b.build(req{coa: home, lifetime: 0})
	rep := b.exchange(b.mnHome, m)
	if rep.Code != mip.CodeAccepted || rep.Lifetime != 0 {
		t.Fatalf("deregistration: %s lifetime %d", rep.Code, rep.Lifetime)
	}
	verifyReply(t, rep, mnSA, nil)
	if left := <-checked; len(left) > 0 {
		t.Errorf("when the reply left, the kernel still held %v", left)
	}
	b.onlyBase()
	// The mobile left fa1, which supports revocation: fa1 is told.
	raw, _ := b.recv(b.fa1)
	if rv, err := mip.ParseRevocation(raw); err != nil || rv.Home != home {
		t.Errorf("fa1 got %x (%v), want a revocation", raw, err)
	}
	if s := b.stats(); s.Deregistrations != 1 || s.Bindings != 0 {
		t.Errorf("stats %+v", s)
	}
}

// A deregistration of the care-of address bound (lifetime 0) through the
// same foreign agent removes the binding; one naming another care-of
// address is confirmed and leaves the binding alone.
func TestDeregistrationOfCareOf(t *testing.T) {
	b := newBed(t, testConfig())
	b.register(req{})
	rep := b.exchange(b.fa2, b.build(req{coa: fa2Addr, lifetime: 0, support: true, fh: &fa2SA}))
	if rep.Code != mip.CodeAccepted {
		t.Fatalf("stale deregistration: %s", rep.Code)
	}
	b.has(bindingEntries(home, "dynha1", fa1Addr)...)
	rep = b.exchange(b.fa1, b.build(req{lifetime: 0, support: true, fh: &fa1SA}))
	if rep.Code != mip.CodeAccepted || rep.Lifetime != 0 {
		t.Fatalf("deregistration: %s", rep.Code)
	}
	verifyReply(t, rep, mnSA, &fa1SA)
	b.onlyBase()
	b.nothing(b.fa1) // no revocation to the agent that relayed the deregistration
}

// A mobile with a co-located care-of address registers directly; the
// tunnel ends at that address and the reply goes back to it.
func TestColocatedCareOf(t *testing.T) {
	b := newBed(t, testConfig())
	rep := b.exchange(b.mnCo, b.build(req{coa: colocated, lifetime: 600, flags: mip.FlagDecapsulation | mip.FlagReverseTunnel}))
	if rep.Code != mip.CodeAccepted {
		t.Fatalf("reply %s", rep.Code)
	}
	verifyReply(t, rep, mnSA, nil)
	if len(rep.Extensions) != 1 {
		t.Errorf("reply to a co-located mobile carries %d extensions", len(rep.Extensions))
	}
	b.has(bindingEntries(home, "dynha1", colocated)...)
}

// Two mobiles behind one foreign agent share its tunnel; it goes with the
// last of them.
func TestSharedTunnel(t *testing.T) {
	b := newBed(t, testConfig())
	b.register(req{})
	b.register(req{home: home2, mh: &mn2SA})
	b.has(bindingEntries(home, "dynha1", fa1Addr)...)
	b.has(bindingEntries(home2, "dynha1", fa1Addr)...)
	if tuns := b.stats().Tunnels; tuns != 1 {
		t.Errorf("%d tunnels, want 1", tuns)
	}
	b.exchange(b.fa1, b.build(req{lifetime: 0, support: true, fh: &fa1SA}))
	b.has(bindingEntries(home2, "dynha1", fa1Addr)...)
	if b.kern.Has(kernel.Route{Dst: netip.PrefixFrom(home, 32), Dev: "dynha1"}) {
		t.Error("the deregistered mobile's route stayed")
	}
	b.exchange(b.fa1, b.build(req{home: home2, mh: &mn2SA, lifetime: 0, support: true, fh: &fa1SA}))
	b.onlyBase()
}

// Each denial the home agent makes, with its code.
func TestDenials(t *testing.T) {
	wrong := mip.SecurityAssociation{SPI: mnSA.SPI, Alg: mnSA.Alg, Key: []byte("not the key")}
	wrongFA := mip.SecurityAssociation{SPI: fa1SA.SPI, Alg: fa1SA.Alg, Key: []byte("not the key")}
	other := netip.MustParseAddr("10.1.0.99")
	tests := []struct {
		name   string
		cfg    func(*Config)
		setup  func(*bed)
		req    req
		from   func(*bed) *memnet.Conn
		code   mip.Code
		mhAuth bool // the reply carries a valid Mobile-Home authenticator
		fhAuth bool // and a valid Foreign-Home one
	}{
		{name: "unknown mobile", req: req{home: other, fh: &fa1SA}, code: mip.CodeHAMobileAuthFailed, fhAuth: true},
		{name: "wrong mobile-home key", req: req{mh: &wrong, fh: &fa1SA}, code: mip.CodeHAMobileAuthFailed, mhAuth: true, fhAuth: true},
		{name: "no foreign-home authenticator", req: req{}, code: mip.CodeHAForeignAgentAuthFailed, mhAuth: true},
		{name: "wrong foreign-home key", req: req{fh: &wrongFA}, code: mip.CodeHAForeignAgentAuthFailed, mhAuth: true, fhAuth: true},
		{name: "foreign agent without association, RequireFAAuth",
			cfg: func(c *Config) { c.Security = c.Security[1:]; c.RequireFAAuth = true },
			req: req{}, code: mip.CodeHAForeignAgentAuthFailed, mhAuth: true},
		{name: "disabled mobile", setup: func(b *bed) {
			b.do(func(s *State) {
				if err := s.SetEnabled(home, false); err != nil {
					b.t.Fatal(err)
				}
			})
		}, req: req{fh: &fa1SA}, code: mip.CodeHAProhibited, mhAuth: true, fhAuth: true},
		{name: "unknown home agent address", req: req{ha: netip.MustParseAddr("10.1.0.2"), fh: &fa1SA},
			code: mip.CodeHAUnknownHomeAgent, mhAuth: true, fhAuth: true},
		{name: "care-of address unspecified", req: req{coa: netip.MustParseAddr("0.0.0.0"), fh: &fa1SA},
			code: mip.CodeHAPoorRequest, mhAuth: true, fhAuth: true},
		{name: "care-of address multicast", req: req{coa: netip.MustParseAddr("224.0.0.1"), fh: &fa1SA},
			code: mip.CodeHAPoorRequest, mhAuth: true, fhAuth: true},
		{name: "too many bindings", cfg: func(c *Config) { c.MaxBindings = 1 },
			setup: func(b *bed) { b.register(req{home: home2, mh: &mn2SA}) },
			req:   req{fh: &fa1SA}, code: mip.CodeHAInsufficientResources, mhAuth: true, fhAuth: true},
		{name: "minimal encapsulation", req: req{flags: mip.FlagMinimalEncapsulation, fh: &fa1SA},
			code: mip.CodeHAEncapsulation, mhAuth: true, fhAuth: true},
		{name: "GRE", req: req{flags: mip.FlagGRE, fh: &fa1SA}, code: mip.CodeHAEncapsulation, mhAuth: true, fhAuth: true},
		{name: "kernel failure", setup: func(b *bed) { b.kern.FailOn(kernel.KindRoute, errTest) },
			req: req{fh: &fa1SA}, code: mip.CodeHAUnspecified, mhAuth: true, fhAuth: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			b := newBed(t, cfg)
			if tt.setup != nil {
				tt.setup(b)
			}
			before := b.stats()
			if tt.req.lifetime == 0 {
				tt.req.lifetime = 600
			}
			m := b.build(tt.req)
			rep := b.exchange(b.fa1, m)
			if rep.Code != tt.code || rep.Lifetime != 0 || rep.ID != m.ID || rep.Home != m.Home {
				t.Fatalf("reply %s (%d) lifetime %d id %x; want %s", rep.Code, rep.Code, rep.Lifetime, rep.ID, tt.code)
			}
			_, mhIndex := rep.Auth(mip.TypeMobileHome)
			if tt.mhAuth {
				verifyReply(t, rep, mnSA, nil)
			} else if mhIndex >= 0 {
				t.Error("reply to an unknown mobile carries a Mobile-Home authenticator")
			}
			if _, fh := rep.Auth(mip.TypeForeignHome); tt.fhAuth != (fh >= 0) {
				t.Errorf("Foreign-Home authenticator present %v, want %v", fh >= 0, tt.fhAuth)
			} else if tt.fhAuth {
				if err := mip.VerifyReply(rep.Raw(), mip.TypeForeignHome, fa1SA); err != nil {
					t.Error(err)
				}
			}
			if rs, _ := mip.FindRevocationSupport(rep.Extensions); rs != nil {
				t.Error("a denial carries the Revocation Support extension")
			}
			if m.Home == home && b.kern.Has(kernel.ProxyARP{IP: home, Dev: "eth0"}) {
				t.Errorf("a denied mobile has kernel state:\n%s", b.kern.Render())
			}
			s := b.stats()
			if s.Denied[tt.code] != before.Denied[tt.code]+1 || s.Accepted != before.Accepted {
				t.Errorf("stats %+v", s)
			}
			if tt.code == mip.CodeHAUnknownHomeAgent && rep.HomeAgent != haAddr {
				t.Errorf("136 names home agent %s, want %s", rep.HomeAgent, haAddr)
			}
		})
	}
}

var errTest = errString("injected failure")

type errString string

func (e errString) Error() string { return string(e) }

// A kernel failure leaves no half-made binding: the new tunnel goes again.
func TestKernelFailureUnwinds(t *testing.T) {
	b := newBed(t, testConfig())
	b.kern.FailOn(kernel.KindProxyARP, errTest)
	if rep := b.exchange(b.fa1, b.build(req{lifetime: 600, support: true, fh: &fa1SA})); rep.Code != mip.CodeHAUnspecified {
		t.Fatalf("reply %s", rep.Code)
	}
	b.onlyBase()
	if s := b.stats(); s.Bindings != 0 || s.Tunnels != 0 || s.KernelErrors != 1 {
		t.Errorf("stats %+v", s)
	}
	b.kern.FailOn(kernel.KindProxyARP, nil)
	b.register(req{})
	b.has(bindingEntries(home, "dynha2", fa1Addr)...)
}

// Replay protection with timestamps: a stale timestamp is denied with 133
// and the home agent's time, from which the mobile resynchronises; a
// replayed identification is denied too.
func TestIdentificationMismatch(t *testing.T) {
	b := newBed(t, testConfig())
	stale := mip.TimestampID(b.clock.Now().Add(-time.Minute))
	m := b.build(req{id: stale, lifetime: 600, support: true, fh: &fa1SA})
	rep := b.exchange(b.fa1, m)
	if rep.Code != mip.CodeIDMismatch {
		t.Fatalf("stale timestamp: %s", rep.Code)
	}
	verifyReply(t, rep, mnSA, &fa1SA)
	if rep.ID != mip.MismatchID(b.clock.Now(), stale) || uint32(rep.ID) != uint32(stale) {
		t.Errorf("133 reply id %x, want the home agent's time and the request's low bits", rep.ID)
	}
	offset, err := mip.Resync(stale, rep.ID, b.clock.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	fresh := mip.TimestampID(b.clock.Now().Add(-time.Minute).Add(offset)) + 1
	m = b.build(req{id: fresh, lifetime: 600, support: true, fh: &fa1SA})
	if rep := b.exchange(b.fa1, m); rep.Code != mip.CodeAccepted {
		t.Fatalf("after resynchronising: %s", rep.Code)
	}
	// The same request again is a replay.
	if rep := b.exchange(b.fa1, m); rep.Code != mip.CodeIDMismatch {
		t.Errorf("replayed request: %s", rep.Code)
	}
	if s := b.stats(); s.Denied[mip.CodeIDMismatch] != 2 || s.Accepted != 1 {
		t.Errorf("stats %+v", s)
	}
}

// Replay protection with nonces: the first request is denied with the home
// agent's nonce, which the next one carries.
func TestNonceReplay(t *testing.T) {
	cfg := testConfig()
	cfg.Authorized[0].Replay = replay(mip.ReplayNonce)
	b := newBed(t, cfg)
	rep := b.exchange(b.fa1, b.build(req{id: mip.NonceID(0, 7), lifetime: 600, support: true, fh: &fa1SA}))
	if rep.Code != mip.CodeIDMismatch || uint32(rep.ID) != 7 {
		t.Fatalf("first request: %s id %x", rep.Code, rep.ID)
	}
	haNonce := uint32(rep.ID >> 32)
	rep = b.exchange(b.fa1, b.build(req{id: mip.NonceID(haNonce, 8), lifetime: 600, support: true, fh: &fa1SA}))
	if rep.Code != mip.CodeAccepted || uint32(rep.ID) != 8 {
		t.Fatalf("with the home agent's nonce: %s id %x", rep.Code, rep.ID)
	}
}

// Lifetimes beyond MaxLifetime, infinite included, are granted the
// maximum; S asks for simultaneous bindings, which are not offered (code 1).
func TestLifetimeAndFlags(t *testing.T) {
	b := newBed(t, testConfig())
	rep := b.register(req{lifetime: mip.Infinite})
	if rep.Code != mip.CodeAccepted || rep.Lifetime != 600 {
		t.Errorf("infinite lifetime: %s %d", rep.Code, rep.Lifetime)
	}
	rep = b.register(req{lifetime: 60, flags: mip.FlagSimultaneous | mip.FlagBroadcast})
	if rep.Code != mip.CodeAcceptedNoSimultaneous || rep.Lifetime != 60 {
		t.Errorf("S flag: %s %d", rep.Code, rep.Lifetime)
	}
}

// A request whose extensions do not parse but whose fixed part does is
// answered with 134; datagrams that cannot be answered are dropped and
// counted.
func TestMalformed(t *testing.T) {
	b := newBed(t, testConfig())
	m := b.build(req{lifetime: 600, support: true, fh: &fa1SA})
	raw := marshal(t, m)
	b.send(b.fa1, raw[:len(raw)-3])
	rep := b.replyAt(b.fa1)
	if rep.Code != mip.CodeHAPoorRequest || rep.ID != m.ID {
		t.Fatalf("truncated extension: reply %s id %x", rep.Code, rep.ID)
	}
	verifyReply(t, rep, mnSA, nil)

	b.send(b.fa1, raw[:10])
	b.waitStats("short datagram counted", func(s Stats) bool { return s.Discards.Malformed == 1 })

	unknown := append(append([]byte(nil), raw[:mip.RequestLen]...), 100, 2, 0, 0)
	b.send(b.fa1, unknown)
	b.waitStats("unknown extension counted", func(s Stats) bool { return s.Discards.UnknownExtension == 1 })

	b.send(b.fa1, marshal(t, &mip.Reply{Home: home, HomeAgent: haAddr, ID: 1}))
	b.send(b.fa1, []byte{99, 0, 0, 0})
	s := b.waitStats("unexpected messages counted", func(s Stats) bool { return s.Discards.Unexpected == 2 })
	b.nothing(b.fa1)
	if s.Requests != 1 || s.Replies != 1 || s.Denied[mip.CodeHAPoorRequest] != 1 {
		t.Errorf("stats %+v", s)
	}
}

// Disabling a mobile that is away removes its binding; enabling it again
// lets it register.
func TestDisableRemovesBinding(t *testing.T) {
	b := newBed(t, testConfig())
	b.register(req{})
	var st MobileState
	b.do(func(s *State) {
		if err := s.SetEnabled(home, false); err != nil {
			t.Fatal(err)
		}
		st = s.MobileState(home)
	})
	if st != MobileDisabled {
		t.Errorf("state %s", st)
	}
	b.onlyBase()
	b.do(func(s *State) {
		if err := s.SetEnabled(netip.MustParseAddr("10.1.0.99"), true); err == nil {
			t.Error("enabled an unknown mobile")
		}
		_ = s.SetEnabled(home, true)
	})
	b.register(req{})
}

// When Run returns, every binding's kernel state is gone.
func TestShutdownRemovesBindings(t *testing.T) {
	b := newBed(t, testConfig())
	b.register(req{})
	b.register(req{home: home2, mh: &mn2SA, coa: fa2Addr})
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	b.onlyBase()
	if err := b.agent.Do(t.Context(), nil); err != ErrStopped {
		t.Errorf("Do after Run: %v, want ErrStopped", err)
	}
}

// A move answers the mobile before the old care-of tunnel is deleted
// (deleting a device is slow), and after the new tunnel and route exist.
func TestMoveRepliesBeforeReleasingOldTunnel(t *testing.T) {
	b := newBed(t, testConfig())
	b.register(req{})
	b.register(req{coa: fa2Addr})
	ops := b.kern.Ops()
	b.sent.mu.Lock()
	defer b.sent.mu.Unlock()
	reply := -1
	for _, m := range b.sent.list {
		if m.dst.String() == netip.AddrPortFrom(fa2Addr, 434).String() {
			reply = m.ops
		}
	}
	if reply < 0 {
		t.Fatal("no datagram sent to fa2")
	}
	delAt, addAt := -1, -1
	for i, op := range ops {
		if strings.HasPrefix(op, "del ") && strings.Contains(op, "dynha1") && strings.Contains(op, "tunnel") {
			delAt = i
		}
		if strings.HasPrefix(op, "add ") && strings.Contains(op, "dynha2") {
			addAt = i
		}
	}
	if delAt < 0 || addAt < 0 {
		t.Fatalf("kernel changes %q: no new tunnel or no deletion of the old one", ops)
	}
	if addAt >= reply {
		t.Errorf("the new tunnel was made after the reply (change %d, reply after %d): %q", addAt, reply, ops)
	}
	if delAt < reply {
		t.Errorf("the old tunnel was deleted before the reply (change %d, reply after %d): %q", delAt, reply, ops)
	}
}
