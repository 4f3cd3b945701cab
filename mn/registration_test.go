package mn

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/discovery"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// registeredAt starts a mobile on fa's link and registers it there with
// the granted lifetime.
func registeredAt(t *testing.T, cfg Config, granted uint16) (*bed, *fakeAgent, *mip.Request) {
	t.Helper()
	b := newBed(t, cfg)
	fa, hub := b.foreignAgent(1)
	b.move(hub)
	fa.advertise(1000)
	req := fa.request()
	fa.reply(req, mip.CodeAccepted, granted)
	b.waitState(StateRegistered)
	return b, fa, req
}

// The mobile solicits from 0.0.0.0 with TTL 1 to the all-mobility-agents
// group until it hears an agent.
func TestSolicitation(t *testing.T) {
	b := newBed(t, testConfig())
	fa, hub := b.foreignAgent(1)
	b.move(hub)
	b.advance(time.Second) // the first went out before the move
	f, ok := fa.next(wait)
	if !ok {
		t.Fatal("no solicitation")
	}
	if _, err := discovery.ParseSolicitation(f.ip.Payload); err != nil || f.ip.Protocol != link.ProtoICMP {
		t.Fatalf("not a solicitation: %v %+v", err, f.ip)
	}
	if f.ip.Src != netip.IPv4Unspecified() || f.ip.Dst != link.AllMobilityAgentsAddr || f.ip.TTL != 1 {
		t.Errorf("solicitation %s -> %s TTL %d, want 0.0.0.0 -> 224.0.0.11 TTL 1", f.ip.Src, f.ip.Dst, f.ip.TTL)
	}
	if s := b.stats(); s.Solicitations != 2 {
		t.Errorf("%d solicitations sent, want 2", s.Solicitations)
	}
	// Heard: no more solicitations.
	fa.advertise(3)
	fa.request()
	b.advance(time.Second)
	if s := b.stats(); s.Solicitations != 2 {
		t.Errorf("%d solicitations once an agent is heard, want still 2", s.Solicitations)
	}
}

// A request through a foreign agent carries the agent's care-of address,
// the lifetime it allows, T when it offers reverse tunnelling, and a
// Mobile-Home authenticator; the accepted reply installs the routes through
// the agent.
func TestRegisterThroughAgent(t *testing.T) {
	b := newBed(t, testConfig())
	fa, hub := b.foreignAgent(1)
	b.move(hub)
	fa.advertise(3)
	req := fa.request()
	if req.Home != homeAddr || req.HomeAgent != haAddr || req.CareOf != fa.cfg.coa {
		t.Errorf("request home %s ha %s coa %s", req.Home, req.HomeAgent, req.CareOf)
	}
	if req.Lifetime != 300 || req.Flags != mip.FlagReverseTunnel {
		t.Errorf("request lifetime %d flags %q, want 300 (the agent's limit) and T", req.Lifetime, req.Flags)
	}
	if got := mip.IDTime(req.ID); got.Sub(start) < 0 || got.Sub(start) > time.Second {
		t.Errorf("identification time %v, want the mobile's clock %v", got, start)
	}
	s := b.waitState(StateRegistering)
	if s.CareOf != fa.cfg.coa || s.Agent != fa.cfg.addr || s.Location != "foreign-agent" {
		t.Errorf("status while registering %+v", s)
	}
	b.wantKernel(agentSet(fa, false)...)

	fa.reply(req, mip.CodeAccepted, 300)
	s = b.waitState(StateRegistered)
	if s.Lifetime != 300*time.Second || !s.Expiry.Equal(start.Add(300*time.Second)) || s.Colocated {
		t.Errorf("status when registered %+v", s)
	}
	b.wantKernel(agentSet(fa, true)...)
	st := b.stats()
	if st.Requests != 1 || st.Replies[mip.CodeAccepted] != 1 || st.Moves != 1 || st.Advertisements != 1 {
		t.Errorf("stats %+v", st)
	}
}

