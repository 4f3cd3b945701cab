package ike

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/netnstest"
	"github.com/dynamics-go/dynamics/internal/swantest"
	"github.com/dynamics-go/dynamics/internal/tsharktest"
	"github.com/dynamics-go/dynamics/libdynamics/esp"
)

// The strongSwan interop tests: charon (kernel-libipsec: tunnel mode, UDP
// encapsulation) against this engine with the userspace ESP data path, in
// the two namespaces of swantest.Pair, with a known-good charon
// configuration: PSK, IDs mn@example.org and
// ha@example.org, a child between 10.1.0.1 and 10.2.0.1.

// interopPSK is the secret of the strongSwan configuration
// ("0sdGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0" in base64).
const interopPSK = "testtesttesttesttesttest"

// proposal families of the interop matrix.
var interopFamilies = []struct{ name, ike, esp string }{
	{"cbc", "aes128-sha256-modp2048", "aes128-sha256"},
	{"gcm", "aes128gcm16-prfsha256-x25519", "aes128gcm16"},
}

// charonConf renders a swanctl.conf for charon: the connection "mip" on
// the mobile side ("mn", initiating to the home side) or the home side.
func charonConf(side, ike, espProp string) string {
	local, remote, localID, remoteID := swantest.MNAddr, swantest.HAAddr, "mn@example.org", "ha@example.org"
	lts, rts := swantest.MNInner, swantest.HAInner
	if side == "ha" {
		local, remote, localID, remoteID = swantest.HAAddr, "%any", "ha@example.org", "mn@example.org"
		lts, rts = swantest.HAInner, swantest.MNInner
	}
	return fmt.Sprintf(`connections {
  mip {
    version = 2
    local_addrs = %s
    remote_addrs = %s
    mobike = yes
    proposals = %s
    local {
      auth = psk
      id = %s
    }
    remote {
      auth = psk
      id = %s
    }
    children {
      mip {
        local_ts = %s/32
        remote_ts = %s/32
        mode = tunnel
        esp_proposals = %s
      }
    }
  }
}
secrets {
  ike-1 {
    id-a = mn@example.org
    id-b = ha@example.org
    secret = "0sdGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0"
  }
}
`, local, remote, ike, localID, remoteID, lts, rts, espProp)
}

// side is this engine running in a test namespace with the userspace ESP
// data path.
type side struct {
	t    *testing.T
	ns   *netnstest.NS
	e    *Engine
	us   *esp.Userspace
	log  *syncBuf
	keys *syncBuf
}

// openSockets binds port 500 and a port-4500 Mux on addr inside ns.
func openSockets(t *testing.T, ns *netnstest.NS, addr string) (socks []Socket, mux *esp.Mux) {
	t.Helper()
	a := netip.MustParseAddr(addr)
	err := ns.Do(func() error {
		c500, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, 500)))
		if err != nil {
			return err
		}
		c4500, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, 4500)))
		if err != nil {
			c500.Close()
			return err
		}
		mux = esp.NewMux(c4500, esp.MuxOptions{})
		t.Cleanup(func() { _ = c500.Close(); _ = mux.Close() })
		socks = []Socket{{Conn: c500}, {Conn: mux.IKE(), Mux: mux}}
		return nil
	})
	if err != nil {
		t.Fatalf("sockets on %s in %s: %v", addr, ns.Name, err)
	}
	return socks, mux
}

// startSide runs an engine with cfg in ns on addr.
func startSide(t *testing.T, ns *netnstest.NS, addr string, cfg Config) *side {
	t.Helper()
	socks, mux := openSockets(t, ns, addr)
	s := &side{t: t, ns: ns, log: &syncBuf{}, keys: &syncBuf{}}
	logger := slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	err := ns.Do(func() error {
		var err error
		s.us, err = esp.NewUserspace(esp.UserspaceOptions{Mux: mux, Logger: logger})
		return err
	})
	if err != nil {
		t.Fatalf("userspace ESP in %s: %v", ns.Name, err)
	}
	t.Cleanup(func() { _ = s.us.Close() })
	e, err := New(Options{Config: cfg, Sockets: socks, ESP: s.us, Logger: logger, KeyLog: s.keys})
	if err != nil {
		t.Fatal(err)
	}
	s.e = e
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return")
		}
		if t.Failed() {
			t.Logf("engine log in %s:\n%s", ns.Name, s.log.String())
		}
	})
	return s
}

