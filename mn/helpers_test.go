package mn

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/memnet"
	"github.com/dynamics-go/dynamics/libdynamics/binding"
	"github.com/dynamics-go/dynamics/libdynamics/discovery"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

var (
	homeAddr = netip.MustParseAddr("10.1.0.10")
	haAddr   = netip.MustParseAddr("10.1.0.1")
	homeGW   = netip.MustParseAddr("10.1.0.254")
	homeNet  = netip.MustParsePrefix("10.1.0.0/24")
	mnHW     = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	haHW     = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	secret   = []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	coloc    = netip.MustParsePrefix("10.4.0.10/24")
	colocGW  = netip.MustParseAddr("10.4.0.1")
	start    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// wait bounds how long a test waits, in real time, for the node to act.
const wait = 2 * time.Second

// testConfig is the testbed's mobile with short, round timers.
func testConfig() Config {
	c := DefaultConfig()
	c.Home, c.HA, c.HomeNet, c.HomeGateway = homeAddr, haAddr, homeNet, homeGW
	c.Interface = "eth0"
	c.SPI = 1000
	c.SharedSecret = secret
	c.RetryInterval = time.Second
	c.MaxRetryInterval = 4 * time.Second
	c.MaxRetryCount = 3
	c.SolicitInterval = time.Second
	c.Colocated = []Colocated{{Addr: AddrPrefix(coloc), Gateway: colocGW}}
	return c
}

// bed is a mobile node running over in-memory links and UDP with a fake
// kernel and a manual clock, and the agents a test scripts around it.
type bed struct {
	t      *testing.T
	clock  *binding.ManualClock
	k      *kernel.Fake
	net    *memnet.Network
	home   *link.Hub
	at     *link.Hub // where the mobile is plugged in
	mnLink *link.MemConn
	// sent records what the node sends on its link.
	sent   *markingLink
	prober *fakeProber
	node   *Node
	ha     *fakeHA
	done   chan error
	cancel context.CancelFunc
}

// newBed starts a mobile node with cfg, attached to the home link (where
// the home agent does not advertise until told to).
func newBed(t *testing.T, cfg Config) *bed {
	t.Helper()
	return newBedWith(t, cfg, nil)
}

// newBedWith is newBed with the options changed by more before the node
// is made.
func newBedWith(t *testing.T, cfg Config, more func(*Options)) *bed {
	t.Helper()
	b := &bed{
		t:      t,
		clock:  binding.NewManualClock(start),
		k:      kernel.NewFake("eth0"),
		net:    memnet.New(),
		home:   link.NewHub(),
		prober: &fakeProber{answer: map[netip.Addr]bool{}},
		done:   make(chan error, 1),
	}
	b.mnLink = b.home.Attach(link.Info{Name: "eth0", Index: 2, HWAddr: mnHW})
	b.sent = &markingLink{Conn: b.mnLink, kern: b.k}
	b.at = b.home
	udp, err := b.net.Listen("0.0.0.0:434")
	if err != nil {
		t.Fatal(err)
	}
	b.ha = newFakeHA(b)
	opts := Options{
		Config: cfg,
		Link:   b.sent,
		UDP:    sourced{udp},
		Kernel: b.k,
		Prober: b.prober,
		Clock:  b.clock,
		Logger: testLogger(t),
	}
	if more != nil {
		more(&opts)
	}
	b.node, err = New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	go func() { b.done <- b.node.Run(ctx) }()
	b.sync() // the first solicitation is out
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-b.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(wait):
			t.Error("Run did not return after cancel")
		}
	})
	return b
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("MN_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// sourced gives a memnet conn the SourceWriter the real socket has.
type sourced struct{ *memnet.Conn }

func (s sourced) WriteToFrom(b []byte, dst netip.AddrPort, src netip.Addr) error {
	s.Conn.SourceAddr = src // only the node's loop goroutine writes
	_, err := s.Conn.WriteTo(b, net.UDPAddrFromAddrPort(dst))
	return err
}

// fakeProber answers for the gateways in answer.
type fakeProber struct {
	mu     sync.Mutex
	answer map[netip.Addr]bool
	asked  []netip.Addr // sources asked from
}

func (p *fakeProber) Probe(ctx context.Context, src, target netip.Addr) (net.HardwareAddr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, src)
	if p.answer[target] {
		return net.HardwareAddr{2, 0, 0, 0, 0, 0xfe}, nil
	}
	return nil, ErrNoAnswer
}

