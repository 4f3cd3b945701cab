//go:build linux

package ipip

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/netnstest"
	"github.com/dynamics-go/dynamics/internal/tsharktest"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

// tunName is the tunnel device in both namespaces.
const tunName = "ipip0"

// host is one end of the testbed.
type host struct {
	ns     *netnstest.NS
	drv    *Driver
	tunnel kernel.Tunnel
}

// testbed builds namespaces A and B joined by a veth (va, vb), starts a
// Driver in each and adds a tunnel of inner MTU mtu (0: derived from the
// veth) with inner addresses routed through it.
func testbed(t *testing.T, mtu int) (a, b *host) {
	t.Helper()
	nsA := netnstest.New(t, "a")
	nsB := netnstest.New(t, "b")
	netnstest.Veth(t, nsA, "va", nsB, "vb")
	nsA.Addr("va", outerA.String()+"/24")
	nsB.Addr("vb", outerB.String()+"/24")
	a = &host{ns: nsA, drv: startDriver(t, nsA), tunnel: kernel.Tunnel{Name: tunName, Local: outerA, Remote: outerB, MTU: mtu}}
	b = &host{ns: nsB, drv: startDriver(t, nsB), tunnel: kernel.Tunnel{Name: tunName, Local: outerB, Remote: outerA, MTU: mtu}}
	for _, h := range []struct {
		*host
		self, peer netip.Addr
	}{{a, innerA, innerB}, {b, innerB, innerA}} {
		if err := h.ns.Do(func() error { return h.drv.AddTunnel(h.tunnel) }); err != nil {
			t.Fatalf("AddTunnel in %s: %v", h.ns.Name, err)
		}
		h.ns.Addr(tunName, h.self.String()+"/32")
		h.ns.Run("ip", "route", "add", h.peer.String()+"/32", "dev", tunName, "src", h.self.String())
	}
	return a, b
}

