package esp

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/memnet"
)

// fakeDevice is a TUN device in memory: datagrams sent to rx are read by
// the data path, datagrams it writes arrive on tx.
type fakeDevice struct {
	rx, tx chan []byte
	closed chan struct{}
	once   sync.Once
}

func newFakeDevice() *fakeDevice {
	return &fakeDevice{rx: make(chan []byte, 64), tx: make(chan []byte, 64), closed: make(chan struct{})}
}

func (d *fakeDevice) Read(p []byte) (int, error) {
	select {
	case b := <-d.rx:
		return copy(p, b), nil
	case <-d.closed:
		return 0, fmt.Errorf("fake device: %w", os.ErrClosed)
	}
}

func (d *fakeDevice) Write(p []byte) (int, error) {
	select {
	case <-d.closed:
		return 0, fmt.Errorf("fake device: %w", os.ErrClosed)
	case d.tx <- append([]byte{}, p...):
		return len(p), nil
	default:
		return 0, errors.New("fake device: queue full")
	}
}

func (d *fakeDevice) Close() error {
	d.once.Do(func() { close(d.closed) })
	return nil
}

// fakeRouter records routes and rules.
type fakeRouter struct {
	mu      sync.Mutex
	routes  map[string]string // "table dst" -> src
	rules   []rule
	closed  bool
	failAdd error
}

func newFakeRouter() *fakeRouter { return &fakeRouter{routes: map[string]string{}} }

func (r *fakeRouter) addRoute(table int, dst netip.Prefix, src netip.Addr) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failAdd != nil {
		return r.failAdd
	}
	s := ""
	if src.IsValid() {
		s = src.String()
	}
	r.routes[fmt.Sprintf("%d %s", table, dst)] = s
	return nil
}

func (r *fakeRouter) delRoute(table int, dst netip.Prefix) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.routes, fmt.Sprintf("%d %s", table, dst))
	return nil
}

func (r *fakeRouter) addRule(ru rule) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failAdd != nil {
		return r.failAdd
	}
	// The kernel holds one copy of a rule; the netlink router takes
	// EEXIST as success.
	if !slices.Contains(r.rules, ru) {
		r.rules = append(r.rules, ru)
	}
	return nil
}

func (r *fakeRouter) delRule(ru rule) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := slices.Index(r.rules, ru); i >= 0 {
		r.rules = slices.Delete(r.rules, i, i+1)
	}
	return nil
}

func (r *fakeRouter) close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return nil
}

func (r *fakeRouter) snapshot() (map[string]string, []rule) {
	r.mu.Lock()
	defer r.mu.Unlock()
	routes := make(map[string]string, len(r.routes))
	for k, v := range r.routes {
		routes[k] = v
	}
	return routes, slices.Clone(r.rules)
}

// endpoint is one host of the userspace tests.
type endpoint struct {
	u   *Userspace
	dev *fakeDevice
	rt  *fakeRouter
	mux *Mux
}

func newEndpoint(t *testing.T, conn net.PacketConn) *endpoint {
	t.Helper()
	e := &endpoint{dev: newFakeDevice(), rt: newFakeRouter(), mux: NewMux(conn, MuxOptions{Logger: testLogger(t)})}
	u, err := newUserspace(UserspaceOptions{Mux: e.mux, Logger: testLogger(t)}, DefaultDevice, DefaultMTU, e.dev, e.rt)
	if err != nil {
		t.Fatal(err)
	}
	e.u = u
	t.Cleanup(func() {
		if err := u.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		e.mux.Close()
	})
	return e
}

func (e *endpoint) expect(t *testing.T, want []byte, what string) {
	t.Helper()
	select {
	case got := <-e.dev.tx:
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: device got\n% x\nwant\n% x", what, got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: nothing arrived; stats %+v", what, e.u.Stats())
	}
}

func (e *endpoint) quiet(t *testing.T, what string) {
	t.Helper()
	select {
	case got := <-e.dev.tx:
		t.Fatalf("%s: device got % x, want nothing", what, got)
	case <-time.After(50 * time.Millisecond):
	}
}