// asks returns the sources asked from so far.
func (p *fakeProber) asks() []netip.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]netip.Addr(nil), p.asked...)
}

// waitProbes waits for n probes to have been made and handled.
func (b *bed) waitProbes(n int) []netip.Addr {
	b.t.Helper()
	deadline := time.Now().Add(wait)
	for len(b.prober.asks()) < n {
		if time.Now().After(deadline) {
			b.t.Fatalf("%d probes made, want %d", len(b.prober.asks()), n)
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(5 * time.Millisecond) // the outcome reaches the loop
	b.sync()
	return b.prober.asks()
}

func (p *fakeProber) set(target netip.Addr, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answer[target] = ok
}

// advance moves the clock and lets the node act on it.
func (b *bed) advance(d time.Duration) {
	b.t.Helper()
	b.clock.Advance(d)
	b.sync()
}

// sync waits until the node has handled what it had been sent.
func (b *bed) sync() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := b.node.Do(ctx, nil); err != nil {
		b.t.Fatalf("Do: %v", err)
	}
}

// status returns the node's status.
func (b *bed) status() Status {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	s, err := b.node.Status(ctx)
	if err != nil {
		b.t.Fatalf("Status: %v", err)
	}
	return s
}

func (b *bed) stats() Stats {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	s, err := b.node.Stats(ctx)
	if err != nil {
		b.t.Fatalf("Stats: %v", err)
	}
	return s
}

// waitState waits (in real time) for the node to reach state.
func (b *bed) waitState(want State) Status {
	b.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		s := b.status()
		if s.State == want {
			return s
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("state %v, want %v (status %+v)", s.State, want, s)
		}
		time.Sleep(time.Millisecond)
	}
}

// wantKernel checks the fake kernel holds exactly entries.
func (b *bed) wantKernel(entries ...kernel.Entry) {
	b.t.Helper()
	b.sync()
	if got, want := b.k.Render(), kernel.Render(entries); got != want {
		b.t.Errorf("kernel:\n%s\nwant:\n%s", got, want)
	}
}

// move plugs the mobile into another link.
func (b *bed) move(h *link.Hub) {
	b.mnLink.Move(h)
	b.at = h
}

// hub returns the link the mobile is plugged into.
func (b *bed) hub() *link.Hub { return b.at }

// agentCfg describes a scripted agent.
type agentCfg struct {
	addr    netip.Addr // on the link
	hw      net.HardwareAddr
	coa     netip.Addr // care-of address advertised (foreign agents)
	bits    int        // advertised prefix length; 0 leaves Prefix-Lengths out
	flags   discovery.Flags
	maxLife uint16
	path    []netip.Addr // the FA Path extension; nil leaves it out
}

// fakeAgent advertises on a hub and, as a foreign agent, reads the
// requests sent to it and answers them as the home agent would through it.
type fakeAgent struct {
	b    *bed
	cfg  agentCfg
	hub  *link.Hub
	conn *link.MemConn
	udp  *memnet.Conn
	seq  uint16
}

