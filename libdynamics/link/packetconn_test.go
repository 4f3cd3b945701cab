package link

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/netnstest"
)

// TestPacketConnFilterAndAddresses sends frames between two namespaces and
// checks that registration traffic arrives with the sender's hardware address
// while other traffic is filtered out.
func TestPacketConnFilterAndAddresses(t *testing.T) {
	a := netnstest.New(t, "lka")
	b := netnstest.New(t, "lkb")
	netnstest.Veth(t, a, "eth0", b, "eth0")
	a.Addr("eth0", "192.0.2.1/24")
	b.Addr("eth0", "192.0.2.2/24")

	var ca, cb *PacketConn
	if err := a.Do(func() (err error) { ca, err = ListenPacket("eth0"); return }); err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	if err := b.Do(func() (err error) { cb, err = ListenPacket("eth0"); return }); err != nil {
		t.Fatal(err)
	}
	defer cb.Close()

	send := func(dport uint16, payload string) {
		pkt := AppendUDP(nil, netip.AddrPortFrom(addrA, 434), netip.AddrPortFrom(addrB, dport), 64, []byte(payload))
		if err := ca.WriteFrame(pkt, cb.Info().HWAddr); err != nil {
			t.Fatal(err)
		}
	}
	send(9999, "filtered")
	send(434, "registration")
	icmpEcho := AppendIPv4(nil, addrA, addrB, ProtoICMP, 64, []byte{8, 0, 0xf7, 0xff, 0, 0, 0, 0})
	_ = ca.WriteFrame(icmpEcho, cb.Info().HWAddr)
	solicit := AppendIPv4(nil, addrA, AllMobilityAgentsAddr, ProtoICMP, 1, []byte{10, 0, 0xf5, 0xff, 0, 0, 0, 0})
	_ = ca.WriteFrame(solicit, AllMobilityAgents)

	buf := make([]byte, 2048)
	_ = cb.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, src, err := cb.ReadFrame(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(src, ca.Info().HWAddr) {
		t.Fatalf("sender address %s, want %s", src, ca.Info().HWAddr)
	}
	u, err := ParseUDP(buf[:n])
	if err != nil || string(u.Payload) != "registration" {
		t.Fatalf("first frame through the filter: %q %v", u.Payload, err)
	}
	n, _, err = cb.ReadFrame(buf)
	if err != nil {
		t.Fatal(err)
	}
	ip, err := ParseIPv4(buf[:n])
	if err != nil || ip.Protocol != ProtoICMP || ip.Payload[0] != 10 {
		t.Fatalf("second frame should be the solicitation, got %+v %v", ip, err)
	}
	_ = cb.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, _, err := cb.ReadFrame(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a filtered frame got through: %v", err)
	}
	// The sender does not read back its own frames.
	_ = ca.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, _, err := ca.ReadFrame(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("sender read its own frame: %v", err)
	}
}
