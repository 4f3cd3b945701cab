package link

import (
	"bytes"
	"net"
	"os"
	"sync"
	"time"
)

// Hub is an in-memory Ethernet segment for in-process tests: frames written
// by one attached MemConn reach the others (unicast by hardware address,
// broadcast and multicast to all). A MemConn can be moved to another Hub,
// which is how a test moves a mobile node.
type Hub struct {
	mu    sync.Mutex
	ports map[*MemConn]struct{}
}

// NewHub returns an empty segment.
func NewHub() *Hub { return &Hub{ports: make(map[*MemConn]struct{})} }

type frame struct {
	pkt []byte
	src net.HardwareAddr
}

// MemConn is a Conn attached to a Hub.
type MemConn struct {
	info Info

	mu       sync.Mutex
	hub      *Hub
	queue    chan frame
	closed   chan struct{}
	once     sync.Once
	deadline time.Time
	wake     chan struct{} // replaced when the deadline changes
}

var _ Conn = (*MemConn)(nil)

// Attach creates a MemConn with the given interface description on h.
func (h *Hub) Attach(info Info) *MemConn {
	if info.MTU == 0 {
		info.MTU = 1500
	}
	c := &MemConn{info: info, queue: make(chan frame, 256), closed: make(chan struct{}), wake: make(chan struct{})}
	c.Move(h)
	return c
}

// Move detaches c from its hub and attaches it to h (nil: unplugged).
func (c *MemConn) Move(h *Hub) {
	c.mu.Lock()
	old := c.hub
	c.hub = h
	c.mu.Unlock()
	if old != nil {
		old.mu.Lock()
		delete(old.ports, c)
		old.mu.Unlock()
	}
	if h != nil {
		h.mu.Lock()
		h.ports[c] = struct{}{}
		h.mu.Unlock()
	}
}

// ReadFrame implements Conn.
func (c *MemConn) ReadFrame(b []byte) (int, net.HardwareAddr, error) {
	for {
		select {
		case <-c.closed:
			return 0, nil, ErrClosed
		default:
		}
		c.mu.Lock()
		dl, wake := c.deadline, c.wake
		c.mu.Unlock()
		var timer *time.Timer
		var expired <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, nil, os.ErrDeadlineExceeded
			}
			timer = time.NewTimer(d)
			expired = timer.C
		}
		n, src, again, err := c.wait(b, expired, wake)
		if timer != nil {
			timer.Stop()
		}
		if !again {
			return n, src, err
		}
	}
}

func (c *MemConn) wait(b []byte, expired <-chan time.Time, wake chan struct{}) (int, net.HardwareAddr, bool, error) {
	select {
	case f := <-c.queue:
		return copy(b, f.pkt), f.src, false, nil
	case <-c.closed:
		return 0, nil, false, ErrClosed
	case <-expired:
		return 0, nil, false, os.ErrDeadlineExceeded
	case <-wake:
		return 0, nil, true, nil
	}
}

// WriteFrame implements Conn. Frames to a full queue are dropped, as on a
// congested link.
func (c *MemConn) WriteFrame(pkt []byte, dst net.HardwareAddr) error {
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	c.mu.Lock()
	h := c.hub
	c.mu.Unlock()
	if h == nil {
		return nil // unplugged: the frame goes nowhere
	}
	group := dst[0]&1 == 1
	h.mu.Lock()
	var targets []*MemConn
	for p := range h.ports {
		if p != c && (group || bytes.Equal(p.info.HWAddr, dst)) {
			targets = append(targets, p)
		}
	}
	h.mu.Unlock()
	for _, p := range targets {
		f := frame{pkt: append([]byte(nil), pkt...), src: c.info.HWAddr}
		select {
		case p.queue <- f:
		default:
		}
	}
	return nil
}

// SetReadDeadline implements Conn.
func (c *MemConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	close(c.wake)
	c.wake = make(chan struct{})
	c.mu.Unlock()
	return nil
}

// Info implements Conn.
func (c *MemConn) Info() Info { return c.info }

// Close implements Conn and detaches c from its hub.
func (c *MemConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.Move(nil)
	})
	return nil
}