func (b *bed) newAgent(hub *link.Hub, c agentCfg) *fakeAgent {
	b.t.Helper()
	a := &fakeAgent{b: b, cfg: c, hub: hub}
	a.conn = hub.Attach(link.Info{Name: "eth1", Index: 3, HWAddr: c.hw})
	b.t.Cleanup(func() { a.conn.Close() })
	if c.addr != haAddr {
		udp, err := b.net.Listen(netip.AddrPortFrom(c.addr, 434).String())
		if err != nil {
			b.t.Fatal(err)
		}
		a.udp = udp
		b.t.Cleanup(func() { udp.Close() })
	}
	return a
}

// foreignAgent makes a foreign agent on its own link: 10.<n+1>.0.1/24 with
// care-of address 10.0.<n>.2, offering reverse tunnels.
func (b *bed) foreignAgent(n byte) (*fakeAgent, *link.Hub) {
	hub := link.NewHub()
	a := b.newAgent(hub, agentCfg{
		addr:    netip.AddrFrom4([4]byte{10, n + 1, 0, 1}),
		hw:      net.HardwareAddr{0x02, 0, 0, 0, n, 0x01},
		coa:     netip.AddrFrom4([4]byte{10, 0, n, 2}),
		bits:    24,
		flags:   discovery.FlagForeignAgent | discovery.FlagReverseTunnel,
		maxLife: 300,
	})
	return a, hub
}

// advertise sends an advertisement with the given ICMP lifetime.
func (a *fakeAgent) advertise(lifetime uint16) {
	a.b.t.Helper()
	adv := &discovery.Advertisement{
		Lifetime: lifetime,
		Routers:  []discovery.RouterAddress{{Addr: a.cfg.addr}},
		Extensions: []discovery.Extension{&discovery.MobilityAgent{
			Sequence:             a.seq,
			RegistrationLifetime: a.cfg.maxLife,
			Flags:                a.cfg.flags,
		}},
	}
	if a.cfg.coa.IsValid() {
		adv.MobilityAgent().CareOfAddresses = []netip.Addr{a.cfg.coa}
	}
	if a.cfg.bits > 0 {
		adv.Extensions = append(adv.Extensions, &discovery.PrefixLengths{Lengths: []uint8{uint8(a.cfg.bits)}})
	}
	if a.cfg.path != nil {
		adv.Extensions = append(adv.Extensions, &discovery.FAPath{Addrs: a.cfg.path})
	}
	b, err := adv.Marshal()
	if err != nil {
		a.b.t.Fatal(err)
	}
	pkt := link.AppendIPv4(nil, a.cfg.addr, link.AllSystemsAddr, link.ProtoICMP, 1, b)
	seen := a.b.seen()
	if err := a.conn.WriteFrame(pkt, link.AllSystems); err != nil {
		a.b.t.Fatal(err)
	}
	a.seq = discovery.NextSequence(a.seq)
	if a.hub == a.b.hub() {
		a.b.waitSeen(seen)
	}
}

// frame is a frame the agent received.
type frame struct {
	ip  link.IPv4
	src net.HardwareAddr
}

// next returns the next frame within d of real time, or false.
func (a *fakeAgent) next(d time.Duration) (frame, bool) {
	a.b.t.Helper()
	buf := make([]byte, 1<<16)
	if err := a.conn.SetReadDeadline(time.Now().Add(d)); err != nil {
		a.b.t.Fatal(err)
	}
	n, src, err := a.conn.ReadFrame(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return frame{}, false
	}
	if err != nil {
		a.b.t.Fatal(err)
	}
	ip, err := link.ParseIPv4(buf[:n])
	if err != nil {
		a.b.t.Fatalf("agent received a malformed frame: %v", err)
	}
	return frame{ip: ip, src: src}, true
}

