package ike

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/memnet"
	"github.com/dynamics-go/dynamics/internal/tsharktest"
	"github.com/dynamics-go/dynamics/libdynamics/esp"
)

// fakeESP is an esp.Kernel that records what the engine installs, with a
// small data path over the engine's Muxes (datapath_test.go).
type fakeESP struct {
	mu       sync.Mutex
	sas      map[esp.SAKey]esp.SA
	policies map[esp.PolicyKey]esp.Policy
	updates  int
	fail     error // returned by AddSA when set
	dp       dataPath
}

var _ esp.Kernel = (*fakeESP)(nil)

func newFakeESP() *fakeESP {
	return &fakeESP{sas: map[esp.SAKey]esp.SA{}, policies: map[esp.PolicyKey]esp.Policy{}, dp: newDataPath()}
}

func (f *fakeESP) Name() string { return "fake" }

func (f *fakeESP) AddSA(sa esp.SA) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := sa.Check(); err != nil {
		return err
	}
	if f.fail != nil {
		return f.fail
	}
	if _, ok := f.sas[sa.Key()]; ok {
		return esp.ErrExists
	}
	f.sas[sa.Key()] = sa
	f.dp.add(sa)
	return nil
}

func (f *fakeESP) UpdateSA(sa esp.SA) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	old, ok := f.sas[sa.Key()]
	if !ok {
		return esp.ErrNotFound
	}
	old.Local, old.Remote = sa.Local, sa.Remote
	f.sas[sa.Key()] = old
	f.updates++
	return nil
}

func (f *fakeESP) DeleteSA(k esp.SAKey) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sas, k)
	f.dp.remove(k)
	return nil
}

func (f *fakeESP) AddPolicy(p esp.Policy) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.policies[p.Key()]; ok {
		return esp.ErrExists
	}
	f.policies[p.Key()] = p
	return nil
}

func (f *fakeESP) UpdatePolicy(p esp.Policy) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.policies[p.Key()]; !ok {
		return esp.ErrNotFound
	}
	f.policies[p.Key()] = p
	return nil
}

func (f *fakeESP) DeletePolicy(k esp.PolicyKey) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.policies, k)
	return nil
}

func (f *fakeESP) Close() error { return nil }

// snapshot returns the SAs by direction, sorted by SPI, and the policies.
func (f *fakeESP) snapshot() (in, out []esp.SA, pols []esp.Policy) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, sa := range f.sas {
		if sa.Direction == esp.Inbound {
			in = append(in, sa)
		} else {
			out = append(out, sa)
		}
	}
	sort.Slice(in, func(i, j int) bool { return in[i].SPI < in[j].SPI })
	sort.Slice(out, func(i, j int) bool { return out[i].SPI < out[j].SPI })
	for _, p := range f.policies {
		pols = append(pols, p)
	}
	return in, out, pols
}

// syncBuf is a log buffer safe for the engine's goroutines.
type syncBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// node is one engine on the in-memory network.
type node struct {
	t      *testing.T
	name   string
	addr   netip.Addr
	e      *Engine
	esp    *fakeESP
	log    *syncBuf
	keys   *syncBuf
	net    *memnet.Network
	done   chan error
	cancel context.CancelFunc
}

const (
	mnAddr  = "10.0.0.1"
	haAddr  = "10.0.0.2"
	testPSK = "test-pre-shared-key-of-some-length"
)

// sockets binds port 500 and a port-4500 Mux on addr.
func sockets(t *testing.T, n *memnet.Network, addr netip.Addr) []Socket {
	t.Helper()
	c500, err := n.Listen(netip.AddrPortFrom(addr, 500).String())
	if err != nil {
		t.Fatal(err)
	}
	c4500, err := n.Listen(netip.AddrPortFrom(addr, 4500).String())
	if err != nil {
		t.Fatal(err)
	}
	mux := esp.NewMux(c4500, esp.MuxOptions{})
	t.Cleanup(func() { _ = c500.Close(); _ = mux.Close() })
	return []Socket{{Conn: c500}, {Conn: mux.IKE(), Mux: mux}}
}

// baseConfigs are a mobile-node-like initiator and a home-agent-like
// responder sharing a PSK, with a tunnel-mode child between inner hosts.
func baseConfigs() (mn, ha Config) {
	mn = Config{
		LocalID: "mn@example.org", PSK: []byte(testPSK),
		Peers: []Peer{{
			Name: "ha", RemoteID: "ha@example.org", Address: netip.MustParseAddrPort(haAddr + ":500"),
			LocalTS:  []Selector{sel("10.1.0.1/32")},
			RemoteTS: []Selector{sel("10.2.0.1/32")},
		}},
	}
	ha = Config{
		LocalID: "ha@example.org", PSK: []byte(testPSK),
		Peers: []Peer{{
			Name: "mn", RemoteID: "mn@example.org",
			LocalTS:  []Selector{sel("10.2.0.0/24")},
			RemoteTS: []Selector{sel("10.1.0.0/24")},
		}},
	}
	return mn, ha
}

