package ha

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/memnet"
	"github.com/dynamics-go/dynamics/libdynamics/binding"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
)

// The test network: the testbed's home agent, its mobile, the foreign
// agents fa1 and fa2, and a co-located care-of address.
var (
	haAddr    = netip.MustParseAddr("10.1.0.1")
	homeNet   = netip.MustParsePrefix("10.1.0.0/24")
	home      = netip.MustParseAddr("10.1.0.10")
	home2     = netip.MustParseAddr("10.1.0.11")
	fa1Addr   = netip.MustParseAddr("10.0.1.2")
	fa2Addr   = netip.MustParseAddr("10.0.2.2")
	colocated = netip.MustParseAddr("10.4.0.10")
	haMAC     = net.HardwareAddr{0x02, 0, 0, 0, 0x4a, 1}
	mnMAC     = net.HardwareAddr{0x02, 0, 0, 0, 0x3e, 10}

	mnSA  = mip.SecurityAssociation{SPI: 1000, Alg: mip.HMACMD5, Key: []byte("mobile-home key!")}
	mn2SA = mip.SecurityAssociation{SPI: 1001, Alg: mip.KeyedMD5PrefixSuffix, Key: []byte("second mobile")}
	fa1SA = mip.SecurityAssociation{SPI: 2001, Alg: mip.HMACMD5, Key: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}}
	fa2SA = mip.SecurityAssociation{SPI: 2002, Alg: mip.HMACMD5, Key: []byte("foreign agent two")}
	start = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
)

// bed is one home agent under test: the test plays the foreign agents and
// mobiles over a memnet, and a host on the home link over a link.Hub.
type bed struct {
	t      *testing.T
	net    *memnet.Network
	agent  *Agent
	kern   *kernel.Fake
	clock  *binding.ManualClock
	hub    *link.Hub
	onLink *link.MemConn // a host on the home link
	fa1    *memnet.Conn
	fa2    *memnet.Conn
	mnHome *memnet.Conn // the mobile at home, 10.1.0.10:434
	mnCo   *memnet.Conn // the mobile at its co-located care-of address
	logs   *logBuffer
	stop   func() error
	nextID uint64
	// sent records, for each datagram the agent sent, where to and how
	// many kernel changes had been made by then.
	sent *sentLog
}

// sentLog is what markConn records.
type sentLog struct {
	mu   sync.Mutex
	list []sentMark
}

type sentMark struct {
	dst net.Addr
	ops int
}

// markConn is the agent's socket, recording each send against the fake
// kernel's change count, so a test can tell what the agent did before and
// after it answered.
type markConn struct {
	net.PacketConn
	kern *kernel.Fake
	log  *sentLog
}

func (c *markConn) WriteTo(b []byte, to net.Addr) (int, error) {
	c.log.mu.Lock()
	c.log.list = append(c.log.list, sentMark{to, c.kern.Changes()})
	c.log.mu.Unlock()
	return c.PacketConn.WriteTo(b, to)
}

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testConfig is the home agent's configuration: two mobiles, both foreign
// agents with security associations, no unsolicited advertisements.
func testConfig() Config {
	c := DefaultConfig()
	c.HAIPAddress = haAddr
	c.HomeNetPrefix = homeNet
	c.HomeInterface = "eth0"
	c.AgentAdvInterval = 0
	c.Authorized = []MobileEntry{
		{Home: home, SPI: mnSA.SPI, Alg: algorithm(mnSA.Alg), Key: mnSA.Key},
		{Home: home2, SPI: mn2SA.SPI, Alg: algorithm(mn2SA.Alg), Key: mn2SA.Key},
	}
	c.Security = []SecurityEntry{
		{Peer: fa1Addr, SPI: fa1SA.SPI, Alg: algorithm(fa1SA.Alg), Key: fa1SA.Key},
		{Peer: fa2Addr, SPI: fa2SA.SPI, Alg: algorithm(fa2SA.Alg), Key: fa2SA.Key},
	}
	return c
}