// interopConfig is this engine's configuration for one side.
func interopConfig(sideName, ike, espProp string) Config {
	c := Config{
		PSK:    []byte(interopPSK),
		MOBIKE: true,
		// Our MOBIKE-X offer (VERSION parameters in MOBIKE_SUPPORTED)
		// must not disturb an RFC 4555 peer: charon settles on MOBIKE.
		MOBIKEX:      true,
		IKEProposals: []Proposal{MustParseProposal(ike, false)},
		ESPProposals: []Proposal{MustParseProposal(espProp, true)},
		// charon's kernel-libipsec needs UDP encapsulation, and so does
		// the userspace data path.
		ForceEncap: true,
	}
	if sideName == "mn" {
		c.LocalID = "mn@example.org"
		c.Peers = []Peer{{Name: "ha", RemoteID: "ha@example.org", Address: netip.MustParseAddrPort(swantest.HAAddr + ":500"),
			LocalTS: []Selector{sel(swantest.MNInner + "/32")}, RemoteTS: []Selector{sel(swantest.HAInner + "/32")}}}
	} else {
		c.LocalID = "ha@example.org"
		c.Peers = []Peer{{Name: "mn", RemoteID: "mn@example.org",
			LocalTS: []Selector{sel(swantest.HAInner + "/32")}, RemoteTS: []Selector{sel(swantest.MNInner + "/32")}}}
	}
	return c
}

// udpEcho checks UDP through the child SA both ways: from inner address
// src in a to inner address dst in b and back.
func udpEcho(t *testing.T, a *netnstest.NS, src string, b *netnstest.NS, dst string) {
	t.Helper()
	var server, client *net.UDPConn
	err := b.Do(func() error {
		var err error
		server, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(dst), Port: 7000})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	err = a.Do(func() error {
		var err error
		client, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(src), Port: 7001})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	buf := make([]byte, 1500)
	// The first datagrams may race the policies' routes: retry a few.
	var got bool
	for try := 0; try < 10 && !got; try++ {
		msg := fmt.Sprintf("request %d", try)
		if _, err := client.WriteTo([]byte(msg), &net.UDPAddr{IP: net.ParseIP(dst), Port: 7000}); err != nil {
			t.Fatal(err)
		}
		_ = server.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, from, err := server.ReadFromUDP(buf)
		if err != nil {
			continue
		}
		if string(buf[:n]) != msg || from.IP.String() != src {
			t.Fatalf("%s got %q from %v", dst, buf[:n], from)
		}
		if _, err := server.WriteTo([]byte("reply "+msg), from); err != nil {
			t.Fatal(err)
		}
		_ = client.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err = client.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("reply through the child SA from %s to %s: %v", dst, src, err)
		}
		if string(buf[:n]) != "reply "+msg {
			t.Fatalf("reply %q", buf[:n])
		}
		got = true
	}
	if !got {
		t.Fatalf("no UDP from %s reached %s through the child SA", src, dst)
	}
}

var (
	reEstablished = regexp.MustCompile(`ESTABLISHED`)
	reInstalled   = regexp.MustCompile(`INSTALLED, TUNNEL-in-UDP`)
)

