package memnet_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/memnet"
)

// TestAlias sends a datagram across a Network made through the alias and
// checks that a second bind reports ErrInUse.
func TestAlias(t *testing.T) {
	n := memnet.New()
	a, err := n.Listen("10.0.1.2:434")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := n.Listen("10.1.0.1:434")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := n.Listen("10.1.0.1:434"); !errors.Is(err, memnet.ErrInUse) {
		t.Errorf("second bind: %v, want ErrInUse", err)
	}
	var pc net.PacketConn = a
	if _, err := pc.WriteTo([]byte("hi"), &net.UDPAddr{IP: net.IPv4(10, 1, 0, 1), Port: 434}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
	n2, from, err := b.ReadFrom(buf)
	if err != nil || string(buf[:n2]) != "hi" || from.String() != "10.0.1.2:434" {
		t.Fatalf("ReadFrom = %q from %v, %v", buf[:n2], from, err)
	}
}