// Triangle mode asks for no reverse tunnel; none installs no default route.
func TestTunnelingModesThroughAgent(t *testing.T) {
	cfg := testConfig()
	cfg.TunnelingMode = TunnelTriangle
	b, fa, req := registeredAt(t, cfg, 300)
	if req.Flags.Has(mip.FlagReverseTunnel) {
		t.Errorf("triangle mode request flags %q", req.Flags)
	}
	b.wantKernel(agentSet(fa, true)...)

	cfg.TunnelingMode = TunnelNone
	b, fa, req = registeredAt(t, cfg, 300)
	if req.Flags != 0 {
		t.Errorf("mode none request flags %q", req.Flags)
	}
	b.wantKernel(agentSet(fa, false)...)

	// Full mode with an agent that offers no reverse tunnel: no T.
	b = newBed(t, testConfig())
	fa, hub := b.foreignAgent(1)
	fa.cfg.flags = discovery.FlagForeignAgent
	b.move(hub)
	fa.advertise(3)
	if req := fa.request(); req.Flags.Has(mip.FlagReverseTunnel) {
		t.Errorf("T asked of an agent that does not offer it: %q", req.Flags)
	}
}

// Code 133 resynchronises the timestamp with the home agent's clock and
// sends again at once.
func TestResyncAfterIDMismatch(t *testing.T) {
	b := newBed(t, testConfig())
	fa, hub := b.foreignAgent(1)
	b.move(hub)
	fa.advertise(1000)
	req := fa.request()
	haTime := start.Add(-90 * time.Second)
	sendReply(b, fa.udp, req, mip.CodeIDMismatch, 0, mip.MismatchID(haTime, req.ID))
	again := fa.request() // no clock advance: at once
	if d := mip.IDTime(again.ID).Sub(haTime); d < 0 || d > time.Second {
		t.Errorf("identification after resync stands for %v, want the home agent's %v", mip.IDTime(again.ID), haTime)
	}
	if b.status().State != StateRegistering {
		t.Errorf("state %v after 133", b.status().State)
	}
	fa.reply(again, mip.CodeAccepted, 300)
	b.waitState(StateRegistered)
	if st := b.stats(); st.Replies[mip.CodeIDMismatch] != 1 || st.Retransmissions != 0 || st.Requests != 2 {
		t.Errorf("stats %+v", st)
	}
	// Later identifications keep the offset.
	b.advance(250 * time.Second)
	renewal := fa.request()
	if d := mip.IDTime(renewal.ID).Sub(haTime.Add(250 * time.Second)); d < 0 || d > time.Second {
		t.Errorf("renewal identification stands for %v, want the home agent's clock", mip.IDTime(renewal.ID))
	}
}

// Under nonces the first request is denied with 133 and the home agent's
// nonce, which the next carries in its high 32 bits.
func TestNonce(t *testing.T) {
	cfg := testConfig()
	cfg.Replay = replay(mip.ReplayNonce)
	b := newBed(t, cfg)
	fa, hub := b.foreignAgent(1)
	b.move(hub)
	fa.advertise(3)
	req := fa.request()
	const haNonce = 0xcafef00d
	sa := testConfig().SA()
	sa.Replay = mip.ReplayNonce
	sendReply(b, fa.udp, req, mip.CodeIDMismatch, 0, uint64(haNonce)<<32|req.ID&0xffffffff)
	again := fa.request()
	if again.ID>>32 != haNonce {
		t.Errorf("request after the nonce was given: %#x, want high 32 bits %#x", again.ID, haNonce)
	}
	fa.reply(again, mip.CodeAccepted, 300)
	b.waitState(StateRegistered)
}

// A denial is logged and tried again after the backoff interval; with no
// reply the interval doubles up to MaxRetryInterval, and after
// MaxRetryCount retransmissions the mobile gives up on the agent and holds
// it down.
func TestBackoffAndGiveUp(t *testing.T) {
	b := newBed(t, testConfig()) // RetryInterval 1s, MaxRetryInterval 4s, MaxRetryCount 3
	fa, hub := b.foreignAgent(1)
	b.move(hub)
	fa.advertise(30)
	req := fa.request()
	fa.reply(req, mip.CodeHAProhibited, 0)
	if s := b.status(); s.State != StateRegistering {
		t.Fatalf("state %v after a denial", s.State)
	}
	var ids []uint64
	for i, interval := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		b.advance(interval - time.Millisecond)
		fa.noRequest()
		b.advance(time.Millisecond)
		r := fa.request()
		ids = append(ids, r.ID)
		if r.ID == req.ID || (i > 0 && r.ID == ids[i-1]) {
			t.Errorf("retransmission %d reuses identification %#x", i+1, r.ID)
		}
	}
	b.advance(4*time.Second - time.Millisecond)
	fa.noRequest()
	if s := b.status(); s.State != StateRegistering {
		t.Fatalf("state %v before the last retransmission timed out", s.State)
	}
	b.advance(time.Millisecond)
	b.waitState(StateFindingAgent)
	b.wantKernel()
	st := b.stats()
	if st.Retransmissions != 3 || st.Requests != 4 || st.Replies[mip.CodeHAProhibited] != 1 {
		t.Errorf("stats %+v", st)
	}
	// Held down: its advertisements bring no request until the hold ends.
	fa.advertise(30)
	fa.noRequest()
	b.advance(16 * time.Second)
	fa.advertise(30)
	fa.request()
}

