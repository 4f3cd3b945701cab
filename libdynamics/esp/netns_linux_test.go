package esp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/netnstest"
	"github.com/dynamics-go/dynamics/internal/tsharktest"
)

// nsHost is one namespace of the userspace ESP testbed.
type nsHost struct {
	ns  *netnstest.NS
	mux *Mux
	u   *Userspace
}

// startHost opens a UDP socket on port 4500, its Mux and a Userspace data
// path inside ns, and closes them at cleanup, before the namespace goes.
func startHost(t *testing.T, ns *netnstest.NS) *nsHost {
	t.Helper()
	h := &nsHost{ns: ns}
	err := ns.Do(func() error {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{Port: EncapPort})
		if err != nil {
			return err
		}
		h.mux = NewMux(conn, MuxOptions{Logger: testLogger(t)})
		h.u, err = NewUserspace(UserspaceOptions{Mux: h.mux, Logger: testLogger(t)})
		if err != nil {
			h.mux.Close()
		}
		return err
	})
	if err != nil {
		t.Fatalf("userspace ESP in %s: %v", ns.Name, err)
	}
	t.Cleanup(func() {
		if err := h.u.Close(); err != nil {
			t.Errorf("%s: Close: %v", ns.Name, err)
		}
		h.mux.Close()
	})
	return h
}

// espTestbed joins namespaces A (outer 192.0.2.1, inner 10.1.0.1) and B
// (192.0.2.2, 10.2.0.1) with a veth and starts the userspace data path in
// both; the inner addresses sit on the TUN devices.
func espTestbed(t *testing.T) (a, b *nsHost) {
	t.Helper()
	nsA, nsB := netnstest.New(t, "ea"), netnstest.New(t, "eb")
	netnstest.Veth(t, nsA, "va", nsB, "vb")
	nsA.Addr("va", outerA.Addr().String()+"/24")
	nsB.Addr("vb", outerB.Addr().String()+"/24")
	a, b = startHost(t, nsA), startHost(t, nsB)
	nsA.Addr(DefaultDevice, innerA.String()+"/32")
	nsB.Addr(DefaultDevice, innerB.String()+"/32")
	return a, b
}

func nsPing(t *testing.T, ns *netnstest.NS, dst netip.Addr, count int) {
	t.Helper()
	out, err := ns.Output("ping", "-n", "-c", fmt.Sprint(count), "-i", "0.2", "-W", "2", dst.String())
	if err != nil || !strings.Contains(out, " 0% packet loss") {
		t.Fatalf("ping %s from %s: %v\n%s", dst, ns.Name, err, out)
	}
}

// udpExchange sends a datagram from A's inner address to a UDP server on
// B's inner address and port, which answers it; both must arrive.
func udpExchange(t *testing.T, a, b *nsHost, port uint16) {
	t.Helper()
	udpExchangeAt(t, a, b, innerA, netip.AddrPortFrom(innerB, port))
}

