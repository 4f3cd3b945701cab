package systest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/fa"
	"github.com/dynamics-go/dynamics/ha"
	"github.com/dynamics-go/dynamics/internal/memnet"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/sessionkey"
	"github.com/dynamics-go/dynamics/mn"
)

// The hierarchical testbed's upstream addresses: gfa 10.0.0.2 toward the
// home agent, 10.0.1.1 toward fa1 (10.0.1.2) and 10.0.2.1 toward fa2
// (10.0.2.2).
var (
	gfaAddr  = netip.MustParseAddr("10.0.0.2")
	fa1Upper = netip.MustParseAddr("10.0.1.1")
	fa2Upper = netip.MustParseAddr("10.0.2.1")
)

const gfaKey = "2122232425262728292a2b2c2d2e2f30"

func hierHAConfig() string {
	return fmt.Sprintf(`HAIPAddress %s
HomeNetPrefix 10.1.0.0/24
HomeInterface eth0
AgentAdvInterval 100ms
AUTHORIZEDLIST_BEGIN
%s 1000 hmac-md5 %s
AUTHORIZEDLIST_END
SECURITY_BEGIN
%s 2001 hmac-md5 %s
%s 2002 hmac-md5 %s
%s 2003 hmac-md5 %s
SECURITY_END
`, haAddr, homeAddr, mnKey, fa1CoA, fa1Key, fa2CoA, fa2Key, gfaAddr, gfaKey)
}

// hierFAConfig is a foreign agent's configuration in the hierarchy: upper
// agent upper (none for gfa), highest gfa, the key pair in dir, visitor
// interface eth1 unless it is gfa.
func hierFAConfig(dir, name string, coa, upper netip.Addr, spi int, key string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "UpstreamInterface eth0\nCareOfAddress %s\nAgentAdvInterval 100ms\n", coa)
	if upper.IsValid() {
		fmt.Fprintf(&b, "UpperFAIPAddress %s\nINTERFACES_BEGIN\neth1\nINTERFACES_END\n", upper)
	}
	fmt.Fprintf(&b, "HighestFAIPAddress %s\n", gfaAddr)
	fmt.Fprintf(&b, "PrivateKeyFile %s\nPublicKeyFile %s\n", filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub"))
	fmt.Fprintf(&b, "SECURITY_BEGIN\n%s %d hmac-md5 %s\nSECURITY_END\n", haAddr, spi, key)
	return b.String()
}

// writeKeyPair writes a fresh RSA key pair for name into dir, as dynkeygen
// does.
func writeKeyPair(t *testing.T, dir, name string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, sessionkey.MinBits)
	if err != nil {
		t.Fatal(err)
	}
	if err := sessionkey.WritePrivateKey(filepath.Join(dir, name+".key"), k, false); err != nil {
		t.Fatal(err)
	}
	if err := sessionkey.WritePublicKey(filepath.Join(dir, name+".pub"), &k.PublicKey, false); err != nil {
		t.Fatal(err)
	}
}

// hierWorld is the hierarchical in-process testbed: the home agent, gfa
// over fa1 and fa2, and the mobile.
type hierWorld struct {
	*world
	gfa  *fa.Agent
	gfaK *kernel.Fake
}

