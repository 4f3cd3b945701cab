package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/netnstest"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// TestNetnsReload runs dynmnd co-located on a link whose gateway also plays
// the home agent, rewrites its configuration and sends it SIGHUP: the next
// renewal asks for the new Lifetime and a changed Interface is reported as
// needing a restart; then a broken file is logged with its file and line
// and changes nothing, and the node keeps renewing.
func TestNetnsReload(t *testing.T) {
	netnstest.RequireRoot(t)
	bin := netnstest.BuildCommand(t, "", "dynmnd")
	mnNS, peerNS := netnstest.New(t, "rmn"), netnstest.New(t, "rpe")
	netnstest.Veth(t, mnNS, "eth0", peerNS, "eth0")
	mnNS.Addr("eth0", home.String()+"/32")
	peerNS.Addr("eth0", "10.4.0.1/24")
	peerNS.Addr("lo", "10.1.0.1/32")

	dir := t.TempDir()
	conf := filepath.Join(dir, "dynmnd.conf")
	base := "MNHomeIPAddress 10.1.0.10\nHAIPAddress 10.1.0.1\nHomeNetPrefix 10.1.0.0/24\n" +
		"SPI 1000\nSharedSecret 00112233445566778899aabbccddeeff\nSolicitInterval 200ms\nRetryInterval 500ms\n" +
		"TunnelMode userspace\nStateFile " + filepath.Join(dir, "dynmnd.state") + "\n" +
		"AdminSocket " + filepath.Join(dir, "mn.sock") + "\nMonitorSocket " + filepath.Join(dir, "mn-monitor.sock") + "\n" +
		"COLOCATED_BEGIN\n10.4.0.10/24 10.4.0.1\nCOLOCATED_END\n"
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(base + "Interface eth0\nLifetime 600\n")

	var ha net.PacketConn
	if err := peerNS.Do(func() (err error) { ha, err = net.ListenPacket("udp4", "10.1.0.1:434"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ha.Close()
	cmd, out := mnNS.Start(bin, "-c", conf, "--fg")
	defer func() {
		if t.Failed() {
			t.Logf("dynmnd output:\n%s", out.String())
		}
	}()

	// accept answers the next request with a lifetime of 5 s, so that the
	// node renews 3.5 s later, and returns the lifetime it asked for.
	accept := func() uint16 {
		t.Helper()
		buf := make([]byte, 2048)
		_ = ha.SetReadDeadline(time.Now().Add(15 * time.Second))
		n, from, err := ha.ReadFrom(buf)
		if err != nil {
			t.Fatalf("home agent: %v", err)
		}
		req, err := mip.ParseRequest(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		reply := &mip.Reply{Code: mip.CodeAccepted, Lifetime: 5, Home: home, HomeAgent: haAddr, ID: req.ID}
		if err := reply.Authenticate(mip.TypeMobileHome, mnSA); err != nil {
			t.Fatal(err)
		}
		rb, _ := reply.Marshal()
		if _, err := ha.WriteTo(rb, from); err != nil {
			t.Fatal(err)
		}
		return req.Lifetime
	}
	if l := accept(); l != 600 {
		t.Fatalf("first request lifetime %d", l)
	}
	waitLog(t, out, `msg=registered`)

	write(base + "Interface eth9\nLifetime 120\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, out, `msg="configuration reloaded" changed=Lifetime`)
	if !strings.Contains(out.String(), `level=WARN msg="needs a restart: Interface"`) {
		t.Errorf("no restart warning for Interface")
	}
	if l := accept(); l != 120 {
		t.Errorf("renewal after the reload asked for %d s, want the new Lifetime 120", l)
	}

	write(base + "Interface eth0\nLifetime 300\nMaxRetryCount lots\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	line := strings.Count(base, "\n") + 3
	waitLog(t, out, fmt.Sprintf(`level=ERROR msg="reload failed, keeping the running configuration: %s:%d: MaxRetryCount: `, conf, line))
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("dynmnd is gone after a broken reload: %v", err)
	}
	if l := accept(); l != 120 {
		t.Errorf("renewal after the broken reload asked for %d s, want the running 120", l)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitLog(t, out, "mobile node stopping")
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