func listen(t *testing.T, n *memnet.Network, addr netip.Addr) *memnet.Conn {
	t.Helper()
	c, err := n.Listen(netip.AddrPortFrom(addr, 434).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// newBed starts a home agent with cfg and a deterministic random source.
func newBed(t *testing.T, cfg Config) *bed {
	t.Helper()
	return newBedRand(t, cfg, rand.NewChaCha8([32]byte{0xa5, 0x5a}))
}

// newBedRand starts a home agent with cfg and random as Options.Rand.
func newBedRand(t *testing.T, cfg Config, random io.Reader) *bed {
	t.Helper()
	return newBedWith(t, cfg, random, nil)
}

// newBedWith starts a home agent with cfg, random as Options.Rand and prot
// as Options.Protector.
func newBedWith(t *testing.T, cfg Config, random io.Reader, prot secure.Protector) *bed {
	t.Helper()
	n := memnet.New()
	conn, err := n.Listen(netip.AddrPortFrom(haAddr, 434).String())
	if err != nil {
		t.Fatal(err)
	}
	b := &bed{
		t:      t,
		net:    n,
		kern:   kernel.NewFake("eth0"),
		clock:  binding.NewManualClock(start),
		hub:    link.NewHub(),
		fa1:    listen(t, n, fa1Addr),
		fa2:    listen(t, n, fa2Addr),
		mnHome: listen(t, n, home),
		mnCo:   listen(t, n, colocated),
		logs:   &logBuffer{},
		sent:   &sentLog{},
	}
	b.kern.SetSysctl("net/ipv4/ip_forward", "0")
	halink := b.hub.Attach(link.Info{Name: "eth0", Index: 2, HWAddr: haMAC})
	b.onLink = b.hub.Attach(link.Info{Name: "mn0", Index: 2, HWAddr: mnMAC})
	t.Cleanup(func() { b.onLink.Close() })
	log := slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b.agent, err = New(Options{
		Config:    cfg,
		Conn:      &markConn{PacketConn: conn, kern: b.kern, log: b.sent},
		Link:      halink,
		Kernel:    b.kern,
		Clock:     b.clock,
		Logger:    log,
		Rand:      random,
		Protector: prot,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.agent.Run(ctx) }()
	var once sync.Once
	var runErr error
	b.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(5 * time.Second):
				runErr = errors.New("Run did not return")
			}
			halink.Close()
			conn.Close()
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := b.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
		if t.Failed() {
			t.Logf("agent log:\n%s", b.logs)
		}
	})
	b.do(nil)
	return b
}

// do runs fn in the agent's loop.
func (b *bed) do(fn func(*State)) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.agent.Do(ctx, fn); err != nil {
		b.t.Fatalf("Do: %v", err)
	}
}

// advance moves the clock and lets the agent run what fell due.
func (b *bed) advance(d time.Duration) {
	b.clock.Advance(d)
	b.do(nil)
}

func (b *bed) stats() Stats {
	var s Stats
	b.do(func(st *State) { s = st.Stats() })
	return s
}

// waitStats polls the counters until cond holds: for drops, which have no
// answer to wait for.
func (b *bed) waitStats(what string, cond func(Stats) bool) Stats {
	b.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := b.stats()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: never happened; stats %+v", what, s)
		}
		time.Sleep(time.Millisecond)
	}
}

// id returns a fresh timestamp identification at the agent's clock,
// later than every one before.
func (b *bed) id() uint64 {
	b.nextID++
	return mip.TimestampID(b.clock.Now()) + b.nextID
}

// req describes a request a test sends.
type req struct {
	home, ha, coa netip.Addr // zero: home, haAddr, fa1Addr
	lifetime      uint16
	flags         mip.Flags
	id            uint64 // zero: b.id()
	mh            *mip.SecurityAssociation
	support       bool                     // add a Revocation Support extension before the Foreign-Home authenticator
	fh            *mip.SecurityAssociation // nil: no Foreign-Home authenticator
}

// build marshals r as a foreign agent relays it: the Mobile-Home
// authenticator, then the Revocation Support extension and the
// Foreign-Home authenticator when asked for.
func (b *bed) build(r req) *mip.Request {
	b.t.Helper()
	m := &mip.Request{Flags: r.flags, Lifetime: r.lifetime, Home: r.home, HomeAgent: r.ha, CareOf: r.coa, ID: r.id}
	if !m.Home.IsValid() {
		m.Home = home
	}
	if !m.HomeAgent.IsValid() {
		m.HomeAgent = haAddr
	}
	if !m.CareOf.IsValid() {
		m.CareOf = fa1Addr
	}
	if m.ID == 0 {
		m.ID = b.id()
	}
	sa := mnSA
	if r.mh != nil {
		sa = *r.mh
	}
	if err := m.Authenticate(mip.TypeMobileHome, sa); err != nil {
		b.t.Fatal(err)
	}
	if r.support {
		m.Extensions = append(m.Extensions, &mip.RevocationSupport{Flags: mip.AckInform, Timestamp: mip.RevocationTimestamp(b.clock.Now())})
	}
	if r.fh != nil {
		if err := m.Authenticate(mip.TypeForeignHome, *r.fh); err != nil {
			b.t.Fatal(err)
		}
	}
	return m
}

