package main

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/arp"

	"github.com/dynamics-go/dynamics/internal/netnstest"
	"github.com/dynamics-go/dynamics/libdynamics/api"
	"github.com/dynamics-go/dynamics/libdynamics/discovery"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

var (
	home   = netip.MustParseAddr("10.1.0.10")
	haAddr = netip.MustParseAddr("10.1.0.1")
	mnSA   = mip.SecurityAssociation{SPI: 1000, Alg: mip.HMACMD5,
		Key: []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}}
)

// pair is a mobile's namespace joined by a veth (eth0 on both sides) to a
// peer namespace where the test plays the agents.
type pair struct {
	t        *testing.T
	mn, peer string
	dir      string
	cmd      *exec.Cmd
	out      netnstest.SyncBuffer
}

func newPair(t *testing.T) *pair {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip")
	}
	tag := fmt.Sprintf("%d%s", os.Getpid()%100000, strings.ToLower(t.Name()[len("TestNetns"):][:3]))
	p := &pair{t: t, mn: "mnmn" + tag, peer: "mnpe" + tag, dir: t.TempDir()}
	for _, ns := range []string{p.mn, p.peer} {
		netnstest.Run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		netnstest.Run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	netnstest.Run(t, "ip", "link", "add", "dma"+tag, "netns", p.mn, "type", "veth", "peer", "name", "dmb"+tag, "netns", p.peer)
	netnstest.Run(t, "ip", "-n", p.mn, "link", "set", "dma"+tag, "name", "eth0")
	netnstest.Run(t, "ip", "-n", p.peer, "link", "set", "dmb"+tag, "name", "eth0")
	for _, ns := range []string{p.mn, p.peer} {
		netnstest.Run(t, "ip", "-n", ns, "link", "set", "eth0", "up")
	}
	netnstest.Run(t, "ip", "-n", p.mn, "addr", "add", home.String()+"/32", "dev", "eth0")
	return p
}

// output is what dynmnd logged so far.
func (p *pair) output() string { return p.out.String() }

// start runs dynmnd in the mobile's namespace with the labels given on top
// of the testbed's.
func (p *pair) start(extra string) {
	t := p.t
	t.Helper()
	bin := netnstest.BuildCommand(t, p.dir, "dynmnd")
	conf := filepath.Join(p.dir, "dynmnd.conf")
	text := "MNHomeIPAddress 10.1.0.10\nHAIPAddress 10.1.0.1\nHomeNetPrefix 10.1.0.0/24\nHomeGateway 10.1.0.254\n" +
		"Interface eth0\nSPI 1000\nSharedSecret 00112233445566778899aabbccddeeff\nSolicitInterval 200ms\n" +
		"RetryInterval 500ms\nTunnelMode userspace\nStateFile " + filepath.Join(p.dir, "dynmnd.state") + "\n" +
		"AdminSocket " + p.socket(true) + "\nMonitorSocket " + p.socket(false) + "\n" + extra
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command("ip", "netns", "exec", p.mn, bin, "-c", conf, "--fg", "--debug")
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("dynmnd output:\n%s", p.out.String())
		}
	})
}

// stop sends SIGTERM and checks dynmnd exits 0 leaving the mobile's
// namespace as it found it.
func (p *pair) stop(before map[string]string) {
	t := p.t
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("dynmnd exited with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("dynmnd did not stop on SIGTERM")
	}
	for what, was := range before {
		if now := p.state()[what]; now != was {
			t.Errorf("%s after exit:\n%s\nbefore:\n%s", what, now, was)
		}
	}
	if _, err := os.Stat(filepath.Join(p.dir, "dynmnd.state")); !os.IsNotExist(err) {
		t.Errorf("state file left after a clean exit: %v", err)
	}
	for _, admin := range []bool{true, false} {
		if _, err := os.Stat(p.socket(admin)); !os.IsNotExist(err) {
			t.Errorf("control socket %s left after a clean exit (%v)", p.socket(admin), err)
		}
	}
}

// socket is the path of dynmnd's admin or monitor socket.
func (p *pair) socket(admin bool) string {
	if admin {
		return filepath.Join(p.dir, "mn.sock")
	}
	return filepath.Join(p.dir, "mn-monitor.sock")
}

