package fa

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// TestRelay follows a registration through the agent both ways: the
// request reaches the home agent unchanged up to the Mobile-Home
// authenticator, with Revocation Support and a Foreign-Home authenticator
// appended; the reply reaches the mobile by its hardware address without
// the agent's extensions; the kernel gets the visitor's entries.
func TestRelay(t *testing.T) {
	b := newBed(t, testConfig())
	id := mip.TimestampID(start)
	req := request(home, id, 600, mip.FlagReverseTunnel)
	sent := marshal(t, req)
	// Something for the agent after the Mobile-Home authenticator, which
	// it must not pass on.
	sent = append(sent, 200, 2, 0xaa, 0xbb)
	b.send(b.mn, home, sent)

	raw, from := b.haRecv()
	if from != netip.AddrPortFrom(coa, 434) {
		t.Errorf("relayed from %s, want %s:434", from, coa)
	}
	mhEnd := len(sent) - 4
	if !bytes.Equal(raw[:mhEnd], sent[:mhEnd]) {
		t.Errorf("relayed request changed the mobile's part:\n got %x\nwant %x", raw[:mhEnd], sent[:mhEnd])
	}
	if err := mip.VerifyRequest(raw, mip.TypeMobileHome, mnSA); err != nil {
		t.Errorf("Mobile-Home: %v", err)
	}
	if err := mip.VerifyRequest(raw, mip.TypeForeignHome, fhSA); err != nil {
		t.Errorf("Foreign-Home: %v", err)
	}
	relayed, err := mip.ParseRequest(raw)
	if err != nil {
		t.Fatal(err)
	}
	if rs, err := mip.FindRevocationSupport(relayed.Extensions); err != nil || rs == nil || rs.Timestamp != mip.RevocationTimestamp(start) {
		t.Errorf("Revocation Support: %+v, %v", rs, err)
	}
	if n := len(relayed.Extensions); n != 3 {
		t.Errorf("relayed request has %d extensions, want Mobile-Home, Revocation Support, Foreign-Home", n)
	}
	var st MobileState
	b.do(func(s *State) { st = s.MobileState(home) })
	if st != StatePending {
		t.Errorf("mobile is %s while its request is relayed", st)
	}

	b.haSend(marshal(t, haReply(relayed, mip.CodeAccepted, 300, fhSA)))
	f := b.reply(b.mn)
	if f.src != netip.AddrPortFrom(faAddr.Addr(), 434) || f.dst != netip.AddrPortFrom(home, mnPort) {
		t.Errorf("reply %s -> %s, want %s:434 -> %s:%d", f.src, f.dst, faAddr.Addr(), home, mnPort)
	}
	if !bytes.Equal(f.from, faMAC) {
		t.Errorf("reply from hardware address %s", f.from)
	}
	if err := mip.VerifyReply(f.payload, mip.TypeMobileHome, mnSA); err != nil {
		t.Errorf("Mobile-Home on the relayed reply: %v", err)
	}
	r, _ := mip.ParseReply(f.payload)
	if r.Code != mip.CodeAccepted || r.Lifetime != 300 || r.ID != id || len(r.Extensions) != 1 {
		t.Errorf("relayed reply %+v", r)
	}
	// Unicast to the mobile: the onlooker on the link hears nothing.
	b.noReply(b.other)

	b.hasAll(visitorKernel(home, mnMAC, true)...)
	b.hasAll(tunnelKernel()...)
	var v Visitor
	b.do(func(s *State) {
		v, _ = s.Visitor(home)
		st = s.MobileState(home)
	})
	if st != StateRegistered || !v.Confirmed || v.HA != haAddr || v.CareOf != coa || v.ID != id ||
		!v.Expiry.Equal(start.Add(300*time.Second)) || v.Tunnel != 1 || v.Up != haAddr ||
		!bytes.Equal(v.Down.HWAddr, mnMAC) || v.Down.Iface != "eth1" || v.Down.Port != mnPort {
		t.Errorf("%s visitor %+v", st, v)
	}
	s := b.stats()
	if s.Requests != 1 || s.Relayed != 1 || s.Replies != 1 || s.Accepted != 1 || s.Visitors != 1 ||
		s.Pending != 0 || s.Tunnels != 1 || len(s.Denied) != 0 {
		t.Errorf("stats %+v", s)
	}
	if !logHas(b.logs.String(), "registration accepted", "home=10.1.0.10", "ha=10.1.0.1", "code=0", "iface=eth1") {
		t.Errorf("no Info line for the accepted registration:\n%s", b.logs)
	}
}

