package ha

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/binding"
	"github.com/dynamics-go/dynamics/libdynamics/daemon"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
	"github.com/dynamics-go/dynamics/libdynamics/secure/securetest"
)

func newProtectedBed(t *testing.T, prot *securetest.Fake) *bed {
	t.Helper()
	return newBedWith(t, testConfig(), rand.NewChaCha8([32]byte{0xa5, 0x5a}), prot)
}

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

// A request from a foreign agent that must talk to the home agent inside
// ESP, arriving in clear, is dropped and counted: no binding, no reply, no
// kernel change. The same request out of ESP is served.
func TestUnprotectedRequestDropped(t *testing.T) {
	prot := securetest.NewFake()
	prot.Require(fa1Addr, true)
	b := newProtectedBed(t, prot)

	m := b.build(req{lifetime: 600, fh: &fa1SA, support: true})
	b.send(b.fa1, marshal(t, m))
	s := b.waitStats("unprotected drop", func(s Stats) bool { return s.Discards.Unprotected == 1 })
	b.nothing(b.fa1)
	if s.Requests != 0 || s.Bindings != 0 || s.Replies != 0 {
		t.Errorf("the dropped request was acted on: %+v", s)
	}
	if got := counter(t, b.stats(), "discards.unprotected"); got != 1 {
		t.Errorf("discards.unprotected = %d, want 1", got)
	}
	b.onlyBase()
	if l := b.logs.String(); !strings.Contains(l, "registration message dropped: not protected") || !strings.Contains(l, "src="+fa1Addr.String()) {
		t.Errorf("no debug line naming the source in\n%s", l)
	}

	prot.Protect(fa1Addr, true)
	prot.Up(fa1Addr, true)
	rep := b.exchange(b.fa1, b.build(req{lifetime: 600, fh: &fa1SA, support: true}))
	if !rep.Code.Accepted() {
		t.Fatalf("protected request: reply %s", rep.Code)
	}
	b.has(bindingEntries(home, "dynha1", fa1Addr)...)
	if s := b.stats(); s.Discards.Unprotected != 1 || s.Accepted != 1 {
		t.Errorf("after the protected request: %+v", s)
	}
}

// A protected mobile (its home address is an IPsec peer) registers only
// inside ESP: through a foreign agent that is not protected, from its
// co-located address in clear, or with a malformed request, it is dropped;
// through a protected foreign agent it is served.
func TestProtectedMobileNeedsProtectedPath(t *testing.T) {
	prot := securetest.NewFake()
	prot.Require(home, true)
	b := newProtectedBed(t, prot)

	b.send(b.fa1, marshal(t, b.build(req{lifetime: 600, fh: &fa1SA})))
	b.send(b.mnCo, marshal(t, b.build(req{lifetime: 600, coa: colocated, flags: mip.FlagDecapsulation})))
	poor := marshal(t, b.build(req{lifetime: 600}))
	poor = append(poor, 32, 9, 1) // an extension longer than the message
	b.send(b.fa1, poor)
	s := b.waitStats("three unprotected drops", func(s Stats) bool { return s.Discards.Unprotected == 3 })
	b.nothing(b.fa1)
	b.nothing(b.mnCo)
	if s.Requests != 0 || s.Bindings != 0 || s.Discards.Malformed != 0 {
		t.Errorf("dropped requests were acted on: %+v", s)
	}
	b.onlyBase()

	// The foreign agent's signalling comes out of ESP now.
	prot.Protect(fa1Addr, true)
	rep := b.exchange(b.fa1, b.build(req{lifetime: 600, fh: &fa1SA}))
	if !rep.Code.Accepted() {
		t.Fatalf("through a protected foreign agent: reply %s", rep.Code)
	}
	if s := b.stats(); s.Bindings != 1 || s.Discards.Unprotected != 3 {
		t.Errorf("after the protected request: %+v", s)
	}
}

// A reply to a peer whose SA is not up is held, never sent in clear, and
// counted; the mobile's retry, once the SA is up, is answered.
func TestReplyHeldUntilReady(t *testing.T) {
	prot := securetest.NewFake()
	prot.Require(fa1Addr, true)
	prot.Protect(fa1Addr, true)
	b := newProtectedBed(t, prot)

	b.send(b.fa1, marshal(t, b.build(req{lifetime: 600, fh: &fa1SA})))
	s := b.waitStats("held reply", func(s Stats) bool { return s.SendsHeld == 1 })
	b.nothing(b.fa1)
	if s.Replies != 0 || s.Requests != 1 {
		t.Errorf("stats %+v", s)
	}
	if got := counter(t, s, "sends.held"); got != 1 {
		t.Errorf("sends.held = %d, want 1", got)
	}

	prot.Up(fa1Addr, true)
	rep := b.exchange(b.fa1, b.build(req{lifetime: 600, fh: &fa1SA}))
	if !rep.Code.Accepted() {
		t.Fatalf("retry: reply %s", rep.Code)
	}
	if s := b.stats(); s.Replies != 1 || s.SendsHeld != 1 || s.Bindings != 1 {
		t.Errorf("after the retry: %+v", s)
	}
}

