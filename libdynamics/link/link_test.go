package link

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/tsharktest"
)

var (
	addrA = netip.MustParseAddr("192.0.2.1")
	addrB = netip.MustParseAddr("192.0.2.2")
)

func TestUDPRoundTrip(t *testing.T) {
	src := netip.AddrPortFrom(addrA, 434)
	dst := netip.AddrPortFrom(addrB, 5000)
	pkt := AppendUDP(nil, src, dst, 64, []byte("hello"))
	// The independent builder must produce the same bytes but for the IP id.
	want := tsharktest.UDP(addrA, addrB, 434, 5000, []byte("hello"))
	if len(pkt) != len(want) {
		t.Fatalf("length %d, want %d", len(pkt), len(want))
	}
	if !bytes.Equal(pkt[20:], want[20:]) {
		t.Fatalf("UDP part differs:\n got %x\nwant %x", pkt[20:], want[20:])
	}
	if Checksum(pkt[:20], 0) != 0 {
		t.Fatal("IPv4 header checksum does not verify")
	}
	u, err := ParseUDP(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if u.Src != src || u.Dst != dst || string(u.Payload) != "hello" {
		t.Fatalf("parsed %+v", u)
	}
	pkt[len(pkt)-1] ^= 0xff
	if _, err := ParseUDP(pkt); err == nil {
		t.Fatal("corrupted payload passed the UDP checksum")
	}
}

func TestParseRejectsTruncatedAndFragments(t *testing.T) {
	pkt := AppendUDP(nil, netip.AddrPortFrom(addrA, 1), netip.AddrPortFrom(addrB, 2), 64, []byte("xyz"))
	for n := 0; n < len(pkt); n++ {
		if _, err := ParseUDP(pkt[:n]); err == nil {
			t.Fatalf("ParseUDP accepted %d of %d bytes", n, len(pkt))
		}
	}
	frag := append([]byte(nil), pkt...)
	frag[6] = 0x20 // more fragments
	if _, err := ParseIPv4(frag); !errors.Is(err, ErrFragment) {
		t.Fatalf("fragment: %v", err)
	}
	icmp := AppendIPv4(nil, addrA, addrB, ProtoICMP, 1, []byte{8, 0, 0, 0})
	if _, err := ParseUDP(icmp); !errors.Is(err, ErrProtocol) {
		t.Fatalf("ICMP as UDP: %v", err)
	}
}

func TestMulticastHW(t *testing.T) {
	if got := MulticastHW(AllMobilityAgentsAddr); !bytes.Equal(got, AllMobilityAgents) {
		t.Fatalf("224.0.0.11 -> %s", got)
	}
	if got := MulticastHW(LimitedBroadcastAddr); !bytes.Equal(got, Broadcast) {
		t.Fatalf("255.255.255.255 -> %s", got)
	}
}

func TestHubDelivery(t *testing.T) {
	h1, h2 := NewHub(), NewHub()
	a := h1.Attach(Info{Name: "a0", HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}})
	b := h1.Attach(Info{Name: "b0", HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 2}})
	c := h1.Attach(Info{Name: "c0", HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 3}})
	defer a.Close()
	defer b.Close()
	defer c.Close()

	if err := a.WriteFrame([]byte("to-b"), b.Info().HWAddr); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, src, err := b.ReadFrame(buf)
	if err != nil || string(buf[:n]) != "to-b" || !bytes.Equal(src, a.Info().HWAddr) {
		t.Fatalf("b read %q from %s: %v", buf[:n], src, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, _, err := c.ReadFrame(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("c got a unicast frame for b: %v", err)
	}

	// Broadcast reaches everyone but the sender; a moved port hears only its new hub.
	c.Move(h2)
	_ = a.WriteFrame([]byte("all"), Broadcast)
	n, _, err = b.ReadFrame(buf)
	if err != nil || string(buf[:n]) != "all" {
		t.Fatalf("b broadcast: %q %v", buf[:n], err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, _, err := c.ReadFrame(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("moved port heard the old hub: %v", err)
	}
	_ = a.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, _, err := a.ReadFrame(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("sender heard its own broadcast: %v", err)
	}

	_ = b.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() { _, _, err := b.ReadFrame(buf); done <- err }()
	_ = b.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
}