// TestBroadcastRequest: a mobile that does not know the agent's address
// yet may send to the broadcast or the agents' group; a registration
// message that crosses the link to someone else is not the agent's.
func TestBroadcastRequest(t *testing.T) {
	b := newBed(t, testConfig())
	req := request(home, mip.TimestampID(start), 600, 0)
	b.sendTo(b.mn, home, link.AllMobilityAgentsAddr, link.AllMobilityAgents, marshal(t, req))
	if got := b.haRelayed(); got.ID != req.ID {
		t.Errorf("relayed id %d", got.ID)
	}
	b.sendTo(b.mn, home, link.LimitedBroadcastAddr, link.Broadcast, marshal(t, request(home, req.ID+1, 600, 0)))
	if got := b.haRelayed(); got.ID != req.ID+1 {
		t.Errorf("relayed id %d", got.ID)
	}
	// A co-located mobile registering with its home agent through the
	// agent as its router.
	b.sendTo(b.mn, home, haAddr, faMAC, marshal(t, request(home, req.ID+2, 600, 0)))
	b.haNothing()
}

// TestDenials checks each code the agent denies with itself, that the
// mobile receives it by hardware address, and that nothing is relayed.
func TestDenials(t *testing.T) {
	id := mip.TimestampID(start)
	for _, c := range []struct {
		name     string
		cfg      func(*Config)
		req      func() *mip.Request
		code     mip.Code
		lifetime uint16
	}{
		{"lifetime too long", nil, func() *mip.Request { return request(home, id, 601, 0) }, mip.CodeFALifetimeTooLong, 600},
		{"minimal encapsulation", nil, func() *mip.Request { return request(home, id, 600, mip.FlagMinimalEncapsulation) },
			mip.CodeFAEncapsulation, 0},
		{"GRE", nil, func() *mip.Request { return request(home, id, 600, mip.FlagGRE) }, mip.CodeFAEncapsulation, 0},
		{"reverse tunnel not offered", func(c *Config) { c.ReverseTunnel = false },
			func() *mip.Request { return request(home, id, 600, mip.FlagReverseTunnel) }, mip.CodeFAReverseTunnel, 0},
		{"foreign care-of address", nil, func() *mip.Request {
			r := &mip.Request{Lifetime: 600, Home: home, HomeAgent: haAddr, CareOf: netip.MustParseAddr("10.0.2.2"), ID: id}
			_ = r.Authenticate(mip.TypeMobileHome, mnSA)
			return r
		}, mip.CodeFAInvalidCareOf, 0},
		{"no home address", nil, func() *mip.Request {
			r := &mip.Request{Lifetime: 600, Home: netip.IPv4Unspecified(), HomeAgent: haAddr, CareOf: coa, ID: id}
			_ = r.Authenticate(mip.TypeMobileHome, mnSA)
			return r
		}, mip.CodeFAPoorRequest, 0},
		{"broadcast home agent", nil, func() *mip.Request {
			r := &mip.Request{Lifetime: 600, Home: home, HomeAgent: link.LimitedBroadcastAddr, CareOf: coa, ID: id}
			_ = r.Authenticate(mip.TypeMobileHome, mnSA)
			return r
		}, mip.CodeFAPoorRequest, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig()
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			b := newBed(t, cfg)
			req := c.req()
			b.send(b.mn, req.Home, marshal(t, req))
			f := b.reply(b.mn)
			r, err := mip.ParseReply(f.payload)
			if err != nil {
				t.Fatal(err)
			}
			if r.Code != c.code || r.Lifetime != c.lifetime || r.ID != id || r.Home != req.Home || r.HomeAgent != req.HomeAgent {
				t.Errorf("reply %s lifetime %d id %d home %s ha %s; want %s lifetime %d",
					r.Code, r.Lifetime, r.ID, r.Home, r.HomeAgent, c.code, c.lifetime)
			}
			b.noReply(b.other)
			b.haNothing()
			s := b.stats()
			if s.Denied[c.code] != 1 || s.Relayed != 0 || s.Pending != 0 {
				t.Errorf("stats %+v", s)
			}
			if !logHas(b.logs.String(), "registration denied", "code="+itoa(int(c.code))) {
				t.Errorf("no Info line for the denial")
			}
		})
	}
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