// TestInteropInitiator: this engine initiates to charon, both proposal
// families, UDP both ways through the child SA; then the mobile side's
// address moves, MOBIKE keeps the IKE SA, charon rekeys the child SA (its
// libipsec cannot move SAs) and this engine answers; UDP goes both ways
// through the new child SA from the new address, with the old address's
// sockets removed.
func TestInteropInitiator(t *testing.T) {
	swantest.Require(t)
	for _, f := range interopFamilies {
		t.Run(f.name, func(t *testing.T) {
			mnNS, haNS := swantest.Pair(t)
			charon := swantest.Start(t, haNS, swantest.Options{Swanctl: charonConf("ha", f.ike, f.esp), IKELevel: 4})
			stop := swantest.Capture(t, haNS, swantest.Dev, "udp", "port", "500", "or", "udp", "port", "4500")
			mn := startSide(t, mnNS, swantest.MNAddr, interopConfig("mn", f.ike, f.esp))
			info, err := mn.e.Initiate(ctx(t), "ha")
			if err != nil {
				t.Fatal(err)
			}
			if !info.Encap || info.MOBIKEVersion != 1 || info.Proposal != f.ike || len(info.Children) != 1 {
				t.Fatalf("SA %+v", info)
			}
			out, err := charon.WaitSAs(10*time.Second, reEstablished, reInstalled)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !strings.Contains(out, fmt.Sprintf("%016x_i %016x_r", uint64(info.SPIi), uint64(info.SPIr))) {
				t.Fatalf("charon's SA is not ours (%s):\n%s", info, out)
			}
			udpEcho(t, mnNS, swantest.MNInner, haNS, swantest.HAInner)
			udpEcho(t, haNS, swantest.HAInner, mnNS, swantest.MNInner)
			if err := mn.e.Liveness(ctx(t), info.LocalSPI); err != nil {
				t.Fatal(err)
			}

			// MOBIKE: a new address, the old one gone.
			mnNS.Sysctl("net.ipv4.conf.all.promote_secondaries", "1")
			mnNS.Sysctl("net.ipv4.conf."+swantest.Dev+".promote_secondaries", "1")
			mnNS.Addr(swantest.Dev, swantest.MNMoved+"/24")
			socks, _ := openSockets(t, mnNS, swantest.MNMoved)
			for _, s := range socks {
				if err := mn.e.AddSocket(ctx(t), s); err != nil {
					t.Fatal(err)
				}
			}
			if err := mn.e.Move(ctx(t), info.LocalSPI, netip.MustParseAddr(swantest.MNMoved)); err != nil {
				t.Fatal(err)
			}
			if got := mn.us.Muxes(); len(got) != 2 || got[1].Addr().String() != swantest.MNMoved {
				t.Errorf("the data path's sockets after AddSocket: %v", got)
			}
			for _, port := range []uint16{500, 4500} {
				if err := mn.e.RemoveSocket(ctx(t), netip.AddrPortFrom(netip.MustParseAddr(swantest.MNAddr), port)); err != nil {
					t.Fatal(err)
				}
			}
			if got := mn.us.Muxes(); len(got) != 1 || got[0].Addr().String() != swantest.MNMoved {
				t.Errorf("the data path's sockets after RemoveSocket: %v", got)
			}
			mnNS.Run("ip", "addr", "del", swantest.MNAddr+"/24", "dev", swantest.Dev)
			out, err = charon.WaitSAs(20*time.Second, regexp.MustCompile(`remote 'mn@example.org' @ `+regexp.QuoteMeta(swantest.MNMoved)), reInstalled)
			if err != nil {
				t.Fatalf("charon did not follow the move: %v\n%s", err, out)
			}
			if !strings.Contains(out, fmt.Sprintf("%016x_i %016x_r", uint64(info.SPIi), uint64(info.SPIr))) {
				t.Fatalf("the IKE SA changed with the move:\n%s", out)
			}
			// charon rekeys the child after the update; wait until ours
			// has one child whose SPI charon shows.
			var child ChildInfo
			eventually2(t, 20*time.Second, "the child SA rekeyed by charon", func() bool {
				s, err := mn.e.SAs(ctx(t))
				if err != nil || len(s) != 1 || len(s[0].Children) != 1 {
					return false
				}
				child = s[0].Children[0]
				return child.InSPI != info.Children[0].InSPI && strings.Contains(charon.ListSAs(), fmt.Sprintf("%08x", child.InSPI))
			})
			if s := mn.only(); s.Local.Addr().String() != swantest.MNMoved {
				t.Errorf("our SA is at %s after the move", s.Local)
			}
			// The data path after the move, through charon's new child.
			udpEcho(t, mnNS, swantest.MNInner, haNS, swantest.HAInner)
			udpEcho(t, haNS, swantest.HAInner, mnNS, swantest.MNInner)
			if st := mn.us.Stats(); st.Drops.Send != 0 {
				t.Errorf("ESP the data path could not send: %+v", st.Drops)
			}
			checkCapture(t, stop(), mn.keys.String(), charon)
		})
	}
}

// only returns the side's one IKE SA.
func (s *side) only() SAInfo {
	s.t.Helper()
	l, err := s.e.SAs(ctx(s.t))
	if err != nil || len(l) != 1 {
		s.t.Fatalf("SAs: %v %v", l, err)
	}
	return l[0]
}

