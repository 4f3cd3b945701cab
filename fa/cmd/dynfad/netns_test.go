package main

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/netnstest"
	"github.com/dynamics-go/dynamics/libdynamics/api"
	"github.com/dynamics-go/dynamics/libdynamics/discovery"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// TestNetns runs dynfad in a network namespace between a scripted home
// agent and a scripted mobile, over real sockets and the host's kernel: the
// advertisement, the relay both ways, the visitor's kernel state, that the
// request is handled once and never answered with ICMP port unreachable,
// and that SIGTERM removes everything.
func TestNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip")
	}
	bin := netnstest.BuildCommand(t, "", "dynfad")
	tag := fmt.Sprintf("%d", os.Getpid()%100000)
	faNS, haNS, mnNS := "nsfa"+tag, "nsha"+tag, "nsmn"+tag
	for _, ns := range []string{faNS, haNS, mnNS} {
		netnstest.Run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		netnstest.Run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	veth := func(a, aDev, b, bDev string) {
		netnstest.Run(t, "ip", "link", "add", "dfa"+tag, "netns", a, "type", "veth", "peer", "name", "dfb"+tag, "netns", b)
		netnstest.Run(t, "ip", "-n", a, "link", "set", "dfa"+tag, "name", aDev)
		netnstest.Run(t, "ip", "-n", b, "link", "set", "dfb"+tag, "name", bDev)
		netnstest.Run(t, "ip", "-n", a, "link", "set", aDev, "up")
		netnstest.Run(t, "ip", "-n", b, "link", "set", bDev, "up")
	}
	veth(faNS, "eth0", haNS, "eth0")
	veth(faNS, "eth1", mnNS, "eth0")
	netnstest.Run(t, "ip", "-n", faNS, "addr", "add", "10.0.1.2/24", "dev", "eth0")
	netnstest.Run(t, "ip", "-n", faNS, "addr", "add", "10.2.0.1/24", "dev", "eth1")
	netnstest.Run(t, "ip", "-n", faNS, "route", "add", "10.1.0.0/24", "via", "10.0.1.1")
	netnstest.Run(t, "ip", "-n", haNS, "addr", "add", "10.0.1.1/24", "dev", "eth0")
	netnstest.Run(t, "ip", "-n", haNS, "addr", "add", "10.1.0.1/32", "dev", "lo")

	dir := t.TempDir()
	conf := filepath.Join(dir, "dynfad.conf")
	fh := mip.SecurityAssociation{SPI: 2001, Alg: mip.HMACMD5, Key: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}}
	text := "UpstreamInterface eth0\nAgentAdvInterval 200ms\nTunnelMode userspace\nStateFile " +
		filepath.Join(dir, "dynfad.state") + "\nINTERFACES_BEGIN\neth1\nINTERFACES_END\n" +
		"SECURITY_BEGIN\n10.1.0.1 2001 hmac-md5 0102030405060708090a0b0c0d0e0f10\nSECURITY_END\n"
	admin, monitor := filepath.Join(dir, "fa.sock"), filepath.Join(dir, "fa-monitor.sock")
	text += "AdminSocket " + admin + "\nMonitorSocket " + monitor + "\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	forward := strings.TrimSpace(netnstest.RunIn(t, faNS, "sysctl", "-n", "net.ipv4.ip_forward"))

	var mn *link.PacketConn
	var ha net.PacketConn
	netnstest.InNS(t, mnNS, func() (err error) { mn, err = link.ListenPacket("eth0"); return err })
	defer mn.Close()
	netnstest.InNS(t, haNS, func() (err error) { ha, err = net.ListenPacket("udp4", "10.1.0.1:434"); return err })
	defer ha.Close()

	var out bytes.Buffer
	cmd := exec.Command("ip", "netns", "exec", faNS, bin, "-c", conf, "--fg", "--debug")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("dynfad output:\n%s", out.String())
		}
	}()

	// The advertisement tells the mobile the agent's hardware address.
	faHW := readAdvert(t, mn)

	home := netip.MustParseAddr("10.1.0.10")
	req := &mip.Request{Flags: mip.FlagReverseTunnel, Lifetime: 600, Home: home,
		HomeAgent: netip.MustParseAddr("10.1.0.1"), CareOf: netip.MustParseAddr("10.0.1.2"), ID: mip.TimestampID(time.Now())}
	if err := req.Authenticate(mip.TypeMobileHome, mip.SecurityAssociation{SPI: 1000, Key: []byte("mobile key")}); err != nil {
		t.Fatal(err)
	}
	payload, _ := req.Marshal()
	// From port 434: the mobile's link.PacketConn passes only port 434.
	pkt := link.AppendUDP(nil, netip.AddrPortFrom(home, 434), netip.MustParseAddrPort("10.2.0.1:434"), 64, payload)
	if err := mn.WriteFrame(pkt, faHW); err != nil {
		t.Fatal(err)
	}

	buf := make([]byte, 2048)
	_ = ha.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, from, err := ha.ReadFrom(buf)
	if err != nil {
		t.Fatalf("home agent: %v", err)
	}
	if from.String() != "10.0.1.2:434" {
		t.Errorf("relayed from %s", from)
	}
	if err := mip.VerifyRequest(buf[:n], mip.TypeForeignHome, fh); err != nil {
		t.Errorf("relayed request: %v", err)
	}
	relayed, err := mip.ParseRequest(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	// Relayed once only: the kernel's copy of the frame reached the
	// upstream socket too and must have been left out.
	_ = ha.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, _, err := ha.ReadFrom(buf); err == nil {
		t.Errorf("a second datagram reached the home agent: %x", buf[:n])
	}

	reply := &mip.Reply{Code: mip.CodeAccepted, Lifetime: 600, Home: home, HomeAgent: relayed.HomeAgent, ID: relayed.ID}
	_ = reply.Authenticate(mip.TypeMobileHome, mip.SecurityAssociation{SPI: 1000, Key: []byte("mobile key")})
	_ = reply.Authenticate(mip.TypeForeignHome, fh)
	rb, _ := reply.Marshal()
	if _, err := ha.WriteTo(rb, from); err != nil {
		t.Fatal(err)
	}
	got := readReply(t, mn)
	if got.Code != mip.CodeAccepted || got.ID != relayed.ID {
		t.Errorf("mobile got %s id %d", got.Code, got.ID)
	}

	routes := netnstest.RunIn(t, faNS, "ip", "route", "show", "10.1.0.10")
	neigh := netnstest.RunIn(t, faNS, "ip", "neigh", "show", "10.1.0.10")
	rules := netnstest.RunIn(t, faNS, "ip", "rule")
	table := netnstest.RunIn(t, faNS, "ip", "route", "show", "table", "2001")
	if !strings.Contains(routes, "dev eth1") || !strings.Contains(neigh, "PERMANENT") ||
		!strings.Contains(rules, "from 10.1.0.10 iif eth1 lookup 2001") || !strings.Contains(table, "default dev dynfa1") {
		t.Errorf("kernel state:\nroute %q\nneigh %q\nrules %q\ntable 2001 %q", routes, neigh, rules, table)
	}
	if snmp := netnstest.RunIn(t, faNS, "cat", "/proc/net/snmp"); icmpOutDestUnreachs(snmp) != 0 {
		t.Errorf("the agent sent ICMP destination unreachable:\n%s", snmp)
	}
	// The control API's monitor socket shows the visitor.
	c, err := api.Dial(monitor)
	if err != nil {
		t.Fatal(err)
	}
	if list, err := c.GetTunnels(5 * time.Second); err != nil || len(list) != 1 || list[0].Home != home ||
		list[0].State != "registered" || list[0].Link != "eth1" || list[0].Iface != "dynfa1" {
		t.Errorf("get_tunnels = %+v, %v", list, err)
	}
	c.Close()

	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("dynfad exited with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("dynfad did not stop on SIGTERM")
	}
	if r := netnstest.RunIn(t, faNS, "ip", "route", "show", "10.1.0.10"); strings.TrimSpace(r) != "" {
		t.Errorf("route left: %q", r)
	}
	if l := netnstest.RunIn(t, faNS, "ip", "link"); strings.Contains(l, "dynfa") {
		t.Errorf("tunnel left:\n%s", l)
	}
	if r := netnstest.RunIn(t, faNS, "ip", "rule"); strings.Contains(r, "10.1.0.10") {
		t.Errorf("rule left:\n%s", r)
	}
	if f := strings.TrimSpace(netnstest.RunIn(t, faNS, "sysctl", "-n", "net.ipv4.ip_forward")); f != forward {
		t.Errorf("ip_forward %s after exit, was %s", f, forward)
	}
	for _, path := range []string{admin, monitor} {
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("control socket %s left after exit (%v)", path, err)
		}
	}
}

func readAdvert(t *testing.T, c *link.PacketConn) net.HardwareAddr {
	t.Helper()
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, hw, err := c.ReadFrame(buf)
		if err != nil {
			t.Fatalf("waiting for an advertisement: %v", err)
		}
		ip, err := link.ParseIPv4(buf[:n])
		if err != nil || ip.Protocol != link.ProtoICMP {
			continue
		}
		if adv, err := discovery.ParseAdvertisement(ip.Payload); err == nil && adv.MobilityAgent() != nil {
			return append(net.HardwareAddr(nil), hw...)
		}
	}
}

func readReply(t *testing.T, c *link.PacketConn) *mip.Reply {
	t.Helper()
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, _, err := c.ReadFrame(buf)
		if err != nil {
			t.Fatalf("waiting for the reply: %v", err)
		}
		u, err := link.ParseUDP(buf[:n])
		if err != nil {
			continue
		}
		r, err := mip.ParseReply(u.Payload)
		if err != nil {
			t.Fatalf("reply: %v", err)
		}
		return r
	}
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