// TestPoorlyFormed: a request whose fixed part is readable but whose
// extensions are not is denied with 70 and counted as malformed; one cut
// short is only counted.
func TestPoorlyFormed(t *testing.T) {
	b := newBed(t, testConfig())
	id := mip.TimestampID(start)
	good := marshal(t, request(home, id, 600, 0))
	bad := append(bytes.Clone(good[:mip.RequestLen]), 32, 40, 0, 0) // a length past the end
	b.send(b.mn, home, bad)
	r := b.replyFor(b.mn)
	if r.Code != mip.CodeFAPoorRequest || r.ID != id || r.Home != home {
		t.Errorf("reply %s id %d home %s", r.Code, r.ID, r.Home)
	}
	b.send(b.mn, home, good[:10])
	b.waitStats("two malformed", func(s Stats) bool { return s.Discards.Malformed == 2 })
	b.noReply(b.mn)
	b.haNothing()
}

// TestMaxVisitors: with the list full a new mobile is denied with 66,
// while a registered one may still re-register and deregister.
func TestMaxVisitors(t *testing.T) {
	cfg := testConfig()
	cfg.MaxVisitors = 1
	b := newBed(t, cfg)
	id := mip.TimestampID(start)
	b.register(b.mn, home, id, 600, 0)

	mn2 := b.hub.Attach(link.Info{Name: "mn2", HWAddr: mn2MAC})
	defer mn2.Close()
	b.send(mn2, home2, marshal(t, request(home2, id, 600, 0)))
	if r := b.replyFor(mn2); r.Code != mip.CodeFAInsufficientResources {
		t.Errorf("second mobile: %s, want 66", r.Code)
	}
	b.haNothing()
	b.register(b.mn, home, id+1, 600, 0)
	if s := b.stats(); s.Denied[mip.CodeFAInsufficientResources] != 1 || s.Visitors != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestPendingTimeout: without a reply within PendingTimeout the mobile is
// told 78 and the pending entry goes; a request superseded by a newer one
// of the same mobile times out silently.
func TestPendingTimeout(t *testing.T) {
	b := newBed(t, testConfig())
	id := mip.TimestampID(start)
	b.send(b.mn, home, marshal(t, request(home, id, 600, 0)))
	b.haRelayed()
	b.advance(time.Second)
	b.send(b.mn, home, marshal(t, request(home, id+1, 600, 0)))
	b.haRelayed()
	b.advance(6 * time.Second) // the first request's deadline
	b.noReply(b.mn)
	b.advance(time.Second) // the second's
	r := b.replyFor(b.mn)
	if r.Code != mip.CodeFATimeout || r.ID != id+1 {
		t.Errorf("reply %s id %d, want 78 for id %d", r.Code, r.ID, id+1)
	}
	s := b.stats()
	if s.Timeouts != 1 || s.Denied[mip.CodeFATimeout] != 1 || s.Pending != 0 {
		t.Errorf("stats %+v", s)
	}
	// A late reply finds nothing to answer.
	b.haSend(marshal(t, haReply(request(home, id+1, 600, 0), mip.CodeAccepted, 600, fhSA)))
	b.waitStats("late reply unmatched", func(s Stats) bool { return s.Discards.Unmatched == 1 })
	b.noReply(b.mn)
	b.onlyBase()
}

// TestHomeAgentAuthentication: a reply whose Foreign-Home authenticator is
// wrong or missing is dropped, counted, and the mobile denied with 68
// (home agent failed authentication); nothing reaches the kernel.
func TestHomeAgentAuthentication(t *testing.T) {
	wrong := fhSA
	wrong.Key = []byte("not the right key")
	for name, sa := range map[string]mip.SecurityAssociation{"wrong key": wrong, "missing": {}} {
		t.Run(name, func(t *testing.T) {
			b := newBed(t, testConfig())
			id := mip.TimestampID(start)
			b.send(b.mn, home, marshal(t, request(home, id, 600, mip.FlagReverseTunnel)))
			relayed := b.haRelayed()
			b.haSend(marshal(t, haReply(relayed, mip.CodeAccepted, 600, sa)))
			r := b.replyFor(b.mn)
			if r.Code != mip.CodeFAHomeAgentAuthFailed || r.ID != id {
				t.Errorf("reply %s, want 68", r.Code)
			}
			s := b.stats()
			if s.Discards.Authentication != 1 || s.Visitors != 0 || s.Pending != 0 || s.Accepted != 0 {
				t.Errorf("stats %+v", s)
			}
			b.onlyBase()
		})
	}
}

// TestNoSecurityAssociation: without a SECURITY entry for the home agent
// the request is relayed as the mobile sent it, and the reply taken without
// a Foreign-Home authenticator.
func TestNoSecurityAssociation(t *testing.T) {
	cfg := testConfig()
	cfg.Security = nil
	b := newBed(t, cfg)
	req := request(home, mip.TimestampID(start), 600, 0)
	sent := marshal(t, req)
	b.send(b.mn, home, sent)
	raw, _ := b.haRecv()
	if !bytes.Equal(raw, sent) {
		t.Errorf("relayed %x, want %x", raw, sent)
	}
	b.haSend(marshal(t, haReply(req, mip.CodeAccepted, 600, mip.SecurityAssociation{})))
	if r := b.replyFor(b.mn); r.Code != mip.CodeAccepted {
		t.Errorf("reply %s", r.Code)
	}
	// Triangular routing: no reverse tunnel rule without T.
	b.hasAll(visitorKernel(home, mnMAC, false)...)
	b.hasAll(tunnelKernel()...)
	b.hasNone(kernel0Rule(home))
}

// TestHomeAgentDenial: a denial from the home agent reaches the mobile as
// sent and leaves no visitor.
func TestHomeAgentDenial(t *testing.T) {
	b := newBed(t, testConfig())
	id := mip.TimestampID(start)
	b.send(b.mn, home, marshal(t, request(home, id, 600, 0)))
	relayed := b.haRelayed()
	b.haSend(marshal(t, haReply(relayed, mip.CodeHAMobileAuthFailed, 0, fhSA)))
	r := b.replyFor(b.mn)
	if r.Code != mip.CodeHAMobileAuthFailed {
		t.Errorf("reply %s", r.Code)
	}
	if s := b.stats(); s.Replies != 1 || s.Accepted != 0 || s.Visitors != 0 {
		t.Errorf("stats %+v", s)
	}
	b.onlyBase()
	if !logHas(b.logs.String(), "registration denied by home agent", "code=131") {
		t.Errorf("no Info line for the home agent's denial")
	}
}

// TestReregistration: a mobile with a visitor entry keeps it, and its
// kernel state, while a new request is pending and when that request is
// denied; an accepted one extends it without touching the kernel.
func TestReregistration(t *testing.T) {
	b := newBed(t, testConfig())
	id := mip.TimestampID(start)
	b.register(b.mn, home, id, 600, mip.FlagReverseTunnel)
	changes := b.kern.Changes()

	b.advance(100 * time.Second)
	b.send(b.mn, home, marshal(t, request(home, id+1, 600, mip.FlagReverseTunnel)))
	relayed := b.haRelayed()
	var st MobileState
	b.do(func(s *State) { st = s.MobileState(home) })
	if st != StateRenewing {
		t.Errorf("mobile is %s during re-registration", st)
	}
	b.haSend(marshal(t, haReply(relayed, mip.CodeIDMismatch, 0, fhSA)))
	if r := b.replyFor(b.mn); r.Code != mip.CodeIDMismatch {
		t.Errorf("reply %s", r.Code)
	}
	b.hasAll(visitorKernel(home, mnMAC, true)...)
	var v Visitor
	b.do(func(s *State) { v, _ = s.Visitor(home); st = s.MobileState(home) })
	if st != StateRegistered || v.ID != id {
		t.Errorf("after a denied re-registration: %s, id %d", st, v.ID)
	}

	b.register(b.mn, home, id+2, 600, mip.FlagReverseTunnel)
	b.do(func(s *State) { v, _ = s.Visitor(home) })
	if v.ID != id+2 || !v.Expiry.Equal(start.Add(700*time.Second)) {
		t.Errorf("re-registered visitor id %d expiry %s", v.ID, v.Expiry)
	}
	if c := b.kern.Changes(); c != changes {
		t.Errorf("re-registration changed the kernel %d times:\n%v", c-changes, b.kern.Ops())
	}

	// Re-registering without T takes the reverse tunnel rule away.
	b.register(b.mn, home, id+3, 600, 0)
	b.hasAll(visitorKernel(home, mnMAC, false)...)
	b.hasNone(kernel0Rule(home))
}

// TestDeregistration: an accepted deregistration removes the visitor and
// all its kernel state, the tunnel with it.
func TestDeregistration(t *testing.T) {
	b := newBed(t, testConfig())
	id := mip.TimestampID(start)
	b.register(b.mn, home, id, 600, mip.FlagReverseTunnel)
	b.hasAll(tunnelKernel()...)

	b.send(b.mn, home, marshal(t, request(home, id+1, 0, mip.FlagReverseTunnel)))
	relayed := b.haRelayed()
	b.haSend(marshal(t, haReply(relayed, mip.CodeAccepted, 0, fhSA)))
	if r := b.replyFor(b.mn); r.Code != mip.CodeAccepted || r.Lifetime != 0 {
		t.Errorf("reply %s lifetime %d", r.Code, r.Lifetime)
	}
	b.onlyBase()
	if s := b.stats(); s.Visitors != 0 || s.Tunnels != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestExpiry: a visitor whose lifetime runs out goes with its kernel
// state.
func TestExpiry(t *testing.T) {
	b := newBed(t, testConfig())
	b.register(b.mn, home, mip.TimestampID(start), 30, mip.FlagReverseTunnel)
	b.advance(29 * time.Second)
	b.hasAll(visitorKernel(home, mnMAC, true)...)
	b.advance(time.Second)
	b.onlyBase()
	if s := b.stats(); s.Visitors != 0 {
		t.Errorf("stats %+v", s)
	}
	if !logHas(b.logs.String(), "visitor expired", "home=10.1.0.10") {
		t.Errorf("no log line for the expiry")
	}
}

// TestSharedTunnel: two visitors of one home agent share one tunnel, which
// goes with the last of them.
func TestSharedTunnel(t *testing.T) {
	b := newBed(t, testConfig())
	mn2 := b.hub.Attach(link.Info{Name: "mn2", HWAddr: mn2MAC})
	defer mn2.Close()
	id := mip.TimestampID(start)
	b.register(b.mn, home, id, 600, mip.FlagReverseTunnel)
	b.register(mn2, home2, id, 60, mip.FlagReverseTunnel)
	b.hasAll(visitorKernel(home, mnMAC, true)...)
	b.hasAll(visitorKernel(home2, mn2MAC, true)...)
	b.hasAll(tunnelKernel()...)
	var tunnels int
	var refs int
	b.do(func(s *State) {
		tunnels = len(s.Tunnels())
		if tunnels == 1 {
			refs = s.Tunnels()[0].Refs
		}
	})
	if tunnels != 1 || refs != 2 {
		t.Errorf("%d tunnels, refs %d; want one shared by two", tunnels, refs)
	}

	b.advance(60 * time.Second) // the second visitor expires
	b.hasNone(visitorKernel(home2, mn2MAC, true)...)
	b.hasAll(visitorKernel(home, mnMAC, true)...)
	b.hasAll(tunnelKernel()...)

	b.send(b.mn, home, marshal(t, request(home, id+1, 0, 0)))
	b.haSend(marshal(t, haReply(b.haRelayed(), mip.CodeAccepted, 0, fhSA)))
	b.replyFor(b.mn)
	b.onlyBase()
}

// TestStop: when Run returns, every visitor's kernel state is gone; the
// agent's sysctls stay for the kernel's Close.
func TestStop(t *testing.T) {
	b := newBed(t, testConfig())
	b.register(b.mn, home, mip.TimestampID(start), 600, mip.FlagReverseTunnel)
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	b.onlyBase()
	if err := b.kern.Close(); err != nil {
		t.Fatal(err)
	}
	if e := b.kern.Entries(); len(e) != 0 {
		t.Errorf("kernel holds %v after Close", e)
	}
	if err := b.agent.Do(t.Context(), nil); !errors.Is(err, ErrStopped) {
		t.Errorf("Do after Run: %v", err)
	}
}

// TestDiscards counts what the agent drops without an answer.
func TestDiscards(t *testing.T) {
	b := newBed(t, testConfig())
	id := mip.TimestampID(start)

	// A request with an unknown non-skippable extension: dropped silently.
	unknown := append(marshal(t, request(home, id, 600, 0)), 50, 0)
	b.send(b.mn, home, unknown)
	b.waitStats("unknown extension", func(s Stats) bool { return s.Discards.UnknownExtension == 1 })
	b.noReply(b.mn)

	// A frame that is not IPv4.
	_ = b.mn.WriteFrame([]byte{0x60, 0, 0, 0}, faMAC)
	b.waitStats("malformed frame", func(s Stats) bool { return s.Discards.Malformed == 1 })

	// From upstream: a reply cut short, one with an unknown extension, one
	// for no request, and a request.
	b.send(b.mn, home, marshal(t, request(home, id, 600, 0)))
	relayed := b.haRelayed()
	good := marshal(t, haReply(relayed, mip.CodeAccepted, 600, fhSA))
	b.haSend(good[:mip.ReplyLen-1])
	b.haSend(append(bytes.Clone(good[:mip.ReplyLen]), 60, 0))
	other := *relayed
	other.ID++
	b.haSend(marshal(t, haReply(&other, mip.CodeAccepted, 600, fhSA)))
	b.haSend(marshal(t, relayed))
	s := b.waitStats("upstream discards", func(s Stats) bool {
		return s.Discards.Malformed == 2 && s.Discards.UnknownExtension == 2 &&
			s.Discards.Unmatched == 1 && s.Discards.Unexpected == 1
	})
	if s.Pending != 1 || s.Replies != 0 {
		t.Errorf("stats %+v", s)
	}
	// The real reply still matches.
	b.haSend(good)
	if r := b.replyFor(b.mn); r.Code != mip.CodeAccepted {
		t.Errorf("reply %s", r.Code)
	}
}

// TestReplyFromElsewhere: a reply must come from where the request went.
func TestReplyFromElsewhere(t *testing.T) {
	cfg := testConfig()
	cfg.Security = nil
	b := newBed(t, cfg)
	req := request(home, mip.TimestampID(start), 600, 0)
	b.send(b.mn, home, marshal(t, req))
	b.haRelayed()
	forger, err := b.net.Listen("10.9.9.9:434")
	if err != nil {
		t.Fatal(err)
	}
	defer forger.Close()
	if _, err := forger.WriteTo(marshal(t, haReply(req, mip.CodeAccepted, 600, mip.SecurityAssociation{})),
		net.UDPAddrFromAddrPort(netip.AddrPortFrom(coa, 434))); err != nil {
		t.Fatal(err)
	}
	b.waitStats("forged reply", func(s Stats) bool { return s.Discards.Unmatched == 1 })
	b.noReply(b.mn)
	b.onlyBase()
}
