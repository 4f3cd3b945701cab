package esp

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/memnet"
)

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func TestClassify(t *testing.T) {
	ike := append(make([]byte, 4), make([]byte, 28)...)
	ike[4] = 0x11 // an IKE SPI after the marker
	for _, tc := range []struct {
		name string
		b    []byte
		want Kind
		err  error
	}{
		{"keepalive", []byte{0xff}, KindKeepalive, nil},
		{"empty", nil, 0, ErrTruncated},
		{"one zero octet", []byte{0}, 0, ErrTruncated},
		{"marker only", []byte{0, 0, 0, 0}, 0, ErrTruncated},
		{"marker and short IKE", make([]byte, 4+27), 0, ErrTruncated},
		{"marker and IKE header", ike, KindIKE, nil},
		{"esp", []byte{0, 0, 0x10, 0, 0, 0, 0, 1, 9}, KindESP, nil},
		{"esp header only", []byte{0, 0, 0x10, 0, 0, 0, 0, 1}, KindESP, nil},
		{"short esp", []byte{0, 0, 0x10, 0, 0, 0, 0}, 0, ErrTruncated},
		{"two 0xff", []byte{0xff, 0xff}, 0, ErrTruncated},
		{"spi with zero low octets", []byte{1, 0, 0, 0, 0, 0, 0, 1}, KindESP, nil},
	} {
		got, err := Classify(tc.b)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("%s: Classify(% x) = %s, %v; want %s, %v", tc.name, tc.b, got, err, tc.want, tc.err)
		}
	}
}

// muxPair makes two Muxes on an in-memory network at outerA and outerB.
func muxPair(t *testing.T) (a, b *Mux, na, nb *memnet.Conn, n *memnet.Network) {
	t.Helper()
	n = memnet.New()
	ca, err := n.Listen(outerA.String())
	if err != nil {
		t.Fatal(err)
	}
	cb, err := n.Listen(outerB.String())
	if err != nil {
		t.Fatal(err)
	}
	a = NewMux(ca, MuxOptions{Logger: testLogger(t)})
	b = NewMux(cb, MuxOptions{Logger: testLogger(t)})
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b, ca, cb, n
}

func TestMuxDemultiplexes(t *testing.T) {
	a, b, _, _, n := muxPair(t)
	espc := make(chan []byte, 4)
	b.SetESPHandler(func(pkt []byte, from netip.AddrPort) {
		if from != outerA {
			t.Errorf("ESP from %s, want %s", from, outerA)
		}
		espc <- append([]byte{}, pkt...)
	})
	// What IKE writes gets the non-ESP marker on the wire.
	var wire [][]byte
	n.Drop = func(from, to netip.AddrPort, p []byte) bool {
		wire = append(wire, append([]byte{}, p...))
		return false
	}
	msg := bytes.Repeat([]byte{0xab}, 40)
	if _, err := a.IKE().WriteTo(msg, net.UDPAddrFromAddrPort(outerB)); err != nil {
		t.Fatal(err)
	}
	esp := []byte{0, 0, 0x12, 0x34, 0, 0, 0, 1, 1, 2, 3}
	if err := a.SendESP(esp, outerB); err != nil {
		t.Fatal(err)
	}
	if err := a.SendKeepalive(outerB); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	b.IKE().SetReadDeadline(time.Now().Add(5 * time.Second))
	nr, from, err := b.IKE().ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf[:nr], msg) || from.(*net.UDPAddr).AddrPort() != outerA {
		t.Errorf("IKE read % x from %s, want the message without marker from %s", buf[:nr], from, outerA)
	}
	select {
	case got := <-espc:
		if !bytes.Equal(got, esp) {
			t.Errorf("ESP handler got % x", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no ESP packet")
	}
	if !bytes.Equal(wire[0], append(make([]byte, 4), msg...)) || !bytes.Equal(wire[1], esp) || !bytes.Equal(wire[2], []byte{0xff}) {
		t.Errorf("on the wire: % x", wire)
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.Stats().Keepalives != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if st := b.Stats(); st != (MuxStats{IKE: 1, ESP: 1, Keepalives: 1}) {
		t.Errorf("stats %+v", st)
	}
}

func TestMuxCountsMalformedAndUnhandled(t *testing.T) {
	a, b, ca, _, _ := muxPair(t)
	_ = a
	for _, p := range [][]byte{{1, 2}, {0, 0, 0, 0, 1}, {0, 0, 0, 1, 0, 0, 0, 1}} {
		if _, err := ca.WriteTo(p, net.UDPAddrFromAddrPort(outerB)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.Stats().Malformed+b.Stats().NoHandler < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if st := b.Stats(); st.Malformed != 2 || st.NoHandler != 1 {
		t.Errorf("stats %+v", st)
	}
	if err := a.SendESP([]byte{0, 0, 0, 0, 0, 0, 0, 1}, outerB); !errors.Is(err, ErrSPI) {
		t.Errorf("SendESP with SPI 0: %v", err)
	}
}

func TestMuxIKEDeadlineAndClose(t *testing.T) {
	_, b, _, _, _ := muxPair(t)
	ike := b.IKE()
	ike.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, _, err := ike.ReadFrom(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("past deadline: %v", err)
	}
	ike.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() {
		_, _, err := ike.ReadFrom(make([]byte, 10))
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	ike.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("read after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake the reader")
	}
	if _, err := ike.WriteTo([]byte("x"), net.UDPAddrFromAddrPort(outerA)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after Close: %v", err)
	}
	// The socket still carries ESP.
	if err := b.SendESP([]byte{0, 0, 1, 0, 0, 0, 0, 1}, outerA); err != nil {
		t.Errorf("SendESP after closing the IKE view: %v", err)
	}
}

// TestMuxOverUDP runs a Mux on real loopback UDP sockets.
func TestMuxOverUDP(t *testing.T) {
	conn := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Skipf("skipped: no loopback UDP: %v", err)
		}
		return c
	}
	ca, cb := conn(), conn()
	a := NewMux(ca, MuxOptions{})
	b := NewMux(cb, MuxOptions{})
	defer a.Close()
	defer b.Close()
	bAddr := cb.LocalAddr().(*net.UDPAddr).AddrPort()
	got := make(chan netip.AddrPort, 1)
	b.SetESPHandler(func(pkt []byte, from netip.AddrPort) { got <- from })
	if err := a.SendESP([]byte{0, 0, 1, 0, 0, 0, 0, 1}, bAddr); err != nil {
		t.Fatal(err)
	}
	if _, err := a.IKE().WriteTo(make([]byte, 28), cb.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	select {
	case from := <-got:
		if from != ca.LocalAddr().(*net.UDPAddr).AddrPort() {
			t.Errorf("ESP from %s", from)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no ESP over UDP")
	}
	b.IKE().SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, _, err := b.IKE().ReadFrom(buf)
	if err != nil || n != 28 {
		t.Errorf("IKE over UDP: %d octets, %v", n, err)
	}
}
