package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/netnstest"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// TestNetnsReload runs dynhad in a namespace, rewrites its configuration
// and sends it SIGHUP: a mobile added to AUTHORIZEDLIST registers at once,
// the new MaxLifetime is granted, a changed HomeInterface is reported as
// needing a restart; then a broken file is logged with its file and line
// and changes nothing, and the daemon keeps serving.
func TestNetnsReload(t *testing.T) {
	netnstest.RequireRoot(t)
	bin := netnstest.BuildCommand(t, "", "dynhad")
	haNS, faNS, lanNS := netnstest.New(t, "rha"), netnstest.New(t, "rfa"), netnstest.New(t, "rln")
	netnstest.Veth(t, haNS, "eth0", lanNS, "eth0")
	netnstest.Veth(t, haNS, "eth1", faNS, "eth0")
	haNS.Addr("eth0", "10.1.0.1/24")
	haNS.Addr("eth1", "10.0.1.1/24")
	lanNS.Addr("eth0", "10.1.0.254/24")
	faNS.Addr("eth0", "10.0.1.2/24")
	faNS.Run("ip", "route", "add", "10.1.0.0/24", "via", "10.0.1.1")

	dir := t.TempDir()
	conf := filepath.Join(dir, "dynhad.conf")
	base := "HAIPAddress 10.1.0.1\nHomeNetPrefix 10.1.0.0/24\nAgentAdvInterval 0\nTunnelMode userspace\n" +
		"StateFile " + filepath.Join(dir, "dynhad.state") + "\n" +
		"AdminSocket " + filepath.Join(dir, "ha.sock") + "\nMonitorSocket " + filepath.Join(dir, "ha-monitor.sock") + "\n" +
		"SECURITY_BEGIN\n10.0.1.2 2001 hmac-md5 0102030405060708090a0b0c0d0e0f10\nSECURITY_END\n"
	mobile1 := "10.1.0.10 1000 hmac-md5 00112233445566778899aabbccddeeff\n"
	mobile2 := "10.1.0.11 1001 hmac-md5 ffeeddccbbaa99887766554433221100\n"
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(base + "HomeInterface eth0\nAUTHORIZEDLIST_BEGIN\n" + mobile1 + "AUTHORIZEDLIST_END\n")

	cmd, out := haNS.Start(bin, "-c", conf, "--fg")
	defer func() {
		if t.Failed() {
			t.Logf("dynhad output:\n%s", out.String())
		}
	}()
	waitLog(t, out, "home agent running")

	var fa net.PacketConn
	if err := faNS.Do(func() (err error) { fa, err = net.ListenPacket("udp4", "10.0.1.2:434"); return err }); err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	sa1 := mip.SecurityAssociation{SPI: 1000, Alg: mip.HMACMD5, Key: []byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}}
	sa2 := mip.SecurityAssociation{SPI: 1001, Alg: mip.HMACMD5, Key: []byte{0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00}}
	fh := mip.SecurityAssociation{SPI: 2001, Alg: mip.HMACMD5, Key: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}}
	var lastID uint64
	register := func(home string, sa mip.SecurityAssociation, lifetime uint16) *mip.Reply {
		t.Helper()
		id := max(mip.TimestampID(time.Now()), lastID+1)
		lastID = id
		req := &mip.Request{Lifetime: lifetime, Home: netip.MustParseAddr(home), HomeAgent: netip.MustParseAddr("10.1.0.1"),
			CareOf: netip.MustParseAddr("10.0.1.2"), ID: id}
		if err := req.Authenticate(mip.TypeMobileHome, sa); err != nil {
			t.Fatal(err)
		}
		if err := req.Authenticate(mip.TypeForeignHome, fh); err != nil {
			t.Fatal(err)
		}
		b, _ := req.Marshal()
		if _, err := fa.WriteTo(b, net.UDPAddrFromAddrPort(netip.MustParseAddrPort("10.1.0.1:434"))); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2048)
		_ = fa.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := fa.ReadFrom(buf)
		if err != nil {
			t.Fatalf("reply: %v", err)
		}
		r, err := mip.ParseReply(buf[:n])
		if err != nil || r.ID != id {
			t.Fatalf("reply %+v: %v", r, err)
		}
		return r
	}
	if r := register("10.1.0.11", sa2, 600); r.Code != mip.CodeHAMobileAuthFailed {
		t.Fatalf("unlisted mobile: %s", r.Code)
	}
	if r := register("10.1.0.10", sa1, 1000); r.Code != mip.CodeAccepted || r.Lifetime != 600 {
		t.Fatalf("listed mobile: %s lifetime %d", r.Code, r.Lifetime)
	}

	// The second mobile added, MaxLifetime lowered, HomeInterface changed.
	write(base + "HomeInterface eth1\nMaxLifetime 300\nAUTHORIZEDLIST_BEGIN\n" + mobile1 + mobile2 + "AUTHORIZEDLIST_END\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, out, `msg="configuration reloaded" changed=MaxLifetime,AUTHORIZEDLIST added=10.1.0.11`)
	if !strings.Contains(out.String(), `level=WARN msg="needs a restart: HomeInterface"`) {
		t.Errorf("no restart warning for HomeInterface")
	}
	if r := register("10.1.0.11", sa2, 600); r.Code != mip.CodeAccepted || r.Lifetime != 300 {
		t.Errorf("added mobile: %s lifetime %d, want accepted with the new MaxLifetime 300", r.Code, r.Lifetime)
	}
	if p := haNS.Run("ip", "neigh", "show", "proxy"); !strings.Contains(p, "10.1.0.11 dev eth0") {
		t.Errorf("proxy entries %q: want the added mobile on the running home interface eth0", p)
	}
	if r := haNS.Run("ip", "route", "show", "10.1.0.10"); !strings.Contains(r, "dev dynha1") {
		t.Errorf("the first mobile's route after the reload: %q", r)
	}

	// A broken file: logged with file and line, nothing changes.
	write(base + "HomeInterface eth0\nMaxLifetime forever\nAUTHORIZEDLIST_BEGIN\n" + mobile1 + "AUTHORIZEDLIST_END\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	line := strings.Count(base, "\n") + 2
	waitLog(t, out, fmt.Sprintf(`level=ERROR msg="reload failed, keeping the running configuration: %s:%d: MaxLifetime: `, conf, line))
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("dynhad is gone after a broken reload: %v", err)
	}
	if r := register("10.1.0.11", sa2, 600); r.Code != mip.CodeAccepted || r.Lifetime != 300 {
		t.Errorf("after the broken reload: %s lifetime %d, want the running configuration's", r.Code, r.Lifetime)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitLog(t, out, "home agent stopping")
}

// waitLog waits until the daemon's output holds want.
func waitLog(t *testing.T, out *netnstest.SyncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon never logged %q", want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
