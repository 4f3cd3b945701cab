package systest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/fa"
	"github.com/dynamics-go/dynamics/ha"
	"github.com/dynamics-go/dynamics/internal/memnet"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/mn"
)

var (
	haAddr   = netip.MustParseAddr("10.1.0.1")
	homeAddr = netip.MustParseAddr("10.1.0.10")
	fa1CoA   = netip.MustParseAddr("10.0.1.2")
	fa2CoA   = netip.MustParseAddr("10.0.2.2")
	fa1Vis   = netip.MustParsePrefix("10.2.0.1/24")
	fa2Vis   = netip.MustParsePrefix("10.3.0.1/24")
	mnHW     = net.HardwareAddr{2, 0, 0, 0, 0, 0x10}
)

const (
	mnKey  = "00112233445566778899aabbccddeeff"
	fa1Key = "0102030405060708090a0b0c0d0e0f10"
	fa2Key = "1112131415161718191a1b1c1d1e1f20"
)

func haConfig() string {
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
SECURITY_END
`, haAddr, homeAddr, mnKey, fa1CoA, fa1Key, fa2CoA, fa2Key)
}

func faConfig(coa netip.Addr, spi int, key string) string {
	return fmt.Sprintf(`UpstreamInterface eth0
CareOfAddress %s
AgentAdvInterval 100ms
INTERFACES_BEGIN
eth1
INTERFACES_END
SECURITY_BEGIN
%s %d hmac-md5 %s
SECURITY_END
`, coa, haAddr, spi, key)
}

func mnConfig() string {
	return fmt.Sprintf(`MNHomeIPAddress %s
HAIPAddress %s
HomeNetPrefix 10.1.0.0/24
HomeGateway 10.1.0.254
SPI 1000
SharedSecret %s
Lifetime 60
Interface eth0
SolicitInterval 100ms
RetryInterval 200ms
`, homeAddr, haAddr, mnKey)
}

// world is the in-process testbed: one UDP network, three Ethernet
// segments, and a fake kernel per host.
type world struct {
	t                *testing.T
	net              *memnet.Network
	home, vis1, vis2 *link.Hub
	haK, fa1K, fa2K  *kernel.Fake
	mnK              *kernel.Fake
	ha               *ha.Agent
	fa1, fa2         *fa.Agent
	mobile           *mn.Node
	mnLink           *link.MemConn
	cancel           context.CancelFunc
	wg               sync.WaitGroup
	errMu            sync.Mutex
	errs             []error
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func (w *world) listen(addr string) *memnet.Conn {
	c, err := w.net.Listen(addr)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { c.Close() })
	return c
}

func (w *world) run(name string, run func(context.Context) error, ctx context.Context) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if err := run(ctx); err != nil && ctx.Err() == nil {
			w.errMu.Lock()
			w.errs = append(w.errs, fmt.Errorf("%s: %w", name, err))
			w.errMu.Unlock()
		}
	}()
}

func newWorld(t *testing.T) *world {
	w := &world{t: t, net: memnet.New(), home: link.NewHub(), vis1: link.NewHub(), vis2: link.NewHub(),
		haK: kernel.NewFake(), fa1K: kernel.NewFake(), fa2K: kernel.NewFake(), mnK: kernel.NewFake()}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel

	haCfg, err := ha.ParseConfig("dynhad.conf", strings.NewReader(haConfig()))
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

	newFA := func(name string, coa netip.Addr, vis netip.Prefix, hub *link.Hub, hw byte, spi int, key string, k *kernel.Fake) *fa.Agent {
		cfg, err := fa.ParseConfig("dynfad-"+name+".conf", strings.NewReader(faConfig(coa, spi, key)))
		if err != nil {
			t.Fatal(err)
		}
		l := hub.Attach(link.Info{Name: "eth1", HWAddr: net.HardwareAddr{2, 0, 0, 0, 2, hw}})
		a, err := fa.New(fa.Options{Config: cfg, Upstream: w.listen(coa.String() + ":434"),
			Links: []fa.Link{{Conn: l, Addr: vis}}, Kernel: k, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		w.run(name, a.Run, ctx)
		return a
	}
	w.fa1 = newFA("fa1", fa1CoA, fa1Vis, w.vis1, 1, 2001, fa1Key, w.fa1K)
	w.fa2 = newFA("fa2", fa2CoA, fa2Vis, w.vis2, 2, 2002, fa2Key, w.fa2K)

	mnCfg, err := mn.ParseConfig("dynmnd.conf", strings.NewReader(mnConfig()))
	if err != nil {
		t.Fatal(err)
	}
	w.mnLink = w.home.Attach(link.Info{Name: "eth0", HWAddr: mnHW})
	mnUDP := w.listen(homeAddr.String() + ":434")
	// The mobile's kernel would deliver a foreign agent's reply frame to its
	// UDP socket; here a relay does, from the agent's own address.
	relays := map[netip.Addr]*memnet.Conn{
		fa1Vis.Addr(): w.listen(fa1Vis.Addr().String() + ":434"),
		fa2Vis.Addr(): w.listen(fa2Vis.Addr().String() + ":434"),
	}
	w.mobile, err = mn.New(mn.Options{Config: mnCfg, Link: &kernelDelivery{Conn: w.mnLink, home: homeAddr, relays: relays},
		UDP: mnUDP, Kernel: w.mnK, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	w.run("mn", w.mobile.Run, ctx)

	t.Cleanup(func() {
		cancel()
		w.wg.Wait()
		for _, err := range w.errs {
			t.Error(err)
		}
	})
	return w
}

// kernelDelivery stands in for the mobile's IP stack: a UDP datagram to the
// home address's port 434 arriving as a frame is handed to the mobile's UDP
// socket, as the kernel would, and not to the frame reader.
type kernelDelivery struct {
	Conn   *link.MemConn
	home   netip.Addr
	relays map[netip.Addr]*memnet.Conn
}

func (k *kernelDelivery) ReadFrame(b []byte) (int, net.HardwareAddr, error) {
	for {
		n, src, err := k.Conn.ReadFrame(b)
		if err != nil {
			return n, src, err
		}
		u, err := link.ParseUDP(b[:n])
		if err == nil && u.Dst.Addr() == k.home && u.Dst.Port() == 434 {
			if r := k.relays[u.Src.Addr()]; r != nil {
				_, _ = r.WriteTo(u.Payload, net.UDPAddrFromAddrPort(u.Dst))
			}
			continue
		}
		return n, src, nil
	}
}

func (k *kernelDelivery) WriteFrame(pkt []byte, dst net.HardwareAddr) error {
	return k.Conn.WriteFrame(pkt, dst)
}
func (k *kernelDelivery) SetReadDeadline(t time.Time) error { return k.Conn.SetReadDeadline(t) }
func (k *kernelDelivery) Info() link.Info                   { return k.Conn.Info() }
func (k *kernelDelivery) Close() error                      { return k.Conn.Close() }

// waitFor polls cond until it holds or five seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (w *world) mnStatus() mn.Status {
	st, err := w.mobile.Status(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return st
}

func (w *world) haCoA() (netip.Addr, bool) {
	var coa netip.Addr
	var ok bool
	err := w.ha.Do(context.Background(), func(s *ha.State) {
		if b, found := s.Binding(homeAddr); found {
			coa, ok = b.CareOf, true
		}
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return coa, ok
}

func visitor(t *testing.T, a *fa.Agent) bool {
	var ok bool
	if err := a.Do(context.Background(), func(s *fa.State) { _, ok = s.Visitor(homeAddr) }); err != nil {
		t.Fatal(err)
	}
	return ok
}

func hostRoute(dev string) kernel.Route {
	return kernel.Route{Dst: netip.PrefixFrom(homeAddr, 32), Dev: dev}
}

// TestRoamFlat moves the mobile home -> fa1 -> fa2 -> home and checks each
// agent's bindings and kernel state at every stop.
func TestRoamFlat(t *testing.T) {
	w := newWorld(t)
	waitFor(t, "the mobile to find itself at home", func() bool { return w.mnStatus().Location == "home" })
	if _, ok := w.haCoA(); ok {
		t.Fatal("the home agent holds a binding for a mobile at home")
	}

	w.mnLink.Move(w.vis1)
	waitFor(t, "registration through fa1", func() bool {
		st := w.mnStatus()
		return st.State == mn.StateRegistered && st.CareOf == fa1CoA
	})
	if coa, ok := w.haCoA(); !ok || coa != fa1CoA {
		t.Fatalf("home agent binding %v %v, want care-of %s", coa, ok, fa1CoA)
	}
	if !w.haK.Has(kernel.ProxyARP{IP: homeAddr, Dev: "eth0"}) {
		t.Errorf("home agent has no proxy ARP entry:\n%s", w.haK.Render())
	}
	if !visitor(t, w.fa1) || !w.fa1K.Has(hostRoute("eth1")) {
		t.Errorf("fa1 has no visitor entry or host route:\n%s", w.fa1K.Render())
	}
	if len(w.haK.ARPs()) == 0 {
		t.Error("no gratuitous ARP for the home address on the first binding")
	}

	w.mnLink.Move(w.vis2)
	waitFor(t, "registration through fa2", func() bool {
		st := w.mnStatus()
		return st.State == mn.StateRegistered && st.CareOf == fa2CoA
	})
	if coa, _ := w.haCoA(); coa != fa2CoA {
		t.Fatalf("home agent care-of %s, want %s", coa, fa2CoA)
	}
	// The home agent revokes fa1's binding (RFC 3543): fa1 forgets the
	// mobile at once, not when the lifetime runs out.
	waitFor(t, "fa1 to drop its visitor after revocation", func() bool {
		return !visitor(t, w.fa1) && !w.fa1K.Has(hostRoute("eth1"))
	})
	if got := w.fa1K.Render(); strings.Contains(got, homeAddr.String()) {
		t.Errorf("fa1 still has state for the mobile:\n%s", got)
	}
	if !visitor(t, w.fa2) {
		t.Error("fa2 has no visitor entry")
	}

	w.mnLink.Move(w.home)
	waitFor(t, "deregistration at home", func() bool {
		_, bound := w.haCoA()
		return w.mnStatus().Location == "home" && !bound
	})
	waitFor(t, "fa2 to drop its visitor", func() bool { return !visitor(t, w.fa2) })
	if got := w.haK.Render(); strings.Contains(got, homeAddr.String()) {
		t.Errorf("home agent still has state for the mobile:\n%s", got)
	}
	if !w.mnK.Has(kernel.Route{Dst: netip.MustParsePrefix("10.1.0.0/24"), Dev: "eth0", Src: homeAddr}) {
		t.Errorf("the mobile did not restore its home route:\n%s", w.mnK.Render())
	}
}