// udpExchangeAt sends a datagram from A to a UDP server at B's srvAddr,
// which answers it; both must arrive, and A's socket must have picked
// source address src.
func udpExchangeAt(t *testing.T, a, b *nsHost, src netip.Addr, srvAddr netip.AddrPort) {
	t.Helper()
	var srv *net.UDPConn
	if err := b.ns.Do(func() error {
		var err error
		srv, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(srvAddr))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		buf := make([]byte, 2048)
		srv.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, from, err := srv.ReadFromUDPAddrPort(buf)
		if err == nil {
			srv.WriteToUDPAddrPort(append([]byte("echo: "), buf[:n]...), from)
		}
	}()
	var cl *net.UDPConn
	if err := a.ns.Do(func() error {
		var err error
		cl, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(srvAddr))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if la := cl.LocalAddr().(*net.UDPAddr).AddrPort().Addr(); la != src {
		t.Errorf("client source %s, want the policy's source %s (the route's preferred source)", la, src)
	}
	cl.SetDeadline(time.Now().Add(10 * time.Second))
	msg := strings.Repeat("datagram through ESP in UDP ", 40) // > 1000 octets
	if _, err := cl.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	n, err := cl.Read(buf)
	if err != nil || string(buf[:n]) != "echo: "+msg {
		t.Fatalf("UDP answer: %q, %v", buf[:min(n, 40)], err)
	}
}

// TestNamespacesTunnelMode carries ping and UDP between two namespaces
// through userspace ESP in UDP on port 4500 and TUN devices: ICMP through an
// AES-GCM child SA, UDP to port 9000 through a more specific AES-CBC one.
func TestNamespacesTunnelMode(t *testing.T) {
	netnstest.RequireCommand(t, "ping", "iputils-ping")
	a, b := espTestbed(t)
	installChild(t, a.u, b.u, 1, 0x1000, 0x2000, AESGCM16, gcmKey, Selector{Src: hostA, Dst: hostB})
	installChild(t, a.u, b.u, 2, 0x3000, 0x4000, AESCBCHMACSHA256, cbcKey, Selector{Src: hostA, Dst: hostB, Protocol: protoUDP, DstPort: 9000})

	nsPing(t, a.ns, innerB, 3)
	nsPing(t, b.ns, innerA, 3)
	udpExchange(t, a, b, 9000)

	// A datagram's reply may arrive before the goroutine that sent it has
	// counted it.
	for _, h := range []*nsHost{a, b} {
		deadline := time.Now().Add(5 * time.Second)
		s := h.u.Stats()
		for (s.PacketsOut < 7 || s.PacketsIn < 7) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
			s = h.u.Stats()
		}
		if s.PacketsOut < 7 || s.PacketsIn < 7 || s.Drops.Total() != 0 {
			t.Errorf("%s: stats %+v", h.ns.Name, s)
		}
	}
	// The UDP exchange took the CBC child SA, the pings the GCM one.
	if st, _ := b.u.SAStats(SAKey{Inbound, 0x3000, 2}); st.Packets != 1 {
		t.Errorf("B's CBC inbound SA: %+v, want the one UDP datagram", st)
	}
	if st, _ := b.u.SAStats(SAKey{Inbound, 0x1000, 1}); st.Packets != 6 {
		t.Errorf("B's GCM inbound SA: %+v, want 3 echo requests and 3 replies", st)
	}
	// Nothing else crossed the veth's socket but ESP and no IKE.
	if ms := b.mux.Stats(); ms.IKE != 0 || ms.Malformed != 0 || ms.ESP < 7 {
		t.Errorf("B's mux: %+v", ms)
	}
	// The kernel holds the rules and routes the package documents.
	rules := a.ns.Run("ip", "-4", "rule", "show")
	for _, want := range []string{"4499:\tfrom all ipproto udp sport 500 lookup main", "4499:\tfrom all ipproto udp sport 4500 lookup main",
		"4500:\tfrom all to 10.2.0.1 lookup 4500", "4500:\tfrom all to 10.2.0.1 ipproto udp dport 9000 lookup 4500"} {
		if !strings.Contains(rules, want) {
			t.Errorf("rules lack %q:\n%s", want, rules)
		}
	}
	if routes := a.ns.Run("ip", "-4", "route", "show", "table", "4500"); !strings.Contains(routes, "10.2.0.1 dev dynesp0 scope link src 10.1.0.1") {
		t.Errorf("table 4500:\n%s", routes)
	}
}

