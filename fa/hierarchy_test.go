package fa

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/memnet"
	"github.com/dynamics-go/dynamics/libdynamics/discovery"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/sessionkey"
)

// The hierarchy of the testbed: gfa 10.0.0.2 at the top, reached by fa1 at
// 10.0.1.1 and by fa2 at 10.0.2.1; fa1 is 10.0.1.2 and fa2 10.0.2.2.
var (
	gfaAddr    = netip.MustParseAddr("10.0.0.2")
	fa1Upper   = netip.MustParseAddr("10.0.1.1")
	fa2Addr    = netip.MustParseAddr("10.0.2.2")
	testSess   = session{key: sessionkey.Key{0xa0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, spi: 4242}
	otherSess  = session{key: sessionkey.Key{0xb0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, spi: 4242}
	hostPrefix = netip.PrefixFrom(home, 32)
)

// Agents' RSA keys, made once per test binary and per address.
var (
	keysMu sync.Mutex
	keys   = map[netip.Addr]*rsa.PrivateKey{}
)

func agentKey(t testing.TB, addr netip.Addr) *rsa.PrivateKey {
	t.Helper()
	keysMu.Lock()
	defer keysMu.Unlock()
	if k, ok := keys[addr]; ok {
		return k
	}
	k, err := rsa.GenerateKey(rand.Reader, sessionkey.MinBits)
	if err != nil {
		t.Fatal(err)
	}
	keys[addr] = k
	return k
}

func publicDER(t testing.TB, addr netip.Addr) []byte {
	t.Helper()
	der, err := sessionkey.MarshalPublicKey(&agentKey(t, addr).PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// lowestConfig is fa1's configuration in the hierarchy: upper agent gfa at
// 10.0.1.1, highest 10.0.0.2.
func lowestConfig() Config {
	c := testConfig()
	c.UpperFAIPAddress = fa1Upper
	c.HighestFAIPAddress = gfaAddr
	return c
}

// highestConfig is gfa's: no visitor link, the Foreign-Home security
// association fhSA with the home agent.
func highestConfig() Config {
	c := testConfig()
	c.CareOfAddress = gfaAddr
	c.HighestFAIPAddress = gfaAddr
	c.Interfaces = nil
	return c
}

// peer is a foreign agent played by the test: the upper agent of fa1, or a
// lower agent of gfa.
type peer struct {
	t    *testing.T
	addr netip.Addr
	conn *memnet.Conn
}

func (b *bed) peer(addr netip.Addr) *peer {
	b.t.Helper()
	c, err := b.net.Listen(addr.String() + ":434")
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { c.Close() })
	return &peer{t: b.t, addr: addr, conn: c}
}

// recv reads the next datagram to the peer.
func (p *peer) recv() ([]byte, netip.AddrPort) {
	p.t.Helper()
	buf := make([]byte, 4096)
	_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, addr, err := p.conn.ReadFrom(buf)
	if err != nil {
		p.t.Fatalf("%s: %v", p.addr, err)
	}
	return append([]byte(nil), buf[:n]...), addr.(*net.UDPAddr).AddrPort()
}

// nothing checks that nothing reaches the peer for a while.
func (p *peer) nothing() {
	p.t.Helper()
	buf := make([]byte, 4096)
	_ = p.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, _, err := p.conn.ReadFrom(buf); err == nil {
		p.t.Errorf("%s received %x", p.addr, buf[:n])
	}
}

func (p *peer) send(to netip.Addr, payload []byte) {
	p.t.Helper()
	if _, err := p.conn.WriteTo(payload, net.UDPAddrFromAddrPort(netip.AddrPortFrom(to, 434))); err != nil {
		p.t.Fatal(err)
	}
}

// hierRequest is a mobile's request in the hierarchy (care-of address
// gfa's), with an MN-GFA authenticator made with sess before the
// Mobile-Home one when sess is set.
func hierRequest(t testing.TB, id uint64, lifetime uint16, flags mip.Flags, sess *session) []byte {
	t.Helper()
	r := &mip.Request{Flags: flags, Lifetime: lifetime, Home: home, HomeAgent: haAddr, CareOf: gfaAddr, ID: id}
	if sess != nil {
		if err := r.Authenticate(mip.TypeGeneralizedAuth, sess.sa()); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Authenticate(mip.TypeMobileHome, mnSA); err != nil {
		t.Fatal(err)
	}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// relayedBy is mobile as a lower agent at addr relays it: with its FA
// Public Key appended.
func relayedBy(t testing.TB, mobile []byte, addr netip.Addr) []byte {
	t.Helper()
	b, err := mip.AppendFAPublicKey(bytes.Clone(mobile), mip.FAPublicKey{Agent: addr, DER: publicDER(t, addr)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// haHierReply is the home agent's reply to a hierarchical registration:
// the Mobile Session Key and Mobile-Home authenticator, an FA Session Key
// for each of agents, and with a key in fh, Revocation Support and the
// Foreign-Home authenticator.
func haHierReply(t *testing.T, id uint64, code mip.Code, lifetime uint16, sess session, agents []netip.Addr, fh mip.SecurityAssociation) []byte {
	t.Helper()
	r := &mip.Reply{Code: code, Lifetime: lifetime, Home: home, HomeAgent: haAddr, ID: id}
	if code.Accepted() {
		r.Extensions = append(r.Extensions, &mip.MobileSessionKey{SPI: sess.spi, Lifetime: uint32(lifetime),
			Masked: sessionkey.ForMobile(sess.key, mnSA.Key, id)})
	}
	if err := r.Authenticate(mip.TypeMobileHome, mnSA); err != nil {
		t.Fatal(err)
	}
	b := marshal(t, r)
	if code.Accepted() {
		b = appendSessionKeys(t, b, sess, agents)
	}
	if len(fh.Key) > 0 {
		rs := &mip.RevocationSupport{Timestamp: mip.RevocationTimestamp(start)}
		b, _ = rs.AppendMarshal(b)
		var err error
		if b, err = mip.AppendAuth(b, mip.TypeForeignHome, fh); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func appendSessionKeys(t testing.TB, b []byte, sess session, agents []netip.Addr) []byte {
	t.Helper()
	for _, ag := range agents {
		ct, err := sessionkey.WrapForFA(nil, &agentKey(t, ag).PublicKey, sess.key, sessionkey.Label(home))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = mip.AppendFASessionKey(b, mip.FASessionKey{Agent: ag, SPI: sess.spi, Ciphertext: ct}); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// localAnswer is a switching agent's answer: FA Session Keys for agents,
// then the MN-GFA authenticator made with auth.
func localAnswer(t *testing.T, id uint64, lifetime uint16, sess session, agents []netip.Addr, auth session) []byte {
	t.Helper()
	b := marshal(t, &mip.Reply{Code: mip.CodeAccepted, Lifetime: lifetime, Home: home, HomeAgent: haAddr, ID: id})
	b = appendSessionKeys(t, b, sess, agents)
	b, err := mip.AppendAuth(b, mip.TypeGeneralizedAuth, auth.sa())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mobileBytes is the part of a reply up to and including the mobile's
// authenticator.
func mobileBytes(t *testing.T, raw []byte) []byte {
	t.Helper()
	r, err := mip.ParseReply(raw)
	if err != nil {
		t.Fatal(err)
	}
	return mobilePart(r)
}

func sessionKeysIn(t *testing.T, raw []byte) []mip.FASessionKey {
	t.Helper()
	r, err := mip.ParseReply(raw)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := mip.FASessionKeys(r.Extensions)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func (b *bed) visitorOf(h netip.Addr) (Visitor, bool) {
	var v Visitor
	var ok bool
	b.do(func(s *State) { v, ok = s.Visitor(h) })
	return v, ok
}

// TestHierarchyAdvertisement: an agent in a hierarchy advertises the
// highest agent's address as care-of address and its path up the tree.
func TestHierarchyAdvertisement(t *testing.T) {
	b := newBed(t, lowestConfig())
	b.clock.Advance(time.Second) // newBed read the first one
	adv := b.advert(b.mn)
	var coas []netip.Addr
	var path []netip.Addr
	for _, e := range adv.adv.Extensions {
		switch e := e.(type) {
		case *discovery.MobilityAgent:
			coas = e.CareOfAddresses
		case *discovery.FAPath:
			path = e.Addrs
		}
	}
	if !slices.Equal(coas, []netip.Addr{gfaAddr}) {
		t.Errorf("care-of addresses %v, want the highest agent's %s", coas, gfaAddr)
	}
	if want := []netip.Addr{coa, fa1Upper, gfaAddr}; !slices.Equal(path, want) {
		t.Errorf("FA path %v, want %v", path, want)
	}

	// The highest agent lists only itself.
	cfg := highestConfig()
	cfg.Interfaces = []string{"eth1"}
	g := newBed(t, cfg)
	g.clock.Advance(time.Second)
	adv = g.advert(g.mn)
	for _, e := range adv.adv.Extensions {
		if p, ok := e.(*discovery.FAPath); ok && !slices.Equal(p.Addrs, []netip.Addr{gfaAddr}) {
			t.Errorf("highest agent's FA path %v", p.Addrs)
		}
	}
	// A flat agent sends none.
	flat := newBed(t, testConfig())
	flat.clock.Advance(time.Second)
	for _, e := range flat.advert(flat.mn).adv.Extensions {
		if _, ok := e.(*discovery.FAPath); ok {
			t.Error("flat agent advertises an FA path")
		}
	}
}

// TestHierarchyRelayUp follows a registration through the lowest agent:
// the request goes to the upper agent, not the home agent, with the
// mobile's bytes and the agent's FA Public Key and without the home agent's
// extensions; the reply gives the agent its session key, the mobile its
// part, and the kernel the tunnel to the upper agent.
func TestHierarchyRelayUp(t *testing.T) {
	b := newBed(t, lowestConfig())
	upper := b.peer(fa1Upper)
	id := mip.TimestampID(start)

	// The care-of address must be the advertised one, the highest agent's.
	b.send(b.mn, home, marshal(t, request(home, id, 600, 0)))
	if r := b.replyFor(b.mn); r.Code != mip.CodeFAInvalidCareOf {
		t.Errorf("request with the agent's own address as care-of address: %s, want 77", r.Code)
	}

	sent := hierRequest(t, id+1, 600, mip.FlagReverseTunnel, nil)
	b.send(b.mn, home, append(bytes.Clone(sent), 200, 2, 0xaa, 0xbb)) // not for the upper agent
	raw, from := upper.recv()
	if from != netip.AddrPortFrom(coa, 434) {
		t.Errorf("relayed from %s", from)
	}
	if !bytes.HasPrefix(raw, sent) {
		t.Fatalf("relayed request does not start with the mobile's bytes:\n got %x\nwant %x...", raw, sent)
	}
	relayed, err := mip.ParseRequest(raw)
	if err != nil {
		t.Fatal(err)
	}
	pubs, err := mip.FAPublicKeys(relayed.Extensions)
	if err != nil || len(pubs) != 1 || pubs[0].Agent != coa || !bytes.Equal(pubs[0].DER, publicDER(t, coa)) {
		t.Errorf("FA public keys %+v, %v; want the agent's own", pubs, err)
	}
	if a, _ := relayed.Auth(mip.TypeForeignHome); a != nil {
		t.Error("the lowest agent added a Foreign-Home authenticator")
	}
	if rs, _ := mip.FindRevocationSupport(relayed.Extensions); rs != nil {
		t.Error("the lowest agent added Revocation Support")
	}
	b.haNothing()
	var p []Pending
	b.do(func(s *State) { p = s.Pending() })
	if len(p) != 1 || p[0].Up != fa1Upper || p[0].Down.IsAgent() || p[0].Down.Iface != "eth1" {
		t.Errorf("pending %+v", p)
	}

	// A reply from elsewhere than the upper agent is not believed.
	reply := haHierReply(t, id+1, mip.CodeAccepted, 300, testSess, []netip.Addr{coa}, mip.SecurityAssociation{})
	b.haSend(reply)
	b.waitStats("reply from the home agent", func(s Stats) bool { return s.Discards.Unmatched == 1 })

	upper.send(coa, reply)
	f := b.reply(b.mn)
	if want := mobileBytes(t, reply); !bytes.Equal(f.payload, want) {
		t.Errorf("mobile received\n %x\nwant its part\n %x", f.payload, want)
	}
	if err := mip.VerifyReply(f.payload, mip.TypeMobileHome, mnSA); err != nil {
		t.Error(err)
	}
	v, ok := b.visitorOf(home)
	if !ok || !v.Confirmed || !v.HasKey || v.Key != testSess.key || v.SPI != testSess.spi || v.Up != fa1Upper ||
		v.CareOf != gfaAddr || v.Tunnel == 0 || v.DownTunnel != 0 || !v.Expiry.Equal(start.Add(300*time.Second)) {
		t.Errorf("visitor %+v", v)
	}
	b.hasAll(visitorKernel(home, mnMAC, true)...)
	b.hasAll(
		kernel.Tunnel{Name: "dynfa1", Local: coa, Remote: fa1Upper},
		kernel.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: "dynfa1", Table: TableBase + 1},
	)
}

// TestHierarchyUpperTimeout: an upper agent that does not answer within
// PendingTimeout gets the mobile a 78.
func TestHierarchyUpperTimeout(t *testing.T) {
	b := newBed(t, lowestConfig())
	upper := b.peer(fa1Upper)
	id := mip.TimestampID(start)
	b.send(b.mn, home, hierRequest(t, id, 600, 0, nil))
	upper.recv()
	b.advance(7 * time.Second)
	if r := b.replyFor(b.mn); r.Code != mip.CodeFATimeout || r.ID != id {
		t.Errorf("reply %s id %d, want 78", r.Code, r.ID)
	}
	b.onlyBase()
}

// TestHierarchyDenialPassesDown: the upper agent's (or home agent's)
// denial reaches the mobile as sent.
func TestHierarchyDenialPassesDown(t *testing.T) {
	b := newBed(t, lowestConfig())
	upper := b.peer(fa1Upper)
	id := mip.TimestampID(start)
	b.send(b.mn, home, hierRequest(t, id, 600, 0, nil))
	upper.recv()
	denial := haHierReply(t, id, mip.CodeHAMobileAuthFailed, 0, testSess, nil, mip.SecurityAssociation{})
	upper.send(coa, denial)
	if f := b.reply(b.mn); !bytes.Equal(f.payload, denial) {
		t.Errorf("mobile received %x, want %x", f.payload, denial)
	}
	b.onlyBase()
}

// registerLowest takes the mobile through a registration at fa1 with
// testSess and returns the upper agent.
func registerLowest(t *testing.T, b *bed, id uint64, lifetime uint16) *peer {
	t.Helper()
	upper := b.peer(fa1Upper)
	b.send(b.mn, home, hierRequest(t, id, lifetime, mip.FlagReverseTunnel, nil))
	upper.recv()
	upper.send(coa, haHierReply(t, id, mip.CodeAccepted, lifetime, testSess, []netip.Addr{coa}, mip.SecurityAssociation{}))
	if r := b.replyFor(b.mn); r.Code != mip.CodeAccepted {
		t.Fatalf("registration: %s", r.Code)
	}
	return upper
}

// TestHierarchyRevocationFromUpper: a revocation from the upper agent is
// believed only with the session key, removes the visitor and is
// acknowledged with the session key, again when retransmitted.
func TestHierarchyRevocationFromUpper(t *testing.T) {
	b := newBed(t, lowestConfig())
	upper := registerLowest(t, b, mip.TimestampID(start), 300)
	ts := mip.RevocationTimestamp(start)
	rev := func(id uint32, sa mip.SecurityAssociation) []byte {
		r := &mip.Revocation{Flags: mip.RevocationHomeAgent, Home: home, HomeDomain: haAddr, ForeignDomain: gfaAddr, ID: id}
		if err := r.Authenticate(mip.TypeForeignHome, sa); err != nil {
			t.Fatal(err)
		}
		return marshal(t, r)
	}
	upper.send(coa, rev(ts, otherSess.sa()))
	upper.send(coa, rev(ts, fhSA)) // the home agent's association is not the session's
	b.waitStats("forged revocations", func(s Stats) bool { return s.Discards.Authentication == 2 })
	upper.nothing()
	b.hasAll(visitorKernel(home, mnMAC, true)...)

	checkAck := func() {
		t.Helper()
		raw, _ := upper.recv()
		if err := mip.VerifyRevocationAck(raw, mip.TypeForeignHome, testSess.sa()); err != nil {
			t.Errorf("acknowledgment: %v", err)
		}
		if ack, err := mip.ParseRevocationAck(raw); err != nil || ack.ID != ts || ack.Home != home {
			t.Errorf("acknowledgment %+v, %v", ack, err)
		}
	}
	upper.send(coa, rev(ts, testSess.sa()))
	checkAck()
	b.onlyBase()
	// The tunnel up stays: the agent holds it from start.
	if s := b.stats(); s.Revocations != 1 || s.Visitors != 0 || s.Tunnels != 1 || s.IdleTunnels != 0 {
		t.Errorf("stats %+v", s)
	}
	upper.send(coa, rev(ts, testSess.sa())) // the acknowledgment was lost
	checkAck()
	upper.send(coa, rev(ts-1, testSess.sa())) // older: for no visitor now
	b.waitStats("stale revocation", func(s Stats) bool { return s.Discards.Unmatched == 1 })
	upper.nothing()
}

// TestHierarchyAnswerFromSwitchingAgent: a local request the lowest agent
// cannot answer goes up with its MN-GFA authenticator; the switching
// agent's answer gives the agent the session key and must verify with it.
func TestHierarchyAnswerFromSwitchingAgent(t *testing.T) {
	for _, c := range []struct {
		name string
		auth session
		ok   bool
	}{{"genuine", testSess, true}, {"forged", otherSess, false}} {
		t.Run(c.name, func(t *testing.T) {
			b := newBed(t, lowestConfig())
			upper := b.peer(fa1Upper)
			id := mip.TimestampID(start)
			sent := hierRequest(t, id, 600, mip.FlagReverseTunnel, &testSess)
			b.send(b.mn, home, sent)
			raw, _ := upper.recv()
			if !bytes.HasPrefix(raw, sent) {
				t.Fatal("the MN-GFA request did not go up as the mobile sent it")
			}
			if err := mip.VerifyRequest(raw, mip.TypeGeneralizedAuth, testSess.sa()); err != nil {
				t.Errorf("MN-GFA on the relayed request: %v", err)
			}
			answer := localAnswer(t, id, 200, testSess, []netip.Addr{coa}, c.auth)
			upper.send(coa, answer)
			r := b.replyFor(b.mn)
			v, registered := b.visitorOf(home)
			if !c.ok {
				if r.Code != mip.CodeFAHomeAgentAuthFailed || registered {
					t.Errorf("forged answer: mobile got %s, visitor %v", r.Code, registered)
				}
				b.onlyBase()
				return
			}
			if r.Code != mip.CodeAccepted || r.Lifetime != 200 {
				t.Errorf("reply %s lifetime %d", r.Code, r.Lifetime)
			}
			if err := mip.VerifyReply(r.Raw(), mip.TypeGeneralizedAuth, testSess.sa()); err != nil {
				t.Errorf("MN-GFA on the mobile's reply: %v", err)
			}
			if !registered || !v.HasKey || v.Key != testSess.key || !v.Expiry.Equal(start.Add(200*time.Second)) {
				t.Errorf("visitor %+v", v)
			}
			b.hasAll(visitorKernel(home, mnMAC, true)...)
		})
	}
}

// registerHighest takes the mobile through a registration at gfa relayed by
// the lower agent lower, with testSess, and checks what the home agent and
// the lower agent receive.
func registerHighest(t *testing.T, b *bed, lower *peer, id uint64, lifetime uint16) {
	t.Helper()
	mobile := hierRequest(t, id, lifetime, mip.FlagReverseTunnel, nil)
	fromLower := relayedBy(t, mobile, lower.addr)
	lower.send(gfaAddr, fromLower)
	raw, _ := b.haRecv()
	if !bytes.HasPrefix(raw, fromLower) {
		t.Fatalf("relayed to the home agent:\n %x\nwant it to start with the lower agent's\n %x", raw, fromLower)
	}
	if err := mip.VerifyRequest(raw, mip.TypeForeignHome, fhSA); err != nil {
		t.Errorf("Foreign-Home: %v", err)
	}
	if err := mip.VerifyRequest(raw, mip.TypeMobileHome, mnSA); err != nil {
		t.Errorf("Mobile-Home: %v", err)
	}
	relayed, err := mip.ParseRequest(raw)
	if err != nil {
		t.Fatal(err)
	}
	pubs, err := mip.FAPublicKeys(relayed.Extensions)
	if err != nil || len(pubs) != 2 || pubs[0].Agent != lower.addr || pubs[1].Agent != gfaAddr ||
		!bytes.Equal(pubs[1].DER, publicDER(t, gfaAddr)) {
		t.Errorf("FA public keys %+v, %v; want the lower agent's, then gfa's", pubs, err)
	}
	if rs, _ := mip.FindRevocationSupport(relayed.Extensions); rs == nil {
		t.Error("no Revocation Support toward the home agent")
	}
	reply := haHierReply(t, id, mip.CodeAccepted, lifetime, testSess, []netip.Addr{gfaAddr, lower.addr}, fhSA)
	b.haSend(reply)
	down, from := lower.recv()
	if from != netip.AddrPortFrom(gfaAddr, 434) {
		t.Errorf("reply to the lower agent from %s", from)
	}
	if want := mobileBytes(t, reply); !bytes.HasPrefix(down, want) {
		t.Errorf("the lower agent's reply does not start with the mobile's part")
	}
	keys := sessionKeysIn(t, down)
	if len(keys) != 1 || keys[0].Agent != lower.addr || keys[0].SPI != testSess.spi {
		t.Fatalf("FA session keys passed down: %+v, want only the lower agent's", keys)
	}
	if k, err := sessionkey.UnwrapForFA(agentKey(t, lower.addr), keys[0].Ciphertext, sessionkey.Label(home)); err != nil || k != testSess.key {
		t.Errorf("the lower agent's session key: %v", err)
	}
	if r, _ := mip.ParseReply(down); r != nil {
		if a, _ := r.Auth(mip.TypeForeignHome); a != nil {
			t.Error("the home agent's Foreign-Home authenticator was passed down")
		}
	}
}

// chainKernel are gfa's entries for a visitor below the lower agent with
// tunnel dev: the host route into it and the reverse tunnel rule from it.
func chainKernel(dev string) []kernel.Entry {
	return []kernel.Entry{
		kernel.Route{Dst: hostPrefix, Dev: dev},
		kernel.Rule{Priority: RulePriority, Src: hostPrefix, IIf: dev, Table: TableBase + 1},
	}
}

// TestHierarchyHighest: the highest agent relays a lower agent's request to
// the home agent with its own key, Revocation Support and Foreign-Home
// authentication, passes the reply down with the lower agent's session key
// only, and builds the tunnel chain: home agent -> gfa -> lower agent.
func TestHierarchyHighest(t *testing.T) {
	b := newBed(t, highestConfig())
	fa1 := b.peer(coa)
	registerHighest(t, b, fa1, mip.TimestampID(start), 300)
	v, ok := b.visitorOf(home)
	if !ok || !v.HasKey || v.Key != testSess.key || v.SPI != testSess.spi || v.Up != haAddr ||
		v.Down.Agent != netip.AddrPortFrom(coa, 434) || v.Lower != coa || v.Tunnel == 0 || v.DownTunnel == 0 {
		t.Errorf("visitor %+v", v)
	}
	b.hasAll(
		kernel.Tunnel{Name: "dynfa1", Local: gfaAddr, Remote: haAddr},
		kernel.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: "dynfa1", Table: TableBase + 1},
		kernel.Tunnel{Name: "dynfa2", Local: gfaAddr, Remote: coa},
	)
	b.hasAll(chainKernel("dynfa2")...)
	s := b.stats()
	if s.Requests != 1 || s.Relayed != 1 || s.Accepted != 1 || s.Tunnels != 2 || s.LocalReplies != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestHierarchyLocalMove: the mobile moves from fa1 to fa2 under gfa and
// back: gfa answers each time itself (the home agent hears nothing), with
// fa2's session key and an MN-GFA authenticator, moves its route and
// reverse tunnel rule to the new lower agent's tunnel and revokes the old
// branch with the session key.
func TestHierarchyLocalMove(t *testing.T) {
	b := newBed(t, highestConfig())
	fa1, fa2 := b.peer(coa), b.peer(fa2Addr)
	id := mip.TimestampID(start)
	registerHighest(t, b, fa1, id, 300)
	b.advance(100 * time.Second)

	// tunnelTo names gfa's tunnel device to a lower agent.
	tunnelTo := func(lower netip.Addr) string {
		for _, e := range b.kern.Entries() {
			if tun, ok := e.(kernel.Tunnel); ok && tun.Remote == lower {
				return tun.Name
			}
		}
		return ""
	}
	move := func(to, from *peer, id uint64, lifetime uint16) {
		t.Helper()
		tunnelFrom := tunnelTo(from.addr)
		if tunnelFrom == "" {
			t.Fatalf("no tunnel to %s before the move", from.addr)
		}
		to.send(gfaAddr, relayedBy(t, hierRequest(t, id, 600, mip.FlagReverseTunnel, &testSess), to.addr))
		raw, src := to.recv()
		if src != netip.AddrPortFrom(gfaAddr, 434) {
			t.Errorf("answer from %s", src)
		}
		r, err := mip.ParseReply(raw)
		if err != nil {
			t.Fatal(err)
		}
		if r.Code != mip.CodeAccepted || r.ID != id || r.Lifetime != lifetime {
			t.Errorf("local answer %s id %d lifetime %d; want 0, %d, %d", r.Code, r.ID, r.Lifetime, id, lifetime)
		}
		if err := mip.VerifyReply(raw, mip.TypeGeneralizedAuth, testSess.sa()); err != nil {
			t.Errorf("MN-GFA: %v", err)
		}
		keys := sessionKeysIn(t, raw)
		if len(keys) != 1 || keys[0].Agent != to.addr || keys[0].SPI != testSess.spi {
			t.Fatalf("FA session keys %+v", keys)
		}
		if k, err := sessionkey.UnwrapForFA(agentKey(t, to.addr), keys[0].Ciphertext, sessionkey.Label(home)); err != nil || k != testSess.key {
			t.Errorf("new lower agent's session key: %v", err)
		}
		b.haNothing()

		rraw, _ := from.recv()
		if err := mip.VerifyRevocation(rraw, mip.TypeForeignHome, testSess.sa()); err != nil {
			t.Errorf("revocation of the old branch: %v", err)
		}
		rv, err := mip.ParseRevocation(rraw)
		if err != nil {
			t.Fatal(err)
		}
		if rv.Home != home || rv.HomeDomain != haAddr || !rv.Flags.Has(mip.RevocationHomeAgent) {
			t.Errorf("revocation %+v", rv)
		}
		ack := &mip.RevocationAck{Home: home, ID: rv.ID}
		if err := ack.Authenticate(mip.TypeForeignHome, testSess.sa()); err != nil {
			t.Fatal(err)
		}
		from.send(gfaAddr, marshal(t, ack))
		b.waitStats("acknowledgment", func(s Stats) bool { return s.RevocationsPending == 0 })

		dev := tunnelTo(to.addr)
		b.hasAll(chainKernel(dev)...)
		b.hasNone(kernel.Rule{Priority: RulePriority, Src: hostPrefix, IIf: tunnelFrom, Table: TableBase + 1})
		// The tunnel to the old lower agent lingers, idle: nothing of
		// the mobile's is routed into it.
		if old := tunnelTo(from.addr); old != tunnelFrom {
			t.Errorf("the tunnel to the old lower agent is %q, want %s lingering", old, tunnelFrom)
		}
		for _, e := range b.kern.Entries() {
			if r, ok := e.(kernel.Route); ok && r.Dev == tunnelFrom && r.Table == 0 {
				t.Errorf("a route still enters the old lower agent's tunnel: %s", r)
			}
		}
		if s := b.stats(); s.IdleTunnels != 1 {
			t.Errorf("%d idle tunnels, want the old branch's", s.IdleTunnels)
		}
		b.hasAll(kernel.Tunnel{Name: "dynfa1", Local: gfaAddr, Remote: haAddr})
		v, _ := b.visitorOf(home)
		if v.ID != id || v.Down.Agent.Addr() != to.addr || !v.Expiry.Equal(b.clock.Now().Add(time.Duration(lifetime)*time.Second)) ||
			v.Key != testSess.key || v.Tunnel != 1 {
			t.Errorf("visitor after the move %+v", v)
		}
	}
	move(fa2, fa1, id+1, 200)
	toFA1, toFA2 := tunnelTo(fa1.addr), tunnelTo(fa2.addr)
	// The acknowledgment stopped the retransmissions.
	b.advance(time.Second)
	fa1.nothing()
	made := b.kern.Ops()
	move(fa1, fa2, id+2, 199)
	// Back to fa1: its tunnel, idle since the first move, is taken as it
	// is, and nothing of the tunnels changed in the kernel.
	if got := tunnelTo(fa1.addr); got != toFA1 {
		t.Errorf("back at fa1 through %q, want the lingering %s", got, toFA1)
	}
	for _, op := range b.kern.Ops()[len(made):] {
		if strings.Contains(op, "tunnel") || strings.Contains(op, "table") || strings.Contains(op, "rp_filter") {
			t.Errorf("moving back changed a tunnel: %s", op)
		}
	}

	s := b.stats()
	if s.LocalReplies != 2 || s.RevocationsSent != 2 || s.Relayed != 1 || s.Tunnels != 3 || s.IdleTunnels != 1 {
		t.Errorf("stats %+v", s)
	}
	// fa2's tunnel goes TunnelLinger after its last use.
	b.advance(highestConfig().TunnelLinger - time.Millisecond)
	if tunnelTo(fa2.addr) != toFA2 {
		t.Errorf("the tunnel to fa2 went before its linger ended")
	}
	b.advance(time.Millisecond)
	if dev := tunnelTo(fa2.addr); dev != "" {
		t.Errorf("the tunnel to fa2 is still there after its linger: %s", dev)
	}
	b.hasNone(kernel.Tunnel{Name: toFA2}, kernel.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: toFA2, Table: TableBase + 3})
	b.hasAll(chainKernel(toFA1)...)
	if !logHas(b.logs.String(), "registration answered locally", "home=10.1.0.10") {
		t.Error("no Info line for the local answer")
	}
}

// TestHierarchyRevocationRetransmit: an unacknowledged revocation of the
// old branch is sent four times, 1, 2 and 4 seconds apart.
func TestHierarchyRevocationRetransmit(t *testing.T) {
	b := newBed(t, highestConfig())
	fa1, fa2 := b.peer(coa), b.peer(fa2Addr)
	id := mip.TimestampID(start)
	registerHighest(t, b, fa1, id, 300)
	fa2.send(gfaAddr, relayedBy(t, hierRequest(t, id+1, 600, mip.FlagReverseTunnel, &testSess), fa2.addr))
	fa2.recv()
	first, _ := fa1.recv()
	for _, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		b.advance(wait - time.Millisecond)
		fa1.nothing()
		b.advance(time.Millisecond)
		if again, _ := fa1.recv(); !bytes.Equal(again, first) {
			t.Errorf("retransmission differs:\n %x\n %x", again, first)
		}
	}
	b.advance(time.Minute)
	fa1.nothing()
	if s := b.stats(); s.RevocationsSent != 1 {
		t.Errorf("revocations sent %d, want 1 (retransmissions not counted)", s.RevocationsSent)
	}
}

// TestHierarchyForgedLocalRequest: a local request whose MN-GFA
// authenticator is wrong is denied with 67 down the new branch; the route,
// tunnels and old branch stay as they were.
func TestHierarchyForgedLocalRequest(t *testing.T) {
	b := newBed(t, highestConfig())
	fa1, fa2 := b.peer(coa), b.peer(fa2Addr)
	id := mip.TimestampID(start)
	registerHighest(t, b, fa1, id, 300)
	before := b.kern.Render()

	forged := otherSess // the right SPI, another key
	fa2.send(gfaAddr, relayedBy(t, hierRequest(t, id+1, 600, mip.FlagReverseTunnel, &forged), fa2.addr))
	raw, _ := fa2.recv()
	if r, err := mip.ParseReply(raw); err != nil || r.Code != mip.CodeFAMobileAuthFailed || r.ID != id+1 {
		t.Errorf("answer %+v, %v; want 67", r, err)
	}
	b.haNothing()
	fa1.nothing()
	if after := b.kern.Render(); after != before {
		t.Errorf("kernel changed:\n%s\nwas:\n%s", after, before)
	}
	v, _ := b.visitorOf(home)
	if v.ID != id || v.Down.Agent.Addr() != coa {
		t.Errorf("visitor changed: %+v", v)
	}
	if s := b.stats(); s.Denied[mip.CodeFAMobileAuthFailed] != 1 || s.LocalReplies != 0 || s.RevocationsSent != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestHierarchyLocalRequestRelayed: what a switching agent may not answer
// goes up to the home agent as a full registration.
func TestHierarchyLocalRequestRelayed(t *testing.T) {
	id := mip.TimestampID(start)
	unknown := testSess
	unknown.spi++
	for _, c := range []struct {
		name    string
		before  time.Duration // clock advance after the registration
		from    netip.Addr    // lower agent relaying the request
		id      uint64
		life    uint16
		flags   mip.Flags
		sess    session
		expired bool
	}{
		{"stale identification", 0, fa2Addr, id, 600, mip.FlagReverseTunnel, testSess, false},
		{"flags changed", 0, fa2Addr, id + 1, 600, 0, testSess, false},
		{"deregistration", 0, fa2Addr, id + 1, 0, mip.FlagReverseTunnel, testSess, false},
		{"unknown SPI", 0, fa2Addr, id + 1, 600, mip.FlagReverseTunnel, unknown, false},
		{"little lifetime left", 293 * time.Second, fa2Addr, id + 1, 600, mip.FlagReverseTunnel, testSess, false},
		{"session expired", 300 * time.Second, fa2Addr, id + 1, 600, mip.FlagReverseTunnel, testSess, true},
		{"same lower agent", 0, coa, id + 1, 600, mip.FlagReverseTunnel, testSess, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBed(t, highestConfig())
			fa1, fa2 := b.peer(coa), b.peer(fa2Addr)
			registerHighest(t, b, fa1, id, 300)
			b.advance(c.before)
			lower := fa2
			if c.from == coa {
				lower = fa1
			}
			sess := c.sess
			sent := relayedBy(t, hierRequest(t, c.id, c.life, c.flags, &sess), lower.addr)
			lower.send(gfaAddr, sent)
			raw, _ := b.haRecv()
			if !bytes.HasPrefix(raw, sent) {
				t.Errorf("the home agent did not receive the request as relayed")
			}
			lower.nothing()
			if lower != fa1 {
				fa1.nothing()
			}
			s := b.stats()
			if s.LocalReplies != 0 || s.Relayed != 2 || s.Pending != 1 {
				t.Errorf("stats %+v", s)
			}
			if _, ok := b.visitorOf(home); ok == c.expired {
				t.Errorf("visitor present %v", ok)
			}
		})
	}
}

// TestHierarchyHomeAgentRevocation: the home agent's revocation of gfa's
// binding (the mobile left the tree) is passed to the lower agent with the
// session key.
func TestHierarchyHomeAgentRevocation(t *testing.T) {
	b := newBed(t, highestConfig())
	fa1 := b.peer(coa)
	registerHighest(t, b, fa1, mip.TimestampID(start), 300)
	ts := mip.RevocationTimestamp(start)
	rv := &mip.Revocation{Flags: mip.RevocationHomeAgent, Home: home, HomeDomain: haAddr, ForeignDomain: gfaAddr, ID: ts}
	if err := rv.Authenticate(mip.TypeForeignHome, fhSA); err != nil {
		t.Fatal(err)
	}
	b.haSend(marshal(t, rv))
	raw, _ := b.haRecv()
	if err := mip.VerifyRevocationAck(raw, mip.TypeForeignHome, fhSA); err != nil {
		t.Errorf("acknowledgment to the home agent: %v", err)
	}
	down, _ := fa1.recv()
	if err := mip.VerifyRevocation(down, mip.TypeForeignHome, testSess.sa()); err != nil {
		t.Errorf("revocation passed down: %v", err)
	}
	if s := b.stats(); s.Revocations != 1 || s.RevocationsSent != 1 || s.Visitors != 0 || s.IdleTunnels != 1 {
		t.Errorf("stats %+v", s)
	}
	// The tunnel down to fa1 lingers, the one to the home agent went at
	// once; after TunnelLinger only the forwarding sysctl is left.
	idle := []kernel.Entry{
		kernel.Sysctl{Name: "net/ipv4/ip_forward", Value: "1"},
		kernel.Tunnel{Name: "dynfa2", Local: gfaAddr, Remote: coa},
		kernel.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: "dynfa2", Table: TableBase + 2},
		kernel.Sysctl{Name: "net/ipv4/conf/dynfa2/rp_filter", Value: "0"},
	}
	if got := b.kern.Render(); got != kernel.Render(idle) {
		t.Errorf("kernel holds:\n%s\nwant:\n%s", got, kernel.Render(idle))
	}
	b.advance(highestConfig().TunnelLinger)
	if got := b.kern.Render(); got != "sysctl -w net.ipv4.ip_forward=1\n" {
		t.Errorf("kernel holds after the linger:\n%s", got)
	}
}

// TestHierarchyRestartedHighest: a highest agent without the binding (it
// restarted) relays a local request to the home agent: a full
// registration.
func TestHierarchyRestartedHighest(t *testing.T) {
	b := newBed(t, highestConfig())
	fa2 := b.peer(fa2Addr)
	sent := relayedBy(t, hierRequest(t, mip.TimestampID(start), 600, 0, &testSess), fa2.addr)
	fa2.send(gfaAddr, sent)
	raw, _ := b.haRecv()
	if !bytes.HasPrefix(raw, sent) {
		t.Error("not relayed as received")
	}
	if s := b.stats(); s.LocalReplies != 0 || s.Relayed != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestHierarchyOptions: an agent in a hierarchy needs its key pair, and
// the highest agent must be itself.
func TestHierarchyOptions(t *testing.T) {
	n := memnet.New()
	up, err := n.Listen("10.0.0.2:434")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	kern := kernel.NewFake("eth0")
	for _, c := range []struct {
		name string
		cfg  func(*Config)
		key  bool
	}{
		{"no key", func(*Config) {}, false},
		{"highest is another agent", func(c *Config) { c.HighestFAIPAddress = netip.MustParseAddr("10.0.0.9") }, true},
		{"upper is itself", func(c *Config) { c.UpperFAIPAddress = gfaAddr }, true},
	} {
		cfg := highestConfig()
		c.cfg(&cfg)
		var key *rsa.PrivateKey
		if c.key {
			key = agentKey(t, gfaAddr)
		}
		if _, err := New(Options{Config: cfg, Upstream: up, Kernel: kern, Key: key}); err == nil {
			t.Errorf("%s: New accepted it", c.name)
		}
	}
	if _, err := New(Options{Config: highestConfig(), Upstream: up, Kernel: kern, Key: agentKey(t, gfaAddr)}); err != nil {
		t.Errorf("highest agent without visitor links: %v", err)
	}
	flat := testConfig()
	flat.Interfaces = nil
	if _, err := New(Options{Config: flat, Upstream: up, Kernel: kern}); err == nil {
		t.Error("a flat agent without visitor links was accepted")
	}
}

// TestHierarchyRevocationReplayPerSession: revocations from the upper
// agent are replay-checked per session key. An old identifier under the
// same key is refused even after the visitor came back with that key; a
// restarted upper agent, whose identifiers fall behind, is believed under
// the new key of the full registration that followed its restart.
func TestHierarchyRevocationReplayPerSession(t *testing.T) {
	b := newBed(t, lowestConfig())
	ts := mip.RevocationTimestamp(start)
	id := mip.TimestampID(start)
	upper := b.peer(fa1Upper)
	register := func(id uint64, sess session) {
		t.Helper()
		b.send(b.mn, home, hierRequest(t, id, 300, mip.FlagReverseTunnel, nil))
		upper.recv()
		upper.send(coa, haHierReply(t, id, mip.CodeAccepted, 300, sess, []netip.Addr{coa}, mip.SecurityAssociation{}))
		if r := b.replyFor(b.mn); r.Code != mip.CodeAccepted {
			t.Fatalf("registration: %s", r.Code)
		}
	}
	revoke := func(rid uint32, sess session) bool {
		t.Helper()
		r := &mip.Revocation{Flags: mip.RevocationHomeAgent, Home: home, HomeDomain: haAddr, ForeignDomain: gfaAddr, ID: rid}
		if err := r.Authenticate(mip.TypeForeignHome, sess.sa()); err != nil {
			t.Fatal(err)
		}
		before := b.stats()
		upper.send(coa, marshal(t, r))
		s := b.waitStats("revocation handled", func(s Stats) bool {
			return s.Revocations > before.Revocations || s.Discards.Authentication > before.Discards.Authentication
		})
		if s.Revocations > before.Revocations {
			upper.recv() // the acknowledgment
			return true
		}
		return false
	}
	register(id, testSess)
	if !revoke(ts+10, testSess) {
		t.Fatal("first revocation refused")
	}
	register(id+1, testSess) // back with the same session key
	if revoke(ts+5, testSess) {
		t.Error("an older identifier under the same session key was believed")
	}
	if !revoke(ts+11, testSess) {
		t.Error("a later identifier under the same session key was refused")
	}
	newSess := session{key: sessionkey.Key{0xc0, 9}, spi: 777}
	register(id+2, newSess) // the upper agent restarted: a full registration
	if !revoke(ts, newSess) {
		t.Error("a restarted upper agent's revocation under the new session key was refused")
	}
	b.onlyBase()
}

// TestHierarchyLowerAgentChecks: a lower agent's request gets the agent's
// own checks, answered to the lower agent: 70 for one whose extensions do
// not parse, 77 for another care-of address than the highest agent's.
func TestHierarchyLowerAgentChecks(t *testing.T) {
	b := newBed(t, highestConfig())
	fa1 := b.peer(coa)
	id := mip.TimestampID(start)
	good := hierRequest(t, id, 600, 0, nil)
	fa1.send(gfaAddr, append(bytes.Clone(good[:mip.RequestLen]), 32, 40, 0, 0))
	raw, _ := fa1.recv()
	if r, err := mip.ParseReply(raw); err != nil || r.Code != mip.CodeFAPoorRequest || r.ID != id {
		t.Errorf("poorly formed request: %+v, %v; want 70", r, err)
	}
	fa1.send(gfaAddr, relayedBy(t, marshal(t, request(home, id+1, 600, 0)), coa)) // care-of 10.0.1.2
	raw, _ = fa1.recv()
	if r, err := mip.ParseReply(raw); err != nil || r.Code != mip.CodeFAInvalidCareOf || r.ID != id+1 {
		t.Errorf("request for another care-of address: %+v, %v; want 77", r, err)
	}
	b.haNothing()
}