// state is what dynmnd may change in the mobile's namespace.
func (p *pair) state() map[string]string {
	return map[string]string{
		"addresses":    netnstest.RunIn(p.t, p.mn, "ip", "-4", "-o", "addr", "show"),
		"routes":       netnstest.RunIn(p.t, p.mn, "ip", "-4", "route", "show", "table", "all"),
		"rules":        netnstest.RunIn(p.t, p.mn, "ip", "rule"),
		"links":        linkNames(netnstest.RunIn(p.t, p.mn, "ip", "-o", "link")),
		"neighbours":   netnstest.RunIn(p.t, p.mn, "ip", "neigh", "show", "nud", "permanent"),
		"arp_announce": netnstest.RunIn(p.t, p.mn, "sysctl", "-n", "net.ipv4.conf.eth0.arp_announce"),
		"arp_ignore":   netnstest.RunIn(p.t, p.mn, "sysctl", "-n", "net.ipv4.conf.eth0.arp_ignore"),
	}
}

// linkNames lists the links of `ip -o link` output. Only numbered lines
// are links: ip also prints notes such as "Peer netns reference is
// invalid." while a veth's peer namespace is going away.
func linkNames(out string) string {
	var names []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 1 && strings.HasSuffix(f[0], ":") && strings.Trim(f[0], "0123456789:") == "" {
			names = append(names, strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0])
		}
	}
	return strings.Join(names, " ")
}

