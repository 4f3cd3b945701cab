package link

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/dynamics-go/dynamics/internal/queue"
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

	queue *queue.Queue[frame]

	mu  sync.Mutex
	hub *Hub
}

var _ Conn = (*MemConn)(nil)

// Attach creates a MemConn with the given interface description on h.
func (h *Hub) Attach(info Info) *MemConn {
	if info.MTU == 0 {
		info.MTU = 1500
	}
	c := &MemConn{info: info, queue: queue.New[frame](256)}
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
	f, err := c.queue.Pop()
	if errors.Is(err, net.ErrClosed) {
		return 0, nil, ErrClosed
	} else if err != nil {
		return 0, nil, err
	}
	return copy(b, f.pkt), f.src, nil
}

// WriteFrame implements Conn. Frames to a full queue are dropped, as on a
// congested link.
func (c *MemConn) WriteFrame(pkt []byte, dst net.HardwareAddr) error {
	select {
	case <-c.queue.Closed():
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
		p.queue.Push(frame{pkt: append([]byte(nil), pkt...), src: c.info.HWAddr}) // full: dropped
	}
	return nil
}

// SetReadDeadline implements Conn.
func (c *MemConn) SetReadDeadline(t time.Time) error {
	c.queue.SetDeadline(t)
	return nil
}

// Info implements Conn.
func (c *MemConn) Info() Info { return c.info }

// Close implements Conn and detaches c from its hub.
func (c *MemConn) Close() error {
	if c.queue.Close() {
		c.Move(nil)
	}
	return nil
}
