package fa

import (
	"bytes"
	"context"
	"crypto/rsa"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/memnet"
	"github.com/dynamics-go/dynamics/libdynamics/binding"
	"github.com/dynamics-go/dynamics/libdynamics/discovery"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
)

// The test network: the testbed's fa1 with one visitor link, its home agent
// and a mobile.
var (
	coa      = netip.MustParseAddr("10.0.1.2")
	faAddr   = netip.MustParsePrefix("10.2.0.1/24")
	haAddr   = netip.MustParseAddr("10.1.0.1")
	home     = netip.MustParseAddr("10.1.0.10")
	home2    = netip.MustParseAddr("10.1.0.11")
	faMAC    = net.HardwareAddr{0x02, 0, 0, 0, 0xfa, 1}
	mnMAC    = net.HardwareAddr{0x02, 0, 0, 0, 0x3e, 10}
	mn2MAC   = net.HardwareAddr{0x02, 0, 0, 0, 0x3e, 11}
	otherMAC = net.HardwareAddr{0x02, 0, 0, 0, 0xee, 1}

	mnSA = mip.SecurityAssociation{SPI: 1000, Alg: mip.HMACMD5, Key: []byte("mobile-home key!")}
	fhSA = mip.SecurityAssociation{SPI: 2001, Alg: mip.HMACMD5,
		Key: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}}
	start = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
)

const mnPort = 43434

// bed is one foreign agent under test: its visitor link is a link.Hub on
// which the test plays the mobile (and an onlooker with another hardware
// address), its upstream a memnet on which the test plays the home agent.
type bed struct {
	t     *testing.T
	coa   netip.Addr // the agent's upstream address
	net   *memnet.Network
	agent *Agent
	kern  *kernel.Fake
	clock *binding.ManualClock
	hub   *link.Hub
	mn    *link.MemConn
	other *link.MemConn
	ha    *memnet.Conn
	logs  *logBuffer
	stop  func() error
	cfg   Config
	// up is the agent's upstream socket, which records what the agent
	// sends on it.
	up *markingConn
}

// markingConn is the agent's upstream socket in the bed: it records each
// datagram sent with the number of kernel changes the agent had made
// before it, so a test can tell which changes came before a message and
// which after.
type markingConn struct {
	net.PacketConn
	kern *kernel.Fake
	mu   sync.Mutex
	sent []sentMark
}

// sentMark is one datagram the agent sent upstream.
type sentMark struct {
	to      netip.AddrPort
	payload []byte
	ops     int // len(kern.Ops()) when it was sent
}

func (c *markingConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	m := sentMark{payload: bytes.Clone(p), ops: len(c.kern.Ops())}
	if ua, ok := addr.(*net.UDPAddr); ok {
		m.to = ua.AddrPort()
	}
	c.mu.Lock()
	c.sent = append(c.sent, m)
	c.mu.Unlock()
	return c.PacketConn.WriteTo(p, addr)
}

// lastSentTo returns the last datagram the agent sent to addr whose first
// byte (the message type) is typ.
func (c *markingConn) lastSentTo(addr netip.Addr, typ mip.MessageType) (sentMark, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.sent) - 1; i >= 0; i-- {
		if m := c.sent[i]; m.to.Addr() == addr && len(m.payload) > 0 && m.payload[0] == byte(typ) {
			return m, true
		}
	}
	return sentMark{}, false
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

// testConfig is the configuration of the agent under test: fa1's, with
// the Foreign-Home security association of fhSA.
func testConfig() Config {
	c := DefaultConfig()
	c.UpstreamInterface = "eth0"
	c.CareOfAddress = coa
	c.Interfaces = []string{"eth1"}
	c.Security = []SecurityEntry{{Peer: haAddr, SPI: fhSA.SPI, Alg: algorithm(fhSA.Alg), Key: fhSA.Key}}
	return c
}

// newBed starts an agent with cfg, its upstream socket bound to
// cfg.CareOfAddress; in a hierarchy with agentKey's key for that address.
// Without Interfaces the agent has no visitor link (the hub's ports are
// there but lead nowhere).
func newBed(t *testing.T, cfg Config) *bed {
	t.Helper()
	return newBedWith(t, cfg, nil)
}

