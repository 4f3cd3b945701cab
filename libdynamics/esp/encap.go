package esp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynamics-go/dynamics/internal/queue"
)

// UDP encapsulation (RFC 3948) on port 4500.
const (
	// MarkerLen is the length of the non-ESP marker: four zero octets in
	// front of an IKE message, where an ESP packet has its SPI (RFC 3948
	// section 2.2).
	MarkerLen = 4
	// Keepalive is the one octet of a NAT-keepalive packet (RFC 3948
	// section 2.3).
	Keepalive = 0xff
	// maxDatagram is the largest UDP payload read.
	maxDatagram = 65535
	// defaultIKEQueue is how many IKE messages wait for the IKE reader.
	defaultIKEQueue = 64
	// minIKELen is the length of an IKE header (RFC 7296 section 3.1).
	minIKELen = 28
)

// Kind is what a datagram on port 4500 carries.
type Kind uint8

// Kinds of datagram on port 4500.
const (
	KindESP       Kind = iota + 1 // an ESP packet: a non-zero SPI
	KindIKE                       // an IKE message after the non-ESP marker
	KindKeepalive                 // a NAT keepalive
)

func (k Kind) String() string {
	switch k {
	case KindESP:
		return "esp"
	case KindIKE:
		return "ike"
	case KindKeepalive:
		return "keepalive"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Classify tells what the UDP payload b on port 4500 carries (RFC 3948
// section 2): a single 0xFF octet is a keepalive, four zero octets mark an
// IKE message (which must have room for its header), anything else of at
// least HeaderLen octets is ESP.
func Classify(b []byte) (Kind, error) {
	switch {
	case len(b) == 1 && b[0] == Keepalive:
		return KindKeepalive, nil
	case len(b) < MarkerLen:
		return 0, fmt.Errorf("UDP-encapsulated datagram of %d octets: %w", len(b), ErrTruncated)
	case binary.BigEndian.Uint32(b) == 0:
		if len(b) < MarkerLen+minIKELen {
			return 0, fmt.Errorf("IKE message of %d octets after the non-ESP marker: %w", len(b)-MarkerLen, ErrTruncated)
		}
		return KindIKE, nil
	case len(b) < HeaderLen:
		return 0, fmt.Errorf("ESP packet of %d octets: %w", len(b), ErrTruncated)
	}
	return KindESP, nil
}

// ESPHandler receives the ESP packets a Mux reads. pkt is the Mux's buffer,
// valid until the handler returns, and may be changed (decrypted in place).
type ESPHandler func(pkt []byte, from netip.AddrPort)

// MuxOptions configure a Mux.
type MuxOptions struct {
	// Logger receives read errors; nil means slog.Default().
	Logger *slog.Logger
	// IKEQueue is how many IKE messages may wait for the IKE reader
	// before more are dropped; 0 means 64.
	IKEQueue int
}

// MuxStats counts the datagrams a Mux read.
type MuxStats struct {
	IKE, ESP, Keepalives uint64
	// Malformed: datagrams Classify refused.
	Malformed uint64
	// IKEDropped: IKE messages dropped because the IKE reader fell
	// behind or its view was closed.
	IKEDropped uint64
	// NoHandler: ESP packets read while no ESPHandler was set (with
	// XFRM the kernel takes ESP before the socket sees it).
	NoHandler uint64
}

// Mux shares one UDP socket, normally bound to port 4500, between IKE and
// ESP (RFC 3948): one goroutine reads it, hands IKE messages with the
// non-ESP marker removed to the view IKE returns, hands ESP packets to the
// ESPHandler, and drops keepalives. Writes through the IKE view get the
// marker. Its methods are safe for concurrent use.
type Mux struct {
	conn net.PacketConn
	log  *slog.Logger

	handler atomic.Pointer[ESPHandler]
	ike     *ikeConn
	done    chan struct{} // closed when the reader returns

	ikeIn, espIn, keepalives, malformed, ikeDropped, noHandler atomic.Uint64
	lastLog                                                    atomic.Int64
	closeOnce                                                  sync.Once
}

// NewMux starts reading conn. The Mux owns conn from now on: Close closes it.
func NewMux(conn net.PacketConn, opts MuxOptions) *Mux {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	q := opts.IKEQueue
	if q <= 0 {
		q = defaultIKEQueue
	}
	m := &Mux{conn: conn, log: log, done: make(chan struct{})}
	m.ike = &ikeConn{mux: m, queue: queue.New[datagram](q)}
	go m.read()
	return m
}

// IKE returns the socket as IKE sees it: ReadFrom yields IKE messages
// without their non-ESP marker, WriteTo prepends it. Closing the view stops
// IKE reads and writes but leaves the socket to ESP; Mux.Close closes both.
func (m *Mux) IKE() net.PacketConn { return m.ike }

// SetESPHandler sets the receiver of ESP packets; nil drops them.
func (m *Mux) SetESPHandler(h ESPHandler) {
	if h == nil {
		m.handler.Store(nil)
		return
	}
	m.handler.Store(&h)
}

// SendESP sends an ESP packet to a peer.
func (m *Mux) SendESP(pkt []byte, to netip.AddrPort) error {
	if len(pkt) < HeaderLen || binary.BigEndian.Uint32(pkt) == 0 {
		return fmt.Errorf("send ESP to %s: %w", to, ErrSPI)
	}
	_, err := m.writeTo(pkt, to)
	return err
}

// SendKeepalive sends a NAT keepalive to a peer.
func (m *Mux) SendKeepalive(to netip.AddrPort) error {
	_, err := m.writeTo([]byte{Keepalive}, to)
	return err
}

func (m *Mux) writeTo(b []byte, to netip.AddrPort) (int, error) {
	if uc, ok := m.conn.(*net.UDPConn); ok {
		return uc.WriteToUDPAddrPort(b, to)
	}
	return m.conn.WriteTo(b, net.UDPAddrFromAddrPort(to))
}

// LocalAddr returns the socket's address.
func (m *Mux) LocalAddr() net.Addr { return m.conn.LocalAddr() }

// Stats returns the Mux's counters.
func (m *Mux) Stats() MuxStats {
	return MuxStats{
		IKE: m.ikeIn.Load(), ESP: m.espIn.Load(), Keepalives: m.keepalives.Load(),
		Malformed: m.malformed.Load(), IKEDropped: m.ikeDropped.Load(), NoHandler: m.noHandler.Load(),
	}
}

// Close closes the socket and the IKE view and waits for the reader to stop.
func (m *Mux) Close() error {
	var err error
	m.closeOnce.Do(func() {
		err = m.conn.Close()
		m.ike.Close()
	})
	<-m.done
	return err
}

func (m *Mux) read() {
	defer close(m.done)
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := m.readFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) {
				return
			}
			if now := time.Now().UnixNano(); now-m.lastLog.Load() > int64(5*time.Second) {
				m.lastLog.Store(now)
				m.log.Warn("UDP encapsulation socket read failed", "err", err)
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		b := buf[:n]
		kind, err := Classify(b)
		switch {
		case err != nil:
			m.malformed.Add(1)
		case kind == KindKeepalive:
			m.keepalives.Add(1)
		case kind == KindIKE:
			m.ikeIn.Add(1)
			if !m.ike.deliver(datagram{b: append([]byte(nil), b[MarkerLen:]...), from: from}) {
				m.ikeDropped.Add(1)
			}
		default:
			m.espIn.Add(1)
			h := m.handler.Load()
			if h == nil {
				m.noHandler.Add(1)
				continue
			}
			(*h)(b, from)
		}
	}
}

func (m *Mux) readFrom(b []byte) (int, netip.AddrPort, error) {
	if uc, ok := m.conn.(*net.UDPConn); ok {
		n, from, err := uc.ReadFromUDPAddrPort(b)
		return n, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), err
	}
	n, addr, err := m.conn.ReadFrom(b)
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, netip.AddrPort{}, fmt.Errorf("UDP encapsulation socket: %T is not a UDP address", addr)
	}
	ap := ua.AddrPort()
	return n, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

type datagram struct {
	b    []byte
	from netip.AddrPort
}

// ikeConn is the IKE view of a Mux.
type ikeConn struct {
	mux   *Mux
	queue *queue.Queue[datagram]
}

var _ net.PacketConn = (*ikeConn)(nil)

// deliver queues d unless the queue is full or the view closed.
func (c *ikeConn) deliver(d datagram) bool { return c.queue.Push(d) }

// ReadFrom implements net.PacketConn; the address is a *net.UDPAddr. A
// message longer than b is cut short.
func (c *ikeConn) ReadFrom(b []byte) (int, net.Addr, error) {
	d, err := c.queue.Pop()
	if err != nil {
		return 0, nil, err
	}
	return copy(b, d.b), net.UDPAddrFromAddrPort(d.from), nil
}

// WriteTo implements net.PacketConn: it sends the non-ESP marker and b.
func (c *ikeConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	select {
	case <-c.queue.Closed():
		return 0, net.ErrClosed
	default:
	}
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, fmt.Errorf("IKE over UDP encapsulation: %T is not a UDP address", addr)
	}
	ap := ua.AddrPort()
	msg := make([]byte, MarkerLen+len(b))
	copy(msg[MarkerLen:], b)
	if _, err := c.mux.writeTo(msg, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Close implements net.PacketConn; the socket stays open for ESP.
func (c *ikeConn) Close() error {
	c.queue.Close()
	return nil
}

// LocalAddr implements net.PacketConn.
func (c *ikeConn) LocalAddr() net.Addr { return c.mux.conn.LocalAddr() }

// SetDeadline implements net.PacketConn; writes do not block for long, so
// only reads have a deadline.
func (c *ikeConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline implements net.PacketConn.
func (c *ikeConn) SetReadDeadline(t time.Time) error {
	c.queue.SetDeadline(t)
	return nil
}

// SetWriteDeadline implements net.PacketConn; it has no effect.
func (c *ikeConn) SetWriteDeadline(time.Time) error { return nil }
