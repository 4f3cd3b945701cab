package secure

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/dynamics-go/dynamics/internal/netnstest"
	"github.com/dynamics-go/dynamics/libdynamics/config"
)

// Addresses of the two-namespace test: the initiator (a mobile node) and
// the responder (its home agent) on one veth link.
const (
	nsInitiator = "10.9.0.2"
	nsMoved     = "10.9.0.3"
	nsResponder = "10.9.0.1"
)

// guardConfig decodes a configuration as a daemon would.
func guardConfig(t *testing.T, text string) Config {
	t.Helper()
	f, err := config.Parse("guard.conf", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	var c daemonConfig
	if err := config.Decode(f, &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Config.ValidateFile(f); err != nil {
		t.Fatal(err)
	}
	return c.Config
}

// openIn opens a guard inside ns.
func openIn(t *testing.T, ns *netnstest.NS, opts Options) *Guard {
	t.Helper()
	var g *Guard
	if err := ns.Do(func() error {
		var err error
		g, err = Open(opts)
		return err
	}); err != nil {
		t.Fatalf("open the guard in %s: %v", ns.Name, err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// listen opens UDP port 434 on a in ns, reporting each datagram's
// arrival interface.
func listen(t *testing.T, ns *netnstest.NS, a string) *ipv4.PacketConn {
	t.Helper()
	var pc *ipv4.PacketConn
	if err := ns.Do(func() error {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(a), Port: SignallingPort})
		if err != nil {
			return err
		}
		pc = ipv4.NewPacketConn(c)
		return pc.SetControlMessage(ipv4.FlagInterface, true)
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

// received is one datagram and where it came in.
type received struct {
	text    string
	src     netip.Addr
	ifindex int
}

// exchange sends text from one port-434 socket to another until it
// arrives (the first datagrams may race a just-installed route) and
// returns how it arrived.
func exchange(t *testing.T, from, to *ipv4.PacketConn, dst, text string) received {
	t.Helper()
	buf := make([]byte, 2048)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := from.WriteTo([]byte(text), nil, &net.UDPAddr{IP: net.ParseIP(dst), Port: SignallingPort}); err != nil {
			t.Fatalf("send %q: %v", text, err)
		}
		_ = to.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		for {
			n, cm, src, err := to.ReadFrom(buf)
			if err != nil {
				break
			}
			if string(buf[:n]) != text {
				continue
			}
			ua := src.(*net.UDPAddr)
			r := received{text: text, src: ua.AddrPort().Addr().Unmap()}
			if cm != nil {
				r.ifindex = cm.IfIndex
			}
			return r
		}
	}
	t.Fatalf("%q never arrived at %s", text, dst)
	return received{}
}

// forge sends a UDP datagram from src port 434 to dst port 434 through a
// raw socket with its own IP header: the policy routing that steers UDP
// to port 434 into the ESP device does not see raw datagrams, so it
// leaves in clear over the veth, as a forged registration would come.
func forge(t *testing.T, ns *netnstest.NS, src, dst, text string) {
	t.Helper()
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	udpLen := 8 + len(text)
	pkt := make([]byte, 20+udpLen)
	pkt[0] = 0x45
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	pkt[8] = 64
	pkt[9] = syscall.IPPROTO_UDP
	copy(pkt[12:16], s[:])
	copy(pkt[16:20], d[:])
	binary.BigEndian.PutUint16(pkt[20:], SignallingPort)
	binary.BigEndian.PutUint16(pkt[22:], SignallingPort)
	binary.BigEndian.PutUint16(pkt[24:], uint16(udpLen))
	copy(pkt[28:], text) // UDP checksum 0: none
	if err := ns.Do(func() error {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
		if err != nil {
			return err
		}
		defer syscall.Close(fd)
		return syscall.Sendto(fd, pkt, 0, &syscall.SockaddrInet4{Addr: d})
	}); err != nil {
		t.Fatalf("forge: %v", err)
	}
}

// waitFor polls cond for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

// leftovers lists the ESP data path's traces in ns: the device, its
// rules, its routes.
func leftovers(ns *netnstest.NS) []string {
	var out []string
	if o, err := ns.Output("ip", "link", "show", "dynesp0"); err == nil {
		out = append(out, "device: "+o)
	}
	if o, _ := ns.Output("ip", "rule", "show"); strings.Contains(o, "4500") || strings.Contains(o, "4499") {
		out = append(out, "rules: "+o)
	}
	if o, _ := ns.Output("ip", "route", "show", "table", "4500"); strings.TrimSpace(o) != "" {
		out = append(out, "routes: "+o)
	}
	return out
}

// TestGuardsOverVeth: an initiator guard (a mobile node) and a responder
// guard (its home agent) with a PSK over the userspace ESP path: the
// signalling both ways comes out of the ESP device and is judged
// protected, a forged datagram in clear is judged droppable, ESP is on the
// wire, a move to a second address keeps the exchange working with the
// same IKE SA, and Close leaves nothing behind.
func TestGuardsOverVeth(t *testing.T) {
	netnstest.RequireRoot(t)
	mnNS, haNS := netnstest.New(t, "gi"), netnstest.New(t, "gr")
	netnstest.Veth(t, mnNS, "eth0", haNS, "eth0")
	mnNS.Addr("eth0", nsInitiator+"/24")
	haNS.Addr("eth0", nsResponder+"/24")

	mnCfg := guardConfig(t, "IPsecPSK secret-of-the-test\nIPsecESP userspace\nIPSEC_BEGIN\n"+nsResponder+"\nIPSEC_END\n")
	haCfg := guardConfig(t, "IPsecPSK secret-of-the-test\nIPsecESP userspace\nIPSEC_BEGIN\n"+nsInitiator+"\nIPSEC_END\n")
	// The mobile side first: with nobody answering, nothing may leave.
	mn := openIn(t, mnNS, Options{Config: mnCfg, Local: addr(nsInitiator), Initiate: []netip.Addr{addr(nsResponder)}})
	if mn.Ready(addr(nsResponder)) {
		t.Fatal("Ready before the home agent exists")
	}
	if !mn.Ready(addr("10.9.0.77")) {
		t.Error("a peer without an entry is not ready: nothing requires protection with it")
	}
	ha := openIn(t, haNS, Options{Config: haCfg, Local: addr(nsResponder), Mobiles: netip.MustParsePrefix("10.9.0.0/24")})
	if ha.Ready(addr(nsInitiator)) {
		t.Fatal("the home agent is ready toward the mobile before any SA")
	}
	if mn.ESP() != ESPUserspace || mn.Device() == 0 {
		t.Fatalf("data path %s device %d", mn.ESP(), mn.Device())
	}
	if !waitFor(15*time.Second, func() bool { return mn.Ready(addr(nsResponder)) && ha.Ready(addr(nsInitiator)) }) {
		sas, _ := mn.SAs(context.Background())
		t.Fatalf("SAs not up: mobile ready %v, home agent ready %v; %v", mn.Ready(addr(nsResponder)), ha.Ready(addr(nsInitiator)), sas)
	}
	sas, err := mn.SAs(context.Background())
	if err != nil || len(sas) != 1 || len(sas[0].Children) != 1 {
		t.Fatalf("mobile's SAs %v: %v", sas, err)
	}
	c := sas[0].Children[0]
	if got := fmt.Sprint(c.LocalTS, c.RemoteTS); got != "[10.9.0.2/32[17/0-65535]] [10.9.0.1/32[17/434-434]]" {
		t.Errorf("mobile's child selectors %s", got)
	}
	hsas, _ := ha.SAs(context.Background())
	if len(hsas) != 1 || len(hsas[0].Children) != 1 || fmt.Sprint(hsas[0].Children[0].LocalTS, hsas[0].Children[0].RemoteTS) != "[10.9.0.1/32[17/434-434]] [10.9.0.2/32[17/0-65535]]" {
		t.Errorf("home agent's SAs %v", hsas)
	}

	mnSock, haSock := listen(t, mnNS, nsInitiator), listen(t, haNS, nsResponder)
	pcap := capture(t, haNS)
	r := exchange(t, mnSock, haSock, nsResponder, "request 1")
	if v := ha.Check(r.src, r.ifindex); r.src != addr(nsInitiator) || r.ifindex != ha.Device() || !v.Required || !v.Protected {
		t.Errorf("request at the home agent: from %s on %d (ESP device %d): %+v", r.src, r.ifindex, ha.Device(), v)
	}
	r = exchange(t, haSock, mnSock, nsInitiator, "reply 1")
	if v := mn.Check(r.src, r.ifindex); r.ifindex != mn.Device() || !v.Required || !v.Protected {
		t.Errorf("reply at the mobile: from %s on %d (ESP device %d): %+v", r.src, r.ifindex, mn.Device(), v)
	}

	// On the wire: ESP in UDP, no signalling in clear.
	clear, esp := pcap.count("udp port 434"), pcap.count("udp port 4500 and udp[8:4] != 0")
	if clear != 0 || esp < 2 {
		out, _ := exec.Command("tcpdump", "-nn", "-r", pcap.file).CombinedOutput()
		t.Errorf("capture: %d datagrams to or from port 434 in clear, %d ESP packets\n%s\n%s", clear, esp, out, pcap.out.String())
	}

	// A datagram that bypasses ESP arrives on the veth and is dropped.
	var haVeth int
	_ = haNS.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err == nil {
			haVeth = ifi.Index
		}
		return err
	})
	forge(t, mnNS, nsInitiator, nsResponder, "forged")
	buf := make([]byte, 2048)
	_ = haSock.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		n, cm, src, err := haSock.ReadFrom(buf)
		if err != nil {
			t.Fatalf("the forged datagram did not arrive: %v", err)
		}
		if string(buf[:n]) != "forged" {
			continue
		}
		a := src.(*net.UDPAddr).AddrPort().Addr().Unmap()
		if v := ha.Check(a, cm.IfIndex); cm.IfIndex != haVeth || v != (Verdict{Required: true, Protected: false}) {
			t.Errorf("forged datagram from %s on %d (veth %d): %+v", a, cm.IfIndex, haVeth, v)
		}
		break
	}

	// ESP is on the wire: both data paths sealed and opened.
	ms, hs := mn.Stats(), ha.Stats()
	if ms.ESP.PacketsOut == 0 || ms.ESP.PacketsIn == 0 || hs.ESP.PacketsOut == 0 || hs.ESP.PacketsIn == 0 {
		t.Errorf("ESP counters: mobile %+v, home agent %+v", ms.ESP, hs.ESP)
	}
	if ms.IKESAs != 1 || ms.Children != 1 || ms.IKEInitiated != 1 || hs.IKESAs != 1 || hs.IKEInitiated != 0 {
		t.Errorf("stats: mobile %+v, home agent %+v", ms, hs)
	}

	// The mobile moves to a second address.
	mnNS.Addr("eth0", nsMoved+"/24")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := mnNS.Do(func() error { return mn.MoveTo(ctx, addr(nsInitiator), addr(nsMoved)) }); err != nil {
		t.Fatalf("move: %v", err)
	}
	if !waitFor(5*time.Second, func() bool { return ha.Requires(addr(nsMoved)) && ha.Ready(addr(nsMoved)) }) {
		t.Fatal("the home agent has no outbound policy toward the new address")
	}
	mnMoved := listen(t, mnNS, nsMoved)
	r = exchange(t, mnMoved, haSock, nsResponder, "request 2")
	if v := ha.Check(r.src, r.ifindex); r.src != addr(nsMoved) || !v.Required || !v.Protected {
		t.Errorf("request from the new address: from %s on %d: %+v", r.src, r.ifindex, v)
	}
	r = exchange(t, haSock, mnMoved, nsMoved, "reply 2")
	if v := mn.Check(r.src, r.ifindex); !v.Protected {
		t.Errorf("reply to the new address: from %s on %d: %+v", r.src, r.ifindex, v)
	}
	ms = mn.Stats()
	if ms.IKESAs != 1 || ms.IKEInitiated != 1 {
		t.Errorf("after the move: %+v", ms)
	}
	if sas, _ := mn.SAs(ctx); len(sas) != 1 || sas[0].Local.Addr() != addr(nsMoved) {
		t.Errorf("mobile's SAs after the move: %v", sas)
	}

	// Close leaves no device, rule or route.
	for _, g := range []*Guard{mn, ha} {
		if err := g.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	for _, ns := range []*netnstest.NS{mnNS, haNS} {
		if l := leftovers(ns); len(l) > 0 {
			t.Errorf("%s after Close: %v", ns.Name, l)
		}
	}
	if err := mn.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

// TestGuardResponderAddresses: a responder reachable on a second address
// (an upper foreign agent on the link to the agents below it) answers
// IKE there and its SAs cover the signalling to it.
func TestGuardResponderAddresses(t *testing.T) {
	netnstest.RequireRoot(t)
	const second = "10.9.0.5"
	lowNS, upNS := netnstest.New(t, "gl"), netnstest.New(t, "gu")
	netnstest.Veth(t, lowNS, "eth0", upNS, "eth0")
	lowNS.Addr("eth0", nsInitiator+"/24")
	upNS.Addr("eth0", nsResponder+"/24")
	upNS.Addr("eth0", second+"/24")
	lowCfg := guardConfig(t, "IPsecPSK hierarchy\nIPsecESP userspace\nIPsecLocalID low.example.org\nIPSEC_BEGIN\n"+second+" up.example.org\nIPSEC_END\n")
	upCfg := guardConfig(t, "IPsecPSK hierarchy\nIPsecESP userspace\nIPsecLocalID up.example.org\nIPSEC_BEGIN\n10.9.0.0/24\nIPSEC_END\n")
	var hostAddrs []netip.Addr
	if err := upNS.Do(func() error {
		var err error
		hostAddrs, err = HostAddresses()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(hostAddrs) != "["+nsResponder+" "+second+"]" {
		t.Fatalf("HostAddresses in the upper agent's namespace: %v", hostAddrs)
	}
	up := openIn(t, upNS, Options{Config: upCfg, Local: addr(nsResponder), Addresses: hostAddrs})
	low := openIn(t, lowNS, Options{Config: lowCfg, Local: addr(nsInitiator), Initiate: []netip.Addr{addr(second)}})
	if !waitFor(15*time.Second, func() bool { return low.Ready(addr(second)) && up.Ready(addr(nsInitiator)) }) {
		t.Fatal("SAs not up")
	}
	sas, _ := up.SAs(context.Background())
	if len(sas) != 1 || sas[0].Local.Addr() != addr(second) || len(sas[0].Children) != 1 ||
		fmt.Sprint(sas[0].Children[0].LocalTS) != "[10.9.0.5/32[17/434-434]]" {
		t.Fatalf("upper agent's SAs %v", sas)
	}
	lowSock, upSock := listen(t, lowNS, nsInitiator), listen(t, upNS, second)
	r := exchange(t, lowSock, upSock, second, "relayed request")
	if v := up.Check(r.src, r.ifindex); !v.Required || !v.Protected {
		t.Errorf("request at the upper agent: from %s on %d: %+v", r.src, r.ifindex, v)
	}
	r = exchange(t, upSock, lowSock, nsInitiator, "relayed reply")
	if v := low.Check(r.src, r.ifindex); !v.Required || !v.Protected {
		t.Errorf("reply at the lower agent: from %s on %d: %+v", r.src, r.ifindex, v)
	}
}

// pair brings up an initiator guard (a mobile node on nsInitiator) and a
// responder guard (its home agent) over a veth and waits for their SAs;
// mnExtra is added to the mobile's configuration.
func pair(t *testing.T, mnExtra string) (mnNS, haNS *netnstest.NS, mn, ha *Guard) {
	t.Helper()
	netnstest.RequireRoot(t)
	mnNS, haNS = netnstest.New(t, "gi"), netnstest.New(t, "gr")
	netnstest.Veth(t, mnNS, "eth0", haNS, "eth0")
	mnNS.Addr("eth0", nsInitiator+"/24")
	haNS.Addr("eth0", nsResponder+"/24")
	mnCfg := guardConfig(t, mnExtra+"IPsecPSK secret-of-the-test\nIPsecESP userspace\nIPSEC_BEGIN\n"+nsResponder+"\nIPSEC_END\n")
	haCfg := guardConfig(t, "IPsecPSK secret-of-the-test\nIPsecESP userspace\nIPSEC_BEGIN\n"+nsInitiator+"\nIPSEC_END\n")
	ha = openIn(t, haNS, Options{Config: haCfg, Local: addr(nsResponder), Mobiles: netip.MustParsePrefix("10.9.0.0/24")})
	mn = openIn(t, mnNS, Options{Config: mnCfg, Local: addr(nsInitiator), Initiate: []netip.Addr{addr(nsResponder)}})
	if !waitFor(15*time.Second, func() bool { return mn.Ready(addr(nsResponder)) && ha.Ready(addr(nsInitiator)) }) {
		t.Fatal("SAs not up")
	}
	return mnNS, haNS, mn, ha
}

// TestGuardMoveWithoutMOBIKEX: a mobile that speaks only RFC 4555 MOBIKE
// cannot move its transport-mode SAs: MoveTo replaces them with new ones
// from the new address (one more IKE_SA_INIT), and the signalling goes on
// from there inside ESP.
func TestGuardMoveWithoutMOBIKEX(t *testing.T) {
	mnNS, haNS, mn, ha := pair(t, "IPsecMOBIKEX no\n")
	if sas, _ := mn.SAs(context.Background()); len(sas) != 1 || sas[0].MOBIKEVersion != 1 {
		t.Fatalf("SAs %v, want MOBIKE (version 1)", sas)
	}
	mnNS.Addr("eth0", nsMoved+"/24")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := mnNS.Do(func() error { return mn.MoveTo(ctx, addr(nsInitiator), addr(nsMoved)) }); err != nil {
		t.Fatalf("move with MOBIKE only: %v", err)
	}
	sas, _ := mn.SAs(ctx)
	if len(sas) != 1 || sas[0].Local.Addr() != addr(nsMoved) {
		t.Fatalf("SAs after the move: %v", sas)
	}
	if s := mn.Stats(); s.IKEInitiated != 2 || s.IKESAs != 1 {
		t.Errorf("stats after the move: %+v", s)
	}
	if !mn.Ready(addr(nsResponder)) || !waitFor(5*time.Second, func() bool { return ha.Requires(addr(nsMoved)) && ha.Ready(addr(nsMoved)) }) {
		t.Fatal("no SA from the new address")
	}
	mnSock, haSock := listen(t, mnNS, nsMoved), listen(t, haNS, nsResponder)
	r := exchange(t, mnSock, haSock, nsResponder, "request after the new SA")
	if v := ha.Check(r.src, r.ifindex); r.src != addr(nsMoved) || !v.Protected {
		t.Errorf("request from the new address: from %s on %d: %+v", r.src, r.ifindex, v)
	}
}

// TestGuardReinitiates: when the home agent goes (its guard deletes the
// SAs), the mobile's guard brings them up again with the home agent that
// comes back, on its own.
func TestGuardReinitiates(t *testing.T) {
	_, haNS, mn, ha := pair(t, "")
	if err := ha.Close(); err != nil {
		t.Fatal(err)
	}
	if !waitFor(5*time.Second, func() bool { return !mn.Ready(addr(nsResponder)) }) {
		t.Fatal("the mobile still sends to a home agent whose SAs are gone")
	}
	haCfg := guardConfig(t, "IPsecPSK secret-of-the-test\nIPsecESP userspace\nIPSEC_BEGIN\n"+nsInitiator+"\nIPSEC_END\n")
	ha = openIn(t, haNS, Options{Config: haCfg, Local: addr(nsResponder), Mobiles: netip.MustParsePrefix("10.9.0.0/24")})
	if !waitFor(20*time.Second, func() bool { return mn.Ready(addr(nsResponder)) && ha.Ready(addr(nsInitiator)) }) {
		t.Fatal("the SAs did not come back")
	}
	if s := mn.Stats(); s.IKEInitiated != 2 || s.IKESAs != 1 || s.Children != 1 {
		t.Errorf("mobile's stats: %+v", s)
	}
}

// pcapture is a tcpdump running on eth0 of a namespace.
type pcapture struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *netnstest.SyncBuffer
	file string
	done bool
}

// capture starts tcpdump on eth0 in ns; count stops it at its first call.
func capture(t *testing.T, ns *netnstest.NS) *pcapture {
	t.Helper()
	netnstest.RequireCommand(t, "tcpdump", "captures the veth to check ESP is on the wire")
	file := filepath.Join(t.TempDir(), "veth.pcap")
	cmd, out := ns.Start("tcpdump", "-i", "eth0", "-nn", "-U", "--immediate-mode", "-w", file, "udp")
	if !waitFor(5*time.Second, func() bool { return strings.Contains(out.String(), "listening on") }) {
		t.Fatalf("tcpdump did not start: %s", out.String())
	}
	return &pcapture{t: t, cmd: cmd, out: out, file: file}
}

// count returns how many captured packets match filter.
func (p *pcapture) count(filter string) int {
	p.t.Helper()
	if !p.done {
		p.done = true
		// tcpdump may still hold packets it has not written: time to
		// write them before it is told to stop.
		time.Sleep(500 * time.Millisecond)
		_ = p.cmd.Process.Signal(syscall.SIGINT)
		if !waitFor(5*time.Second, func() bool { return strings.Contains(p.out.String(), "packets captured") }) {
			p.t.Logf("tcpdump did not report stopping: %s", p.out.String())
		}
	}
	out, err := exec.Command("tcpdump", "-nn", "-r", p.file, filter).Output()
	if err != nil {
		p.t.Fatalf("tcpdump -r %s %q: %v", p.file, filter, err)
	}
	return strings.Count(string(out), "\n")
}

// TestGuardCertificates: the two guards authenticate with certificates
// that name their addresses (the default identities), signed by one CA.
func TestGuardCertificates(t *testing.T) {
	netnstest.RequireRoot(t)
	ca := newCA(t, t.TempDir())
	mnCert, mnKey := ca.issue(t, nsInitiator)
	haCert, haKey := ca.issue(t, nsResponder)
	creds := func(cert, key string) string {
		return "IPsecESP userspace\nIPsecCertificate " + cert + "\nIPsecPrivateKey " + key + "\nIPsecCACertificate " + ca.path + "\n"
	}
	mnNS, haNS := netnstest.New(t, "ci"), netnstest.New(t, "cr")
	netnstest.Veth(t, mnNS, "eth0", haNS, "eth0")
	mnNS.Addr("eth0", nsInitiator+"/24")
	haNS.Addr("eth0", nsResponder+"/24")
	ha := openIn(t, haNS, Options{Config: guardConfig(t, creds(haCert, haKey)+"IPSEC_BEGIN\n"+nsInitiator+"\nIPSEC_END\n"),
		Local: addr(nsResponder), Mobiles: netip.MustParsePrefix("10.9.0.0/24")})
	mn := openIn(t, mnNS, Options{Config: guardConfig(t, creds(mnCert, mnKey)+"IPSEC_BEGIN\n"+nsResponder+"\nIPSEC_END\n"),
		Local: addr(nsInitiator), Initiate: []netip.Addr{addr(nsResponder)}})
	if !waitFor(15*time.Second, func() bool { return mn.Ready(addr(nsResponder)) && ha.Ready(addr(nsInitiator)) }) {
		t.Fatal("SAs not up with certificates")
	}
	r := exchange(t, listen(t, mnNS, nsInitiator), listen(t, haNS, nsResponder), nsResponder, "request with certificates")
	if v := ha.Check(r.src, r.ifindex); !v.Protected {
		t.Errorf("request: from %s on %d: %+v", r.src, r.ifindex, v)
	}
	if s := ha.Stats(); s.IKE.AuthFailures != 0 || s.IKESAs != 1 {
		t.Errorf("home agent's stats %+v", s)
	}
}