// newBedWith is newBed with prot as Options.Protector.
func newBedWith(t *testing.T, cfg Config, prot secure.Protector) *bed {
	t.Helper()
	n := memnet.New()
	up, err := n.Listen(cfg.CareOfAddress.String() + ":434")
	if err != nil {
		t.Fatal(err)
	}
	ha, err := n.Listen(haAddr.String() + ":434")
	if err != nil {
		t.Fatal(err)
	}
	b := &bed{
		t:     t,
		coa:   cfg.CareOfAddress,
		net:   n,
		kern:  kernel.NewFake("eth0", "eth1"),
		clock: binding.NewManualClock(start),
		hub:   link.NewHub(),
		ha:    ha,
		logs:  &logBuffer{},
		cfg:   cfg,
	}
	b.up = &markingConn{PacketConn: up, kern: b.kern}
	falink := b.hub.Attach(link.Info{Name: "eth1", Index: 3, HWAddr: faMAC})
	b.mn = b.hub.Attach(link.Info{Name: "mn0", Index: 2, HWAddr: mnMAC})
	b.other = b.hub.Attach(link.Info{Name: "other0", Index: 2, HWAddr: otherMAC})
	log := slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var links []Link
	if len(cfg.Interfaces) > 0 {
		links = []Link{{Conn: falink, Addr: faAddr}}
	}
	var key *rsa.PrivateKey
	if cfg.Hierarchy() {
		key = agentKey(t, cfg.CareOfAddress)
	}
	b.agent, err = New(Options{
		Config:    cfg,
		Upstream:  b.up,
		Links:     links,
		Key:       key,
		Kernel:    b.kern,
		Clock:     b.clock,
		Logger:    log,
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
			falink.Close()
			up.Close()
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
		b.mn.Close()
		b.other.Close()
		ha.Close()
	})
	// The first advertisement goes out at start; wait for it so the loop
	// is known to run.
	if cfg.AgentAdvInterval > 0 && len(links) > 0 {
		b.advert(b.mn)
	} else {
		b.do(nil)
	}
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

// request builds a mobile's request through the agent, authenticated with
// the Mobile-Home security association.
func request(h netip.Addr, id uint64, lifetime uint16, flags mip.Flags) *mip.Request {
	r := &mip.Request{Flags: flags, Lifetime: lifetime, Home: h, HomeAgent: haAddr, CareOf: coa, ID: id}
	if err := r.Authenticate(mip.TypeMobileHome, mnSA); err != nil {
		panic(err)
	}
	return r
}

func marshal(t *testing.T, m mip.Message) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// send sends a registration payload from the mobile port c, from src, to
// the agent's address by its hardware address.
func (b *bed) send(c *link.MemConn, src netip.Addr, payload []byte) {
	b.sendTo(c, src, faAddr.Addr(), faMAC, payload)
}

func (b *bed) sendTo(c *link.MemConn, src, dst netip.Addr, hw net.HardwareAddr, payload []byte) {
	b.t.Helper()
	pkt := link.AppendUDP(nil, netip.AddrPortFrom(src, mnPort), netip.AddrPortFrom(dst, 434), 64, payload)
	if err := c.WriteFrame(pkt, hw); err != nil {
		b.t.Fatal(err)
	}
}

// frame is a registration message received on a mobile's port.
type frame struct {
	from    net.HardwareAddr
	src     netip.AddrPort
	dst     netip.AddrPort
	payload []byte
}

// reply reads the next registration message to port c, skipping
// advertisements.
func (b *bed) reply(c *link.MemConn) frame {
	b.t.Helper()
	f, err := readUDP(c, 5*time.Second)
	if err != nil {
		b.t.Fatalf("waiting for a reply on %s: %v", c.Info().Name, err)
	}
	// The agent removes what a registration left behind after it sent
	// the reply: let it finish before the test looks at the kernel.
	b.do(nil)
	return f
}

func readUDP(c *link.MemConn, wait time.Duration) (frame, error) {
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(wait))
	defer c.SetReadDeadline(time.Time{})
	for {
		n, hw, err := c.ReadFrame(buf)
		if err != nil {
			return frame{}, err
		}
		ip, err := link.ParseIPv4(buf[:n])
		if err != nil || ip.Protocol != link.ProtoUDP {
			continue
		}
		u, err := link.ParseUDP(buf[:n])
		if err != nil {
			return frame{}, err
		}
		return frame{from: hw, src: u.Src, dst: u.Dst, payload: append([]byte(nil), u.Payload...)}, nil
	}
}

