package fa

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/binding"
	"github.com/dynamics-go/dynamics/libdynamics/daemon"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
	"github.com/dynamics-go/dynamics/libdynamics/secure/securetest"
)

// counter returns the named get_status counter.
func counter(t *testing.T, s Stats, name string) uint64 {
	t.Helper()
	for _, c := range s.Counters() {
		if c.Name == name {
			return c.Value
		}
	}
	t.Fatalf("no counter %q in %v", name, s.Counters())
	return 0
}

// The home agent's reply in clear, where its signalling must come out of
// ESP, is dropped and counted: the mobile hears nothing, no visitor entry
// is made, the request stays pending. The same reply out of ESP is relayed
// down. Frames carry the visitor link's interface to Check.
func TestUnprotectedReplyDropped(t *testing.T) {
	prot := securetest.NewFake()
	prot.Require(haAddr, true)
	prot.Up(haAddr, true)
	b := newBedWith(t, testConfig(), prot)

	id := mip.TimestampID(start)
	b.send(b.mn, home, marshal(t, request(home, id, 600, 0)))
	relayed := b.haRelayed()
	reply := marshal(t, haReply(relayed, mip.CodeAccepted, 600, fhSA))
	b.haSend(reply)
	s := b.waitStats("unprotected drop", func(s Stats) bool { return s.Discards.Unprotected == 1 })
	b.noReply(b.mn)
	if s.Visitors != 0 || s.Pending != 1 || s.Replies != 0 {
		t.Errorf("the dropped reply was acted on: %+v", s)
	}
	if got := counter(t, s, "discards.unprotected"); got != 1 {
		t.Errorf("discards.unprotected = %d, want 1", got)
	}
	b.onlyBase()
	if !strings.Contains(b.logs.String(), "registration message dropped: not protected") {
		t.Errorf("no debug line for the drop in\n%s", b.logs)
	}

	prot.Protect(haAddr, true)
	b.haSend(reply)
	if r := b.replyFor(b.mn); r.Code != mip.CodeAccepted || r.ID != id {
		t.Fatalf("protected reply: %s id %d", r.Code, r.ID)
	}
	if s := b.stats(); s.Visitors != 1 || s.Discards.Unprotected != 1 {
		t.Errorf("after the protected reply: %+v", s)
	}
	if got, want := prot.Interfaces(), []int{3, 0, 0}; !slices.Equal(got, want) {
		t.Errorf("Check saw interfaces %v, want %v (the visitor link's for the frame, none from memnet)", got, want)
	}
}

// An agent at the top of a hierarchy drops a lower agent's request that
// came in clear where the lower agent's signalling must come out of ESP:
// nothing goes to the home agent. Out of ESP, it is relayed.
func TestUnprotectedLowerAgentDropped(t *testing.T) {
	prot := securetest.NewFake()
	prot.Require(coa, true)
	prot.Up(coa, true)
	b := newBedWith(t, highestConfig(), prot)
	fa1 := b.peer(coa)

	fromLower := relayedBy(t, hierRequest(t, mip.TimestampID(start), 300, mip.FlagReverseTunnel, nil), coa)
	fa1.send(gfaAddr, fromLower)
	s := b.waitStats("unprotected drop", func(s Stats) bool { return s.Discards.Unprotected == 1 })
	b.haNothing()
	fa1.nothing()
	if s.Requests != 0 || s.Pending != 0 || s.Relayed != 0 {
		t.Errorf("the dropped request was acted on: %+v", s)
	}

	prot.Protect(coa, true)
	registerHighest(t, b, fa1, mip.TimestampID(start)+1, 300)
	if s := b.stats(); s.Relayed != 1 || s.Visitors != 1 || s.Discards.Unprotected != 1 {
		t.Errorf("after the protected request: %+v", s)
	}
}

// A request to relay to a home agent whose SA is not up is held (never
// sent in clear), counted, and stays pending; the mobile's retry, once the
// SA is up, is relayed.
func TestRelayHeldUntilReady(t *testing.T) {
	prot := securetest.NewFake()
	prot.Require(haAddr, true)
	prot.Protect(haAddr, true)
	b := newBedWith(t, testConfig(), prot)

	id := mip.TimestampID(start)
	b.send(b.mn, home, marshal(t, request(home, id, 600, 0)))
	s := b.waitStats("held request", func(s Stats) bool { return s.SendsHeld == 1 })
	b.haNothing()
	if s.Relayed != 0 || s.Pending != 1 || s.Requests != 1 {
		t.Errorf("stats %+v", s)
	}
	if got := counter(t, s, "sends.held"); got != 1 {
		t.Errorf("sends.held = %d, want 1", got)
	}

	prot.Up(haAddr, true)
	b.register(b.mn, home, id+1, 600, 0)
	if s := b.stats(); s.Relayed != 1 || s.SendsHeld != 1 || s.Visitors != 1 {
		t.Errorf("after the retry: %+v", s)
	}
}

