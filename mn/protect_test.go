package mn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
)

// espIndex is the interface index of the userspace ESP path's device in
// the tests: a reply read with it came through an ESP SA.
const espIndex = 99

// journal records, in order, what the fakes of a test were asked.
type journal struct {
	mu      sync.Mutex
	entries []string
}

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, fmt.Sprintf(format, args...))
}

func (j *journal) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.entries)
}

// waitFor waits (in real time) until the journal holds entry, and returns
// the journal then.
func (j *journal) waitFor(t *testing.T, entry string) []string {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		l := j.list()
		if slices.Contains(l, entry) {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("journal %q has no %q", l, entry)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitLen waits (in real time) until the journal holds n entries.
func (j *journal) waitLen(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for len(j.list()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("journal %q, want %d entries", j.list(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// fakeProtector requires the home agent's signalling to come in through
// espIndex, and lets requests go to it while ready.
type fakeProtector struct {
	ready atomic.Bool
}

var _ secure.Protector = (*fakeProtector)(nil)

func (p *fakeProtector) Check(src netip.Addr, ifindex int) secure.Verdict {
	return secure.Verdict{Required: src == haAddr, Protected: ifindex == espIndex}
}

func (p *fakeProtector) Requires(a netip.Addr) bool { return a == haAddr }

func (p *fakeProtector) Ready(dst netip.Addr) bool { return dst != haAddr || p.ready.Load() }

// fakeMover records its calls in the journal and answers each with err;
// while gate is set, a call waits for a value from it first.
type fakeMover struct {
	j    *journal
	mu   sync.Mutex
	err  error
	gate chan struct{}
}

var _ secure.Mover = (*fakeMover)(nil)

func (m *fakeMover) answer(ctx context.Context) error {
	m.mu.Lock()
	gate, err := m.gate, m.err
	m.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (m *fakeMover) MoveTo(ctx context.Context, old, new netip.Addr) error {
	m.j.add("move %s>%s", old, new)
	return m.answer(ctx)
}

func (m *fakeMover) MoveAhead(ctx context.Context, old, new netip.Addr) error {
	m.j.add("ahead %s>%s", old, new)
	return m.answer(ctx)
}

func (m *fakeMover) AddAddress(ctx context.Context, addr netip.Addr) error {
	m.j.add("add %s", addr)
	return m.answer(ctx)
}

func (m *fakeMover) RemoveAddress(ctx context.Context, addr netip.Addr) error {
	m.j.add("remove %s", addr)
	return m.answer(ctx)
}

func (m *fakeMover) set(err error, gated bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.err = err
	m.gate = nil
	if gated {
		m.gate = make(chan struct{})
	}
}

// release lets one gated call answer.
func (m *fakeMover) release(t *testing.T) {
	t.Helper()
	m.mu.Lock()
	gate := m.gate
	m.mu.Unlock()
	select {
	case gate <- struct{}{}:
	case <-time.After(wait):
		t.Fatal("no call of the mover waiting")
	}
}

// espConn is the bed's registration socket with the arrival interface of
// each datagram (ifindex, as the test sets it) and a journal of what it
// sends.
type espConn struct {
	sourced
	j       *journal
	ifindex atomic.Int64
}

var _ InterfaceReader = (*espConn)(nil)

func (c *espConn) WriteToFrom(b []byte, dst netip.AddrPort, src netip.Addr) error {
	c.j.add("send %s from %s", dst.Addr(), src)
	return c.sourced.WriteToFrom(b, dst, src)
}

func (c *espConn) ReadFromIface(b []byte) (int, int, netip.AddrPort, error) {
	n, addr, err := c.Conn.ReadFrom(b)
	var from netip.AddrPort
	if ua, ok := addr.(*net.UDPAddr); ok {
		from = ua.AddrPort()
	}
	return n, int(c.ifindex.Load()), from, err
}

// fakeWatcher hands the test the watcher's report function.
type fakeWatcher struct {
	names  chan []string
	report chan func(string, netip.Addr)
}

func (w *fakeWatcher) Watch(ctx context.Context, names []string, report func(string, netip.Addr)) error {
	w.names <- names
	w.report <- report
	<-ctx.Done()
	return nil
}

// protBed is a bed whose node protects its signalling with the fakes.
type protBed struct {
	*bed
	j     *journal
	prot  *fakeProtector
	mover *fakeMover
	conn  *espConn
}

func newProtBed(t *testing.T, cfg Config, w AddrWatcher) *protBed {
	t.Helper()
	p := &protBed{j: &journal{}, prot: &fakeProtector{}}
	p.prot.ready.Store(true)
	p.mover = &fakeMover{j: p.j}
	p.bed = newBedWith(t, cfg, func(o *Options) {
		p.conn = &espConn{sourced: o.UDP.(sourced), j: p.j}
		o.UDP = p.conn
		o.Protector = p.prot
		o.Mover = p.mover
		if w != nil {
			o.Watcher = w
		}
	})
	return p
}

// haReply answers a request sent straight to the home agent, through ESP
// when esp is set.
func (p *protBed) haReply(req *mip.Request, esp bool) {
	p.t.Helper()
	idx := int64(0)
	if esp {
		idx = espIndex
	}
	p.conn.ifindex.Store(idx)
	p.ha.reply(req, mip.CodeAccepted, 600)
}

// colocated takes the node to its co-located address, the move of the
// SAs answered at once, and registers it there through ESP.
func (p *protBed) colocated() {
	p.t.Helper()
	p.prober.set(colocGW, true)
	unanswered(p.bed)
	req, _ := p.ha.request()
	p.haReply(req, true)
	p.waitState(StateRegistered)
}

// waitStats waits (in real time) until the node's counters satisfy ok.
func (p *protBed) waitStats(ok func(Stats) bool) {
	p.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		s := p.stats()
		if ok(s) {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("counters %+v", s)
		}
		time.Sleep(time.Millisecond)
	}
}

func (p *protBed) ipsecStats() IPsecStats {
	p.t.Helper()
	return p.stats().IPsec
}

var (
	moveToColoc = fmt.Sprintf("move %s>%s", homeAddr, coa)
	moveHome    = fmt.Sprintf("move %s>%s", coa, homeAddr)
	aheadHome   = fmt.Sprintf("ahead %s>%s", coa, homeAddr)
	sendColoc   = fmt.Sprintf("send %s from %s", haAddr, coa)
	sendHome    = fmt.Sprintf("send %s from %s", haAddr, homeAddr)
)

// A co-located registration moves the SAs from the home address to the
// care-of address first, and sends the request only once the move is
// answered; the reply comes through ESP.
func TestIPsecColocatedMovesFirst(t *testing.T) {
	p := newProtBed(t, testConfig(), nil)
	p.mover.set(nil, true)
	p.prober.set(colocGW, true)
	unanswered(p.bed)
	p.j.waitFor(t, moveToColoc)
	p.ha.noRequest()
	if s := p.status(); s.State != StateRegistering || s.IPsecAddr != homeAddr || !s.Pending {
		t.Errorf("status while the SAs move: %+v", s)
	}
	p.mover.release(t)
	req, from := p.ha.request()
	if from != netip.AddrPortFrom(coa, 434) || req.CareOf != coa {
		t.Errorf("request from %s care-of %s", from, req.CareOf)
	}
	if got, want := p.j.list(), []string{moveToColoc, sendColoc}; !slices.Equal(got, want) {
		t.Errorf("journal %q, want %q", got, want)
	}
	p.haReply(req, true)
	s := p.waitState(StateRegistered)
	if s.IPsecAddr != coa {
		t.Errorf("IPsec address %s, want %s", s.IPsecAddr, coa)
	}
	if st := p.stats(); st.IPsec.Moves != 1 || st.IPsec.MoveFailed != 0 || st.SendsHeld != 0 || st.Discards.Unprotected != 0 {
		t.Errorf("stats %+v", st)
	}
	// A renewal from the same address moves nothing.
	p.advance(480 * time.Second)
	req, _ = p.ha.request()
	p.haReply(req, true)
	if got := p.j.list(); len(got) != 3 || got[2] != sendColoc {
		t.Errorf("journal after the renewal %q", got)
	}
}

// A move that fails is counted; the request is then held while the home
// agent is not ready, and the retransmission tries the move again and,
// failing again with the home agent ready, sends the request anyway.
func TestIPsecMoveFails(t *testing.T) {
	p := newProtBed(t, testConfig(), nil)
	p.mover.set(errors.New("no answer from the peer"), false)
	p.prot.ready.Store(false)
	p.prober.set(colocGW, true)
	unanswered(p.bed)
	p.waitStats(func(s Stats) bool { return s.IPsec.MoveFailed == 1 && s.SendsHeld == 1 })
	p.ha.noRequest()
	st := p.stats()
	if st.IPsec.MoveFailed != 1 || st.SendsHeld != 1 || st.Requests != 0 {
		t.Errorf("after the first failed move: move_failed %d, held %d, requests %d; want 1, 1, 0",
			st.IPsec.MoveFailed, st.SendsHeld, st.Requests)
	}
	if s := p.status(); s.IPsecAddr != homeAddr || s.State != StateRegistering {
		t.Errorf("status %+v", s)
	}

	p.prot.ready.Store(true)
	p.advance(time.Second) // RetryInterval
	req, from := p.ha.request()
	if from.Addr() != coa {
		t.Errorf("request from %s", from)
	}
	if got, want := p.j.list(), []string{moveToColoc, moveToColoc, sendColoc}; !slices.Equal(got, want) {
		t.Errorf("journal %q, want %q", got, want)
	}
	if st := p.stats(); st.IPsec.MoveFailed != 2 || st.SendsHeld != 1 || st.Requests != 1 {
		t.Errorf("move_failed %d, held %d, requests %d; want 2, 1, 1", st.IPsec.MoveFailed, st.SendsHeld, st.Requests)
	}
	c := counterMap(mustStatus(t, p.bed))
	if c["ipsec.move_failed"] != 2 || c["sends.held"] != 1 {
		t.Errorf("get_status counters %v", c)
	}
	p.haReply(req, true)
	if s := p.waitState(StateRegistered); s.IPsecAddr != homeAddr {
		t.Errorf("IPsec address %s after failed moves, want still %s", s.IPsecAddr, homeAddr)
	}
}

// Coming home from a co-located address, the SAs move back to the home
// address with MoveAhead (the home agent's answer could only reach the
// home address after the deregistration), and the deregistration is sent
// as soon as the move has left, in the same turn of the loop.
func TestIPsecHomeMovesAhead(t *testing.T) {
	p := newProtBed(t, testConfig(), nil)
	p.colocated()
	p.mover.set(nil, true)
	p.move(p.home)
	p.ha.advertise(1000)
	p.j.waitFor(t, aheadHome)
	p.ha.noRequest()
	if s := p.status(); s.State != StateDeregistering || s.IPsecAddr != coa {
		t.Errorf("status while the SAs move home: %+v", s)
	}
	p.mover.release(t)
	req, from := p.ha.request()
	if req.Lifetime != 0 || from.Addr() != homeAddr {
		t.Errorf("deregistration lifetime %d from %s", req.Lifetime, from)
	}
	if got, want := p.j.list(), []string{moveToColoc, sendColoc, aheadHome, sendHome}; !slices.Equal(got, want) {
		t.Errorf("journal %q, want %q", got, want)
	}
	if st := p.stats(); st.Requests != 2 || st.SendsHeld != 0 || st.IPsec.Moves != 2 {
		t.Errorf("the deregistration waited: requests %d, held %d, moves %d", st.Requests, st.SendsHeld, st.IPsec.Moves)
	}
	p.haReply(req, true)
	if s := p.waitState(StateHome); s.IPsecAddr != homeAddr {
		t.Errorf("IPsec address %s at home", s.IPsecAddr)
	}
}

// Coming home, a deregistration the home agent dropped (it overtook the
// move of the SAs) is sent again by the retransmission, from the home
// address, without another move.
func TestIPsecHomeDeregistrationRetried(t *testing.T) {
	p := newProtBed(t, testConfig(), nil)
	p.colocated()
	p.move(p.home)
	p.ha.advertise(1000)
	req, from := p.ha.request()
	if req.Lifetime != 0 || from.Addr() != homeAddr {
		t.Fatalf("deregistration lifetime %d from %s", req.Lifetime, from)
	}
	p.advance(time.Second) // RetryInterval: the first one went unanswered
	req, from = p.ha.request()
	if req.Lifetime != 0 || from.Addr() != homeAddr {
		t.Errorf("retransmission lifetime %d from %s", req.Lifetime, from)
	}
	if got, want := p.j.list(), []string{moveToColoc, sendColoc, aheadHome, sendHome, sendHome}; !slices.Equal(got, want) {
		t.Errorf("journal %q, want %q", got, want)
	}
	p.haReply(req, true)
	p.waitState(StateHome)
}

// Moving from a co-located address to a foreign agent, the request goes
// through the agent at once (the SAs play no part in it); once it is
// accepted the SAs go back to the home address, which the mobile keeps
// there.
func TestIPsecAgentMovesHomeAfterReply(t *testing.T) {
	p := newProtBed(t, testConfig(), nil)
	p.colocated()
	fa, hub := p.foreignAgent(1)
	p.move(hub)
	fa.advertise(1000)
	req := fa.request()
	p.sync()
	if got := p.j.list(); len(got) != 2 {
		t.Errorf("journal %q before the agent's reply, want no move", got)
	}
	p.conn.ifindex.Store(0) // in clear from the agent: not an IPsec peer
	fa.reply(req, mip.CodeAccepted, 300)
	p.waitState(StateRegistered)
	p.waitStats(func(s Stats) bool { return s.IPsec.Moves == 2 })
	if s := p.status(); s.IPsecAddr != homeAddr {
		t.Errorf("IPsec address %s after the move home, want %s", s.IPsecAddr, homeAddr)
	}
	if got, want := p.j.list(), []string{moveToColoc, sendColoc, moveHome}; !slices.Equal(got, want) {
		t.Errorf("journal %q, want %q", got, want)
	}
	if st := p.stats(); st.IPsec.Moves != 2 || st.Discards.Unprotected != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A reply from the home agent that came in clear is dropped and counted;
// the same reply through ESP is taken.
func TestIPsecUnprotectedReplyDropped(t *testing.T) {
	p := newProtBed(t, testConfig(), nil)
	p.prober.set(colocGW, true)
	unanswered(p.bed)
	req, _ := p.ha.request()
	p.haReply(req, false)
	if s := p.status(); s.State != StateRegistering {
		t.Errorf("state %v after an unprotected reply", s.State)
	}
	st := p.stats()
	if st.Discards.Unprotected != 1 || len(st.Replies) != 0 {
		t.Errorf("unprotected %d, replies %v", st.Discards.Unprotected, st.Replies)
	}
	if c := counterMap(mustStatus(t, p.bed)); c["discards.unprotected"] != 1 {
		t.Errorf("get_status discards.unprotected = %d", c["discards.unprotected"])
	}
	p.haReply(req, true)
	p.waitState(StateRegistered)
}

// At home, a deregistration is held while the home agent is not ready
// (its SAs are being negotiated) and goes out with the retransmission once
// it is.
func TestIPsecHeldUntilReady(t *testing.T) {
	p := newProtBed(t, testConfig(), nil)
	p.prot.ready.Store(false)
	p.ha.advertise(1000)
	p.ha.noRequest()
	if st := p.stats(); st.SendsHeld != 1 || st.Requests != 0 {
		t.Errorf("held %d, requests %d", st.SendsHeld, st.Requests)
	}
	p.advance(time.Second)
	p.ha.noRequest()
	if st := p.stats(); st.SendsHeld != 2 {
		t.Errorf("held %d after the first retry", st.SendsHeld)
	}
	p.prot.ready.Store(true)
	p.advance(2 * time.Second) // the doubled interval
	req, from := p.ha.request()
	if req.Lifetime != 0 || from.Addr() != homeAddr {
		t.Errorf("deregistration lifetime %d from %s", req.Lifetime, from)
	}
	if got := p.j.list(); !slices.Equal(got, []string{sendHome}) {
		t.Errorf("journal %q: the SAs are on the home address, nothing moves", got)
	}
	p.haReply(req, true)
	p.waitState(StateHome)
}

// The addresses of IPSEC_INTERFACES are offered while their interface has
// one, withdrawn when it goes or changes; a failed offer is tried again
// MaxRetryInterval later.
func TestIPsecInterfaces(t *testing.T) {
	cfg := testConfig()
	cfg.IPsecInterfaces = []IPsecInterface{{Name: "wlan0"}}
	w := &fakeWatcher{names: make(chan []string, 1), report: make(chan func(string, netip.Addr), 1)}
	p := newProtBed(t, cfg, w)
	if names := <-w.names; !slices.Equal(names, []string{"wlan0"}) {
		t.Errorf("watched %q", names)
	}
	report := <-w.report
	a1, a2 := netip.MustParseAddr("10.5.0.10"), netip.MustParseAddr("10.6.0.10")
	step := func(addr netip.Addr, want ...string) {
		t.Helper()
		report("wlan0", addr)
		p.j.waitLen(t, len(want))
		p.waitStats(func(s Stats) bool { return s.IPsec.Added+s.IPsec.Removed == uint64(len(want)) })
		if got := p.j.list(); !slices.Equal(got, want) {
			t.Errorf("journal %q, want %q", got, want)
		}
	}
	report("wlan0", netip.Addr{}) // down: nothing to offer
	step(a1, "add 10.5.0.10")
	step(netip.Addr{}, "add 10.5.0.10", "remove 10.5.0.10")
	step(a2, "add 10.5.0.10", "remove 10.5.0.10", "add 10.6.0.10")
	step(a1, "add 10.5.0.10", "remove 10.5.0.10", "add 10.6.0.10", "remove 10.6.0.10", "add 10.5.0.10")
	if st := p.ipsecStats(); st.Added != 3 || st.Removed != 2 || st.AddFailed != 0 {
		t.Errorf("stats %+v", st)
	}

	// Gone, then back while the peer refuses: tried again later.
	p.mover.set(errors.New("refused"), false)
	report("wlan0", netip.Addr{})
	p.j.waitFor(t, "remove 10.5.0.10")
	report("wlan0", a2)
	p.waitStats(func(s Stats) bool { return s.IPsec.AddFailed == 1 })
	p.mover.set(nil, false)
	n := len(p.j.list())
	p.advance(time.Second)
	if got := p.j.list(); len(got) != n {
		t.Errorf("offered again before MaxRetryInterval: %q", got[n:])
	}
	p.advance(3 * time.Second) // MaxRetryInterval in all
	p.j.waitLen(t, n+1)
	if got := p.j.list(); strings.Join(got[n:], ",") != "add 10.6.0.10" {
		t.Errorf("journal after the retry %q", got[n:])
	}
	p.waitStats(func(s Stats) bool { return s.IPsec.Added == 4 })
	if st := p.ipsecStats(); st.Added != 4 || st.AddFailed != 1 || st.RemoveFailed != 1 {
		t.Errorf("stats %+v", st)
	}
}