// noReply checks that no registration message reaches c for a while.
func (b *bed) noReply(c *link.MemConn) {
	b.t.Helper()
	if f, err := readUDP(c, 50*time.Millisecond); err == nil {
		b.t.Errorf("%s received %x from %s", c.Info().Name, f.payload, f.src)
	}
}

// replyCode reads a reply for the mobile and returns it parsed.
func (b *bed) replyFor(c *link.MemConn) *mip.Reply {
	b.t.Helper()
	f := b.reply(c)
	r, err := mip.ParseReply(f.payload)
	if err != nil {
		b.t.Fatalf("reply to the mobile: %v", err)
	}
	return r
}

// advertisement is an agent advertisement received on a port, with its IP
// header.
type advertisement struct {
	ip  link.IPv4
	adv *discovery.Advertisement
}

// advert reads the next advertisement on port c.
func (b *bed) advert(c *link.MemConn) advertisement {
	b.t.Helper()
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	for {
		n, _, err := c.ReadFrame(buf)
		if err != nil {
			b.t.Fatalf("waiting for an advertisement on %s: %v", c.Info().Name, err)
		}
		ip, err := link.ParseIPv4(append([]byte(nil), buf[:n]...))
		if err != nil || ip.Protocol != link.ProtoICMP {
			continue
		}
		adv, err := discovery.ParseAdvertisement(ip.Payload)
		if err != nil {
			b.t.Fatalf("advertisement: %v", err)
		}
		if err := adv.Validate(); err != nil {
			b.t.Fatalf("advertisement: %v", err)
		}
		return advertisement{ip: ip, adv: adv}
	}
}

// haRecv reads what the agent relays to the home agent.
func (b *bed) haRecv() ([]byte, netip.AddrPort) {
	b.t.Helper()
	buf := make([]byte, 2048)
	_ = b.ha.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, addr, err := b.ha.ReadFrom(buf)
	if err != nil {
		b.t.Fatalf("home agent: %v", err)
	}
	return append([]byte(nil), buf[:n]...), addr.(*net.UDPAddr).AddrPort()
}

// haNothing checks that nothing reaches the home agent for a while.
func (b *bed) haNothing() {
	b.t.Helper()
	buf := make([]byte, 2048)
	_ = b.ha.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, _, err := b.ha.ReadFrom(buf); err == nil {
		b.t.Errorf("home agent received %x", buf[:n])
	}
}

// haRelayed reads a relayed request at the home agent.
func (b *bed) haRelayed() *mip.Request {
	b.t.Helper()
	raw, _ := b.haRecv()
	r, err := mip.ParseRequest(raw)
	if err != nil {
		b.t.Fatalf("relayed request: %v", err)
	}
	return r
}

// haReply builds the home agent's reply to req: Mobile-Home authenticated,
// then the Revocation Support extension and the Foreign-Home authenticator
// with sa (none when sa has no key).
func haReply(req *mip.Request, code mip.Code, lifetime uint16, sa mip.SecurityAssociation) *mip.Reply {
	r := &mip.Reply{Code: code, Lifetime: lifetime, Home: req.Home, HomeAgent: req.HomeAgent, ID: req.ID}
	if err := r.Authenticate(mip.TypeMobileHome, mnSA); err != nil {
		panic(err)
	}
	if len(sa.Key) > 0 {
		r.Extensions = append(r.Extensions, &mip.RevocationSupport{Timestamp: mip.RevocationTimestamp(start)})
		if err := r.Authenticate(mip.TypeForeignHome, sa); err != nil {
			panic(err)
		}
	}
	return r
}

// haSend sends a datagram from the home agent to the agent's care-of
// address.
func (b *bed) haSend(payload []byte) {
	b.t.Helper()
	if _, err := b.ha.WriteTo(payload, net.UDPAddrFromAddrPort(netip.AddrPortFrom(b.coa, 434))); err != nil {
		b.t.Fatal(err)
	}
}