// A reply to a mobile whose signalling requires protection is never sent
// as a frame on the visitor link, which ESP does not cover.
func TestFrameToProtectedMobileHeld(t *testing.T) {
	prot := securetest.NewFake()
	b := newBedWith(t, testConfig(), prot)
	id := mip.TimestampID(start)
	b.send(b.mn, home, marshal(t, request(home, id, 600, 0)))
	relayed := b.haRelayed()
	prot.Require(home, true)
	b.haSend(marshal(t, haReply(relayed, mip.CodeAccepted, 600, fhSA)))
	b.waitStats("held reply", func(s Stats) bool { return s.SendsHeld == 1 })
	b.noReply(b.mn)
}

// The upstream socket tells each datagram's arrival interface, and the
// agent hands it to Check: over loopback, a datagram is admitted when the
// protector takes loopback for its ESP device, and dropped otherwise.
func TestUpstreamPassesInterface(t *testing.T) {
	lo, err := loopback()
	if err != nil {
		t.Skipf("no loopback interface: %v", err)
	}
	peerAddr := netip.MustParseAddr("127.0.0.1")
	for _, tt := range []struct {
		name        string
		espIndex    int
		unprotected uint64
	}{
		{"on the ESP device", lo.Index, 0},
		{"elsewhere", lo.Index + 1000, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			prot := securetest.NewFake()
			prot.Require(peerAddr, true)
			prot.SetESPIndex(tt.espIndex)
			up, err := ListenUpstream("127.0.0.1:0", peerAddr, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer up.Close()
			hub := link.NewHub()
			visitor := hub.Attach(link.Info{Name: "eth1", Index: 1 << 20, HWAddr: faMAC})
			defer visitor.Close()
			cfg := testConfig()
			cfg.CareOfAddress = peerAddr
			agent, err := New(Options{Config: cfg, Upstream: up, Links: []Link{{Conn: visitor, Addr: faAddr}},
				Kernel: kernel.NewFake("eth0", "eth1"), Clock: binding.NewManualClock(start), Protector: prot,
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- agent.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			}()

			peer, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(peerAddr, 0)))
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			// A reply that answers nothing: admitted, it is counted as
			// unmatched; dropped, as unprotected.
			r := &mip.Reply{Code: mip.CodeAccepted, Lifetime: 600, Home: home, HomeAgent: haAddr, ID: 7}
			if _, err := peer.WriteTo(marshal(t, r), up.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			var s Stats
			for {
				if s, err = agent.Stats(ctx); err != nil {
					t.Fatal(err)
				}
				if s.Discards.Unprotected+s.Discards.Unmatched > 0 || time.Now().After(deadline) {
					break
				}
				time.Sleep(time.Millisecond)
			}
			if s.Discards.Unprotected != tt.unprotected || s.Discards.Unprotected+s.Discards.Unmatched != 1 {
				t.Errorf("discards %+v, want %d unprotected of 1", s.Discards, tt.unprotected)
			}
			if got := prot.Interfaces(); len(got) != 1 || got[0] != lo.Index {
				t.Errorf("Check saw interfaces %v, want [%d] (loopback)", got, lo.Index)
			}
		})
	}
}

// loopback returns the host's loopback interface.
func loopback() (*net.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback != 0 && ifi.Flags&net.FlagUp != 0 {
			return &ifi, nil
		}
	}
	return nil, errors.New("none up")
}

