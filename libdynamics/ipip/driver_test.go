package ipip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

var outerC = netip.MustParseAddr("198.51.100.3")

// fakeDriver starts a Driver on a fake system with one tunnel t0 from outerA
// to outerB.
func fakeDriver(t *testing.T, tun kernel.Tunnel) (*Driver, *fakeSystem) {
	t.Helper()
	fs := newFakeSystem()
	d := newDriver(Options{Logger: testLogger(t)}, fs.system())
	t.Cleanup(func() { d.Close() })
	if err := d.AddTunnel(tun); err != nil {
		t.Fatal(err)
	}
	return d, fs
}

var t0 = kernel.Tunnel{Name: "t0", Local: outerA, Remote: outerB, TTL: 9, MTU: 1480}

func TestDriverName(t *testing.T) {
	if got := (&Driver{}).Name(); got != "userspace" {
		t.Errorf("Name() = %q", got)
	}
}

func TestDriverSendsEncapsulated(t *testing.T) {
	d, fs := fakeDriver(t, t0)
	inner := echo(0x10, true)
	fs.device(t, "t0").rx <- inner
	s := receive(t, fs.conn.tx, "outer datagram")
	got, src, dst, err := Decapsulate(s.pkt)
	if err != nil {
		t.Fatal(err)
	}
	if s.dst != outerB || src != outerA || dst != outerB || !bytes.Equal(got, inner) {
		t.Errorf("sent to %s: %s > %s % x", s.dst, src, dst, got)
	}
	if s.pkt[8] != 9 || s.pkt[1] != 0x10 || s.pkt[6]&0x40 == 0 {
		t.Errorf("outer ttl %d tos %#x flags %#x, want 9, 0x10, DF", s.pkt[8], s.pkt[1], s.pkt[6])
	}
	waitStats(t, d, func(s Stats) bool { return s.PacketsOut == 1 && s.BytesOut == uint64(len(inner)) })
}