// waitFor polls cmd in the mobile's namespace until its output holds want.
func (p *pair) waitFor(want string, args ...string) {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := netnstest.RunIn(p.t, p.mn, args...)
		if strings.Contains(out, want) {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: %q never showed %q", strings.Join(args, " "), out, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNetnsForeignAgent runs dynmnd against a scripted foreign agent: the
// request leaves as a frame to the agent's hardware address, the reply
// arrives on the UDP socket without an ICMP port unreachable, the routes
// through the agent appear, and SIGTERM takes them away.
func TestNetnsForeignAgent(t *testing.T) {
	p := newPair(t)
	netnstest.Run(t, "ip", "-n", p.peer, "addr", "add", "10.2.0.1/24", "dev", "eth0")
	before := p.state()
	var fa *link.PacketConn
	netnstest.InNS(t, p.peer, func() (err error) { fa, err = link.ListenPacket("eth0"); return err })
	defer fa.Close()
	p.start("")

	faAddr := netip.MustParseAddr("10.2.0.1")
	adv := &discovery.Advertisement{Lifetime: 30, Routers: []discovery.RouterAddress{{Addr: faAddr}},
		Extensions: []discovery.Extension{
			&discovery.MobilityAgent{Sequence: 1, RegistrationLifetime: 300,
				Flags:           discovery.FlagForeignAgent | discovery.FlagReverseTunnel,
				CareOfAddresses: []netip.Addr{netip.MustParseAddr("10.0.1.2")}},
			&discovery.PrefixLengths{Lengths: []uint8{24}},
		}}
	b, _ := adv.Marshal()
	pkt := link.AppendIPv4(nil, faAddr, link.AllSystemsAddr, link.ProtoICMP, 1, b)
	req, mnHW := (*mip.Request)(nil), net.HardwareAddr(nil)
	buf := make([]byte, 2048)
	deadline := time.Now().Add(10 * time.Second)
	for req == nil && time.Now().Before(deadline) {
		if err := fa.WriteFrame(pkt, link.AllSystems); err != nil {
			t.Fatal(err)
		}
		_ = fa.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		for {
			n, hw, err := fa.ReadFrame(buf)
			if err != nil {
				break
			}
			u, err := link.ParseUDP(buf[:n])
			if err != nil {
				continue
			}
			if u.Src != netip.AddrPortFrom(home, 434) || u.Dst != netip.AddrPortFrom(faAddr, 434) {
				t.Errorf("request %s -> %s", u.Src, u.Dst)
			}
			if req, err = mip.ParseRequest(u.Payload); err != nil {
				t.Fatal(err)
			}
			mnHW = append(net.HardwareAddr(nil), hw...)
			break
		}
	}
	if req == nil {
		t.Fatal("no request reached the agent")
	}
	if err := mip.VerifyRequest(req.Raw(), mip.TypeMobileHome, mnSA); err != nil {
		t.Errorf("request: %v", err)
	}
	reply := &mip.Reply{Code: mip.CodeAccepted, Lifetime: 300, Home: home, HomeAgent: haAddr, ID: req.ID}
	if err := reply.Authenticate(mip.TypeMobileHome, mnSA); err != nil {
		t.Fatal(err)
	}
	rb, _ := reply.Marshal()
	if err := fa.WriteFrame(link.AppendUDP(nil, netip.AddrPortFrom(faAddr, 434), netip.AddrPortFrom(home, 434), 64, rb), mnHW); err != nil {
		t.Fatal(err)
	}
	p.waitFor("default via 10.2.0.1 dev eth0 proto 158 src 10.1.0.10", "ip", "route")
	// The control API reports the registration.
	c, err := api.Dial(p.socket(false))
	if err != nil {
		t.Fatal(err)
	}
	if st, err := c.GetStatus(5 * time.Second); err != nil || st.State != "Connected" || st.FA != faAddr ||
		st.CareOf != netip.MustParseAddr("10.0.1.2") || st.DataPath != "userspace" {
		t.Errorf("get_status = %+v, %v", st, err)
	}
	c.Close()
	if n := netnstest.RunIn(t, p.mn, "ip", "neigh", "show", "10.2.0.1"); !strings.Contains(n, "PERMANENT") {
		t.Errorf("neighbour entry for the agent: %q", n)
	}
	if snmp := netnstest.RunIn(t, p.mn, "cat", "/proc/net/snmp"); icmpOutDestUnreachs(snmp) != 0 {
		t.Errorf("the mobile sent ICMP destination unreachable:\n%s", snmp)
	}
	// Away from home it does not answer ARP for its home address.
	netnstest.InNS(t, p.peer, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		c, err := arp.Dial(ifi)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if hw, err := c.Resolve(home); err == nil {
			t.Errorf("the mobile answered ARP for its home address away from home (%s)", hw)
		}
		return nil
	})
	p.stop(before)
}

// TestNetnsColocated runs dynmnd on a link without an agent whose gateway
// (the peer) also plays the home agent: the co-located address is
// configured, the gateway answers ARP, the request leaves from the care-of
// address, and the reverse tunnel, rule and routes appear; SIGTERM takes
// them, the address and the sysctl away.
func TestNetnsColocated(t *testing.T) {
	p := newPair(t)
	netnstest.Run(t, "ip", "-n", p.peer, "addr", "add", "10.4.0.1/24", "dev", "eth0")
	netnstest.Run(t, "ip", "-n", p.peer, "addr", "add", "10.1.0.1/32", "dev", "lo")
	before := p.state()
	var ha net.PacketConn
	netnstest.InNS(t, p.peer, func() (err error) { ha, err = net.ListenPacket("udp4", "10.1.0.1:434"); return err })
	defer ha.Close()
	p.start("COLOCATED_BEGIN\n10.4.0.10/24 10.4.0.1\nCOLOCATED_END\n")

	buf := make([]byte, 2048)
	_ = ha.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, from, err := ha.ReadFrom(buf)
	if err != nil {
		t.Fatalf("home agent: %v", err)
	}
	if from.String() != "10.4.0.10:434" {
		t.Errorf("request from %s, want the care-of address's port 434", from)
	}
	req, err := mip.ParseRequest(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	if req.CareOf != netip.MustParseAddr("10.4.0.10") || req.Flags != mip.FlagDecapsulation|mip.FlagReverseTunnel {
		t.Errorf("request coa %s flags %q", req.CareOf, req.Flags)
	}
	reply := &mip.Reply{Code: mip.CodeAccepted, Lifetime: 300, Home: home, HomeAgent: haAddr, ID: req.ID}
	if err := reply.Authenticate(mip.TypeMobileHome, mnSA); err != nil {
		t.Fatal(err)
	}
	rb, _ := reply.Marshal()
	if _, err := ha.WriteTo(rb, from); err != nil {
		t.Fatal(err)
	}
	p.waitFor("from 10.1.0.10 lookup 434", "ip", "rule")
	p.waitFor("default dev dynmn0", "ip", "route", "show", "table", "434")
	if a := netnstest.RunIn(t, p.mn, "ip", "-4", "-o", "addr", "show", "dev", "eth0"); !strings.Contains(a, "10.4.0.10/24") {
		t.Errorf("addresses: %q", a)
	}
	if r := netnstest.RunIn(t, p.mn, "ip", "route", "get", "198.51.100.10", "from", "10.1.0.10"); !strings.Contains(r, "dev dynmn0") {
		t.Errorf("traffic from the home address: %q, want into the tunnel", r)
	}
	if r := netnstest.RunIn(t, p.mn, "ip", "route", "get", "10.1.0.1", "from", "10.4.0.10"); !strings.Contains(r, "via 10.4.0.1 dev eth0") {
		t.Errorf("registration traffic from the care-of address: %q, want via the gateway", r)
	}
	if v := strings.TrimSpace(netnstest.RunIn(t, p.mn, "sysctl", "-n", "net.ipv4.conf.eth0.arp_announce")); v != "2" {
		t.Errorf("arp_announce %s", v)
	}
	p.stop(before)
}

// icmpOutDestUnreachs reads the count of ICMP destination unreachable
// messages sent from /proc/net/snmp.
func icmpOutDestUnreachs(snmp string) int {
	var names, values []string
	for _, line := range strings.Split(snmp, "\n") {
		if !strings.HasPrefix(line, "Icmp: ") {
			continue
		}
		if names == nil {
			names = strings.Fields(line)
		} else {
			values = strings.Fields(line)
		}
	}
	for i, n := range names {
		if n == "OutDestUnreachs" && i < len(values) {
			var v int
			fmt.Sscan(values[i], &v)
			return v
		}
	}
	return -1
}

// TestNetnsIPsec starts dynmnd with an IPSEC entry for its home agent, the
// userspace ESP path and a second interface in IPSEC_INTERFACES: it says
// protection is on, listens for IKE on the home address, makes the ESP
// device, offers the second interface's address while it is up and
// withdraws it when it goes down (get_status counts both; no SA is up, so
// both succeed at once), and on SIGTERM leaves the namespace as it found
// it.
func TestNetnsIPsec(t *testing.T) {
	p := newPair(t)
	netnstest.Run(t, "ip", "-n", p.mn, "link", "add", "wl0", "type", "veth", "peer", "name", "wl1")
	netnstest.Run(t, "ip", "-n", p.mn, "link", "set", "wl1", "up")
	before := p.state()
	p.start("IPsecPSK s3cret\nIPsecESP userspace\nIPsecDevice dynespt0\nIPSEC_BEGIN\n10.1.0.1\nIPSEC_END\n" +
		"IPSEC_INTERFACES_BEGIN\nwl0\nIPSEC_INTERFACES_END\n")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.output(), "registrations with the home agent protected by IPsec") {
		if time.Now().After(deadline) {
			t.Fatalf("no log line saying protection is on:\n%s", p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.waitFor("dynespt0", "ip", "-o", "link")
	p.waitFor("10.1.0.10:500", "ss", "-uln")

	c, err := api.Dial(p.socket(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	counters := func(want map[string]uint64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, err := c.GetStatus(5 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]uint64{}
			for _, k := range st.Counters {
				if _, ok := want[k.Name]; ok {
					got[k.Name] = k.Value
				}
			}
			if maps.Equal(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("counters %v, want %v", got, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	counters(map[string]uint64{"ipsec.added": 0, "ipsec.removed": 0})
	netnstest.Run(t, "ip", "-n", p.mn, "addr", "add", "10.5.0.10/24", "dev", "wl0")
	netnstest.Run(t, "ip", "-n", p.mn, "link", "set", "wl0", "up")
	counters(map[string]uint64{"ipsec.added": 1, "ipsec.removed": 0})
	p.waitFor("10.5.0.10:500", "ss", "-uln") // IKE listens on the offered address
	netnstest.Run(t, "ip", "-n", p.mn, "link", "set", "wl0", "down")
	counters(map[string]uint64{"ipsec.added": 1, "ipsec.removed": 1})
	if !strings.Contains(p.output(), "address withdrawn from the IPsec SAs") {
		t.Errorf("no log line for the withdrawn address")
	}
	netnstest.Run(t, "ip", "-n", p.mn, "addr", "del", "10.5.0.10/24", "dev", "wl0")
	p.stop(before)
}