// startDriver makes a Driver inside ns and closes it at cleanup, before the
// namespace is deleted.
func startDriver(t *testing.T, ns *netnstest.NS) *Driver {
	t.Helper()
	var d *Driver
	err := ns.Do(func() error {
		var err error
		d, err = NewDriver(Options{Logger: testLogger(t)})
		return err
	})
	if err != nil {
		t.Fatalf("NewDriver in %s: %v", ns.Name, err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

// ping pings dst from h and fails the test unless every echo is answered.
func (h *host) ping(t *testing.T, dst netip.Addr, args ...string) string {
	t.Helper()
	out, err := h.ns.Output("ping", append([]string{"-n", "-c", "3", "-i", "0.2", "-W", "2"}, append(args, dst.String())...)...)
	if err != nil || !strings.Contains(out, " 0% packet loss") {
		t.Fatalf("ping %s from %s: %v\n%s", dst, h.ns.Name, err, out)
	}
	return out
}

func TestPingThroughTunnel(t *testing.T) {
	netnstest.RequireCommand(t, "ping", "iputils-ping")
	a, b := testbed(t, 0)
	a.ping(t, innerB)
	b.ping(t, innerA)
	for _, h := range []*host{a, b} {
		s := h.drv.Stats()
		if s.PacketsOut < 6 || s.PacketsIn < 6 {
			t.Errorf("%s: stats %+v, want at least 6 packets each way", h.ns.Name, s)
		}
		if s.Drops.NotPeer+s.Drops.Malformed+s.Drops.Send+s.Drops.Device != 0 {
			t.Errorf("%s: drops %+v", h.ns.Name, s.Drops)
		}
	}
	// The tunnel MTU follows the veth: 1500 - 20.
	if out := a.ns.Run("ip", "-o", "link", "show", tunName); !strings.Contains(out, "mtu 1480") || !strings.Contains(out, ",UP") {
		t.Errorf("tunnel link is not up with mtu 1480:\n%s", out)
	}
}

func TestTCPThroughTunnel(t *testing.T) {
	a, b := testbed(t, 0)
	var ln net.Listener
	if err := a.ns.Do(func() error {
		var err error
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(innerA, 0).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	// Each side sends 4 MiB while reading the other's 4 MiB: a stream
	// both ways at once.
	const size = 4 << 20
	exchange := func(c net.Conn, seed byte) ([32]byte, [32]byte, error) {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i) ^ seed
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		errc := make(chan error, 1)
		go func() {
			_, err := c.Write(data)
			if err == nil {
				err = c.(*net.TCPConn).CloseWrite()
			}
			errc <- err
		}()
		h := sha256.New()
		n, err := io.Copy(h, c)
		if err == nil && n != size {
			err = fmt.Errorf("read %d bytes, want %d", n, size)
		}
		if werr := <-errc; err == nil {
			err = werr
		}
		var got [32]byte
		copy(got[:], h.Sum(nil))
		return sha256.Sum256(data), got, err
	}
	type result struct {
		sent, got [32]byte
		err       error
	}
	server := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			server <- result{err: err}
			return
		}
		defer c.Close()
		var r result
		r.sent, r.got, r.err = exchange(c, 0xa5)
		server <- r
	}()
	var c net.Conn
	if err := b.ns.Do(func() error {
		var err error
		c, err = net.DialTimeout("tcp4", ln.Addr().String(), 5*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if la := c.LocalAddr().(*net.TCPAddr).AddrPort().Addr(); la != innerB {
		t.Errorf("client address %s, want %s", la, innerB)
	}
	sentB, gotB, err := exchange(c, 0x3c)
	if err != nil {
		t.Fatalf("B: %v", err)
	}
	r := <-server
	if r.err != nil {
		t.Fatalf("A: %v", r.err)
	}
	if gotB != r.sent || r.got != sentB {
		t.Errorf("stream corrupted: A sent %x, B got %x; B sent %x, A got %x", r.sent[:4], gotB[:4], sentB[:4], r.got[:4])
	}
	for _, h := range []*host{a, b} {
		if s := h.drv.Stats(); s.BytesIn < size || s.BytesOut < size {
			t.Errorf("%s: stats %+v, want at least %d bytes each way", h.ns.Name, s, size)
		}
		// The kernel's TCP handed the device super-packets to segment,
		// and the driver wrote coalesced ones.
		dev := h.device(t)
		if !dev.offload || dev.supersIn.Load() == 0 || dev.supersOut.Load() == 0 {
			t.Errorf("%s: offloads %v, %d super-packets read, %d written; want some of each",
				h.ns.Name, dev.offload, dev.supersIn.Load(), dev.supersOut.Load())
		}
	}
}

// device returns the TUN device of h's tunnel.
func (h *host) device(t *testing.T) *tun {
	t.Helper()
	h.drv.mu.Lock()
	defer h.drv.mu.Unlock()
	tn := h.drv.tunnels[tunName]
	if tn == nil {
		t.Fatalf("%s: no tunnel %s", h.ns.Name, tunName)
	}
	return tn.dev.(*tun)
}

// stream sends size bytes over TCP from h to a listener on dst in peer and
// fails the test unless they arrive intact.
func stream(t *testing.T, h, peer *host, dst netip.Addr, size int) {
	t.Helper()
	var ln net.Listener
	if err := peer.ns.Do(func() error {
		var err error
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(dst, 0).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		sum [32]byte
		n   int64
		err error
	}
	got := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- result{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		sh := sha256.New()
		n, err := io.Copy(sh, c)
		var r result
		copy(r.sum[:], sh.Sum(nil))
		r.n, r.err = n, err
		got <- r
	}()
	var c net.Conn
	if err := h.ns.Do(func() error {
		var err error
		c, err = net.DialTimeout("tcp4", ln.Addr().String(), 5*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>12)
	}
	if _, err := c.Write(data); err != nil {
		t.Fatalf("send: %v", err)
	}
	c.(*net.TCPConn).CloseWrite()
	r := <-got
	if r.err != nil || r.n != int64(size) || r.sum != sha256.Sum256(data) {
		t.Fatalf("received %d of %d bytes (%v), intact %v", r.n, size, r.err, r.sum == sha256.Sum256(data))
	}
}

// TestKernelGROThroughTunnel: a network card with receive offload on, as
// hardware comes, lets the kernel coalesce the outer datagrams of a TCP
// stream (ipip GRO) before the raw socket reads them, and leaves the inner
// TCP checksum for the next device to finish. The driver must write such
// super-packets for the kernel to finish and segment again. A veth does that
// coalescing with GRO and UDP GRO forwarding on (without the latter its GRO
// skips datagrams from local sockets) and threaded NAPI (so its receive side
// sees more than one datagram at a time).
func TestKernelGROThroughTunnel(t *testing.T) {
	a, b := testbed(t, 0)
	if err := b.ns.Do(func() error { return setFeatures("vb", "rx-gro", "rx-udp-gro-forwarding") }); err != nil {
		t.Skipf("skipped: cannot turn on receive offload on the veth: %v", err)
	}
	if out, err := b.ns.Output("sh", "-c", "echo 1 > /sys/class/net/vb/threaded"); err != nil {
		t.Skipf("skipped: cannot thread the veth's NAPI: %v %s", err, out)
	}
	const size = 64 << 20
	stream(t, a, b, innerB, size)
	s := b.drv.Stats()
	if s.Drops.Total() != 0 {
		t.Errorf("B drops %+v", s.Drops)
	}
	// No datagram on the wire is longer than the tunnel MTU: a longer
	// average is the kernel's coalescing.
	avg := float64(s.BytesIn) / float64(max(s.PacketsIn, 1))
	t.Logf("B received %d inner datagrams, %.0f bytes on average; %d super-packets written",
		s.PacketsIn, avg, b.device(t).supersOut.Load())
	if avg <= 1480 {
		t.Skipf("skipped: the kernel coalesced nothing before the raw socket (%.0f bytes on average), so there was nothing to check", avg)
	}
}

func TestCaptureShowsIPIP(t *testing.T) {
	netnstest.RequireCommand(t, "tcpdump", "capture on the veth")
	a, b := testbed(t, 0)
	a.tunnel.TTL = 33
	if err := a.drv.AddTunnel(a.tunnel); err != nil {
		t.Fatal(err)
	}
	_, out := b.ns.Start("tcpdump", "-n", "-v", "-l", "-c", "1", "-i", "vb", "ip proto 4 and src 192.0.2.1")
	waitFor(t, "tcpdump to listen", func() bool { return strings.Contains(out.String(), "listening on") })
	a.ping(t, innerB, "-Q", "0x10", "-M", "do")
	waitFor(t, "tcpdump to capture", func() bool { return strings.Contains(out.String(), "packet captured") })
	got := out.String()
	// tcpdump decodes the outer header (TOS and DF copied from the inner
	// one, TTL as configured, protocol 4) and then the inner datagram.
	for _, want := range []string{
		"tos 0x10, ttl 33,", "flags [DF], proto IPIP (4)",
		"192.0.2.1 > 192.0.2.2: IP (tos 0x10, ttl 64,", "10.99.0.1 > 10.99.0.2: ICMP echo request",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("capture lacks %q:\n%s", want, got)
		}
	}
}

func TestDropsNonPeer(t *testing.T) {
	a, b := testbed(t, 0)
	c := netnstest.New(t, "c")
	netnstest.Veth(t, a.ns, "vc", c, "vc")
	a.ns.Addr("vc", "198.51.100.1/24")
	c.Addr("vc", outerC.String()+"/24")
	c.Run("ip", "route", "add", "192.0.2.0/24", "via", "198.51.100.1")

	var ln net.PacketConn
	if err := a.ns.Do(func() error {
		var err error
		ln, err = net.ListenPacket("udp4", netip.AddrPortFrom(innerA, 0).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.LocalAddr().(*net.UDPAddr).Port)

	// craft sends, from inside ns, IP-in-IP from outer src to 192.0.2.1
	// carrying a UDP datagram from innerB to the listener.
	craft := func(ns *netnstest.NS, src netip.Addr, payload string) {
		t.Helper()
		inner := tsharktest.UDP(innerB, innerA, 4000, port, []byte(payload))
		outer, err := Encapsulate(nil, inner, src, outerA, 64)
		if err != nil {
			t.Fatal(err)
		}
		if err := ns.Do(func() error {
			s, err := openRawSocket()
			if err != nil {
				return err
			}
			defer s.Close()
			_, err = s.WriteBatch([][]byte{outer}, outerA)
			return err
		}); err != nil {
			t.Fatalf("send from %s: %v", ns.Name, err)
		}
	}
	read := func(timeout time.Duration) (string, error) {
		buf := make([]byte, 100)
		ln.SetReadDeadline(time.Now().Add(timeout))
		n, _, err := ln.ReadFrom(buf)
		return string(buf[:n]), err
	}

	before := a.drv.Stats()
	craft(c, outerC, "from C")
	waitFor(t, "the non-peer datagram to be counted", func() bool {
		return a.drv.Stats().Drops.NotPeer == before.Drops.NotPeer+1
	})
	if got, err := read(300 * time.Millisecond); err == nil {
		t.Fatalf("datagram from a non-peer delivered: %q", got)
	}
	// The same datagram from the peer is delivered: the outer source is
	// what made the difference.
	craft(b.ns, outerB, "from B")
	if got, err := read(5 * time.Second); err != nil || got != "from B" {
		t.Fatalf("datagram from the peer: %q, %v", got, err)
	}
	if s := a.drv.Stats(); s.PacketsIn != before.PacketsIn+1 {
		t.Errorf("PacketsIn %d, want %d", s.PacketsIn, before.PacketsIn+1)
	}
}

func TestOversizeDFGetsFragNeeded(t *testing.T) {
	netnstest.RequireCommand(t, "ping", "iputils-ping")
	a, _ := testbed(t, 1480)
	bigPing := func() string {
		t.Helper()
		out, err := a.ns.Output("ping", "-n", "-c", "1", "-W", "2", "-M", "do", "-s", "1600", innerB.String())
		if err == nil {
			t.Fatalf("oversize ping with DF got through:\n%s", out)
		}
		return out
	}
	// With the device at the tunnel MTU the local stack refuses the
	// datagram itself.
	if out := bigPing(); !strings.Contains(out, "mtu=1480") && !strings.Contains(out, "mtu = 1480") {
		t.Errorf("ping does not report mtu 1480:\n%s", out)
	}
	// With the device MTU raised behind the driver's back the datagram
	// reaches the driver, which answers it.
	a.ns.Run("ip", "link", "set", tunName, "mtu", "2000")
	a.ns.Run("ip", "route", "flush", "cache")
	out := bigPing()
	if !strings.Contains(out, "Frag needed and DF set (mtu = 1480)") {
		t.Errorf("ping does not report the driver's ICMP fragmentation needed:\n%s", out)
	}
	if s := a.drv.Stats(); s.FragNeeded != 1 || s.PacketsOut != 0 {
		t.Errorf("stats %+v, want one FragNeeded and nothing sent", s)
	}
}

func TestOversizeWithoutDFIsFragmented(t *testing.T) {
	netnstest.RequireCommand(t, "ping", "iputils-ping")
	a, b := testbed(t, 1400)
	// Let 1428-byte datagrams reach A's driver, which may fragment their
	// outer datagrams because DF is clear; B's kernel reassembles them
	// before its driver decapsulates.
	a.ns.Run("ip", "link", "set", tunName, "mtu", "1480")
	a.ping(t, innerB, "-M", "dont", "-s", "1400")
	if s := a.drv.Stats(); s.Fragmented < 3 {
		t.Errorf("A stats %+v, want 3 fragmented datagrams", s)
	}
	if s := b.drv.Stats(); s.PacketsIn < 3 || s.Drops.Total() != 0 {
		t.Errorf("B stats %+v, want 3 datagrams in and no drops", s)
	}
}

func TestUpdateInPlace(t *testing.T) {
	netnstest.RequireCommand(t, "ping", "iputils-ping")
	a, b := testbed(t, 0)
	index := func(h *host) string {
		return strings.Fields(h.ns.Run("ip", "-o", "link", "show", tunName))[0]
	}
	before := index(a)
	// Move B's end of the tunnel to a second address.
	moved := netip.MustParseAddr("192.0.2.12")
	b.ns.Addr("vb", moved.String()+"/24")
	a.tunnel.Remote, a.tunnel.MTU = moved, 1400
	b.tunnel.Local = moved
	if err := a.drv.AddTunnel(a.tunnel); err != nil {
		t.Fatal(err)
	}
	if err := b.drv.AddTunnel(b.tunnel); err != nil {
		t.Fatal(err)
	}
	if after := index(a); after != before {
		t.Errorf("device replaced: index %s, was %s", after, before)
	}
	if out := a.ns.Run("ip", "-o", "link", "show", tunName); !strings.Contains(out, "mtu 1400") {
		t.Errorf("mtu not updated:\n%s", out)
	}
	_, out := b.ns.Start("tcpdump", "-n", "-l", "-c", "1", "-i", "vb", "ip proto 4")
	waitFor(t, "tcpdump to listen", func() bool { return strings.Contains(out.String(), "listening on") })
	a.ping(t, innerB)
	waitFor(t, "tcpdump to capture", func() bool { return strings.Contains(out.String(), "packet captured") })
	if !strings.Contains(out.String(), "192.0.2.1 > 192.0.2.12: IP 10.99.0.1 > 10.99.0.2") {
		t.Errorf("datagrams do not go to the new remote:\n%s", out)
	}
}

func TestDriverNamespace(t *testing.T) {
	ns := netnstest.New(t, "n")
	d := startDriver(t, ns)
	// AddTunnel on a thread outside the namespace still creates the device
	// in the driver's namespace.
	name := netnstest.Unique("tn")
	tun := kernel.Tunnel{Name: name, Local: outerA, Remote: outerB}
	if err := d.AddTunnel(tun); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "link", "show", name).CombinedOutput(); err == nil {
		t.Errorf("device %s appeared outside the driver's namespace:\n%s", name, out)
	}
	if out := ns.Run("ip", "-o", "link", "show", name); !strings.Contains(out, ",UP") || !strings.Contains(out, "mtu 1480") {
		t.Errorf("device not up with mtu 1480 (no route: 1500 - 20):\n%s", out)
	}
	for _, key := range []string{"net.ipv4.conf." + name + ".accept_local", "net.ipv6.conf." + name + ".disable_ipv6"} {
		if out := ns.Run("sysctl", "-n", key); strings.TrimSpace(out) != "1" {
			t.Errorf("%s = %q, want 1", key, out)
		}
	}

	// A device deleted behind the driver's back comes back on the next
	// AddTunnel.
	ns.Run("ip", "link", "del", name)
	waitFor(t, "the device reader to stop", func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.tunnels[name].stopped()
	})
	if err := d.AddTunnel(tun); err != nil {
		t.Fatal(err)
	}
	if out := ns.Run("ip", "-o", "link", "show", name); !strings.Contains(out, ",UP") {
		t.Errorf("device not recreated:\n%s", out)
	}

	if err := d.DelTunnel(name); err != nil {
		t.Fatal(err)
	}
	if out, err := ns.Output("ip", "link", "show", name); err == nil {
		t.Errorf("device survived DelTunnel:\n%s", out)
	}
}

func TestCloseRemovesDevices(t *testing.T) {
	before := runtime.NumGoroutine()
	ns := netnstest.New(t, "n")
	var d *Driver
	if err := ns.Do(func() error {
		var err error
		if d, err = NewDriver(Options{Logger: testLogger(t)}); err != nil {
			return err
		}
		for i, remote := range []string{"192.0.2.2", "192.0.2.3", "192.0.2.4"} {
			tun := kernel.Tunnel{Name: fmt.Sprintf("ipip%d", i), Local: outerA, Remote: netip.MustParseAddr(remote)}
			if err := d.AddTunnel(tun); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		if d != nil {
			d.Close()
		}
		t.Fatal(err)
	}
	if out := ns.Run("ip", "-o", "link", "show"); strings.Count(out, "ipip") != 3 {
		t.Fatalf("want 3 tunnel devices:\n%s", out)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if out := ns.Run("ip", "-o", "link", "show"); strings.Contains(out, "ipip") {
		t.Errorf("devices left after Close:\n%s", out)
	}
	waitGoroutines(t, before)
}