// eventually2 polls cond for up to d.
func eventually2(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestInteropResponder: charon initiates to this engine, both proposal
// families, UDP both ways; then charon's address moves: this engine answers
// the MOBIKE update, checks the new address, and answers charon's
// CREATE_CHILD_SA {REKEY_SA} right after.
func TestInteropResponder(t *testing.T) {
	swantest.Require(t)
	for _, f := range interopFamilies {
		t.Run(f.name, func(t *testing.T) {
			mnNS, haNS := swantest.Pair(t)
			ha := startSide(t, haNS, swantest.HAAddr, interopConfig("ha", f.ike, f.esp))
			charon := swantest.Start(t, mnNS, swantest.Options{Swanctl: charonConf("mn", f.ike, f.esp), IKELevel: 4})
			if err := charon.Initiate("mip"); err != nil {
				t.Fatal(err)
			}
			info := ha.only()
			if info.State != StateEstablished || info.Initiator || info.MOBIKEVersion != 1 || info.Proposal != f.ike || len(info.Children) != 1 {
				t.Fatalf("SA %+v", info)
			}
			udpEcho(t, mnNS, swantest.MNInner, haNS, swantest.HAInner)
			udpEcho(t, haNS, swantest.HAInner, mnNS, swantest.MNInner)

			mnNS.Sysctl("net.ipv4.conf.all.promote_secondaries", "1")
			mnNS.Sysctl("net.ipv4.conf."+swantest.Dev+".promote_secondaries", "1")
			mnNS.Addr(swantest.Dev, swantest.MNMoved+"/24")
			mnNS.Run("ip", "addr", "del", swantest.MNAddr+"/24", "dev", swantest.Dev)
			var now SAInfo
			eventually2(t, 20*time.Second, "the SA moved and its child rekeyed", func() bool {
				l, err := ha.e.SAs(ctx(t))
				if err != nil || len(l) != 1 {
					return false
				}
				now = l[0]
				return now.Remote.Addr().String() == swantest.MNMoved && len(now.Children) == 1 && now.Children[0].InSPI != info.Children[0].InSPI
			})
			if now.SPIi != info.SPIi || now.SPIr != info.SPIr {
				t.Fatalf("the IKE SA changed: %v, was %v", now, info)
			}
			if _, err := charon.WaitSAs(10*time.Second, reInstalled, regexp.MustCompile(fmt.Sprintf("%08x", now.Children[0].InSPI))); err != nil {
				t.Fatal(err)
			}
			udpEcho(t, mnNS, swantest.MNInner, haNS, swantest.HAInner)
			udpEcho(t, haNS, swantest.HAInner, mnNS, swantest.MNInner)
		})
	}
}

// checkCapture has tshark decrypt a capture of an interop run with the
// keys this engine logged, and checks that the keys charon logged (at ike
// level 4) are the same, that the SK payloads of both sides open, and that
// tshark finds nothing malformed.
func checkCapture(t *testing.T, pcap, keyLog string, charon *swantest.Charon) {
	t.Helper()
	tsharktest.Require(t)
	ck := charon.LoggedSecrets()
	if len(ck["SK_ei"]) == 0 || !strings.Contains(keyLog, fmt.Sprintf("%x,%x", ck["SK_ei"], ck["SK_er"])) {
		t.Errorf("charon's SK_ei/SK_er %x/%x are not in our key log:\n%s", ck["SK_ei"], ck["SK_er"], keyLog)
	}
	args := decryptArgs(keyLog)
	if p := tsharktest.Expert(t, pcap, args...); len(p) > 0 {
		t.Errorf("tshark: %s", strings.Join(p, "\n"))
	}
	rows := tsharktest.Fields(t, pcap, args, "isakmp.exchangetype", "isakmp.id.data.user_fqdn", "isakmp.notify.msgtype")
	var ids, notifies []string
	for _, r := range rows {
		for len(r) < 3 {
			r = append(r, "")
		}
		if r[1] != "" {
			ids = append(ids, r[1])
		}
		notifies = append(notifies, r[2])
	}
	if len(ids) < 2 {
		t.Errorf("IKE_AUTH identities not decrypted: %q", ids)
	}
	// UPDATE_SA_ADDRESSES (16400) and COOKIE2 (16401) inside SK.
	all := strings.Join(notifies, ",")
	if !strings.Contains(all, "16400") || !strings.Contains(all, "16401") {
		t.Errorf("MOBIKE notifications not decrypted: %q", notifies)
	}
}