// A revocation to a foreign agent whose SA is down is held; its
// retransmission goes out once the SA is up.
func TestRevocationHeldUntilReady(t *testing.T) {
	prot := securetest.NewFake()
	b := newProtectedBed(t, prot)
	b.register(req{support: true})
	// fa1's SA goes; the mobile moves to fa2, and the home agent revokes
	// the binding at fa1.
	prot.Require(fa1Addr, true)
	b.register(req{coa: fa2Addr, support: true})
	b.waitStats("held revocation", func(s Stats) bool { return s.SendsHeld == 1 })
	b.nothing(b.fa1)

	prot.Up(fa1Addr, true)
	b.advance(RevocationInterval)
	raw, _ := b.recv(b.fa1)
	if _, err := mip.ParseRevocation(raw); err != nil {
		t.Fatalf("retransmitted revocation: %v", err)
	}
}

// The batched reader tells Check the interface each datagram arrived on:
// over loopback, a request is admitted when the protector takes loopback
// for its ESP device, and dropped otherwise.
func TestBatchedReaderPassesInterface(t *testing.T) {
	lo, err := loopback()
	if err != nil {
		t.Skipf("no loopback interface: %v", err)
	}
	for _, tt := range []struct {
		name     string
		espIndex int
		answered bool
	}{
		{"on the ESP device", lo.Index, true},
		{"elsewhere", lo.Index + 1000, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			prot := securetest.NewFake()
			client := netip.MustParseAddr("127.0.0.1")
			prot.Require(client, true)
			prot.Up(client, true)
			prot.SetESPIndex(tt.espIndex)
			conn, err := ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			agent, err := New(Options{Config: testConfig(), Conn: conn, Kernel: kernel.NewFake("eth0"),
				Clock: binding.NewManualClock(start), Protector: prot,
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

			c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(client, 0)))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			m := &mip.Request{Lifetime: 600, Home: home, HomeAgent: haAddr, CareOf: client, ID: mip.TimestampID(start),
				Flags: mip.FlagDecapsulation}
			if err := m.Authenticate(mip.TypeMobileHome, mnSA); err != nil {
				t.Fatal(err)
			}
			if _, err := c.WriteTo(marshal(t, m), conn.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 2048)
			_ = c.SetReadDeadline(time.Now().Add(map[bool]time.Duration{true: 5 * time.Second, false: 200 * time.Millisecond}[tt.answered]))
			n, _, err := c.ReadFrom(buf)
			switch {
			case tt.answered && err != nil:
				t.Fatalf("no reply: %v", err)
			case !tt.answered && err == nil:
				t.Fatalf("reply %x to a dropped request", buf[:n])
			case !tt.answered && !errors.Is(err, os.ErrDeadlineExceeded):
				t.Fatalf("read: %v", err)
			}
			if got := prot.Interfaces(); len(got) != 1 || got[0] != lo.Index {
				t.Errorf("Check saw interfaces %v, want [%d] (loopback)", got, lo.Index)
			}
			s, err := agent.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]uint64{true: 0, false: 1}[tt.answered]; s.Discards.Unprotected != want {
				t.Errorf("discards.unprotected = %d, want %d", s.Discards.Unprotected, want)
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

// The IPsec labels and the IPSEC section are the home agent's.
func TestConfigIPsec(t *testing.T) {
	c, err := ParseConfig("dynhad.conf", strings.NewReader(
		"HAIPAddress 10.1.0.1\nHomeNetPrefix 10.1.0.0/24\nHomeInterface eth0\n"+
			"IPsecLocalID ha.example.org\nIPsecPSK shared\nIPsecMOBIKEX no\nIPsecDevice esp7\n"+
			"IPSEC_BEGIN\n10.0.1.2 fa1.example.org fa1-key\n10.1.0.10\n10.4.0.0/16 - -\nIPSEC_END\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.IPsecLocalID != "ha.example.org" || c.IPsecPSK != "shared" || c.IPsecMOBIKEX || c.IPsecDevice != "esp7" ||
		c.IPsecESP != "auto" || !c.Config.Enabled() {
		t.Errorf("IPsec labels %+v", c.Config)
	}
	want := []secure.PeerEntry{
		{Peer: secure.PeerPrefix(netip.MustParsePrefix("10.0.1.2/32")), ID: "fa1.example.org", PSK: "fa1-key", Line: 9},
		{Peer: secure.PeerPrefix(netip.MustParsePrefix("10.1.0.10/32")), ID: "-", PSK: "-", Line: 10},
		{Peer: secure.PeerPrefix(netip.MustParsePrefix("10.4.0.0/16")), ID: "-", PSK: "-", Line: 11},
	}
	if !slices.Equal(c.Peers, want) {
		t.Errorf("IPSEC %+v, want %+v", c.Peers, want)
	}
	d, err := ParseConfig("dynhad.conf", strings.NewReader("HAIPAddress 10.1.0.1\nHomeNetPrefix 10.1.0.0/24\nHomeInterface eth0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if def := DefaultConfig(); d.Config.Enabled() || !d.IPsecMOBIKEX || d.IPsecESP != def.IPsecESP || d.IPsecDevice != def.IPsecDevice {
		t.Errorf("IPsec defaults %+v, DefaultConfig %+v", d.Config, def.Config)
	}
}

// A bad IPSEC line is reported with its file, line and section.
func TestConfigIPsecErrors(t *testing.T) {
	base := "HAIPAddress 10.1.0.1\nHomeNetPrefix 10.1.0.0/24\nHomeInterface eth0\n"
	for _, tt := range []struct{ text, want string }{
		{base + "IPSEC_BEGIN\n10.0.1.2\n10.0.1.0/16 - -\nIPSEC_END\n", "dynhad.conf:6: IPSEC:"},
		{base + "IPSEC_BEGIN\nfa1.example.org\nIPSEC_END\n", "dynhad.conf:5: IPSEC:"},
		{base + "IPsecMOBIKEX perhaps\n", "dynhad.conf:4: IPsecMOBIKEX:"},
		// Checked by package secure, placed in the file.
		{base + "IPsecESP kernel\n", "dynhad.conf:4: IPsecESP:"},
		{base + "IPSEC_BEGIN\n10.0.1.2 - key1\n10.0.1.2 - key2\nIPSEC_END\n", "dynhad.conf:6: IPSEC:"},
	} {
		_, err := ParseConfig("dynhad.conf", strings.NewReader(tt.text))
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
	cfg.IPsecPSK = "old"
	cfg.Peers = []secure.PeerEntry{{Peer: secure.PeerPrefix(netip.MustParsePrefix("10.0.1.2/32")), ID: "-", PSK: "-", Line: 3}}
	b := newBed(t, cfg)
	next := cfg
	next.IPsecPSK = "new"
	next.Peers = append([]secure.PeerEntry{{Peer: secure.PeerPrefix(netip.MustParsePrefix("10.0.1.2/32")), ID: "-", PSK: "-", Line: 7}},
		secure.PeerEntry{Peer: secure.PeerPrefix(netip.MustParsePrefix("10.0.2.2/32")), ID: "-", PSK: "-", Line: 8})
	next.MaxBindings = 5
	err := b.reload(next)
	var rerr *daemon.ReloadError
	if !errors.As(err, &rerr) {
		t.Fatalf("reload error %v, want a *daemon.ReloadError", err)
	}
	if want := []string{"IPsecPSK", "IPSEC"}; !slices.Equal(rerr.Restart, want) {
		t.Errorf("restart labels %q, want %q", rerr.Restart, want)
	}
	if l := b.logLines(`level=WARN msg="needs a restart: IPsecPSK, IPSEC"`); len(l) != 1 {
		t.Errorf("restart warning lines %q in\n%s", l, b.logs)
	}
	var running Config
	b.do(func(*State) { running = b.agent.cfg })
	if running.IPsecPSK != "old" || len(running.Peers) != 1 || running.MaxBindings != 5 {
		t.Errorf("running configuration: PSK %q, peers %v, MaxBindings %d", running.IPsecPSK, running.Peers, running.MaxBindings)
	}
	// Only the line numbers moved: nothing to restart for.
	same := cfg
	same.IPsecPSK = "old"
	same.MaxBindings = 5
	same.Peers = []secure.PeerEntry{{Peer: secure.PeerPrefix(netip.MustParsePrefix("10.0.1.2/32")), ID: "-", PSK: "-", Line: 9}}
	if err := b.reload(same); err != nil {
		t.Errorf("reload with the same IPsec settings: %v", err)
	}
}