// waitStats waits until cond holds for e's stats.
func (e *endpoint) waitStats(t *testing.T, what string, cond func(Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond(e.u.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: stats %+v", what, e.u.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

var (
	hostA = netip.MustParsePrefix("10.1.0.1/32")
	hostB = netip.MustParsePrefix("10.2.0.1/32")
)

// childSA installs at a and b the SA pair and policies of a tunnel-mode
// child SA between hostA (behind a) and hostB (behind b).
func childSA(t *testing.T, a, b *endpoint, reqID, spiAB, spiBA uint32, alg Algorithm, keys Keys) {
	t.Helper()
	installChild(t, a.u, b.u, reqID, spiAB, spiBA, alg, keys, Selector{Src: hostA, Dst: hostB})
}

// reverse is the selector of the traffic answering sel's.
func reverse(sel Selector) Selector {
	return Selector{Src: sel.Dst, Dst: sel.Src, Protocol: sel.Protocol, SrcPort: sel.DstPort, DstPort: sel.SrcPort}
}

// installChild installs through ka (at outerA) and kb (at outerB) the SA
// pair and the policies of a tunnel-mode child SA whose traffic from A to B
// is sel: A's outbound and B's inbound policy take sel, the reverse
// direction its reverse.
func installChild(t *testing.T, ka, kb Kernel, reqID, spiAB, spiBA uint32, alg Algorithm, keys Keys, sel Selector) {
	t.Helper()
	installChildMode(t, ka, kb, ModeTunnel, reqID, spiAB, spiBA, alg, keys, sel)
}

// installChildMode is installChild for a child SA of either mode.
func installChildMode(t *testing.T, ka, kb Kernel, mode Mode, reqID, spiAB, spiBA uint32, alg Algorithm, keys Keys, sel Selector) {
	t.Helper()
	ab, abIn := pair(spiAB, mode, alg, keys)
	ba, baIn := pair(spiBA, mode, alg, keys)
	ab.ReqID, abIn.ReqID = reqID, reqID
	ba.Direction, baIn.Direction = Inbound, Outbound // A receives ba, B sends baIn
	ba.ReqID, baIn.ReqID = reqID, reqID
	for _, step := range []struct {
		k  Kernel
		sa SA
	}{{ka, ab}, {kb, abIn}, {ka, ba}, {kb, baIn}} {
		if err := step.k.AddSA(step.sa); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []Policy{
		{Direction: Outbound, Selector: sel, Local: outerA.Addr(), Remote: outerB.Addr()},
		{Direction: Inbound, Selector: reverse(sel), Local: outerA.Addr(), Remote: outerB.Addr()},
	} {
		p.Mode, p.ReqID = mode, reqID
		if err := ka.AddPolicy(p); err != nil {
			t.Fatal(err)
		}
		q := p
		q.Local, q.Remote = p.Remote, p.Local
		q.Selector = reverse(p.Selector)
		if err := kb.AddPolicy(q); err != nil {
			t.Fatal(err)
		}
	}
}

func TestUserspaceCarriesTunnelMode(t *testing.T) {
	n := memnet.New()
	ca, _ := n.Listen(outerA.String())
	cb, _ := n.Listen(outerB.String())
	a, b := newEndpoint(t, ca), newEndpoint(t, cb)
	childSA(t, a, b, 7, 0x1000, 0x2000, AESGCM16, gcmKey)

	ping := icmpEcho(innerA, innerB, "over userspace ESP")
	a.dev.rx <- ping
	b.expect(t, ping, "A to B")
	pong := icmpEcho(innerB, innerA, "and back")
	b.dev.rx <- pong
	a.expect(t, pong, "B to A")

	a.waitStats(t, "A counts", func(s Stats) bool {
		return s.PacketsOut == 1 && s.PacketsIn == 1 && s.BytesOut == uint64(len(ping)) && s.Drops.Total() == 0
	})
	if st, ok := b.u.SAStats(SAKey{Inbound, 0x1000, 7}); !ok || st.Packets != 1 || st.Seq != 1 {
		t.Errorf("B's inbound SA stats %+v, %t", st, ok)
	}

	// Routes and rules steer A's traffic to hostB into the device, with
	// hostA as preferred source; IKE and the Mux's port stay out.
	routes, rules := a.rt.snapshot()
	if len(routes) != 1 || routes[fmt.Sprintf("%d %s", DefaultTable, hostB)] != innerA.String() {
		t.Errorf("routes %v", routes)
	}
	want := []rule{
		{Priority: DefaultRulePriority - 1, Table: tableMain, Protocol: 17, SrcPort: 500},
		{Priority: DefaultRulePriority - 1, Table: tableMain, Protocol: 17, SrcPort: 4500},
		{Priority: DefaultRulePriority, Table: DefaultTable, Dst: hostB},
	}
	if !slices.Equal(rules, want) {
		t.Errorf("rules\n%v\nwant\n%v", rules, want)
	}
}

func TestUserspaceDrops(t *testing.T) {
	n := memnet.New()
	ca, _ := n.Listen(outerA.String())
	cb, _ := n.Listen(outerB.String())
	a, b := newEndpoint(t, ca), newEndpoint(t, cb)

	// A policy without SA yet.
	pol := Policy{Direction: Outbound, Selector: Selector{Src: netip.MustParsePrefix("10.1.0.0/16"), Dst: hostB}, Mode: ModeTunnel, Local: outerA.Addr(), Remote: outerB.Addr(), ReqID: 9}
	if err := a.u.AddPolicy(pol); err != nil {
		t.Fatal(err)
	}
	a.dev.rx <- icmpEcho(innerA, innerB, "no SA yet")
	a.waitStats(t, "no SA", func(s Stats) bool { return s.Drops.NoSA == 1 })

	// No policy for another destination; not IPv4.
	a.dev.rx <- icmpEcho(innerA, netip.MustParseAddr("10.9.9.9"), "nowhere")
	a.dev.rx <- []byte{0x60, 0, 0, 0}
	a.waitStats(t, "no policy", func(s Stats) bool { return s.Drops.NoPolicy == 1 && s.Drops.NotIPv4 == 1 })

	// The SAs arrive; B admits only hostA, so a datagram from another
	// host of A's /16 is dropped after decryption (RFC 4301 5.2).
	out, in := pair(0x3000, ModeTunnel, AESCBCHMACSHA256, cbcKey)
	out.ReqID, in.ReqID = 9, 9
	if err := a.u.AddSA(out); err != nil {
		t.Fatal(err)
	}
	if err := b.u.AddSA(in); err != nil {
		t.Fatal(err)
	}
	if err := b.u.AddPolicy(Policy{Direction: Inbound, Selector: Selector{Src: hostA, Dst: hostB}, Mode: ModeTunnel, Local: outerB.Addr(), Remote: outerA.Addr(), ReqID: 9}); err != nil {
		t.Fatal(err)
	}
	ok := icmpEcho(innerA, innerB, "admitted")
	a.dev.rx <- icmpEcho(netip.MustParseAddr("10.1.5.5"), innerB, "not admitted")
	a.dev.rx <- ok
	b.expect(t, ok, "admitted datagram")
	b.waitStats(t, "policy", func(s Stats) bool { return s.Drops.Policy == 1 && s.PacketsIn == 1 })

	// A replayed packet and one for an unknown SPI.
	var wire [][]byte
	var mu sync.Mutex
	n.Drop = func(from, to netip.AddrPort, p []byte) bool {
		mu.Lock()
		wire = append(wire, append([]byte{}, p...))
		mu.Unlock()
		return false
	}
	a.dev.rx <- ok
	b.expect(t, ok, "second datagram")
	mu.Lock()
	replay := wire[len(wire)-1]
	mu.Unlock()
	ca.WriteTo(replay, net.UDPAddrFromAddrPort(outerB))
	unknown := append([]byte{}, replay...)
	unknown[3] ^= 0x55
	ca.WriteTo(unknown, net.UDPAddrFromAddrPort(outerB))
	b.waitStats(t, "replay and unknown SPI", func(s Stats) bool { return s.Drops.Open == 1 && s.Drops.UnknownSPI == 1 })
	b.quiet(t, "replayed packet")
	if st, _ := b.u.SAStats(in.Key()); st.Replay != 1 || st.Packets != 3 {
		t.Errorf("inbound SA stats %+v", st)
	}
}

// TestUserspaceRekeyAndMove: a new outbound SA of the same ReqID takes over
// from the old at once; UpdateSA moves an SA to a new peer address (MOBIKE)
// keeping its sequence numbers.
func TestUserspaceRekeyAndMove(t *testing.T) {
	n := memnet.New()
	ca, _ := n.Listen(outerA.String())
	cb, _ := n.Listen(outerB.String())
	a, b := newEndpoint(t, ca), newEndpoint(t, cb)
	childSA(t, a, b, 3, 0x1000, 0x2000, AESGCM16, gcmKey)
	ping := icmpEcho(innerA, innerB, "before rekey")
	a.dev.rx <- ping
	b.expect(t, ping, "old SA")

	// Rekey: the new pair, then the old one goes.
	newOut, newIn := pair(0x1001, ModeTunnel, AESCBCHMACSHA256, cbcKey)
	newOut.ReqID, newIn.ReqID = 3, 3
	if err := b.u.AddSA(newIn); err != nil {
		t.Fatal(err)
	}
	if err := a.u.AddSA(newOut); err != nil {
		t.Fatal(err)
	}
	a.dev.rx <- ping
	b.expect(t, ping, "new SA")
	if st, _ := b.u.SAStats(newIn.Key()); st.Packets != 1 {
		t.Errorf("new inbound SA stats %+v", st)
	}
	if err := a.u.DeleteSA(SAKey{Outbound, 0x1000, 3}); err != nil {
		t.Fatal(err)
	}
	if err := b.u.DeleteSA(SAKey{Inbound, 0x1000, 3}); err != nil {
		t.Fatal(err)
	}
	if err := b.u.DeleteSA(SAKey{Inbound, 0x1000, 3}); err != nil {
		t.Errorf("deleting an absent SA: %v", err)
	}
	a.dev.rx <- ping
	b.expect(t, ping, "after deleting the old SA")

	// B moves to a new address: A's outbound SA follows it.
	moved := netip.MustParseAddrPort("198.51.100.7:4500")
	var to []netip.AddrPort
	var mu sync.Mutex
	n.Drop = func(from, dst netip.AddrPort, p []byte) bool {
		mu.Lock()
		to = append(to, dst)
		mu.Unlock()
		return false
	}
	upd := newOut
	upd.Remote = moved
	upd.Keys = Keys{Enc: bytes.Repeat([]byte{1}, 16), Auth: bytes.Repeat([]byte{2}, 32)} // ignored
	if err := a.u.UpdateSA(upd); err != nil {
		t.Fatal(err)
	}
	a.u.mu.Lock()
	cur := a.u.outbound[newOut.Key()].SA()
	a.u.mu.Unlock()
	if cur.Remote != moved || cur.Local != outerA || !bytes.Equal(cur.Keys.Enc, cbcKey.Enc) || !bytes.Equal(cur.Keys.Auth, cbcKey.Auth) {
		t.Errorf("after UpdateSA: %s with keys %x %x, want only the remote changed", cur, cur.Keys.Enc, cur.Keys.Auth)
	}
	a.dev.rx <- ping
	a.waitStats(t, "sent after the move", func(s Stats) bool { return s.PacketsOut == 4 })
	mu.Lock()
	if len(to) != 1 || to[0] != moved {
		t.Errorf("sent to %v after the update, want %s", to, moved)
	}
	mu.Unlock()
	if st, _ := a.u.SAStats(newOut.Key()); st.Seq != 3 {
		t.Errorf("sequence number after the update %d, want 3 (kept)", st.Seq)
	}
	absent := newOut
	absent.SPI = 0x9999
	if err := a.u.UpdateSA(absent); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateSA of an absent SA: %v", err)
	}
}

func TestUserspaceRefuses(t *testing.T) {
	n := memnet.New()
	ca, _ := n.Listen(outerA.String())
	a := newEndpoint(t, ca)
	out, in := pair(0x1000, ModeTunnel, AESGCM16, gcmKey)
	in.Local, in.Remote = outerA, outerB
	if err := a.u.AddSA(out); err != nil {
		t.Fatal(err)
	}
	if err := a.u.AddSA(out); !errors.Is(err, ErrExists) {
		t.Errorf("same SA twice: %v", err)
	}
	if err := a.u.AddSA(in); err != nil {
		t.Fatal(err)
	}
	in2 := in
	in2.ReqID = 99
	if err := a.u.AddSA(in2); !errors.Is(err, ErrExists) {
		t.Errorf("inbound SPI in use under another ReqID: %v", err)
	}
	bare := out
	bare.SPI = 0x5000
	bare.Local, bare.Remote = netip.AddrPortFrom(outerA.Addr(), 0), netip.AddrPortFrom(outerB.Addr(), 0)
	if err := a.u.AddSA(bare); !errors.Is(err, ErrInvalid) {
		t.Errorf("bare ESP SA: %v", err)
	}
	pol := Policy{Direction: Outbound, Selector: Selector{Src: hostA, Dst: hostB}, Mode: ModeTunnel, Local: outerA.Addr(), Remote: outerB.Addr(), ReqID: 1}
	if err := a.u.AddPolicy(pol); err != nil {
		t.Fatal(err)
	}
	if err := a.u.AddPolicy(pol); !errors.Is(err, ErrExists) {
		t.Errorf("same policy twice: %v", err)
	}
	badSel := pol
	badSel.Selector.Dst = netip.MustParsePrefix("10.2.0.1/16")
	if err := a.u.AddPolicy(badSel); !errors.Is(err, ErrInvalid) {
		t.Errorf("selector with host bits: %v", err)
	}
	ports := pol
	ports.Selector.DstPort = 434
	if err := a.u.AddPolicy(ports); !errors.Is(err, ErrInvalid) {
		t.Errorf("ports without protocol: %v", err)
	}
	other := pol
	other.Selector.Dst = netip.MustParsePrefix("10.3.0.0/24")
	if err := a.u.UpdatePolicy(other); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdatePolicy of an absent policy: %v", err)
	}
	a.rt.failAdd = errors.New("netlink says no")
	if err := a.u.AddPolicy(other); err == nil {
		t.Error("AddPolicy succeeded though its route could not be added")
	}
	a.rt.failAdd = nil
	if err := a.u.DeletePolicy(other.Key()); err != nil {
		t.Errorf("DeletePolicy of a policy never added: %v", err)
	}
}

// TestUserspaceRoutesShared: two outbound policies to one destination share
// its route, which goes with the last of them; Close removes everything.
func TestUserspaceRoutesShared(t *testing.T) {
	n := memnet.New()
	ca, _ := n.Listen(outerA.String())
	a := newEndpoint(t, ca)
	mk := func(proto uint8, port uint16) Policy {
		return Policy{Direction: Outbound, Selector: Selector{Src: hostA, Dst: hostB, Protocol: proto, DstPort: port}, Mode: ModeTunnel, Local: outerA.Addr(), Remote: outerB.Addr(), ReqID: 1}
	}
	udp, tcp := mk(17, 434), mk(6, 0)
	for _, p := range []Policy{udp, tcp} {
		if err := a.u.AddPolicy(p); err != nil {
			t.Fatal(err)
		}
	}
	routes, rules := a.rt.snapshot()
	if len(routes) != 1 || len(rules) != 4 {
		t.Fatalf("routes %v rules %v", routes, rules)
	}
	if !slices.Contains(rules, rule{Priority: DefaultRulePriority, Table: DefaultTable, Dst: hostB, Protocol: 17, DstPort: 434}) {
		t.Errorf("no rule for udp/434: %v", rules)
	}
	if err := a.u.DeletePolicy(udp.Key()); err != nil {
		t.Fatal(err)
	}
	if routes, _ := a.rt.snapshot(); len(routes) != 1 {
		t.Errorf("route gone while a policy still needs it: %v", routes)
	}
	if err := a.u.DeletePolicy(tcp.Key()); err != nil {
		t.Fatal(err)
	}
	if routes, rules := a.rt.snapshot(); len(routes) != 0 || len(rules) != 2 {
		t.Errorf("after deleting both: routes %v rules %v", routes, rules)
	}
	if err := a.u.AddPolicy(udp); err != nil {
		t.Fatal(err)
	}
	if err := a.u.Close(); err != nil {
		t.Fatal(err)
	}
	routes, rules = a.rt.snapshot()
	if len(routes) != 0 || len(rules) != 0 || !a.rt.closed {
		t.Errorf("after Close: routes %v rules %v closed %t", routes, rules, a.rt.closed)
	}
	if err := a.u.AddPolicy(tcp); !errors.Is(err, ErrClosed) {
		t.Errorf("AddPolicy after Close: %v", err)
	}
	if err := a.u.AddSA(SA{}); err == nil {
		t.Error("AddSA after Close succeeded")
	}
}

// TestUserspaceRulesShared: two outbound policies that differ only in
// their source (a host with two addresses) steer with one rule, which
// stays until the last of them goes; otherwise deleting one would send
// the other's traffic in clear.
func TestUserspaceRulesShared(t *testing.T) {
	n := memnet.New()
	ca, _ := n.Listen(outerA.String())
	a := newEndpoint(t, ca)
	second := netip.MustParsePrefix("192.0.2.99/32")
	mk := func(src netip.Prefix) Policy {
		return Policy{Direction: Outbound, Selector: Selector{Src: src, Dst: hostB, Protocol: 17, DstPort: 434}, Mode: ModeTransport, Local: outerA.Addr(), Remote: outerB.Addr(), ReqID: 1}
	}
	first, other := mk(hostA), mk(second)
	for _, p := range []Policy{first, other} {
		if err := a.u.AddPolicy(p); err != nil {
			t.Fatal(err)
		}
	}
	want := rule{Priority: DefaultRulePriority, Table: DefaultTable, Dst: hostB, Protocol: 17, DstPort: 434}
	if err := a.u.DeletePolicy(other.Key()); err != nil {
		t.Fatal(err)
	}
	if _, rules := a.rt.snapshot(); !slices.Contains(rules, want) {
		t.Fatalf("the rule went with one of the two policies that need it: %v", rules)
	}
	if err := a.u.DeletePolicy(first.Key()); err != nil {
		t.Fatal(err)
	}
	if _, rules := a.rt.snapshot(); slices.Contains(rules, want) {
		t.Errorf("the rule stayed after both policies went: %v", rules)
	}
}

func TestPolicyOrder(t *testing.T) {
	p := func(src, dst string, proto uint8, port uint16) Selector {
		return Selector{Src: netip.MustParsePrefix(src), Dst: netip.MustParsePrefix(dst), Protocol: proto, DstPort: port}
	}
	sels := []Selector{
		p("0.0.0.0/0", "0.0.0.0/0", 0, 0),
		p("10.1.0.0/16", "10.2.0.0/16", 0, 0),
		p("10.1.0.0/16", "10.2.0.1/32", 0, 0),
		p("10.1.0.0/16", "10.2.0.1/32", 17, 434),
		p("10.1.0.1/32", "10.2.0.0/16", 0, 0),
		p("10.1.0.0/16", "10.2.0.1/32", 17, 0),
	}
	slices.SortFunc(sels, compareSpecificity)
	want := []string{
		"10.1.0.0/16 > 10.2.0.1/32 proto 17 dport 434",
		"10.1.0.0/16 > 10.2.0.1/32 proto 17",
		"10.1.0.0/16 > 10.2.0.1/32",
		"10.1.0.1/32 > 10.2.0.0/16",
		"10.1.0.0/16 > 10.2.0.0/16",
		"0.0.0.0/0 > 0.0.0.0/0",
	}
	for i, s := range sels {
		if s.String() != want[i] {
			t.Errorf("position %d: %s, want %s", i, s, want[i])
		}
	}
}
