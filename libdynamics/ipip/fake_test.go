package ipip

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSystem is an in-memory system: the test plays the kernel on the other
// side of the raw socket and of every TUN device.
type fakeSystem struct {
	conn  *fakeConn
	links *fakeLinks

	mu      sync.Mutex
	devices map[string]*fakeDevice
	opened  int
}

func newFakeSystem() *fakeSystem {
	return &fakeSystem{
		conn:    &fakeConn{rx: make(chan []byte, 64), tx: make(chan sent, 256), closed: make(chan struct{})},
		links:   &fakeLinks{mtus: map[string]int{}, lower: 1500},
		devices: map[string]*fakeDevice{},
	}
}

func (f *fakeSystem) system() *system {
	return &system{
		conn:  f.conn,
		links: f.links,
		open: func(name string) (device, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if d := f.devices[name]; d != nil && !d.isClosed() {
				return nil, fmt.Errorf("device %s exists", name)
			}
			d := &fakeDevice{rx: make(chan []byte, 64), tx: make(chan []byte, 64), closed: make(chan struct{}), broken: make(chan struct{}), reading: make(chan struct{}, 1)}
			f.devices[name] = d
			f.opened++
			return d, nil
		},
	}
}

func (f *fakeSystem) device(t *testing.T, name string) *fakeDevice {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.devices[name]
	if d == nil {
		t.Fatalf("no device %s", name)
	}
	return d
}

// sent is one datagram the driver sent through the raw socket.
type sent struct {
	dst netip.Addr
	pkt []byte
}

type fakeConn struct {
	rx     chan []byte // datagrams for the driver to receive
	tx     chan sent   // datagrams the driver sent
	closed chan struct{}
	once   sync.Once
}

func (c *fakeConn) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	select {
	case p := <-c.rx:
		sizes[0] = copy(bufs[0], p)
		n := 1
		for n < len(bufs) {
			select {
			case p := <-c.rx:
				sizes[n] = copy(bufs[n], p)
				n++
			default:
				return n, nil
			}
		}
		return n, nil
	case <-c.closed:
		return 0, os.ErrClosed
	}
}

func (c *fakeConn) WriteBatch(pkts [][]byte, dst netip.Addr) (int, error) {
	for _, p := range pkts {
		select {
		case <-c.closed:
			return 0, os.ErrClosed
		case c.tx <- sent{dst, append([]byte(nil), p...)}:
		}
	}
	return len(pkts), nil
}

func (c *fakeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

type fakeDevice struct {
	rx     chan []byte // datagrams the kernel routed into the device
	tx     chan []byte // datagrams the driver wrote into it
	closed chan struct{}
	once   sync.Once
	broken chan struct{} // closed to make reads fail as on a deleted link
	// reading receives a value (if it has room) whenever the driver
	// starts waiting in ReadBatch.
	reading chan struct{}
}

func (d *fakeDevice) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	select {
	case d.reading <- struct{}{}:
	default:
	}
	select {
	case p := <-d.rx:
		sizes[0] = copy(bufs[0], p)
		return 1, nil
	case <-d.closed:
		return 0, os.ErrClosed
	case <-d.broken:
		return 0, errors.New("fake: file descriptor in bad state")
	}
}

func (d *fakeDevice) Write(p []byte) (int, error) {
	select {
	case <-d.closed:
		return 0, os.ErrClosed
	case d.tx <- append([]byte(nil), p...):
		return len(p), nil
	}
}

// WriteBatch hands each datagram to the test as Write does; the fake does
// not coalesce. It scribbles over the room before each datagram, as the
// device may.
func (d *fakeDevice) WriteBatch(pkts [][]byte, offset, mtu int) (int, int, error) {
	n, bytes := 0, 0
	for _, b := range pkts {
		if offset < deviceHeadroom {
			return n, bytes, fmt.Errorf("fake: %d bytes of room", offset)
		}
		clear(b[:offset])
		w, err := d.Write(b[offset:])
		if err != nil {
			return n, bytes, err
		}
		n++
		bytes += w
	}
	return n, bytes, nil
}

func (d *fakeDevice) Close() error {
	d.once.Do(func() { close(d.closed) })
	return nil
}

func (d *fakeDevice) isClosed() bool {
	select {
	case <-d.closed:
		return true
	default:
		return false
	}
}

type fakeLinks struct {
	mu    sync.Mutex
	mtus  map[string]int
	lower int
	err   error // returned by lowerMTU
}

func (l *fakeLinks) setUp(name string, mtu int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mtus[name] = mtu
	return nil
}

func (l *fakeLinks) lowerMTU(netip.Addr) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lower, l.err
}

func (l *fakeLinks) mtu(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mtus[name]
}

// receive waits for a value on ch.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// nothing fails if ch yields a value within a short while.
func nothing[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %s: %v", what, v)
	case <-time.After(100 * time.Millisecond):
	}
}

var errFake = errors.New("fake: no route")

// testLogger sends a driver's log to the test log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