func newHierWorld(t *testing.T) *hierWorld {
	w := &hierWorld{
		world: &world{t: t, net: memnet.New(), home: link.NewHub(), vis1: link.NewHub(), vis2: link.NewHub(),
			haK: kernel.NewFake(), fa1K: kernel.NewFake(), fa2K: kernel.NewFake(), mnK: kernel.NewFake()},
		gfaK: kernel.NewFake(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel

	haCfg, err := ha.ParseConfig("dynhad.conf", strings.NewReader(hierHAConfig()))
	if err != nil {
		t.Fatal(err)
	}
	haLink := w.home.Attach(link.Info{Name: "eth0", HWAddr: net.HardwareAddr{2, 0, 0, 0, 1, 1}})
	w.ha, err = ha.New(ha.Options{Config: haCfg, Conn: w.listen(haAddr.String() + ":434"), Link: haLink,
		Kernel: w.haK, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	w.run("ha", w.ha.Run, ctx)

	dir := t.TempDir()
	newFA := func(name string, coa, upper netip.Addr, spi int, key string, up net.PacketConn, links []fa.Link, k *kernel.Fake) *fa.Agent {
		writeKeyPair(t, dir, name)
		cfg, err := fa.ParseConfig("dynfad-"+name+".conf", strings.NewReader(hierFAConfig(dir, name, coa, upper, spi, key)))
		if err != nil {
			t.Fatal(err)
		}
		priv, err := fa.LoadKeys(cfg)
		if err != nil {
			t.Fatal(err)
		}
		a, err := fa.New(fa.Options{Config: cfg, Upstream: up, Links: links, Key: priv, Kernel: k, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		w.run(name, a.Run, ctx)
		return a
	}
	gfaUp := newMultiConn(map[netip.Addr]*memnet.Conn{
		gfaAddr:  w.listen(gfaAddr.String() + ":434"),
		fa1Upper: w.listen(fa1Upper.String() + ":434"),
		fa2Upper: w.listen(fa2Upper.String() + ":434"),
	}, gfaAddr)
	t.Cleanup(func() { gfaUp.Close() })
	w.gfa = newFA("gfa", gfaAddr, netip.Addr{}, 2003, gfaKey, gfaUp, nil, w.gfaK)
	visLink := func(hub *link.Hub, hw byte, vis netip.Prefix) []fa.Link {
		return []fa.Link{{Conn: hub.Attach(link.Info{Name: "eth1", HWAddr: net.HardwareAddr{2, 0, 0, 0, 2, hw}}), Addr: vis}}
	}
	w.fa1 = newFA("fa1", fa1CoA, fa1Upper, 2001, fa1Key, w.listen(fa1CoA.String()+":434"), visLink(w.vis1, 1, fa1Vis), w.fa1K)
	w.fa2 = newFA("fa2", fa2CoA, fa2Upper, 2002, fa2Key, w.listen(fa2CoA.String()+":434"), visLink(w.vis2, 2, fa2Vis), w.fa2K)

	mnCfg, err := mn.ParseConfig("dynmnd.conf", strings.NewReader(mnConfig()))
	if err != nil {
		t.Fatal(err)
	}
	w.mnLink = w.home.Attach(link.Info{Name: "eth0", HWAddr: mnHW})
	relays := map[netip.Addr]*memnet.Conn{
		fa1Vis.Addr(): w.listen(fa1Vis.Addr().String() + ":434"),
		fa2Vis.Addr(): w.listen(fa2Vis.Addr().String() + ":434"),
	}
	w.mobile, err = mn.New(mn.Options{Config: mnCfg, Link: &kernelDelivery{Conn: w.mnLink, home: homeAddr, relays: relays},
		UDP: w.listen(homeAddr.String() + ":434"), Kernel: w.mnK, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	w.run("mn", w.mobile.Run, ctx)

	// Registered last, run first: the agents stop before their sockets
	// close.
	t.Cleanup(func() {
		cancel()
		w.wg.Wait()
		for _, err := range w.errs {
			t.Error(err)
		}
	})
	return w
}

func (w *hierWorld) haStats() ha.Stats {
	s, err := w.ha.Stats(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

func (w *hierWorld) haBinding() (ha.Binding, bool) {
	var b ha.Binding
	var ok bool
	if err := w.ha.Do(context.Background(), func(s *ha.State) { b, ok = s.Binding(homeAddr) }); err != nil {
		w.t.Fatal(err)
	}
	return b, ok
}

func faVisitor(t *testing.T, a *fa.Agent) (fa.Visitor, bool) {
	var v fa.Visitor
	var ok bool
	if err := a.Do(context.Background(), func(s *fa.State) { v, ok = s.Visitor(homeAddr) }); err != nil {
		t.Fatal(err)
	}
	return v, ok
}

func faStats(t *testing.T, a *fa.Agent) fa.Stats {
	s, err := a.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (w *hierWorld) mnStats() mn.Stats {
	s, err := w.mobile.Stats(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// TestRoamHierarchy: the first registration through fa1 climbs fa1 -> gfa
// -> home agent and gives every agent and the mobile one session key; the
// move to fa2 is answered by gfa (the home agent hears nothing); a forged
// MN-GFA authenticator is denied with 67 and changes nothing.
func TestRoamHierarchy(t *testing.T) {
	w := newHierWorld(t)
	waitFor(t, "the mobile to find itself at home", func() bool { return w.mnStatus().Location == "home" })

	// The first registration reaches the home agent.
	w.mnLink.Move(w.vis1)
	waitFor(t, "registration through fa1", func() bool {
		st := w.mnStatus()
		return st.State == mn.StateRegistered && st.Agent == fa1Vis.Addr()
	})
	st := w.mnStatus()
	if st.CareOf != gfaAddr {
		t.Fatalf("care-of address %s, want the highest agent's %s", st.CareOf, gfaAddr)
	}
	if want := []netip.Addr{fa1CoA, fa1Upper, gfaAddr}; fmt.Sprint(st.FAPath) != fmt.Sprint(want) {
		t.Errorf("FA path %v, want %v", st.FAPath, want)
	}
	hs := w.haStats()
	if hs.Accepted != 1 || hs.SessionKeys != 1 || hs.FASessionKeys != 2 || hs.FAKeysRejected != 0 {
		t.Errorf("home agent: %d accepted, %d session keys, %d for agents, %d keys rejected; want 1, 1, 2, 0",
			hs.Accepted, hs.SessionKeys, hs.FASessionKeys, hs.FAKeysRejected)
	}
	hb, ok := w.haBinding()
	if !ok || hb.CareOf != gfaAddr || hb.SessionSPI == 0 || hb.Sender.Addr() != gfaAddr {
		t.Fatalf("home agent binding %+v, %v; want care-of %s from gfa with a session", hb, ok, gfaAddr)
	}
	if st.SessionSPI != hb.SessionSPI {
		t.Errorf("the mobile's session SPI %d, the home agent's %d", st.SessionSPI, hb.SessionSPI)
	}
	var key [16]byte
	for _, a := range []struct {
		name string
		a    *fa.Agent
	}{{"gfa", w.gfa}, {"fa1", w.fa1}} {
		var v fa.Visitor
		waitFor(t, a.name+" to confirm the binding", func() bool {
			v, ok = faVisitor(t, a.a)
			return ok && v.Confirmed
		})
		if !v.HasKey || v.SPI != hb.SessionSPI {
			t.Errorf("%s: session key %v under SPI %d, want the home agent's SPI %d", a.name, v.HasKey, v.SPI, hb.SessionSPI)
		}
		if key == ([16]byte{}) {
			key = v.Key
		} else if v.Key != key {
			t.Errorf("%s holds another session key than gfa", a.name)
		}
	}

	// The move to fa2 is a local one: gfa answers, the home agent hears
	// nothing.
	before := w.haStats()
	w.mnLink.Move(w.vis2)
	waitFor(t, "registration through fa2", func() bool {
		st := w.mnStatus()
		return st.State == mn.StateRegistered && st.Agent == fa2Vis.Addr()
	})
	if ms := w.mnStats(); ms.LocalRequests < 1 || ms.LocalAccepted != 1 {
		t.Errorf("mobile: %d local requests, %d accepted; want the move answered locally", ms.LocalRequests, ms.LocalAccepted)
	}
	if gs := faStats(t, w.gfa); gs.LocalReplies != 1 {
		t.Errorf("gfa answered %d local registrations, want 1", gs.LocalReplies)
	}
	waitFor(t, "fa2 to confirm the binding with the session key", func() bool {
		v, ok := faVisitor(t, w.fa2)
		return ok && v.Confirmed && v.HasKey && v.Key == key && v.SPI == hb.SessionSPI
	})
	waitFor(t, "gfa to revoke fa1's binding", func() bool { _, ok := faVisitor(t, w.fa1); return !ok })
	after := w.haStats()
	if after.Requests != before.Requests || after.Accepted != before.Accepted || after.SessionKeys != before.SessionKeys {
		t.Errorf("the home agent heard the local move: requests %d -> %d, accepted %d -> %d",
			before.Requests, after.Requests, before.Accepted, after.Accepted)
	}
	if hb2, _ := w.haBinding(); hb2.CareOf != gfaAddr || hb2.ID != hb.ID {
		t.Errorf("the home agent's binding changed: %+v", hb2)
	}
	gv, _ := faVisitor(t, w.gfa)
	if gv.Down.Agent.Addr() != fa2CoA {
		t.Errorf("gfa's way down is %s, want fa2", gv.Down)
	}

	// A forged MN-GFA authenticator (the right SPI, the wrong key) sent
	// on fa1's link is denied with 67 and changes nothing.
	forger := w.vis1.Attach(link.Info{Name: "eth0", HWAddr: net.HardwareAddr{2, 0, 0, 0, 0x66, 0x66}})
	t.Cleanup(func() { forger.Close() })
	gsBefore := faStats(t, w.gfa)
	req := &mip.Request{Flags: mip.FlagReverseTunnel, Lifetime: 60, Home: homeAddr, HomeAgent: haAddr, CareOf: gfaAddr,
		ID: mip.TimestampID(time.Now().Add(time.Second))}
	forged := mip.SecurityAssociation{SPI: hb.SessionSPI, Alg: mip.HMACMD5, Key: []byte("not the session key")}
	if err := req.Authenticate(mip.TypeGeneralizedAuth, forged); err != nil {
		t.Fatal(err)
	}
	if err := req.Authenticate(mip.TypeMobileHome, mip.SecurityAssociation{SPI: 1000, Key: []byte("guessed")}); err != nil {
		t.Fatal(err)
	}
	payload, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	pkt := link.AppendUDP(nil, netip.AddrPortFrom(homeAddr, 434), netip.AddrPortFrom(fa1Vis.Addr(), 434), 64, payload)
	if err := forger.WriteFrame(pkt, net.HardwareAddr{2, 0, 0, 0, 2, 1}); err != nil {
		t.Fatal(err)
	}
	rep := readReply(t, forger)
	if rep.Code != mip.CodeFAMobileAuthFailed || rep.ID != req.ID {
		t.Errorf("forged request answered %s (id %x), want %s", rep.Code, rep.ID, mip.CodeFAMobileAuthFailed)
	}
	if gs := faStats(t, w.gfa); gs.LocalReplies != gsBefore.LocalReplies || gs.Denied[mip.CodeFAMobileAuthFailed] != gsBefore.Denied[mip.CodeFAMobileAuthFailed]+1 {
		t.Errorf("gfa: %d local replies, %d denials with 67; want %d and %d", gs.LocalReplies,
			gs.Denied[mip.CodeFAMobileAuthFailed], gsBefore.LocalReplies, gsBefore.Denied[mip.CodeFAMobileAuthFailed]+1)
	}
	if gv2, _ := faVisitor(t, w.gfa); gv2.Down.Agent.Addr() != fa2CoA || gv2.ID != gv.ID {
		t.Errorf("gfa's binding changed after the forged request: %+v", gv2)
	}
	if v, ok := faVisitor(t, w.fa2); !ok || !v.Confirmed {
		t.Error("fa2 lost the mobile after the forged request")
	}
	if v, ok := faVisitor(t, w.fa1); ok && v.Confirmed {
		t.Error("fa1 holds a confirmed binding after the forged request")
	}
	if st := w.mnStatus(); st.State != mn.StateRegistered || st.Agent != fa2Vis.Addr() {
		t.Errorf("mobile %+v, want still registered through fa2", st)
	}
	if a := w.haStats(); a.Requests != after.Requests {
		t.Errorf("the forged request reached the home agent (%d requests, was %d)", a.Requests, after.Requests)
	}
}

// readReply reads frames at c until a Registration Reply arrives.
func readReply(t *testing.T, c *link.MemConn) *mip.Reply {
	t.Helper()
	buf := make([]byte, 1<<16)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_ = c.SetReadDeadline(deadline)
		n, _, err := c.ReadFrame(buf)
		if err != nil {
			t.Fatalf("waiting for a reply: %v", err)
		}
		u, err := link.ParseUDP(buf[:n])
		if err != nil || u.Dst.Port() != 434 || len(u.Payload) == 0 || u.Payload[0] != byte(mip.MessageReply) {
			continue
		}
		r, err := mip.ParseReply(u.Payload)
		if err != nil {
			t.Fatalf("reply: %v", err)
		}
		return r
	}
}

// multiConn is gfa's upstream socket: one memnet conn per address of the
// agent (toward the home agent, fa1 and fa2), read as one socket that
// tells each datagram's destination and writes from a chosen address, as
// fa.UpstreamConn does with IP_PKTINFO.
type multiConn struct {
	conns map[netip.Addr]*memnet.Conn
	def   *memnet.Conn
	in    chan datagram
	done  chan struct{}
	once  sync.Once

	mu       sync.Mutex
	deadline time.Time
	wake     chan struct{} // closed when the deadline changes
}

type datagram struct {
	b        []byte
	src, dst netip.AddrPort
}

func newMultiConn(conns map[netip.Addr]*memnet.Conn, def netip.Addr) *multiConn {
	m := &multiConn{conns: conns, def: conns[def], in: make(chan datagram, 64), done: make(chan struct{}),
		wake: make(chan struct{})}
	for addr, c := range conns {
		go func() {
			buf := make([]byte, 1<<16)
			for {
				n, src, err := c.ReadFrom(buf)
				if err != nil {
					return
				}
				d := datagram{b: append([]byte(nil), buf[:n]...), src: src.(*net.UDPAddr).AddrPort(),
					dst: netip.AddrPortFrom(addr, 434)}
				select {
				case m.in <- d:
				case <-m.done:
					return
				}
			}
		}()
	}
	return m
}

// ReadFromDst returns the next datagram with its source and the agent's
// address it was sent to.
func (m *multiConn) ReadFromDst(b []byte) (int, netip.AddrPort, netip.Addr, error) {
	for {
		m.mu.Lock()
		d, wake := m.deadline, m.wake
		m.mu.Unlock()
		var (
			timeout <-chan time.Time
			tm      *time.Timer
		)
		if !d.IsZero() {
			left := time.Until(d)
			if left <= 0 {
				return 0, netip.AddrPort{}, netip.Addr{}, os.ErrDeadlineExceeded
			}
			tm = time.NewTimer(left)
			timeout = tm.C
		}
		var (
			p   datagram
			got bool
			err error
		)
		select {
		case p = <-m.in:
			got = true
		case <-timeout:
			err = os.ErrDeadlineExceeded
		case <-wake:
		case <-m.done:
			err = net.ErrClosed
		}
		if tm != nil {
			tm.Stop()
		}
		switch {
		case got:
			return copy(b, p.b), p.src, p.dst.Addr(), nil
		case err != nil:
			return 0, netip.AddrPort{}, netip.Addr{}, err
		}
	}
}

func (m *multiConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, src, _, err := m.ReadFromDst(b)
	if err != nil {
		return 0, nil, err
	}
	return n, net.UDPAddrFromAddrPort(src), nil
}

// WriteToFrom sends b to dst from the agent's address src.
func (m *multiConn) WriteToFrom(b []byte, src netip.Addr, dst netip.AddrPort) (int, error) {
	c := m.conns[src]
	if c == nil {
		return 0, fmt.Errorf("multiConn: %s is not one of the agent's addresses", src)
	}
	return c.WriteTo(b, net.UDPAddrFromAddrPort(dst))
}

func (m *multiConn) WriteTo(b []byte, addr net.Addr) (int, error) { return m.def.WriteTo(b, addr) }

func (m *multiConn) Close() error {
	m.once.Do(func() {
		close(m.done)
		for _, c := range m.conns {
			c.Close()
		}
	})
	return nil
}

func (m *multiConn) LocalAddr() net.Addr { return m.def.LocalAddr() }

func (m *multiConn) SetDeadline(t time.Time) error { return m.SetReadDeadline(t) }

func (m *multiConn) SetReadDeadline(t time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deadline = t
	close(m.wake)
	m.wake = make(chan struct{})
	return nil
}

func (m *multiConn) SetWriteDeadline(time.Time) error { return nil }

var _ net.PacketConn = (*multiConn)(nil)