// A foreign agent's denial carries no Mobile-Home authenticator and is
// taken as such; a home agent's reply without a valid one is discarded,
// as are replies to no outstanding request and malformed ones.
func TestRepliesDiscarded(t *testing.T) {
	b := newBed(t, testConfig())
	fa, hub := b.foreignAgent(1)
	b.move(hub)
	fa.advertise(30)
	req := fa.request()

	// Wrong identification.
	sendReply(b, fa.udp, req, mip.CodeAccepted, 300, req.ID^1)
	// A reply authenticated with another key.
	bad := &mip.Reply{Code: mip.CodeAccepted, Lifetime: 300, Home: homeAddr, HomeAgent: haAddr, ID: req.ID}
	if err := bad.Authenticate(mip.TypeMobileHome, mip.SecurityAssociation{SPI: 1000, Key: []byte("not the key")}); err != nil {
		t.Fatal(err)
	}
	raw, _ := bad.Marshal()
	b.deliver(fa.udp, raw)
	// An accepting reply without any authenticator.
	noAuth := &mip.Reply{Code: mip.CodeAccepted, Lifetime: 300, Home: homeAddr, HomeAgent: haAddr, ID: req.ID}
	raw, _ = noAuth.Marshal()
	b.deliver(fa.udp, raw)
	// A truncated reply.
	b.deliver(fa.udp, []byte{3, 0, 1})
	// A malformed advertisement.
	seen := b.seen()
	pkt := link.AppendIPv4(nil, fa.cfg.addr, link.AllSystemsAddr, link.ProtoICMP, 1, []byte{9, 0, 0, 0})
	fa.conn.WriteFrame(pkt, link.AllSystems)
	b.waitSeen(seen)

	if s := b.status(); s.State != StateRegistering {
		t.Fatalf("state %v: a discarded reply was acted on", s.State)
	}
	st := b.stats()
	if st.Discards.Unmatched != 1 || st.Discards.Authentication != 2 || st.Discards.Malformed != 2 {
		t.Errorf("discards %+v, want 1 unmatched, 2 authentication, 2 malformed", st.Discards)
	}

	// A foreign agent's denial, unauthenticated, is believed.
	fa.reply(req, mip.CodeFAInsufficientResources, 0)
	if st := b.stats(); st.Replies[mip.CodeFAInsufficientResources] != 1 {
		t.Errorf("the foreign agent's denial was not taken: %+v", st)
	}
	// And the registration goes on after the backoff.
	b.advance(time.Second)
	fa.reply(fa.request(), mip.CodeAccepted, 300)
	b.waitState(StateRegistered)
}

// The mobile renews at 80% of the lifetime, earlier for short lifetimes,
// and stays registered meanwhile; a renewal unanswered until expiry leaves
// it registering without the default route.
func TestRenewal(t *testing.T) {
	b, fa, _ := registeredAt(t, testConfig(), 100)
	b.advance(80*time.Second - time.Millisecond)
	fa.noRequest()
	b.advance(time.Millisecond)
	renewal := fa.request()
	if renewal.Lifetime != 300 {
		t.Errorf("renewal lifetime %d", renewal.Lifetime)
	}
	s := b.status()
	if s.State != StateRegistered || !s.Pending {
		t.Errorf("status while renewing %+v", s)
	}
	b.wantKernel(agentSet(fa, true)...)
	fa.reply(renewal, mip.CodeAccepted, 10)
	s = b.waitState(StateRegistered)
	if !s.Expiry.Equal(start.Add(90*time.Second)) || s.Pending {
		t.Errorf("status after renewal %+v", s)
	}

	// 10 s granted: renewed 3 retry intervals (3 s) before the end.
	b.advance(7*time.Second - time.Millisecond)
	fa.noRequest()
	b.advance(time.Millisecond)
	fa.request()
	b.advance(time.Second)
	fa.request() // retransmission
	b.advance(2 * time.Second)
	fa.request() // retransmission; the binding has expired now
	if s := b.waitState(StateRegistering); s.Lifetime != 0 {
		t.Errorf("status after expiry %+v", s)
	}
	b.wantKernel(agentSet(fa, false)...)
}
