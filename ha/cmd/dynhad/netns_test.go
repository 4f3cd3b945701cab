package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/netnstest"
	"github.com/dynamics-go/dynamics/libdynamics/api"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

var (
	mnSA = mip.SecurityAssociation{SPI: 1000, Key: []byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}}
	fhSA = mip.SecurityAssociation{SPI: 2001, Key: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}}

	haAddr  = netip.MustParseAddr("10.1.0.1")
	home    = netip.MustParseAddr("10.1.0.10")
	lanAddr = netip.MustParseAddr("10.1.0.254")
	faAddr  = netip.MustParseAddr("10.0.1.2")
)

const testConf = `HAIPAddress 10.1.0.1
HomeNetPrefix 10.1.0.0/24
HomeInterface eth0
AgentAdvInterval 0
TunnelMode userspace
StateFile %s
AUTHORIZEDLIST_BEGIN
10.1.0.10 1000 hmac-md5 00112233445566778899aabbccddeeff
AUTHORIZEDLIST_END
SECURITY_BEGIN
10.0.1.2 2001 hmac-md5 0102030405060708090a0b0c0d0e0f10
SECURITY_END
`

// TestNetns runs dynhad in a network namespace between a scripted foreign
// agent and a host on the home link, over real sockets and the host's
// kernel: the registration and its reply, the tunnel, route and proxy
// entry, traffic for the home address tunnelled to the care-of address,
// reverse-tunnelled traffic forwarded onto the home link (RFC 3024), the
// deregistration, and that SIGTERM removes everything and exits 0.
func TestNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip")
	}
	bin := netnstest.BuildCommand(t, "", "dynhad")
	tag := fmt.Sprintf("%d", os.Getpid()%100000)
	haNS, faNS, lanNS := "hha"+tag, "hfa"+tag, "hlan"+tag
	for _, ns := range []string{haNS, faNS, lanNS} {
		netnstest.Run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		netnstest.Run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	// ha eth0 -- lan eth0 (home link); ha eth1 -- fa eth0 (toward the
	// foreign agent).
	netnstest.Run(t, "ip", "-n", haNS, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", lanNS)
	netnstest.Run(t, "ip", "-n", haNS, "link", "add", "eth1", "type", "veth", "peer", "name", "eth0", "netns", faNS)
	for _, c := range [][]string{
		{haNS, "addr", "add", "10.1.0.1/24", "dev", "eth0"}, {haNS, "addr", "add", "10.0.1.1/24", "dev", "eth1"},
		{haNS, "link", "set", "eth0", "up"}, {haNS, "link", "set", "eth1", "up"},
		{lanNS, "addr", "add", "10.1.0.254/24", "dev", "eth0"}, {lanNS, "link", "set", "eth0", "up"},
		{faNS, "addr", "add", "10.0.1.2/24", "dev", "eth0"}, {faNS, "link", "set", "eth0", "up"},
		{faNS, "route", "add", "10.1.0.0/24", "via", "10.0.1.1"},
	} {
		netnstest.Run(t, "ip", append([]string{"-n", c[0]}, c[1:]...)...)
	}
	forward := strings.TrimSpace(netnstest.RunIn(t, haNS, "sysctl", "-n", "net.ipv4.ip_forward"))

	dir := t.TempDir()
	conf := filepath.Join(dir, "dynhad.conf")
	admin, monitor := filepath.Join(dir, "ha.sock"), filepath.Join(dir, "ha-monitor.sock")
	text := fmt.Appendf(nil, testConf, filepath.Join(dir, "dynhad.state"))
	text = fmt.Appendf(text, "AdminSocket %s\nMonitorSocket %s\n", admin, monitor)
	if err := os.WriteFile(conf, text, 0o600); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	cmd := exec.Command("ip", "netns", "exec", haNS, bin, "-c", conf, "--fg", "--debug")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("dynhad output:\n%s", out.String())
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "home agent running") {
		if time.Now().After(deadline) {
			t.Fatal("dynhad did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The foreign agent's sockets: UDP 434 and raw IP-in-IP.
	var fa net.PacketConn
	var ipip int
	netnstest.InNS(t, faNS, func() (err error) {
		if fa, err = net.ListenPacket("udp4", "10.0.1.2:434"); err != nil {
			return err
		}
		ipip, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_IPIP)
		return err
	})
	defer fa.Close()
	defer syscall.Close(ipip)

	register := func(lifetime uint16) *mip.Reply {
		t.Helper()
		req := &mip.Request{Flags: mip.FlagReverseTunnel, Lifetime: lifetime, Home: home, HomeAgent: haAddr,
			CareOf: faAddr, ID: mip.TimestampID(time.Now())}
		if err := req.Authenticate(mip.TypeMobileHome, mnSA); err != nil {
			t.Fatal(err)
		}
		req.Extensions = append(req.Extensions, &mip.RevocationSupport{Timestamp: mip.RevocationTimestamp(time.Now())})
		if err := req.Authenticate(mip.TypeForeignHome, fhSA); err != nil {
			t.Fatal(err)
		}
		b, _ := req.Marshal()
		if _, err := fa.WriteTo(b, net.UDPAddrFromAddrPort(netip.AddrPortFrom(haAddr, 434))); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2048)
		_ = fa.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, from, err := fa.ReadFrom(buf)
		if err != nil {
			t.Fatalf("reply: %v", err)
		}
		if from.String() != "10.1.0.1:434" {
			t.Errorf("reply from %s", from)
		}
		for _, sa := range []struct {
			typ mip.Type
			sa  mip.SecurityAssociation
		}{{mip.TypeMobileHome, mnSA}, {mip.TypeForeignHome, fhSA}} {
			if err := mip.VerifyReply(buf[:n], sa.typ, sa.sa); err != nil {
				t.Errorf("reply: %v", err)
			}
		}
		r, err := mip.ParseReply(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		if r.Code != mip.CodeAccepted || r.ID != req.ID {
			t.Fatalf("reply %s id %x", r.Code, r.ID)
		}
		return r
	}
	register(600)
	if r := netnstest.RunIn(t, haNS, "ip", "route", "show", "10.1.0.10"); !strings.Contains(r, "dev dynha1") {
		t.Errorf("route %q", r)
	}
	if p := netnstest.RunIn(t, haNS, "ip", "neigh", "show", "proxy"); !strings.Contains(p, "10.1.0.10 dev eth0") {
		t.Errorf("proxy entries %q", p)
	}

	// The home link reaches the home address through the home agent's
	// proxy ARP, and the traffic arrives encapsulated at the care-of
	// address.
	_ = exec.Command("ip", "netns", "exec", lanNS, "ping", "-n", "-c", "1", "-W", "2", "10.1.0.10").Run()
	outer, inner := readIPIP(t, ipip, func(in link.IPv4) bool { return in.Dst == home && in.Protocol == link.ProtoICMP })
	if outer.Src != haAddr || inner.Src != lanAddr || inner.Payload[0] != 8 {
		t.Errorf("tunnelled %s -> %s carrying %s -> %s type %d", outer.Src, outer.Dst, inner.Src, inner.Dst, inner.Payload[0])
	}
	if n := netnstest.RunIn(t, lanNS, "ip", "neigh", "show", "10.1.0.10"); !strings.Contains(n, "lladdr") {
		t.Errorf("the home link did not learn the home address's hardware address: %q", n)
	}

	// Reverse tunnelling: an echo request from the home address, sent
	// through the tunnel, reaches the home link, and its answer comes back
	// through the tunnel.
	echo := link.AppendIPv4(nil, home, lanAddr, link.ProtoICMP, 64, icmpEcho(0x4a4a, 1))
	sa := &syscall.SockaddrInet4{Addr: haAddr.As4()}
	if err := syscall.Sendto(ipip, echo, 0, sa); err != nil {
		t.Fatal(err)
	}
	_, inner = readIPIP(t, ipip, func(in link.IPv4) bool {
		return in.Src == lanAddr && in.Dst == home && in.Protocol == link.ProtoICMP && in.Payload[0] == 0
	})
	if id := binary.BigEndian.Uint16(inner.Payload[4:]); id != 0x4a4a {
		t.Errorf("echo reply id %#x", id)
	}

	// Deregistration removes the route and the proxy entry.
	if r := register(0); r.Lifetime != 0 {
		t.Errorf("deregistration lifetime %d", r.Lifetime)
	}
	if r := netnstest.RunIn(t, haNS, "ip", "route", "show", "10.1.0.10"); strings.TrimSpace(r) != "" {
		t.Errorf("route left after deregistration: %q", r)
	}

	// SIGTERM with a binding in place: everything goes.
	register(600)
	// The control API shows the binding, on the data path the daemon took.
	c, err := api.Dial(admin)
	if err != nil {
		t.Fatal(err)
	}
	if list, err := c.GetTunnels(5 * time.Second); err != nil || len(list) != 1 || list[0].Home != home || list[0].CareOf != faAddr {
		t.Errorf("get_tunnels = %+v, %v; want %s at %s", list, err, home, faAddr)
	}
	if st, err := c.GetStatus(5 * time.Second); err != nil || st.Agent != "ha" || st.DataPath != "userspace" {
		t.Errorf("get_status = %+v, %v", st, err)
	}
	c.Close()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("dynhad exited with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("dynhad did not stop on SIGTERM")
	}
	if r := netnstest.RunIn(t, haNS, "ip", "route", "show", "10.1.0.10"); strings.TrimSpace(r) != "" {
		t.Errorf("route left: %q", r)
	}
	if p := netnstest.RunIn(t, haNS, "ip", "neigh", "show", "proxy"); strings.Contains(p, "10.1.0.10") {
		t.Errorf("proxy entry left: %q", p)
	}
	if l := netnstest.RunIn(t, haNS, "ip", "link"); strings.Contains(l, "dynha") {
		t.Errorf("tunnel left:\n%s", l)
	}
	if f := strings.TrimSpace(netnstest.RunIn(t, haNS, "sysctl", "-n", "net.ipv4.ip_forward")); f != forward {
		t.Errorf("ip_forward %s after exit, was %s", f, forward)
	}
	for _, path := range []string{admin, monitor} {
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("control socket %s left after exit (%v)", path, err)
		}
	}
}

// readIPIP reads IP-in-IP packets from the raw socket until one whose
// inner packet satisfies want.
func readIPIP(t *testing.T, fd int, want func(link.IPv4) bool) (outer, inner link.IPv4) {
	t.Helper()
	tv := syscall.NsecToTimeval(int64(500 * time.Millisecond))
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 4096)
	for time.Now().Before(deadline) {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			continue
		}
		o, err := link.ParseIPv4(append([]byte(nil), buf[:n]...))
		if err != nil || o.Protocol != link.ProtoIPIP {
			continue
		}
		in, err := link.ParseIPv4(o.Payload)
		if err == nil && len(in.Payload) >= 8 && want(in) {
			return o, in
		}
	}
	t.Fatal("no matching packet through the tunnel")
	return
}

