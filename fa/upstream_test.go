package fa

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/link"
)

// TestUpstreamConn checks, over loopback, that the upstream socket leaves
// out datagrams to a visitor link's address and passes the others.
func TestUpstreamConn(t *testing.T) {
	hub := link.NewHub()
	visitor := hub.Attach(link.Info{Name: "eth1", Index: 1 << 20, HWAddr: faMAC})
	defer visitor.Close()
	links := []Link{{Conn: visitor, Addr: netip.MustParsePrefix("127.0.0.2/8")}}
	u, err := ListenUpstream("0.0.0.0:0", netip.MustParseAddr("127.0.0.3"), links)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	port := u.LocalAddr().(*net.UDPAddr).Port

	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	for _, dst := range []string{"127.0.0.2", "127.0.0.1"} {
		if _, err := peer.WriteTo([]byte(dst), &net.UDPAddr{IP: net.ParseIP(dst), Port: port}); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 64)
	_ = u.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := u.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if string(buf[:n]) != "127.0.0.1" {
		t.Errorf("read the datagram to %s, which belongs to the visitor link", buf[:n])
	}
	// Answers leave from the care-of address.
	if _, err := u.WriteTo([]byte("answer"), from); err != nil {
		t.Fatal(err)
	}
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, src, err := peer.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := src.(*net.UDPAddr).IP.String(); got != "127.0.0.3" || string(buf[:n]) != "answer" {
		t.Errorf("answer %q from %s, want from 127.0.0.3", buf[:n], got)
	}
}