// newNode starts an engine on addr.
func newNode(t *testing.T, n *memnet.Network, name string, addr string, cfg Config) *node {
	t.Helper()
	a := netip.MustParseAddr(addr)
	nd := &node{t: t, name: name, addr: a, esp: newFakeESP(), log: &syncBuf{}, keys: &syncBuf{}, net: n, done: make(chan error, 1)}
	logger := slog.New(slog.NewTextHandler(nd.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, err := New(Options{Config: cfg, Sockets: sockets(t, n, a), ESP: nd.esp, Logger: logger, KeyLog: nd.keys})
	if err != nil {
		t.Fatal(err)
	}
	nd.e = e
	ctx, cancel := context.WithCancel(context.Background())
	nd.cancel = cancel
	go func() { nd.done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-nd.done:
			if err != nil {
				t.Errorf("%s: Run: %v", name, err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s: Run did not return", name)
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", name, nd.log.String())
		}
	})
	return nd
}

// pair starts an initiator ("mn") and a responder ("ha") with the base
// configurations changed by edit.
func pair(t *testing.T, edit func(mn, ha *Config)) (mn, ha *node, n *memnet.Network) {
	t.Helper()
	n = memnet.New()
	mc, hc := baseConfigs()
	// Quick retransmissions keep the loss tests short.
	mc.Retransmit, hc.Retransmit = 50*time.Millisecond, 50*time.Millisecond
	if edit != nil {
		edit(&mc, &hc)
	}
	ha = newNode(t, n, "ha", haAddr, hc)
	mn = newNode(t, n, "mn", mnAddr, mc)
	return mn, ha, n
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// sas returns a node's IKE SAs.
func (nd *node) sas() []SAInfo {
	nd.t.Helper()
	s, err := nd.e.SAs(ctx(nd.t))
	if err != nil {
		nd.t.Fatal(err)
	}
	return s
}

// stats returns a node's counters.
func (nd *node) stats() Stats {
	nd.t.Helper()
	s, err := nd.e.Stats(ctx(nd.t))
	if err != nil {
		nd.t.Fatal(err)
	}
	return s
}

// only returns a node's single IKE SA, failing otherwise.
func (nd *node) only() SAInfo {
	nd.t.Helper()
	s := nd.sas()
	if len(s) != 1 {
		nd.t.Fatalf("%s has %d IKE SAs, want 1: %v", nd.name, len(s), s)
	}
	return s[0]
}

// eventually polls cond until it holds or two seconds pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkChildPair checks that the two sides installed matching ESP SAs for
// the child with the initiator's inbound SPI: the SPIs cross, the keys of
// each direction agree, and a packet sealed by one side opens on the other.
func checkChildPair(t *testing.T, a, b *node, aIn uint32) {
	t.Helper()
	find := func(f *fakeESP, dir esp.Direction, spi uint32) (esp.SA, bool) {
		f.mu.Lock()
		defer f.mu.Unlock()
		for k, sa := range f.sas {
			if k.Direction == dir && k.SPI == spi {
				return sa, true
			}
		}
		return esp.SA{}, false
	}
	aInSA, ok := find(a.esp, esp.Inbound, aIn)
	if !ok {
		t.Fatalf("%s has no inbound SA %08x", a.name, aIn)
	}
	bOutSA, ok := find(b.esp, esp.Outbound, aIn)
	if !ok {
		t.Fatalf("%s has no outbound SA %08x", b.name, aIn)
	}
	if !bytes.Equal(aInSA.Keys.Enc, bOutSA.Keys.Enc) || !bytes.Equal(aInSA.Keys.Auth, bOutSA.Keys.Auth) {
		t.Fatalf("keys of SA %08x differ: %s in %x, %s out %x", aIn, a.name, aInSA.Keys.Enc, b.name, bOutSA.Keys.Enc)
	}
	if aInSA.Local != bOutSA.Remote || aInSA.Remote != bOutSA.Local {
		t.Errorf("SA %08x outer addresses: %s in %s<-%s, %s out %s->%s", aIn, a.name, aInSA.Local, aInSA.Remote, b.name, bOutSA.Local, bOutSA.Remote)
	}
	out, err := esp.NewSealer(bOutSA)
	if err != nil {
		t.Fatal(err)
	}
	in, err := esp.NewOpener(aInSA)
	if err != nil {
		t.Fatal(err)
	}
	payload, proto := []byte("a datagram through the child SA"), uint8(17)
	if aInSA.Mode == esp.ModeTunnel {
		payload = tsharktest.UDP(netip.MustParseAddr("10.2.0.1"), netip.MustParseAddr("10.1.0.1"), 434, 434, payload)
		proto = esp.NextHeaderIPv4
	}
	pkt, err := out.Seal(nil, payload, proto)
	if err != nil {
		t.Fatal(err)
	}
	got, next, err := in.Open(pkt)
	if err != nil || next != proto || !bytes.Equal(got, payload) {
		t.Fatalf("%s -> %s through SA %08x: %q next %d, %v", b.name, a.name, aIn, got, next, err)
	}
}

// errIs fails unless err wraps want.
func errIs(t *testing.T, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
}

func udp(ap netip.AddrPort) *net.UDPAddr { return net.UDPAddrFromAddrPort(ap) }
