package mn

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/sessionkey"
)

// The hierarchy of these tests: the highest agent gfa (10.0.0.2) over the
// lowest agents fa1 and fa2, which both advertise gfa's address as care-of
// address, with their FA Path.
var (
	gfaAddr = netip.MustParseAddr("10.0.0.2")
	hierKey = sessionkey.Key{0x5e, 0x55, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
	hierSPI = uint32(0x1234)
)

// hierAgents makes fa1 and fa2 as lowest agents under gfa.
func hierAgents(b *bed) (fa1, fa2 *fakeAgent) {
	fa1, _ = b.foreignAgent(1)
	fa2, _ = b.foreignAgent(2)
	for i, a := range []*fakeAgent{fa1, fa2} {
		a.cfg.coa = gfaAddr
		a.cfg.path = []netip.Addr{netip.AddrFrom4([4]byte{10, 0, byte(i + 1), 2}), netip.AddrFrom4([4]byte{10, 0, byte(i + 1), 1}), gfaAddr}
	}
	return fa1, fa2
}

// sessionSA is the security association of a session key.
func sessionSA(key sessionkey.Key, spi uint32) mip.SecurityAssociation {
	return mip.SecurityAssociation{SPI: spi, Alg: mip.HMACMD5, Key: key[:]}
}

// homeReply answers req as the home agent does a hierarchical
// registration: the Mobile Session Key (key and SPI, lifetime mskLife)
// before the Mobile-Home authenticator, an FA Session Key after it.
func (a *fakeAgent) homeReply(req *mip.Request, lifetime uint16, key sessionkey.Key, spi, mskLife uint32) {
	a.b.t.Helper()
	r := &mip.Reply{Code: mip.CodeAccepted, Lifetime: lifetime, Home: req.Home, HomeAgent: req.HomeAgent, ID: req.ID,
		Extensions: []mip.Extension{&mip.MobileSessionKey{SPI: spi, Lifetime: mskLife,
			Masked: sessionkey.ForMobile(key, secret, req.ID)}}}
	if err := r.Authenticate(mip.TypeMobileHome, testConfig().SA()); err != nil {
		a.b.t.Fatal(err)
	}
	raw, err := r.Marshal()
	if err != nil {
		a.b.t.Fatal(err)
	}
	// What the lowest agent would have taken out: harmless to the mobile.
	if raw, err = mip.AppendFASessionKey(raw, mip.FASessionKey{Agent: gfaAddr, SPI: spi, Ciphertext: []byte{1, 2, 3}}); err != nil {
		a.b.t.Fatal(err)
	}
	a.b.deliver(a.udp, raw)
}

// localReply answers req as a switching agent does: code 0, no Mobile-Home
// authenticator, an MN-GFA authenticator made with sa.
func (a *fakeAgent) localReply(req *mip.Request, code mip.Code, lifetime uint16, sa mip.SecurityAssociation) {
	a.b.t.Helper()
	r := &mip.Reply{Code: code, Lifetime: lifetime, Home: req.Home, HomeAgent: req.HomeAgent, ID: req.ID}
	if err := r.Authenticate(mip.TypeGeneralizedAuth, sa); err != nil {
		a.b.t.Fatal(err)
	}
	raw, err := r.Marshal()
	if err != nil {
		a.b.t.Fatal(err)
	}
	a.b.deliver(a.udp, raw)
}

// isLocal checks whether req carries the MN-GFA authenticator of sa, just
// before the Mobile-Home one.
func isLocal(t *testing.T, req *mip.Request, sa *mip.SecurityAssociation) bool {
	t.Helper()
	gfa, gi := req.Auth(mip.TypeGeneralizedAuth)
	if gfa == nil {
		return false
	}
	if _, mi := req.Auth(mip.TypeMobileHome); mi != gi+1 {
		t.Errorf("MN-GFA authenticator at %d, Mobile-Home at %d: want it just before", gi, mi)
	}
	if sa != nil {
		if err := mip.VerifyRequest(req.Raw(), mip.TypeGeneralizedAuth, *sa); err != nil {
			t.Errorf("MN-GFA authenticator: %v", err)
		}
	}
	return true
}

// registeredInTree registers the mobile through fa1 with a session key.
func registeredInTree(t *testing.T) (b *bed, fa1, fa2 *fakeAgent) {
	t.Helper()
	b = newBed(t, testConfig())
	fa1, fa2 = hierAgents(b)
	b.move(fa1.hub)
	fa1.advertise(1000)
	req := fa1.request()
	if isLocal(t, req, nil) {
		t.Fatal("the first registration carries an MN-GFA authenticator")
	}
	if req.CareOf != gfaAddr {
		t.Fatalf("care-of address %s, want the highest agent's %s", req.CareOf, gfaAddr)
	}
	fa1.homeReply(req, 300, hierKey, hierSPI, 300)
	s := b.waitState(StateRegistered)
	if s.SessionSPI != hierSPI || !s.SessionExpiry.Equal(start.Add(300*time.Second)) {
		t.Fatalf("session SPI %d expiry %s, want %d, %s", s.SessionSPI, s.SessionExpiry, hierSPI, start.Add(300*time.Second))
	}
	if !slices.Equal(s.FAPath, fa1.cfg.path) {
		t.Errorf("FA path %v, want %v", s.FAPath, fa1.cfg.path)
	}
	return b, fa1, fa2
}

// A move to another agent of the same tree is a local registration: the
// MN-GFA authenticator with the session key before the Mobile-Home one;
// the switching agent's answer, authenticated with the session key, is
// accepted. The home agent hears nothing.
func TestLocalMove(t *testing.T) {
	b, fa1, fa2 := registeredInTree(t)
	sa := sessionSA(hierKey, hierSPI)

	b.move(fa2.hub)
	b.advance(10 * time.Second)
	fa2.advertise(1000)
	req := fa2.request()
	if !isLocal(t, req, &sa) {
		t.Fatal("the move to fa2 is not a local registration")
	}
	if req.CareOf != gfaAddr || !req.Flags.Has(mip.FlagReverseTunnel) {
		t.Errorf("request care-of %s flags %s", req.CareOf, req.Flags)
	}
	fa2.localReply(req, mip.CodeAccepted, 290, sa)
	s := b.waitState(StateRegistered)
	if s.Agent != fa2.cfg.addr || s.CareOf != gfaAddr || s.Lifetime != 290*time.Second {
		t.Errorf("status %+v", s)
	}
	if s.SessionSPI != hierSPI || !slices.Equal(s.FAPath, fa2.cfg.path) {
		t.Errorf("session SPI %d, FA path %v after the local move", s.SessionSPI, s.FAPath)
	}
	b.wantKernel(agentSet(fa2, true)...)
	b.ha.noRequest()
	st := b.stats()
	if st.LocalRequests != 1 || st.LocalAccepted != 1 || st.Replies[mip.CodeAccepted] != 2 {
		t.Errorf("stats: %d local requests, %d local accepted, %d accepted", st.LocalRequests, st.LocalAccepted,
			st.Replies[mip.CodeAccepted])
	}

	// And back: local again, with the same key.
	b.move(fa1.hub)
	fa1.advertise(1000)
	req = fa1.request()
	if !isLocal(t, req, &sa) {
		t.Fatal("the move back to fa1 is not a local registration")
	}
	fa1.localReply(req, mip.CodeAccepted, 280, sa)
	if s := b.waitState(StateRegistered); s.Agent != fa1.cfg.addr {
		t.Errorf("attached to %s", s.Agent)
	}
	if st := b.stats(); st.LocalAccepted != 2 {
		t.Errorf("%d local registrations accepted, want 2", st.LocalAccepted)
	}
}

// A local request the home agent answered (no switching agent could)
// brings a new session key with the Mobile-Home authenticator.
func TestLocalMoveAnsweredByHomeAgent(t *testing.T) {
	b, _, fa2 := registeredInTree(t)
	b.move(fa2.hub)
	fa2.advertise(1000)
	req := fa2.request()
	if !isLocal(t, req, nil) {
		t.Fatal("not a local registration")
	}
	newKey := sessionkey.Key{9, 9, 9}
	fa2.homeReply(req, 300, newKey, 777, 300)
	s := b.waitState(StateRegistered)
	if s.SessionSPI != 777 {
		t.Errorf("session SPI %d, want the new 777", s.SessionSPI)
	}
	if st := b.stats(); st.LocalRequests != 1 || st.LocalAccepted != 0 {
		t.Errorf("stats: %d local requests, %d local accepted; want 1, 0", st.LocalRequests, st.LocalAccepted)
	}

	// The next local move uses the new key.
	fa3, _ := b.foreignAgent(3)
	fa3.cfg.coa, fa3.cfg.path = gfaAddr, []netip.Addr{netip.MustParseAddr("10.0.3.2"), gfaAddr}
	b.move(fa3.hub)
	fa3.advertise(1000)
	sa := sessionSA(newKey, 777)
	if req := fa3.request(); !isLocal(t, req, &sa) {
		t.Error("the next move is not a local registration with the new key")
	}
}

// A reply to a local request with neither a valid MN-GFA nor a valid
// Mobile-Home authenticator is discarded and counted.
func TestLocalReplyForged(t *testing.T) {
	b, _, fa2 := registeredInTree(t)
	b.move(fa2.hub)
	fa2.advertise(1000)
	req := fa2.request()

	wrong := sessionSA(sessionkey.Key{1}, hierSPI)
	fa2.localReply(req, mip.CodeAccepted, 300, wrong)
	otherSPI := sessionSA(hierKey, hierSPI+1)
	fa2.localReply(req, mip.CodeAccepted, 300, otherSPI)
	// No authenticator at all.
	raw, err := (&mip.Reply{Code: mip.CodeAccepted, Lifetime: 300, Home: homeAddr, HomeAgent: haAddr, ID: req.ID}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	b.deliver(fa2.udp, raw)
	// A wrong Mobile-Home authenticator.
	r := &mip.Reply{Code: mip.CodeAccepted, Lifetime: 300, Home: homeAddr, HomeAgent: haAddr, ID: req.ID}
	if err := r.Authenticate(mip.TypeMobileHome, mip.SecurityAssociation{SPI: 1000, Key: []byte("not the key")}); err != nil {
		t.Fatal(err)
	}
	b.deliver(fa2.udp, marshalReply(t, r))

	if s := b.status(); s.State != StateRegistering || s.Agent != fa2.cfg.addr {
		t.Errorf("status %+v, want still registering at fa2", s)
	}
	st := b.stats()
	if st.Discards.Authentication != 4 || st.LocalAccepted != 0 || st.Replies[mip.CodeAccepted] != 1 {
		t.Errorf("stats: %d authentication discards, %d local accepted, %d accepted; want 4, 0, 1",
			st.Discards.Authentication, st.LocalAccepted, st.Replies[mip.CodeAccepted])
	}
	// The right answer still completes it.
	fa2.localReply(req, mip.CodeAccepted, 300, sessionSA(hierKey, hierSPI))
	b.waitState(StateRegistered)
}

func marshalReply(t *testing.T, r *mip.Reply) []byte {
	t.Helper()
	raw, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// A switching agent that refuses the MN-GFA authenticator (67) makes the
// mobile drop its session key and register fully at once.
func TestLocalMoveRefused(t *testing.T) {
	b, _, fa2 := registeredInTree(t)
	b.move(fa2.hub)
	fa2.advertise(1000)
	req := fa2.request()
	fa2.reply(req, mip.CodeFAMobileAuthFailed, 0)
	again := fa2.request()
	if isLocal(t, again, nil) {
		t.Error("the request after 67 carries the MN-GFA authenticator again")
	}
	if s := b.status(); s.SessionSPI != 0 || s.State != StateRegistering {
		t.Errorf("status %+v, want registering without a session", s)
	}
	fa2.homeReply(again, 300, sessionkey.Key{7}, 4242, 300)
	if s := b.waitState(StateRegistered); s.SessionSPI != 4242 {
		t.Errorf("session SPI %d, want 4242", s.SessionSPI)
	}
}

// Renewals, moves to another tree and moves after the session key ran out
// are full registrations.
func TestFullRegistrationsInTree(t *testing.T) {
	t.Run("renewal", func(t *testing.T) {
		b, fa1, fa2 := registeredInTree(t)
		b.move(fa2.hub)
		fa2.advertise(1000)
		req := fa2.request()
		fa2.localReply(req, mip.CodeAccepted, 100, sessionSA(hierKey, hierSPI))
		b.waitState(StateRegistered)
		b.advance(80 * time.Second) // 80% of 100 s
		if req := fa2.request(); isLocal(t, req, nil) {
			t.Error("a renewal carries the MN-GFA authenticator")
		}
		fa1.noRequest()
	})
	t.Run("another tree", func(t *testing.T) {
		b, _, _ := registeredInTree(t)
		other, _ := b.foreignAgent(3)
		other.cfg.path = []netip.Addr{other.cfg.coa}
		b.move(other.hub)
		other.advertise(1000)
		if req := other.request(); isLocal(t, req, nil) || req.CareOf != other.cfg.coa {
			t.Errorf("a move to another tree: local %v, care-of %s", isLocal(t, req, nil), req.CareOf)
		}
		if st := b.stats(); st.LocalRequests != 0 {
			t.Errorf("%d local requests", st.LocalRequests)
		}
	})
	t.Run("session expired", func(t *testing.T) {
		b := newBed(t, testConfig())
		fa1, fa2 := hierAgents(b)
		b.move(fa1.hub)
		fa1.advertise(1000)
		fa1.homeReply(fa1.request(), 300, hierKey, hierSPI, 50) // the key lasts 50 s
		b.waitState(StateRegistered)
		b.advance(50 * time.Second)
		if s := b.status(); s.SessionSPI != 0 {
			t.Errorf("session SPI %d after its lifetime", s.SessionSPI)
		}
		b.move(fa2.hub)
		fa2.advertise(1000)
		if req := fa2.request(); isLocal(t, req, nil) {
			t.Error("a move after the session key expired carries the MN-GFA authenticator")
		}
	})
	t.Run("registration without a session key", func(t *testing.T) {
		// A renewal answered without a Mobile Session Key (the home
		// agent made none) ends the session.
		b, fa1, fa2 := registeredInTree(t)
		b.advance(240 * time.Second) // 80% of 300 s
		renewal := fa1.request()
		if isLocal(t, renewal, nil) {
			t.Error("a renewal carries the MN-GFA authenticator")
		}
		fa1.reply(renewal, mip.CodeAccepted, 300)
		if s := b.waitState(StateRegistered); s.SessionSPI != 0 {
			t.Fatalf("session SPI %d after a reply without a session key", s.SessionSPI)
		}
		b.move(fa2.hub)
		fa2.advertise(1000)
		if req := fa2.request(); isLocal(t, req, nil) {
			t.Error("a move without a session key carries the MN-GFA authenticator")
		}
	})
}

// A deregistration at home ends the session.
func TestHomeEndsSession(t *testing.T) {
	b, _, fa2 := registeredInTree(t)
	b.move(b.home)
	b.ha.advertise(1000)
	req, _ := b.ha.request()
	b.ha.reply(req, mip.CodeAccepted, 0)
	b.waitState(StateHome)
	b.move(fa2.hub)
	fa2.advertise(1000)
	if req := fa2.request(); isLocal(t, req, nil) {
		t.Error("the first move after coming home is a local registration")
	}
}