func TestDriverDeliversOnlyFromPeer(t *testing.T) {
	d, fs := fakeDriver(t, t0)
	dev := fs.device(t, "t0")
	inner := echo(0, true)
	from := func(src, dst netip.Addr) []byte {
		p, err := Encapsulate(nil, inner, src, dst, 64)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	fs.conn.rx <- from(outerC, outerA) // not the remote
	fs.conn.rx <- from(outerB, outerC) // not the local address
	fs.conn.rx <- from(outerA, outerB) // reversed
	waitStats(t, d, func(s Stats) bool { return s.Drops.NotPeer == 3 })
	nothing(t, dev.tx, "datagram delivered from a non-peer")

	bad := from(outerB, outerA)
	bad[9] = 17
	fs.conn.rx <- bad
	waitStats(t, d, func(s Stats) bool { return s.Drops.Malformed == 1 })

	fs.conn.rx <- from(outerB, outerA)
	if got := receive(t, dev.tx, "delivered datagram"); !bytes.Equal(got, inner) {
		t.Errorf("delivered % x", got)
	}
	waitStats(t, d, func(s Stats) bool { return s.PacketsIn == 1 && s.BytesIn == uint64(len(inner)) })
}

func TestDriverAnswersOversizeDF(t *testing.T) {
	d, fs := fakeDriver(t, t0)
	dev := fs.device(t, "t0")
	dev.rx <- bigEcho()
	msg := receive(t, dev.tx, "ICMP fragmentation needed")
	if len(msg) < HeaderLen+ICMPHeaderLen || msg[9] != 1 || msg[20] != 3 || msg[21] != 4 ||
		binary.BigEndian.Uint16(msg[26:28]) != 1480 || !bytes.Equal(msg[12:20], append(outerA.AsSlice(), innerA.AsSlice()...)) {
		t.Errorf("reply % x, want ICMP 3/4 mtu 1480 from %s to %s", msg, outerA, innerA)
	}
	nothing(t, fs.conn.tx, "oversize DF datagram sent")
	waitStats(t, d, func(s Stats) bool { return s.FragNeeded == 1 && s.PacketsOut == 0 })

	// No ICMP error about an ICMP error.
	p := bigEcho()
	p[20] = 3
	dev.rx <- p
	waitStats(t, d, func(s Stats) bool { return s.Drops.NoICMP == 1 })
	nothing(t, dev.tx, "ICMP error about an ICMP error")
}

func TestDriverFragmentsOversizeWithoutDF(t *testing.T) {
	small := t0
	small.MTU = 1400
	d, fs := fakeDriver(t, small)
	inner := sizedEcho(1450, false)
	fs.device(t, "t0").rx <- inner
	var payload []byte
	for i := 0; ; i++ {
		s := receive(t, fs.conn.tx, "fragment")
		if len(s.pkt) > 1420 || s.dst != outerB {
			t.Fatalf("fragment %d: %d bytes to %s", i, len(s.pkt), s.dst)
		}
		payload = append(payload, s.pkt[HeaderLen:]...)
		if s.pkt[6]&0x20 == 0 {
			break
		}
	}
	if !bytes.Equal(payload, inner) {
		t.Errorf("fragments do not carry the inner datagram")
	}
	waitStats(t, d, func(s Stats) bool { return s.Fragmented == 1 && s.PacketsOut == 1 })

	// A datagram longer than the read buffer (the device MTU was raised
	// behind the driver's back) cannot be forwarded whole.
	fs.device(t, "t0").rx <- sizedEcho(1628, false)
	waitStats(t, d, func(s Stats) bool { return s.Drops.TooBig == 1 })
	nothing(t, fs.conn.tx, "truncated datagram sent")
}

func TestDriverMTUGrowth(t *testing.T) {
	d, fs := fakeDriver(t, t0)
	dev := fs.device(t, "t0")
	receive(t, dev.reading, "the reader to wait")
	grown := t0
	grown.MTU = 3000
	if err := d.AddTunnel(grown); err != nil {
		t.Fatal(err)
	}
	// The reader was waiting with buffers for the old MTU: the first
	// 2000-byte datagram is cut short and dropped, not answered with an
	// ICMP error claiming an MTU it fits.
	dev.rx <- sizedEcho(2000, true)
	waitStats(t, d, func(s Stats) bool { return s.Drops.TooBig == 1 })
	nothing(t, dev.tx, "ICMP error for a datagram within the MTU")
	dev.rx <- sizedEcho(2000, true)
	if s := receive(t, fs.conn.tx, "outer datagram"); len(s.pkt) != 2020 {
		t.Errorf("sent %d bytes, want 2020", len(s.pkt))
	}
}

func TestDriverDropsFromDevice(t *testing.T) {
	d, fs := fakeDriver(t, t0)
	dev := fs.device(t, "t0")
	v6 := make([]byte, 48)
	v6[0] = 0x60
	dev.rx <- v6
	loop := echo(0, true)
	copy(loop[12:16], outerB.AsSlice()) // from the tunnel's remote end
	dev.rx <- loop
	short := echo(0, true)
	short[0] = 0x44
	dev.rx <- short
	waitStats(t, d, func(s Stats) bool {
		return s.Drops.NotIPv4 == 1 && s.Drops.Loop == 1 && s.Drops.Malformed == 1
	})
	nothing(t, fs.conn.tx, "dropped datagram sent")
}

func TestDriverUpdatesInPlace(t *testing.T) {
	d, fs := fakeDriver(t, t0)
	dev := fs.device(t, "t0")
	moved := t0
	moved.Remote = outerC
	moved.MTU = 1400
	if err := d.AddTunnel(moved); err != nil {
		t.Fatal(err)
	}
	if fs.opened != 1 || fs.device(t, "t0") != dev || dev.isClosed() {
		t.Fatalf("update replaced the device (%d opened)", fs.opened)
	}
	if got := fs.links.mtu("t0"); got != 1400 {
		t.Errorf("link mtu %d, want 1400", got)
	}
	dev.rx <- echo(0, true)
	if s := receive(t, fs.conn.tx, "outer datagram"); s.dst != outerC || !bytes.Equal(s.pkt[16:20], outerC.AsSlice()) {
		t.Errorf("sent to %s (header % x), want the new remote %s", s.dst, s.pkt[12:20], outerC)
	}
	old, _ := Encapsulate(nil, echo(0, true), outerB, outerA, 64)
	fs.conn.rx <- old
	waitStats(t, d, func(s Stats) bool { return s.Drops.NotPeer == 1 })
	cur, _ := Encapsulate(nil, echo(0, true), outerC, outerA, 64)
	fs.conn.rx <- cur
	receive(t, dev.tx, "datagram from the new remote")

	// The same settings again change nothing.
	if err := d.AddTunnel(moved); err != nil || fs.opened != 1 {
		t.Errorf("idempotent AddTunnel: %v, %d opened", err, fs.opened)
	}
}

func TestDriverRecreatesFailedDevice(t *testing.T) {
	d, fs := fakeDriver(t, t0)
	dev := fs.device(t, "t0")
	close(dev.broken)
	waitFor(t, "the device reader to stop", func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.tunnels["t0"].stopped()
	})
	if err := d.AddTunnel(t0); err != nil {
		t.Fatal(err)
	}
	if fs.opened != 2 || !dev.isClosed() {
		t.Fatalf("failed device not replaced: %d opened, old closed %v", fs.opened, dev.isClosed())
	}
	fs.device(t, "t0").rx <- echo(0, true)
	receive(t, fs.conn.tx, "datagram through the new device")
}