// TestNamespacesTCPStream sends a TCP stream through a tunnel-mode child
// SA (AES-CBC with HMAC) and requires it intact: thousands of packets,
// full-sized ones among them, through the device's MTU and the replay
// window, with the acknowledgements the other way.
func TestNamespacesTCPStream(t *testing.T) {
	a, b := espTestbed(t)
	sel := Selector{Src: hostA, Dst: hostB, Protocol: protoTCP}
	installChild(t, a.u, b.u, 1, 0x1000, 0x2000, AESCBCHMACSHA256, cbcKey, sel)
	const size = 4 << 20
	var ln net.Listener
	if err := b.ns.Do(func() error {
		var err error
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(innerB, 0).String())
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
		h := sha256.New()
		n, err := io.Copy(h, c)
		r := result{n: n, err: err}
		copy(r.sum[:], h.Sum(nil))
		got <- r
	}()
	var c net.Conn
	if err := a.ns.Do(func() error {
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
	if r.err != nil || r.n != size || r.sum != sha256.Sum256(data) {
		t.Fatalf("received %d of %d bytes (%v), intact %t", r.n, size, r.err, r.sum == sha256.Sum256(data))
	}
	if st, _ := b.u.SAStats(SAKey{Inbound, 0x1000, 1}); st.Bytes < size || st.Replay+st.Auth+st.Malformed != 0 {
		t.Errorf("B's inbound SA: %+v", st)
	}
	for _, h := range []*nsHost{a, b} {
		if s := h.u.Stats(); s.Drops.Total() != 0 {
			t.Errorf("%s: drops %+v", h.ns.Name, s.Drops)
		}
	}
}

// TestNamespacesTransportMode protects the Mobile IP signalling between
// two hosts' own addresses, UDP to port 434, with a transport-mode child SA
// through the userspace data path: the datagrams go into the device though
// their destination is the peer's outer address, the ESP-in-UDP packets do
// not (the bypass rules), the receiver rebuilds the datagram with a valid
// UDP checksum, and other traffic between the hosts (ping) stays outside.
func TestNamespacesTransportMode(t *testing.T) {
	netnstest.RequireCommand(t, "ping", "iputils-ping")
	a, b := espTestbed(t)
	hostOuterA := netip.PrefixFrom(outerA.Addr(), 32)
	hostOuterB := netip.PrefixFrom(outerB.Addr(), 32)
	installChildMode(t, a.u, b.u, ModeTransport, 5, 0x5000, 0x6000, AESGCM16, gcmKey,
		Selector{Src: hostOuterA, Dst: hostOuterB, Protocol: protoUDP, DstPort: 434})

	udpExchangeAt(t, a, b, outerA.Addr(), netip.AddrPortFrom(outerB.Addr(), 434))
	nsPing(t, a.ns, outerB.Addr(), 2)

	if st, _ := b.u.SAStats(SAKey{Inbound, 0x5000, 5}); st.Packets != 1 {
		t.Errorf("B's inbound transport SA: %+v, want the request", st)
	}
	if st, _ := a.u.SAStats(SAKey{Inbound, 0x6000, 5}); st.Packets != 1 {
		t.Errorf("A's inbound transport SA: %+v, want the answer", st)
	}
	for _, h := range []*nsHost{a, b} {
		if s := h.u.Stats(); s.Drops.Total() != 0 || s.PacketsIn != 1 {
			t.Errorf("%s: stats %+v: the pings must not enter the device", h.ns.Name, s)
		}
	}
}

// TestNamespacesHostToHost protects everything between the two hosts'
// own addresses with a transport-mode child SA: the selector covers the
// ESP-in-UDP packets themselves, which only the bypass rules for the IKE
// and encapsulation ports keep out of the device.
func TestNamespacesHostToHost(t *testing.T) {
	netnstest.RequireCommand(t, "ping", "iputils-ping")
	a, b := espTestbed(t)
	installChildMode(t, a.u, b.u, ModeTransport, 6, 0x7000, 0x8000, AESCBCHMACSHA256, cbcKey,
		Selector{Src: netip.PrefixFrom(outerA.Addr(), 32), Dst: netip.PrefixFrom(outerB.Addr(), 32)})
	nsPing(t, a.ns, outerB.Addr(), 3)
	udpExchangeAt(t, b, a, outerB.Addr(), netip.AddrPortFrom(outerA.Addr(), 7000))
	if st, _ := b.u.SAStats(SAKey{Inbound, 0x7000, 6}); st.Packets != 4 {
		t.Errorf("B's inbound SA: %+v, want 3 echo requests and the UDP answer", st)
	}
	if st, _ := a.u.SAStats(SAKey{Inbound, 0x8000, 6}); st.Packets != 4 {
		t.Errorf("A's inbound SA: %+v, want 3 echo replies and the UDP request", st)
	}
}

// TestNamespacesCaptureDecrypts captures what crosses the veth during a
// ping and has tshark decrypt it with the SAs' keys: only ESP in UDP 4500
// travels, and inside are the echo requests and replies.
func TestNamespacesCaptureDecrypts(t *testing.T) {
	netnstest.RequireCommand(t, "ping", "iputils-ping")
	netnstest.RequireCommand(t, "tcpdump", "capture on the veth")
	tsharktest.Require(t)
	a, b := espTestbed(t)
	installChild(t, a.u, b.u, 1, 0x1000, 0x2000, AESGCM16, gcmKey, Selector{Src: hostA, Dst: hostB})

	pcap := filepath.Join(t.TempDir(), "veth.pcap")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dump := b.ns.Command(ctx, "tcpdump", "-i", "vb", "-n", "-U", "-w", pcap, "-c", "4", "ip")
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // tcpdump opens the device
	nsPing(t, a.ns, innerB, 2)
	if err := dump.Wait(); err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	key := hex.EncodeToString(gcmKey.Enc)
	opts := []string{"-o", "esp.enable_encryption_decode:TRUE",
		"-o", fmt.Sprintf(`uat:esp_sa:"IPv4","%s","%s","0x%08x","AES-GCM with 16 octet ICV [RFC4106]","0x%s","NULL",""`, outerA.Addr(), outerB.Addr(), 0x1000, key),
		"-o", fmt.Sprintf(`uat:esp_sa:"IPv4","%s","%s","0x%08x","AES-GCM with 16 octet ICV [RFC4106]","0x%s","NULL",""`, outerB.Addr(), outerA.Addr(), 0x2000, key),
	}
	rows := tsharktest.Fields(t, pcap, opts, "udp.srcport", "udp.dstport", "esp.spi", "icmp.type")
	want := []string{"8", "0", "8", "0"}
	if len(rows) != len(want) {
		t.Fatalf("captured %d packets, want %d: %v", len(rows), len(want), rows)
	}
	for i, r := range rows {
		if r[0] != "4500" || r[1] != "4500" || r[2] == "" || r[3] != want[i] {
			t.Errorf("frame %d: %v, want ESP in UDP 4500 carrying ICMP type %s", i+1, r, want[i])
		}
	}
	if problems := tsharktest.Expert(t, pcap, opts...); len(problems) > 0 {
		t.Errorf("tshark: %s", strings.Join(problems, "\n"))
	}
}