// The IPsec labels and the IPSEC section are the foreign agent's.
func TestConfigIPsec(t *testing.T) {
	c, err := ParseConfig("dynfad.conf", strings.NewReader(
		"UpstreamInterface eth0\nINTERFACES_BEGIN\neth1\nINTERFACES_END\n"+
			"IPsecLocalID fa1.example.org\nIPsecESP userspace\n"+
			"IPSEC_BEGIN\n10.1.0.1 ha.example.org ha-key\nIPSEC_END\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []secure.PeerEntry{{Peer: secure.PeerPrefix(netip.MustParsePrefix("10.1.0.1/32")), ID: "ha.example.org", PSK: "ha-key", Line: 8}}
	if c.IPsecLocalID != "fa1.example.org" || c.IPsecESP != "userspace" || !c.IPsecMOBIKEX || !slices.Equal(c.Peers, want) {
		t.Errorf("IPsec configuration %+v", c.Config)
	}
}

// A bad IPSEC line is reported with its file, line and section.
func TestConfigIPsecErrors(t *testing.T) {
	base := "UpstreamInterface eth0\nINTERFACES_BEGIN\neth1\nINTERFACES_END\n"
	for _, tt := range []struct{ text, want string }{
		{base + "IPSEC_BEGIN\n10.1.0.1\n10.1.0.1/16\nIPSEC_END\n", "dynfad.conf:7: IPSEC:"},
		{base + "IPSEC_BEGIN\n2001:db8::1\nIPSEC_END\n", "dynfad.conf:6: IPSEC:"},
		// Checked by package secure, placed in the file.
		{base + "IPsecESP kernel\n", "dynfad.conf:5: IPsecESP:"},
		{base + "IPSEC_BEGIN\n10.1.0.1 - key1\n10.1.0.1 - key2\nIPSEC_END\n", "dynfad.conf:7: IPSEC:"},
	} {
		_, err := ParseConfig("dynfad.conf", strings.NewReader(tt.text))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want one containing %q", tt.text, err, tt.want)
		}
		if daemon.ExitCode(err) != 2 {
			t.Errorf("%q: exit code %d, want 2", tt.text, daemon.ExitCode(err))
		}
	}
}

// A reload that changes the IPsec labels or the IPSEC section keeps their
// running values and names them in the restart warning.
func TestReloadIPsecNeedsRestart(t *testing.T) {
	cfg := testConfig()
	cfg.Peers = []secure.PeerEntry{{Peer: secure.PeerPrefix(netip.MustParsePrefix("10.1.0.1/32")), ID: "-", PSK: "-", Line: 3}}
	b := newBed(t, cfg)
	next := cfg
	next.IPsecLocalID = "fa1.example.org"
	next.Peers = nil
	next.MaxVisitors = 5
	err := b.reload(next)
	var rerr *daemon.ReloadError
	if !errors.As(err, &rerr) {
		t.Fatalf("reload error %v, want a *daemon.ReloadError", err)
	}
	if want := []string{"IPsecLocalID", "IPSEC"}; !slices.Equal(rerr.Restart, want) {
		t.Errorf("restart labels %q, want %q", rerr.Restart, want)
	}
	if l := b.logLines(`level=WARN msg="needs a restart: IPsecLocalID, IPSEC"`); len(l) != 1 {
		t.Errorf("restart warning lines %q in\n%s", l, b.logs)
	}
	var running Config
	b.do(func(*State) { running = b.agent.cfg })
	if running.IPsecLocalID != "" || len(running.Peers) != 1 || running.MaxVisitors != 5 {
		t.Errorf("running configuration: ID %q, peers %v, MaxVisitors %d", running.IPsecLocalID, running.Peers, running.MaxVisitors)
	}
}

// The agents a foreign agent brings its IKE SAs up with: its upper agent
// in a hierarchy; the home agents among its IPSEC peers otherwise, which
// at the top of a hierarchy are those with a SECURITY entry (the agents
// below bring up their own).
func TestUpstreamAgents(t *testing.T) {
	entry := func(s string) secure.PeerEntry {
		var p secure.PeerPrefix
		if err := p.UnmarshalText([]byte(s)); err != nil {
			t.Fatal(err)
		}
		return secure.PeerEntry{Peer: p, ID: "-", PSK: "-"}
	}
	ha2 := netip.MustParseAddr("10.1.0.2")
	flat := testConfig()
	flat.Peers = []secure.PeerEntry{entry("10.1.0.1"), entry("10.1.0.2"), entry("10.9.0.0/16")}
	lowest := lowestConfig()
	lowest.Peers = []secure.PeerEntry{entry(fa1Upper.String())}
	highest := highestConfig()
	highest.Peers = []secure.PeerEntry{entry(coa.String()), entry(haAddr.String()), entry(fa2Addr.String())}
	for _, tt := range []struct {
		name string
		cfg  Config
		want []netip.Addr
	}{
		{"flat", flat, []netip.Addr{haAddr, ha2}},
		{"lowest", lowest, []netip.Addr{fa1Upper}},
		{"highest", highest, []netip.Addr{haAddr}},
		{"no IPsec", testConfig(), nil},
	} {
		if got := tt.cfg.UpstreamAgents(); !slices.Equal(got, tt.want) {
			t.Errorf("%s: UpstreamAgents = %v, want %v", tt.name, got, tt.want)
		}
	}
}
