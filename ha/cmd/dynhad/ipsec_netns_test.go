package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/dynamics-go/dynamics/internal/netnstest"
	"github.com/dynamics-go/dynamics/libdynamics/api"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
)

// faPSK is the pre-shared key of the foreign agent's IKE SA with the home
// agent in TestNetnsProtected.
const faPSK = "dynhad-test-fa-psk"

// TestNetnsProtected runs dynhad with the foreign agent 10.0.1.2 listed
// under IPSEC, against a foreign agent played by the test with its own
// signalling protection (secure.Guard, userspace ESP) in another
// namespace: the foreign agent brings up the IKE SA, its registration
// travels in ESP and is accepted, and the reply comes back out of its ESP
// device. Once the foreign agent's protection is gone, the same request
// in clear is dropped and counted, and answered by nothing.
func TestNetnsProtected(t *testing.T) {
	netnstest.RequireRoot(t)
	netnstest.RequireCommand(t, "ip", "iproute2 makes the namespaces")
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("userspace ESP needs /dev/net/tun: %v", err)
	}
	bin := netnstest.BuildCommand(t, "", "dynhad")
	haNS, faNS := netnstest.New(t, "hpha"), netnstest.New(t, "hpfa")
	netnstest.Veth(t, haNS, "eth1", faNS, "eth0")
	// The home link leads nowhere: a veth pair inside the namespace.
	haNS.Run("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
	haNS.Run("ip", "link", "set", "eth0p", "up")
	haNS.Addr("eth0", "10.1.0.1/24")
	haNS.Addr("eth1", "10.0.1.1/24")
	haNS.Run("ip", "link", "set", "eth0", "up")
	haNS.Run("ip", "link", "set", "eth1", "up")
	faNS.Addr("eth0", "10.0.1.2/24")
	faNS.Run("ip", "link", "set", "eth0", "up")
	faNS.Run("ip", "route", "add", "10.1.0.0/24", "via", "10.0.1.1")

	dir := t.TempDir()
	conf := filepath.Join(dir, "dynhad.conf")
	admin := filepath.Join(dir, "ha.sock")
	text := fmt.Appendf(nil, testConf, filepath.Join(dir, "dynhad.state"))
	text = fmt.Appendf(text, "AdminSocket %s\nMonitorSocket \"\"\nIPsecESP userspace\nIPSEC_BEGIN\n10.0.1.2 - %s\nIPSEC_END\n",
		admin, faPSK)
	if err := os.WriteFile(conf, text, 0o600); err != nil {
		t.Fatal(err)
	}
	_, out := haNS.Start(bin, "-c", conf, "--fg", "--debug")
	defer func() {
		if t.Failed() {
			t.Logf("dynhad output:\n%s", out.String())
		}
	}()
	waitFor(t, "dynhad to start", 10*time.Second, func() bool { return strings.Contains(out.String(), "home agent running") })

	// The foreign agent: its protection, then its UDP socket on port 434
	// telling each datagram's arrival interface.
	var guard *secure.Guard
	var fa *ipv4.PacketConn
	faLog := &netnstest.SyncBuffer{}
	defer func() {
		if t.Failed() {
			t.Logf("foreign agent's protection:\n%s", faLog.String())
		}
	}()
	if err := faNS.Do(func() (err error) {
		guard, err = secure.Open(secure.Options{
			Config: secure.Config{
				IPsecMOBIKEX: true, IPsecESP: secure.ESPUserspace, IPsecDevice: "dynesp0",
				Peers: []secure.PeerEntry{{Peer: secure.PeerPrefix(netip.PrefixFrom(haAddr, 32)), ID: "-", PSK: faPSK, Line: 1}},
			},
			Local:    faAddr,
			Initiate: []netip.Addr{haAddr},
			Logger:   slog.New(slog.NewTextHandler(faLog, nil)),
		})
		if err != nil {
			return err
		}
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(faAddr, 434)))
		if err != nil {
			return err
		}
		fa = ipv4.NewPacketConn(c)
		return fa.SetControlMessage(ipv4.FlagInterface, true)
	}); err != nil {
		t.Fatalf("foreign agent: %v", err)
	}
	guardOpen := true
	defer func() {
		if guardOpen {
			guard.Close()
		}
	}()
	defer fa.Close()
	waitFor(t, "the foreign agent's SA with the home agent", 20*time.Second, func() bool { return guard.Ready(haAddr) })

	send := func() *mip.Request {
		t.Helper()
		req := &mip.Request{Flags: mip.FlagReverseTunnel, Lifetime: 600, Home: home, HomeAgent: haAddr,
			CareOf: faAddr, ID: mip.TimestampID(time.Now())}
		if err := req.Authenticate(mip.TypeMobileHome, mnSA); err != nil {
			t.Fatal(err)
		}
		if err := req.Authenticate(mip.TypeForeignHome, fhSA); err != nil {
			t.Fatal(err)
		}
		b, _ := req.Marshal()
		if _, err := fa.WriteTo(b, nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(haAddr, 434))); err != nil {
			t.Fatal(err)
		}
		return req
	}
	req := send()
	buf := make([]byte, 2048)
	_ = fa.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, cm, from, err := fa.ReadFrom(buf)
	if err != nil {
		t.Fatalf("reply: %v", err)
	}
	r, err := mip.ParseReply(buf[:n])
	if err != nil || r.Code != mip.CodeAccepted || r.ID != req.ID || from.String() != "10.1.0.1:434" {
		t.Fatalf("reply %+v from %s: %v", r, from, err)
	}
	if cm == nil || cm.IfIndex != guard.Device() {
		t.Errorf("reply arrived on interface %v, want the ESP device %d", cm, guard.Device())
	}
	status := func() map[string]uint64 {
		t.Helper()
		c, err := api.Dial(admin)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		st, err := c.GetStatus(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]uint64{}
		for _, c := range st.Counters {
			m[c.Name] = c.Value
		}
		return m
	}
	if c := status(); c["accepted"] != 1 || c["discards.unprotected"] != 0 || c["sends.held"] != 0 ||
		c["ipsec.ike_sas"] != 1 || c["ipsec.child_sas"] != 1 || c["ipsec.ike_initiated"] != 0 || c["ipsec.esp_in"] == 0 || c["ipsec.esp_out"] == 0 {
		t.Errorf("counters after the protected registration: %v", c)
	}

	// Without its protection the foreign agent's request goes in clear:
	// dropped, counted, unanswered.
	guardOpen = false
	if err := guard.Close(); err != nil {
		t.Errorf("closing the foreign agent's protection: %v", err)
	}
	send()
	waitFor(t, "the unprotected request to be counted", 5*time.Second, func() bool { return status()["discards.unprotected"] == 1 })
	_ = fa.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, _, _, err := fa.ReadFrom(buf); err == nil {
		t.Errorf("the unprotected request was answered: %x", buf[:n])
	}
	if c := status(); c["requests"] != 1 || c["accepted"] != 1 {
		t.Errorf("counters after the unprotected request: %v", c)
	}
}

// waitFor polls cond until it holds or wait has passed.
func waitFor(t *testing.T, what string, wait time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
