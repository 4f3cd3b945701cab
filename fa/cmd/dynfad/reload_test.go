package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/netnstest"
	"github.com/dynamics-go/dynamics/libdynamics/discovery"
	"github.com/dynamics-go/dynamics/libdynamics/link"
)

// TestNetnsReload runs dynfad in a namespace, rewrites its configuration
// and sends it SIGHUP: its advertisements take the new MaxLifetime and drop
// the T flag at once, a changed INTERFACES section is reported as needing a
// restart; then a broken file is logged with its file and line and changes
// nothing, and the agent keeps advertising.
func TestNetnsReload(t *testing.T) {
	netnstest.RequireRoot(t)
	bin := netnstest.BuildCommand(t, "", "dynfad")
	faNS, haNS, mnNS := netnstest.New(t, "rfa"), netnstest.New(t, "rha"), netnstest.New(t, "rmn")
	netnstest.Veth(t, faNS, "eth0", haNS, "eth0")
	netnstest.Veth(t, faNS, "eth1", mnNS, "eth0")
	faNS.Addr("eth0", "10.0.1.2/24")
	faNS.Addr("eth1", "10.2.0.1/24")
	haNS.Addr("eth0", "10.0.1.1/24")

	dir := t.TempDir()
	conf := filepath.Join(dir, "dynfad.conf")
	base := "UpstreamInterface eth0\nAgentAdvInterval 200ms\nTunnelMode userspace\n" +
		"StateFile " + filepath.Join(dir, "dynfad.state") + "\n" +
		"AdminSocket " + filepath.Join(dir, "fa.sock") + "\nMonitorSocket " + filepath.Join(dir, "fa-monitor.sock") + "\n"
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(base + "MaxLifetime 600\nINTERFACES_BEGIN\neth1\nINTERFACES_END\n")

	var mn *link.PacketConn
	if err := mnNS.Do(func() (err error) { mn, err = link.ListenPacket("eth0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer mn.Close()
	cmd, out := faNS.Start(bin, "-c", conf, "--fg")
	defer func() {
		if t.Failed() {
			t.Logf("dynfad output:\n%s", out.String())
		}
	}()
	if ma := nextAdvert(t, mn); ma.RegistrationLifetime != 600 || ma.Flags&discovery.FlagReverseTunnel == 0 {
		t.Fatalf("advertisement at start: lifetime %d flags %s", ma.RegistrationLifetime, ma.Flags)
	}

	write(base + "MaxLifetime 300\nReverseTunnel no\nINTERFACES_BEGIN\neth1\neth2\nINTERFACES_END\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, out, `msg="configuration reloaded" changed=MaxLifetime,ReverseTunnel`)
	if !strings.Contains(out.String(), `level=WARN msg="needs a restart: INTERFACES"`) {
		t.Errorf("no restart warning for INTERFACES")
	}
	waitAdvert(t, mn, "after the reload", func(ma *discovery.MobilityAgent) bool {
		return ma.RegistrationLifetime == 300 && ma.Flags&discovery.FlagReverseTunnel == 0
	})

	write(base + "MaxLifetime 900\nPendingTimeout -1\nINTERFACES_BEGIN\neth1\nINTERFACES_END\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	line := strings.Count(base, "\n") + 2
	waitLog(t, out, fmt.Sprintf(`level=ERROR msg="reload failed, keeping the running configuration: %s:%d: PendingTimeout: `, conf, line))
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("dynfad is gone after a broken reload: %v", err)
	}
	// Still advertising, still with the running configuration.
	for range 3 {
		if ma := nextAdvert(t, mn); ma.RegistrationLifetime != 300 || ma.Flags&discovery.FlagReverseTunnel != 0 {
			t.Errorf("advertisement after the broken reload: lifetime %d flags %s", ma.RegistrationLifetime, ma.Flags)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitLog(t, out, "foreign agent stopping")
}

// nextAdvert returns the Mobility Agent extension of the next
// advertisement heard.
func nextAdvert(t *testing.T, c *link.PacketConn) *discovery.MobilityAgent {
	t.Helper()
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, _, err := c.ReadFrame(buf)
		if err != nil {
			t.Fatalf("waiting for an advertisement: %v", err)
		}
		ip, err := link.ParseIPv4(buf[:n])
		if err != nil || ip.Protocol != link.ProtoICMP {
			continue
		}
		if adv, err := discovery.ParseAdvertisement(ip.Payload); err == nil && adv.MobilityAgent() != nil {
			return adv.MobilityAgent()
		}
	}
}

// waitAdvert reads advertisements until one satisfies ok.
func waitAdvert(t *testing.T, c *link.PacketConn, what string, ok func(*discovery.MobilityAgent) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ok(nextAdvert(t, c)) {
			return
		}
	}
	t.Fatalf("no advertisement as expected %s", what)
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