func TestDriverMTUFromRoute(t *testing.T) {
	fs := newFakeSystem()
	d := newDriver(Options{Logger: testLogger(t)}, fs.system())
	defer d.Close()
	fs.links.lower = 9000
	auto := t0
	auto.MTU = 0
	if err := d.AddTunnel(auto); err != nil {
		t.Fatal(err)
	}
	if got := fs.links.mtu("t0"); got != 8980 {
		t.Errorf("mtu %d over a 9000-byte link, want 8980", got)
	}
	fs.links.err = errFake
	auto.Name, auto.Remote = "t1", outerC
	if err := d.AddTunnel(auto); err != nil {
		t.Fatal(err)
	}
	if got := fs.links.mtu("t1"); got != 1480 {
		t.Errorf("mtu %d without a route, want 1480", got)
	}
}

func TestDriverRejects(t *testing.T) {
	d, _ := fakeDriver(t, t0)
	dup := t0
	dup.Name = "t1"
	for _, tc := range []struct {
		name string
		tun  kernel.Tunnel
	}{
		{"same endpoints as t0", dup},
		{"name pattern", kernel.Tunnel{Name: "ipip%d", Local: outerA, Remote: outerC}},
		{"long name", kernel.Tunnel{Name: "a-very-long-name", Local: outerA, Remote: outerC}},
		{"IPv6 remote", kernel.Tunnel{Name: "t2", Local: outerA, Remote: netip.MustParseAddr("2001:db8::1")}},
	} {
		if err := d.AddTunnel(tc.tun); !errors.Is(err, kernel.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tc.name, err)
		}
	}
}

func TestDriverDelTunnel(t *testing.T) {
	d, fs := fakeDriver(t, t0)
	dev := fs.device(t, "t0")
	if err := d.DelTunnel("t0"); err != nil {
		t.Fatal(err)
	}
	if !dev.isClosed() {
		t.Errorf("device still open after DelTunnel")
	}
	if err := d.DelTunnel("t0"); err != nil {
		t.Errorf("DelTunnel of an absent tunnel: %v", err)
	}
	p, _ := Encapsulate(nil, echo(0, true), outerB, outerA, 64)
	fs.conn.rx <- p
	waitStats(t, d, func(s Stats) bool { return s.Drops.NotPeer == 1 })
	// The endpoints are free again.
	if err := d.AddTunnel(t0); err != nil {
		t.Errorf("AddTunnel after DelTunnel: %v", err)
	}
}

func TestDriverCloseStopsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	fs := newFakeSystem()
	d := newDriver(Options{Logger: testLogger(t)}, fs.system())
	for i, remote := range []netip.Addr{outerB, outerC} {
		if err := d.AddTunnel(kernel.Tunnel{Name: "t" + string(rune('0'+i)), Local: outerA, Remote: remote}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"t0", "t1"} {
		if !fs.device(t, name).isClosed() {
			t.Errorf("device %s open after Close", name)
		}
	}
	if err := d.AddTunnel(t0); !errors.Is(err, kernel.ErrClosed) {
		t.Errorf("AddTunnel after Close: %v, want ErrClosed", err)
	}
	if err := d.DelTunnel("t0"); !errors.Is(err, kernel.ErrClosed) {
		t.Errorf("DelTunnel after Close: %v, want ErrClosed", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	waitGoroutines(t, before)
}

// waitStats polls d's counters until ok accepts them.
func waitStats(t *testing.T, d *Driver, ok func(Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := d.Stats()
		if ok(s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitGoroutines fails unless the goroutine count falls back to before.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