// request returns the next registration request sent to the agent,
// skipping solicitations, and checks how it was sent: from the home
// address's port 434 to the agent's, by the mobile's hardware address.
func (a *fakeAgent) request() *mip.Request {
	a.b.t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		f, ok := a.next(time.Until(deadline))
		if !ok {
			break
		}
		if f.ip.Protocol != link.ProtoUDP {
			continue
		}
		buf := link.AppendIPv4(nil, f.ip.Src, f.ip.Dst, f.ip.Protocol, f.ip.TTL, f.ip.Payload)
		u, err := link.ParseUDP(buf)
		if err != nil {
			a.b.t.Fatalf("request datagram: %v", err)
		}
		if f.src.String() != mnHW.String() || f.ip.Src != homeAddr || f.ip.Dst != a.cfg.addr ||
			u.Src.Port() != 434 || u.Dst.Port() != 434 {
			a.b.t.Errorf("request sent from %s %s to %s, want from %s %s:434 to %s:434", f.src, u.Src, u.Dst,
				mnHW, homeAddr, a.cfg.addr)
		}
		req, err := mip.ParseRequest(u.Payload)
		if err != nil {
			a.b.t.Fatalf("request: %v", err)
		}
		checkAuth(a.b.t, req)
		return req
	}
	a.b.t.Fatalf("agent %s received no request", a.cfg.addr)
	return nil
}

// noRequest checks no registration request reaches the agent for a while.
func (a *fakeAgent) noRequest() {
	a.b.t.Helper()
	deadline := time.Now().Add(50 * time.Millisecond)
	for {
		f, ok := a.next(time.Until(deadline))
		if !ok {
			return
		}
		if f.ip.Protocol == link.ProtoUDP {
			a.b.t.Fatalf("unexpected request to agent %s", a.cfg.addr)
		}
	}
}

// reply answers req from the agent's address as the home agent would:
// authenticated with the mobile's key unless a foreign agent denies.
func (a *fakeAgent) reply(req *mip.Request, code mip.Code, lifetime uint16) {
	a.b.t.Helper()
	sendReply(a.b, a.udp, req, code, lifetime, req.ID)
}

func sendReply(b *bed, c *memnet.Conn, req *mip.Request, code mip.Code, lifetime uint16, id uint64) {
	b.t.Helper()
	r := &mip.Reply{Code: code, Lifetime: lifetime, Home: req.Home, HomeAgent: req.HomeAgent, ID: id}
	if !code.FromFA() {
		if err := r.Authenticate(mip.TypeMobileHome, testConfig().SA()); err != nil {
			b.t.Fatal(err)
		}
	}
	raw, err := r.Marshal()
	if err != nil {
		b.t.Fatal(err)
	}
	b.deliver(c, raw)
}

// deliver sends a datagram to the mobile and waits until the node has
// counted it (as a reply or a discard).
func (b *bed) deliver(c *memnet.Conn, raw []byte) {
	b.t.Helper()
	seen := b.seen()
	if _, err := c.WriteTo(raw, net.UDPAddrFromAddrPort(netip.AddrPortFrom(homeAddr, 434))); err != nil {
		b.t.Fatal(err)
	}
	b.waitSeen(seen)
}

// seen totals what the node has counted on arrival: advertisements,
// replies and discards.
func (b *bed) seen() uint64 {
	b.t.Helper()
	s := b.stats()
	n := s.Advertisements + s.Discards.Malformed + s.Discards.Authentication + s.Discards.Unmatched +
		s.Discards.Unprotected
	for _, v := range s.Replies {
		n += v
	}
	return n
}

// waitSeen waits until the node has counted more than before.
func (b *bed) waitSeen(before uint64) {
	b.t.Helper()
	deadline := time.Now().Add(wait)
	for b.seen() <= before {
		if time.Now().After(deadline) {
			b.t.Fatal("the node did not take what was sent to it")
		}
		time.Sleep(time.Millisecond)
	}
}

func checkAuth(t *testing.T, req *mip.Request) {
	t.Helper()
	if err := mip.VerifyRequest(req.Raw(), mip.TypeMobileHome, testConfig().SA()); err != nil {
		t.Errorf("request authentication: %v", err)
	}
}

// fakeHA is the home agent: it advertises on the home link and takes
// requests sent straight to it over UDP.
type fakeHA struct {
	*fakeAgent
	udp *memnet.Conn
}

