package ha

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/dynamics-go/dynamics/libdynamics/daemon"
	"github.com/dynamics-go/dynamics/libdynamics/discovery"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"golang.org/x/net/ipv4"
)

// eventKind says what a reader found.
type eventKind uint8

const (
	evRequest       eventKind = iota // a Registration Request
	evPoorRequest                    // a request whose fixed part parsed but the rest did not
	evRevocation                     // a Registration Revocation from a foreign agent
	evRevocationAck                  // a Revocation Acknowledgment from a foreign agent
	evSolicit                        // an Agent Solicitation on the home link
)

// event is one parsed message, sent by a reader to the loop.
type event struct {
	kind eventKind
	src  netip.AddrPort // the IP source and UDP source port
	// ifindex is the interface the datagram arrived on (IP_PKTINFO); 0
	// when the socket does not tell.
	ifindex int
	hw      net.HardwareAddr // the sender's hardware address (solicitations)
	req     *mip.Request
	poor    poorRequest
	rev     *mip.Revocation
	ack     *mip.RevocationAck
}

// poorRequest is the fixed part of a request that is otherwise malformed:
// enough to deny it with code 134.
type poorRequest struct {
	home, ha, coa netip.Addr
	id            uint64
}

// post hands ev to the loop; false when the agent is stopping.
func (a *Agent) post(ctx context.Context, ev event) bool {
	return a.postAll(ctx, []event{ev})
}

// postAll hands the events of one read to the loop at once, so that the
// loop wakes once per batch rather than once per datagram; false when the
// agent is stopping.
func (a *Agent) postAll(ctx context.Context, evs []event) bool {
	select {
	case a.events <- evs:
		return true
	case <-ctx.Done():
		return false
	}
}

// readUDP reads the UDP socket until ctx ends or it fails: RecvBatch
// datagrams per recvmmsg when the socket is a *net.UDPConn, each with the
// interface it arrived on (signalling protection tells ESP's by it), else
// one per ReadFrom with interface 0.
func (a *Agent) readUDP(ctx context.Context) error {
	handle := func(b []byte, src netip.AddrPort) bool {
		ev, ok := a.parseUDP(b, src, 0)
		return !ok || a.post(ctx, ev)
	}
	if _, ok := a.conn.(*net.UDPConn); !ok {
		return daemon.ReadUDP(ctx, a.conn, "ha: UDP socket", handle, func() { a.counts.unexpected.Add(1) })
	}
	// New asked for the arrival interface (IP_PKTINFO) already.
	pc := ipv4.NewPacketConn(a.conn)
	// Every buffer holds the largest datagram, so none is truncated; every
	// message has room for its IP_PKTINFO control message.
	msgs := make([]ipv4.Message, RecvBatch)
	slab := make([]byte, RecvBatch*maxDatagram)
	oobLen := len(ipv4.NewControlMessage(ipv4.FlagInterface))
	oob := make([]byte, RecvBatch*oobLen)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{slab[i*maxDatagram : (i+1)*maxDatagram]}
		msgs[i].OOB = oob[i*oobLen : (i+1)*oobLen]
	}
	for {
		for i := range msgs {
			msgs[i].OOB = msgs[i].OOB[:oobLen]
		}
		n, err := pc.ReadBatch(msgs, 0)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return fmt.Errorf("ha: UDP socket: %w", err)
		}
		evs := make([]event, 0, n)
		for _, m := range msgs[:n] {
			ua, ok := m.Addr.(*net.UDPAddr)
			if !ok {
				a.counts.unexpected.Add(1)
				continue
			}
			src := ua.AddrPort()
			if ev, ok := a.parseUDP(m.Buffers[0][:m.N], netip.AddrPortFrom(src.Addr().Unmap(), src.Port()), arrivalIndex(m.OOB[:m.NN])); ok {
				evs = append(evs, ev)
			}
		}
		if len(evs) > 0 && !a.postAll(ctx, evs) {
			return nil
		}
	}
}

// maxDatagram is the largest UDP payload over IPv4.
const maxDatagram = 65535 - 20 - 8

// askInterface makes a UDP socket tell each datagram's arrival interface
// (IP_PKTINFO). The kernel records it for datagrams that arrive once it is
// asked, so New asks before anything is read.
func askInterface(c *net.UDPConn) error {
	if err := ipv4.NewPacketConn(c).SetControlMessage(ipv4.FlagInterface, true); err != nil {
		return fmt.Errorf("arrival interface (IP_PKTINFO): %w", err)
	}
	return nil
}

