package memnet

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

func TestDelivery(t *testing.T) {
	n := New()
	ha, err := n.Listen("10.1.0.1:434")
	if err != nil {
		t.Fatal(err)
	}
	defer ha.Close()
	fa, _ := n.Listen("0.0.0.0:434")
	fa.SourceAddr = netip.MustParseAddr("10.0.1.2")
	defer fa.Close()
	if _, err := n.Listen("10.1.0.1:434"); !errors.Is(err, ErrInUse) {
		t.Fatalf("double bind: %v", err)
	}

	if _, err := fa.WriteTo([]byte("req"), net.UDPAddrFromAddrPort(netip.MustParseAddrPort("10.1.0.1:434"))); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 10)
	k, from, err := ha.ReadFrom(b)
	if err != nil || string(b[:k]) != "req" || from.String() != "10.0.1.2:434" {
		t.Fatalf("ha read %q from %v: %v", b[:k], from, err)
	}
	// A wildcard-bound conn receives datagrams to any address on its port.
	_, _ = ha.WriteTo([]byte("rep"), from)
	k, from, err = fa.ReadFrom(b)
	if err != nil || string(b[:k]) != "rep" || from.String() != "10.1.0.1:434" {
		t.Fatalf("fa read %q from %v: %v", b[:k], from, err)
	}

	n.Drop = func(_, _ netip.AddrPort, p []byte) bool { return string(p) == "lost" }
	_, _ = fa.WriteTo([]byte("lost"), net.UDPAddrFromAddrPort(netip.MustParseAddrPort("10.1.0.1:434")))
	_ = ha.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, _, err := ha.ReadFrom(b); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("dropped datagram delivered: %v", err)
	}
	_ = ha.Close()
	if _, _, err := ha.ReadFrom(b); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
}