func newFakeHA(b *bed) *fakeHA {
	udp, err := b.net.Listen("10.1.0.1:434")
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { udp.Close() })
	a := b.newAgent(b.home, agentCfg{addr: haAddr, hw: haHW, bits: 24, flags: discovery.FlagHomeAgent})
	return &fakeHA{fakeAgent: a, udp: udp}
}

// request returns the next request sent straight to the home agent and the
// address it came from.
func (h *fakeHA) request() (*mip.Request, netip.AddrPort) {
	h.b.t.Helper()
	buf := make([]byte, 4096)
	if err := h.udp.SetReadDeadline(time.Now().Add(wait)); err != nil {
		h.b.t.Fatal(err)
	}
	n, from, err := h.udp.ReadFrom(buf)
	if err != nil {
		h.b.t.Fatalf("home agent received no request: %v", err)
	}
	req, err := mip.ParseRequest(buf[:n])
	if err != nil {
		h.b.t.Fatalf("request to the home agent: %v", err)
	}
	checkAuth(h.b.t, req)
	return req, from.(*net.UDPAddr).AddrPort()
}

// noRequest checks nothing reaches the home agent for a while.
func (h *fakeHA) noRequest() {
	h.b.t.Helper()
	buf := make([]byte, 4096)
	if err := h.udp.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		h.b.t.Fatal(err)
	}
	if _, _, err := h.udp.ReadFrom(buf); err == nil {
		h.b.t.Fatal("unexpected request to the home agent")
	}
}

func (h *fakeHA) reply(req *mip.Request, code mip.Code, lifetime uint16) {
	h.b.t.Helper()
	sendReply(h.b, h.udp, req, code, lifetime, req.ID)
}

// homeSet is the kernel state at home.
func homeSet() []kernel.Entry {
	return []kernel.Entry{
		kernel.Route{Dst: homeNet, Dev: "eth0", Src: homeAddr},
		kernel.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: "eth0", Gw: homeGW, Src: homeAddr},
	}
}

// arpIgnore keeps a mobile away from home from answering ARP for its home
// address.
var arpIgnore = kernel.Sysctl{Name: "net/ipv4/conf/eth0/arp_ignore", Value: "2"}

// agentSet is the kernel state at a foreign agent, registered or not.
func agentSet(a *fakeAgent, registered bool) []kernel.Entry {
	e := []kernel.Entry{
		arpIgnore,
		kernel.Neighbor{IP: a.cfg.addr, Dev: "eth0", HWAddr: a.cfg.hw},
		kernel.Route{Dst: netip.PrefixFrom(a.cfg.addr, 32), Dev: "eth0", Src: homeAddr},
	}
	if registered {
		e = append(e, kernel.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: "eth0", Gw: a.cfg.addr, Src: homeAddr})
	}
	return e
}

// markingLink is the node's link in the bed: it records each frame the
// node sends with the number of kernel changes made before it, so a test
// can tell which changes came before a message and which after.
type markingLink struct {
	link.Conn
	kern *kernel.Fake
	mu   sync.Mutex
	sent []linkMark
}

// linkMark is one frame the node sent.
type linkMark struct {
	dst net.HardwareAddr
	ip  link.IPv4
	ops int // len(kern.Ops()) when it was sent
}

func (c *markingLink) WriteFrame(pkt []byte, dst net.HardwareAddr) error {
	m := linkMark{dst: slices.Clone(dst), ops: len(c.kern.Ops())}
	if ip, err := link.ParseIPv4(slices.Clone(pkt)); err == nil {
		m.ip = ip
	}
	c.mu.Lock()
	c.sent = append(c.sent, m)
	c.mu.Unlock()
	return c.Conn.WriteFrame(pkt, dst)
}

// marks returns the frames sent so far.
func (c *markingLink) marks() []linkMark {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sent)
}