// arrivalIndex is the interface index in a datagram's control messages;
// 0 when they carry none.
func arrivalIndex(oob []byte) int {
	if len(oob) == 0 {
		return 0
	}
	var cm ipv4.ControlMessage
	if err := cm.Parse(oob); err != nil {
		return 0
	}
	return cm.IfIndex
}

// parseUDP turns a datagram that arrived on interface ifindex into an
// event, counting what it drops.
func (a *Agent) parseUDP(b []byte, src netip.AddrPort, ifindex int) (event, bool) {
	ev, ok := a.parseMessage(b, src)
	ev.ifindex = ifindex
	return ev, ok
}

// parseMessage turns a registration message into an event, counting what
// it drops.
func (a *Agent) parseMessage(b []byte, src netip.AddrPort) (event, bool) {
	m, err := mip.Parse(b)
	switch {
	case errors.Is(err, mip.ErrUnknownExtension):
		a.counts.unknownExt.Add(1)
		return event{}, false
	case errors.Is(err, mip.ErrUnknownMessage):
		a.counts.unexpected.Add(1)
		return event{}, false
	case err != nil:
		// A request whose fixed part is whole can be answered: RFC 5944
		// section 3.8.2.1's code 134, poorly formed request.
		if len(b) >= mip.RequestLen && b[0] == byte(mip.MessageRequest) {
			return event{kind: evPoorRequest, src: src, poor: poorRequest{
				home: netip.AddrFrom4([4]byte(b[4:8])),
				ha:   netip.AddrFrom4([4]byte(b[8:12])),
				coa:  netip.AddrFrom4([4]byte(b[12:16])),
				id:   binary.BigEndian.Uint64(b[16:24]),
			}}, true
		}
		a.counts.malformed.Add(1)
		return event{}, false
	}
	switch m := m.(type) {
	case *mip.Request:
		return event{kind: evRequest, src: src, req: m}, true
	case *mip.Revocation:
		return event{kind: evRevocation, src: src, rev: m}, true
	case *mip.RevocationAck:
		return event{kind: evRevocationAck, src: src, ack: m}, true
	}
	a.counts.unexpected.Add(1)
	return event{}, false
}

// readLink reads frames from the home link until ctx ends or the link
// fails.
func (a *Agent) readLink(ctx context.Context) error {
	buf := make([]byte, 1<<16)
	for {
		n, hw, err := a.link.ReadFrame(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return fmt.Errorf("ha: home link %s: %w", a.link.Info().Name, err)
		}
		if ev, ok := a.parseFrame(buf[:n], hw); ok && !a.post(ctx, ev) {
			return nil
		}
	}
}

// parseFrame turns an Agent Solicitation on the home link into an event.
// Registration requests reach the agent through its UDP socket, and other
// agents' advertisements are of no use to it: both are ignored.
func (a *Agent) parseFrame(pkt []byte, hw net.HardwareAddr) (event, bool) {
	ip, err := link.ParseIPv4(pkt)
	if err != nil {
		a.counts.malformed.Add(1)
		return event{}, false
	}
	if ip.Protocol != link.ProtoICMP || len(ip.Payload) == 0 || ip.Payload[0] != 10 {
		return event{}, false
	}
	if _, err := discovery.ParseSolicitation(ip.Payload); err != nil {
		a.counts.malformed.Add(1)
		return event{}, false
	}
	return event{kind: evSolicit, src: netip.AddrPortFrom(ip.Src, 0), hw: append(net.HardwareAddr(nil), hw...)}, true
}

// handle dispatches an event in the loop, once signalling protection has
// admitted it.
func (a *Agent) handle(ev event) {
	if !a.admit(ev) {
		return
	}
	switch ev.kind {
	case evRequest:
		a.handleRequest(ev.req, ev.src)
	case evPoorRequest:
		a.handlePoorRequest(ev.poor, ev.src)
	case evRevocation:
		a.handleRevocation(ev.rev, ev.src)
	case evRevocationAck:
		a.handleRevocationAck(ev.ack, ev.src)
	case evSolicit:
		a.handleSolicitation(ev.src.Addr(), ev.hw)
	}
}
