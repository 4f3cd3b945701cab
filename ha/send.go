package ha

import (
	"errors"
	"net"
	"net/netip"

	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"golang.org/x/net/ipv4"
)

// RecvBatch is how many datagrams the UDP reader takes per recvmmsg.
const RecvBatch = 32

// sendBatch is how many datagrams the loop queues before it writes them, in
// one sendmmsg where the socket allows; the queue is also written whenever
// no event is waiting, before an operation is answered, and when the loop
// ends.
const sendBatch = 64

// outKind says what a queued datagram is, for the counters and the log.
type outKind uint8

const (
	outReply      outKind = iota // a Registration Reply
	outRevocation                // a Registration Revocation
	outAck                       // a Revocation Acknowledgment
)

// String names the message in logs.
func (k outKind) String() string {
	switch k {
	case outReply:
		return "registration reply"
	case outRevocation:
		return "revocation"
	case outAck:
		return "revocation acknowledgment"
	}
	return "unknown"
}

// outMsg is a datagram queued for the UDP socket.
type outMsg struct {
	b    []byte
	dst  netip.AddrPort
	kind outKind
	home netip.Addr
}

// sender writes the loop's datagrams, in batches where the socket is a
// *net.UDPConn.
type sender struct {
	conn  net.PacketConn
	pc    *ipv4.PacketConn // nil: one WriteTo per datagram
	queue []outMsg
	msgs  []ipv4.Message
}

func newSender(conn net.PacketConn) sender {
	s := sender{conn: conn, queue: make([]outMsg, 0, sendBatch)}
	if _, ok := conn.(*net.UDPConn); ok {
		s.pc = ipv4.NewPacketConn(conn)
		s.msgs = make([]ipv4.Message, sendBatch)
	}
	return s
}

// send queues a datagram, writing the queue when it is full. A datagram
// to a peer that signalling protection holds back (ready) is not queued.
func (a *Agent) send(kind outKind, home netip.Addr, b []byte, dst netip.AddrPort) {
	if !a.ready(dst.Addr(), kind, home) {
		return
	}
	a.out.queue = append(a.out.queue, outMsg{b: b, dst: dst, kind: kind, home: home})
	if len(a.out.queue) >= sendBatch {
		a.flush()
	}
}

// flush writes the queued datagrams in order, counts the replies sent and
// logs each one that could not be sent.
//
// Tunnels a move gave up are released afterwards (releaseDeferred), so the
// mobile's reply never waits for a device to be deleted.
func (a *Agent) flush() {
	defer a.releaseDeferred()
	q := a.out.queue
	if len(q) == 0 {
		return
	}
	defer func() { clear(a.out.queue); a.out.queue = a.out.queue[:0] }()
	if a.out.pc == nil {
		for _, m := range q {
			_, err := a.out.conn.WriteTo(m.b, net.UDPAddrFromAddrPort(m.dst))
			a.sent(m, err)
		}
		return
	}
	for len(q) > 0 {
		ms := a.out.msgs[:min(len(q), len(a.out.msgs))]
		for i := range ms {
			ms[i] = ipv4.Message{Buffers: [][]byte{q[i].b}, Addr: net.UDPAddrFromAddrPort(q[i].dst)}
		}
		n, err := a.out.pc.WriteBatch(ms, 0)
		for _, m := range q[:n] {
			a.sent(m, nil)
		}
		q = q[n:]
		if err != nil || n == 0 {
			// The first datagram not sent failed: report it and go on with
			// the rest.
			if err == nil {
				err = errors.New("nothing sent")
			}
			a.sent(q[0], err)
			q = q[1:]
		}
	}
}

// sent accounts for one datagram written (err nil) or not.
func (a *Agent) sent(m outMsg, err error) {
	if err != nil {
		a.log.Warn("sending "+m.kind.String()+" failed", logging.KeyHome, m.home, "to", m.dst, logging.KeyErr, err)
		return
	}
	if m.kind == outReply {
		a.stats.Replies++
	}
}