// icmpEcho returns an ICMP echo request.
func icmpEcho(id, seq uint16) []byte {
	b := []byte{8, 0, 0, 0, byte(id >> 8), byte(id), byte(seq >> 8), byte(seq), 'd', 'y', 'n', 'h', 'a', 'd', 0, 0}
	binary.BigEndian.PutUint16(b[2:], link.Checksum(b, 0))
	return b
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNetnsSocketError checks that a control socket that cannot be opened
// stops dynhad at start-up with an error naming the label, and that the
// socket it had opened already is removed.
func TestNetnsSocketError(t *testing.T) {
	netnstest.RequireRoot(t)
	netnstest.RequireCommand(t, "ip", "iproute2 makes the namespace")
	ns := netnstest.New(t, "hsock")
	ns.Run("ip", "addr", "add", "10.1.0.1/24", "dev", "lo")
	dir := t.TempDir()
	bin := netnstest.BuildCommand(t, dir, "dynhad")
	admin, taken := filepath.Join(dir, "ha.sock"), filepath.Join(dir, "taken")
	if err := os.WriteFile(taken, []byte("not a socket\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "dynhad.conf")
	text := fmt.Sprintf("HAIPAddress 10.1.0.1\nHomeNetPrefix 10.1.0.0/24\nHomeInterface lo\nAgentAdvInterval 0\n"+
		"TunnelMode userspace\nStateFile %s\nAdminSocket %s\nMonitorSocket %s\n", filepath.Join(dir, "dynhad.state"), admin, taken)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := ns.Output(bin, "-c", conf, "--fg")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(out, "MonitorSocket: ") {
		t.Errorf("dynhad with a taken MonitorSocket: %v, output:\n%s\nwant exit 1 naming MonitorSocket", err, out)
	}
	if _, err := os.Stat(admin); !os.IsNotExist(err) {
		t.Errorf("the admin socket was left behind (%v)", err)
	}
	if b, err := os.ReadFile(taken); err != nil || string(b) != "not a socket\n" {
		t.Errorf("the file at MonitorSocket was changed: %q, %v", b, err)
	}
}
