package main

import (
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
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
)

// haPSK is the pre-shared key of the foreign agent's IKE SA with the home
// agent in TestNetnsProtected.
const haPSK = "dynfad-test-ha-psk"

// TestNetnsProtected runs dynfad with its home agent 10.1.0.1 listed under
// IPSEC, against a home agent played by the test with its own signalling
// protection (secure.Guard, userspace ESP, responder) in another
// namespace: dynfad brings up the IKE SA itself, relays the mobile's
// request in ESP (it comes out of the home agent's ESP device) and relays
// the reply, which came in ESP, down to the mobile. Once the home agent's
// protection is gone, its reply in clear is dropped and counted, and the
// mobile hears nothing.
func TestNetnsProtected(t *testing.T) {
	netnstest.RequireRoot(t)
	netnstest.RequireCommand(t, "ip", "iproute2 makes the namespaces")
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("userspace ESP needs /dev/net/tun: %v", err)
	}
	bin := netnstest.BuildCommand(t, "", "dynfad")
	faNS, haNS, mnNS := netnstest.New(t, "pfa"), netnstest.New(t, "pha"), netnstest.New(t, "pmn")
	netnstest.Veth(t, faNS, "eth0", haNS, "eth0")
	netnstest.Veth(t, faNS, "eth1", mnNS, "eth0")
	for _, ns := range []*netnstest.NS{faNS, haNS, mnNS} {
		ns.Run("ip", "link", "set", "eth0", "up")
	}
	faNS.Run("ip", "link", "set", "eth1", "up")
	faNS.Addr("eth0", "10.0.1.2/24")
	faNS.Addr("eth1", "10.2.0.1/24")
	faNS.Run("ip", "route", "add", "10.1.0.0/24", "via", "10.0.1.1")
	haNS.Addr("eth0", "10.0.1.1/24")
	haNS.Addr("lo", "10.1.0.1/32")
	haAddr, faAddr := netip.MustParseAddr("10.1.0.1"), netip.MustParseAddr("10.0.1.2")

	// The home agent: its protection, answering the foreign agent's SA,
	// and its UDP socket telling each datagram's arrival interface.
	haLog := &netnstest.SyncBuffer{}
	var guard *secure.Guard
	var ha *ipv4.PacketConn
	if err := haNS.Do(func() (err error) {
		guard, err = secure.Open(secure.Options{
			Config: secure.Config{
				IPsecMOBIKEX: true, IPsecESP: secure.ESPUserspace, IPsecDevice: "dynesp0",
				Peers: []secure.PeerEntry{{Peer: secure.PeerPrefix(netip.PrefixFrom(faAddr, 32)), ID: "-", PSK: haPSK, Line: 1}},
			},
			Local:  haAddr,
			Logger: slog.New(slog.NewTextHandler(haLog, nil)),
		})
		if err != nil {
			return err
		}
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(haAddr, 434)))
		if err != nil {
			return err
		}
		ha = ipv4.NewPacketConn(c)
		return ha.SetControlMessage(ipv4.FlagInterface, true)
	}); err != nil {
		t.Fatalf("home agent: %v", err)
	}
	guardOpen := true
	defer func() {
		if guardOpen {
			guard.Close()
		}
	}()
	defer ha.Close()
	var mn *link.PacketConn
	if err := mnNS.Do(func() (err error) { mn, err = link.ListenPacket("eth0"); return err }); err != nil {
		t.Fatalf("mobile: %v", err)
	}
	defer mn.Close()

	dir := t.TempDir()
	conf := filepath.Join(dir, "dynfad.conf")
	admin := filepath.Join(dir, "fa.sock")
	fh := mip.SecurityAssociation{SPI: 2001, Alg: mip.HMACMD5, Key: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}}
	mh := mip.SecurityAssociation{SPI: 1000, Key: []byte("mobile key")}
	text := "UpstreamInterface eth0\nAgentAdvInterval 200ms\nTunnelMode userspace\nStateFile " +
		filepath.Join(dir, "dynfad.state") + "\nINTERFACES_BEGIN\neth1\nINTERFACES_END\n" +
		"SECURITY_BEGIN\n10.1.0.1 2001 hmac-md5 0102030405060708090a0b0c0d0e0f10\nSECURITY_END\n" +
		"AdminSocket " + admin + "\nMonitorSocket \"\"\n" +
		"IPsecESP userspace\nIPSEC_BEGIN\n10.1.0.1 - " + haPSK + "\nIPSEC_END\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	_, out := faNS.Start(bin, "-c", conf, "--fg", "--debug")
	defer func() {
		if t.Failed() {
			t.Logf("dynfad output:\n%s\nhome agent's protection:\n%s", out.String(), haLog.String())
		}
	}()
	faHW := readAdvert(t, mn)
	waitFor(t, "the foreign agent's SA with the home agent", 20*time.Second, func() bool { return guard.Ready(faAddr) })

	// The mobile sends its request, and again with a new identification
	// each second until it reaches the home agent: until dynfad's own SA
	// is up, dynfad holds the request rather than send it in clear.
	home := netip.MustParseAddr("10.1.0.10")
	var req *mip.Request
	buf := make([]byte, 2048)
	var n int
	var cm *ipv4.ControlMessage
	var from net.Addr
	for try := 0; ; try++ {
		req = &mip.Request{Flags: mip.FlagReverseTunnel, Lifetime: 600, Home: home, HomeAgent: haAddr, CareOf: faAddr,
			ID: mip.TimestampID(time.Now()) + uint64(try)}
		if err := req.Authenticate(mip.TypeMobileHome, mh); err != nil {
			t.Fatal(err)
		}
		payload, _ := req.Marshal()
		pkt := link.AppendUDP(nil, netip.AddrPortFrom(home, 434), netip.MustParseAddrPort("10.2.0.1:434"), 64, payload)
		if err := mn.WriteFrame(pkt, faHW); err != nil {
			t.Fatal(err)
		}
		_ = ha.SetReadDeadline(time.Now().Add(time.Second))
		var err error
		if n, cm, from, err = ha.ReadFrom(buf); err == nil {
			break
		}
		if try == 10 {
			t.Fatalf("home agent: %v", err)
		}
	}
	if cm == nil || cm.IfIndex != guard.Device() {
		t.Errorf("relayed request arrived on interface %v, want the ESP device %d", cm, guard.Device())
	}
	relayed, err := mip.ParseRequest(buf[:n])
	if err != nil || from.String() != "10.0.1.2:434" {
		t.Fatalf("relayed request from %s: %v", from, err)
	}
	reply := &mip.Reply{Code: mip.CodeAccepted, Lifetime: 600, Home: home, HomeAgent: haAddr, ID: relayed.ID}
	_ = reply.Authenticate(mip.TypeMobileHome, mh)
	_ = reply.Authenticate(mip.TypeForeignHome, fh)
	rb, _ := reply.Marshal()
	if _, err := ha.WriteTo(rb, nil, from); err != nil {
		t.Fatal(err)
	}
	if got := readReply(t, mn); got.Code != mip.CodeAccepted || got.ID != req.ID {
		t.Fatalf("reply to the mobile: %s id %x", got.Code, got.ID)
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
	if c := status(); c["relayed"] != 1 || c["accepted"] != 1 || c["discards.unprotected"] != 0 || c["sends.held"] != c["requests"]-1 {
		t.Errorf("counters after the protected registration: %v", c)
	}

	// Without its protection the home agent's reply goes in clear:
	// dropped, counted, not relayed.
	guardOpen = false
	if err := guard.Close(); err != nil {
		t.Errorf("closing the home agent's protection: %v", err)
	}
	if _, err := ha.WriteTo(rb, nil, from); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the unprotected reply to be counted", 5*time.Second, func() bool { return status()["discards.unprotected"] == 1 })
	if c := status(); c["replies"] != 1 || c["discards.unmatched"] != 0 {
		t.Errorf("counters after the unprotected reply: %v", c)
	}
	if !strings.Contains(out.String(), "registration message dropped: not protected") {
		t.Error("no debug line for the dropped reply")
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