// register takes mobile h (port c) through an accepted registration and
// returns the reply it received.
func (b *bed) register(c *link.MemConn, h netip.Addr, id uint64, lifetime uint16, flags mip.Flags) *mip.Reply {
	b.t.Helper()
	req := request(h, id, lifetime, flags)
	b.send(c, h, marshal(b.t, req))
	relayed := b.haRelayed()
	b.haSend(marshal(b.t, haReply(relayed, mip.CodeAccepted, lifetime, fhSA)))
	r := b.replyFor(c)
	if r.Code != mip.CodeAccepted || r.ID != id {
		b.t.Fatalf("registration of %s: reply %s id %d", h, r.Code, r.ID)
	}
	return r
}

// visitorEntries are the kernel entries expected for a visitor.
func visitorKernel(h netip.Addr, hw net.HardwareAddr, reverse bool) []kernel.Entry {
	e := []kernel.Entry{
		kernel.Neighbor{IP: h, Dev: "eth1", HWAddr: hw},
		kernel.Route{Dst: netip.PrefixFrom(h, 32), Dev: "eth1"},
	}
	if reverse {
		e = append(e, kernel.Rule{Priority: RulePriority, Src: netip.PrefixFrom(h, 32), IIf: "eth1", Table: TableBase + 1})
	}
	return e
}

// kernel0Rule is the reverse tunnel rule of a visitor, whatever its table.
func kernel0Rule(h netip.Addr) kernel.Entry {
	return kernel.Rule{Priority: RulePriority, Src: netip.PrefixFrom(h, 32), IIf: "eth1", Table: TableBase + 1}
}

// tunnelKernel are the kernel entries of the tunnel to the home agent.
func tunnelKernel() []kernel.Entry {
	return []kernel.Entry{
		kernel.Tunnel{Name: "dynfa1", Local: coa, Remote: haAddr},
		kernel.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: "dynfa1", Table: TableBase + 1},
		kernel.Sysctl{Name: "net/ipv4/conf/dynfa1/rp_filter", Value: "0"},
	}
}

// hasAll checks that the kernel holds every entry; hasNone that it holds
// none of them.
func (b *bed) hasAll(entries ...kernel.Entry) {
	b.t.Helper()
	for _, e := range entries {
		if !b.kern.Has(e) {
			b.t.Errorf("kernel lacks %s; it holds:\n%s", e, b.kern.Render())
		}
	}
}

func (b *bed) hasNone(entries ...kernel.Entry) {
	b.t.Helper()
	for _, e := range entries {
		for _, have := range b.kern.Entries() {
			if have.Key() == e.Key() {
				b.t.Errorf("kernel still holds %s", have)
			}
		}
	}
}

// onlyBase checks that the kernel holds nothing but the agent's own
// sysctls and, below the highest agent of a hierarchy, the tunnel to the
// upper agent, which the agent holds from start to end (upwardKernel).
func (b *bed) onlyBase() {
	b.t.Helper()
	want := []kernel.Entry{kernel.Sysctl{Name: "net/ipv4/ip_forward", Value: "1"}}
	if len(b.cfg.Interfaces) > 0 {
		want = append(want, kernel.Sysctl{Name: "net/ipv4/conf/eth1/rp_filter", Value: "0"})
	}
	if b.cfg.UpperFAIPAddress.IsValid() {
		want = append(want, upwardKernel(b.coa, b.cfg.UpperFAIPAddress)...)
	}
	if got := b.kern.Render(); got != kernel.Render(want) {
		b.t.Errorf("kernel holds:\n%s\nwant only:\n%s", got, kernel.Render(want))
	}
}

// upwardKernel are the entries of the tunnel from coa to the upper agent
// upper, the first tunnel an agent below the highest one makes.
func upwardKernel(coa, upper netip.Addr) []kernel.Entry {
	return []kernel.Entry{
		kernel.Tunnel{Name: "dynfa1", Local: coa, Remote: upper},
		kernel.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: "dynfa1", Table: TableBase + 1},
		kernel.Sysctl{Name: "net/ipv4/conf/dynfa1/rp_filter", Value: "0"},
	}
}

func logHas(logs, msg string, attrs ...string) bool {
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, "msg=\""+msg+"\"") {
			continue
		}
		ok := true
		for _, a := range attrs {
			ok = ok && strings.Contains(line, " "+a)
		}
		if ok {
			return true
		}
	}
	return false
}