func marshal(t *testing.T, m mip.Message) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// send sends payload from c to the home agent.
func (b *bed) send(c *memnet.Conn, payload []byte) {
	b.t.Helper()
	if _, err := c.WriteTo(payload, net.UDPAddrFromAddrPort(netip.AddrPortFrom(haAddr, 434))); err != nil {
		b.t.Fatal(err)
	}
}

// recv reads the next datagram at c.
func (b *bed) recv(c *memnet.Conn) ([]byte, netip.AddrPort) {
	b.t.Helper()
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, addr, err := c.ReadFrom(buf)
	if err != nil {
		b.t.Fatalf("waiting at %s: %v", c.LocalAddr(), err)
	}
	return append([]byte(nil), buf[:n]...), addr.(*net.UDPAddr).AddrPort()
}

// nothing checks that nothing reaches c for a while.
func (b *bed) nothing(c *memnet.Conn) {
	b.t.Helper()
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, _, err := c.ReadFrom(buf); err == nil {
		b.t.Errorf("%s received %x", c.LocalAddr(), buf[:n])
	}
}

// exchange sends m from c and returns the reply that comes back to c,
// after checking it comes from the home agent's port 434.
func (b *bed) exchange(c *memnet.Conn, m *mip.Request) *mip.Reply {
	b.t.Helper()
	b.send(c, marshal(b.t, m))
	return b.replyAt(c)
}

func (b *bed) replyAt(c *memnet.Conn) *mip.Reply {
	b.t.Helper()
	raw, from := b.recv(c)
	if from != netip.AddrPortFrom(haAddr, 434) {
		b.t.Errorf("reply from %s, want %s:434", from, haAddr)
	}
	r, err := mip.ParseReply(raw)
	if err != nil {
		b.t.Fatalf("reply: %v", err)
	}
	return r
}

// register takes the mobile through an accepted registration via fa1 (with
// revocation support) and returns the reply.
func (b *bed) register(r req) *mip.Reply {
	b.t.Helper()
	if r.lifetime == 0 {
		r.lifetime = 600
	}
	conn := b.fa1
	switch {
	case r.coa == fa2Addr:
		conn = b.fa2
		if r.fh == nil {
			r.fh, r.support = &fa2SA, true
		}
	case !r.coa.IsValid() || r.coa == fa1Addr:
		if r.fh == nil {
			r.fh, r.support = &fa1SA, true
		}
	}
	rep := b.exchange(conn, b.build(r))
	if !rep.Code.Accepted() {
		b.t.Fatalf("registration: reply %s", rep.Code)
	}
	return rep
}

// verifyReply checks the reply's Mobile-Home authenticator (and the
// Foreign-Home one when fh is given).
func verifyReply(t *testing.T, r *mip.Reply, mh mip.SecurityAssociation, fh *mip.SecurityAssociation) {
	t.Helper()
	if err := mip.VerifyReply(r.Raw(), mip.TypeMobileHome, mh); err != nil {
		t.Errorf("reply Mobile-Home: %v", err)
	}
	if fh != nil {
		if err := mip.VerifyReply(r.Raw(), mip.TypeForeignHome, *fh); err != nil {
			t.Errorf("reply Foreign-Home: %v", err)
		}
	}
}

// bindingEntries are the kernel entries of home's binding through tunnel
// dev to coa.
func bindingEntries(h netip.Addr, dev string, coa netip.Addr) []kernel.Entry {
	return []kernel.Entry{
		kernel.Tunnel{Name: dev, Local: haAddr, Remote: coa},
		kernel.Route{Dst: netip.PrefixFrom(h, 32), Dev: dev},
		kernel.ProxyARP{IP: h, Dev: "eth0"},
	}
}

// has checks that every entry is in the kernel.
func (b *bed) has(entries ...kernel.Entry) {
	b.t.Helper()
	for _, e := range entries {
		if !b.kern.Has(e) {
			b.t.Errorf("kernel lacks %s; it holds\n%s", e, b.kern.Render())
		}
	}
}

// onlyBase checks that the kernel holds nothing but the agent's sysctls.
func (b *bed) onlyBase() {
	b.t.Helper()
	for _, e := range b.kern.Entries() {
		if e.Kind() != kernel.KindSysctl {
			b.t.Errorf("kernel still holds %s", e)
		}
	}
}
