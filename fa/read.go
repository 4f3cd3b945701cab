package fa

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
)

// eventKind says what a reader found.
type eventKind uint8

const (
	evRequest       eventKind = iota // a Registration Request from a mobile
	evPoorRequest                    // a request whose fixed part parsed but the rest did not
	evSolicit                        // an Agent Solicitation
	evReply                          // a Registration Reply from upstream
	evRevocation                     // a Registration Revocation from upstream
	evRevocationAck                  // a Revocation Acknowledgment from a lower agent
)

// event is one parsed message, sent by a reader to the loop.
type event struct {
	kind  eventKind
	link  int              // visitor link the frame arrived on; -1 for the upstream socket
	hw    net.HardwareAddr // the sender's hardware address (frames)
	src   netip.AddrPort   // the IP source and UDP source port
	local netip.Addr       // the upstream datagram's destination, when the socket tells
	// ifindex is the interface the message arrived on: the visitor
	// link's for frames, the upstream socket's IP_PKTINFO for datagrams
	// (0 when the socket does not tell).
	ifindex int
	req     *mip.Request
	poor    poorRequest
	reply   *mip.Reply
	rev     *mip.Revocation
	ack     *mip.RevocationAck
}

// poorRequest is the fixed part of a request that is otherwise malformed:
// enough to deny it with code 70.
type poorRequest struct {
	home, ha, coa netip.Addr
	id            uint64
}

// post hands ev to the loop; false when the agent is stopping.
func (a *Agent) post(ctx context.Context, ev event) bool {
	select {
	case a.events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// readLink reads frames from visitor link i until ctx ends or the link fails.
func (a *Agent) readLink(ctx context.Context, i int) error {
	conn := a.links[i].Conn
	buf := make([]byte, 1<<16)
	for {
		n, hw, err := conn.ReadFrame(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return fmt.Errorf("fa: visitor link %s: %w", conn.Info().Name, err)
		}
		if ev, ok := a.parseFrame(i, buf[:n], hw); ok && !a.post(ctx, ev) {
			return nil
		}
	}
}

// forAgent reports whether a frame's IP destination on link i is the agent:
// its address, the link's broadcast, or the groups of agent discovery.
// Registration traffic of others crossing the link (a co-located mobile's
// with its home agent) is not.
func (a *Agent) forAgent(i int, dst netip.Addr) bool {
	p := a.links[i].Addr
	switch dst {
	case p.Addr(), link.LimitedBroadcastAddr, link.AllMobilityAgentsAddr, link.AllSystemsAddr:
		return true
	}
	return p.Bits() < 31 && dst == broadcastOf(p)
}

// broadcastOf returns the directed broadcast address of p.
func broadcastOf(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	v := binary.BigEndian.Uint32(a[:]) | (1<<(32-p.Bits()) - 1)
	binary.BigEndian.PutUint32(a[:], v)
	return netip.AddrFrom4(a)
}

// parseFrame turns a frame from link i into an event, counting what it drops.
func (a *Agent) parseFrame(i int, pkt []byte, hw net.HardwareAddr) (event, bool) {
	ip, err := link.ParseIPv4(pkt)
	if err != nil {
		a.counts.malformed.Add(1)
		return event{}, false
	}
	if !a.forAgent(i, ip.Dst) {
		return event{}, false
	}
	ev := event{link: i, hw: append(net.HardwareAddr(nil), hw...), ifindex: a.links[i].Conn.Info().Index}
	switch ip.Protocol {
	case link.ProtoICMP:
		if len(ip.Payload) == 0 || ip.Payload[0] != 10 {
			return event{}, false // advertisements of other agents
		}
		if _, err := discovery.ParseSolicitation(ip.Payload); err != nil {
			a.counts.malformed.Add(1)
			return event{}, false
		}
		ev.kind = evSolicit
		ev.src = netip.AddrPortFrom(ip.Src, 0)
		return ev, true
	case link.ProtoUDP:
		u, err := link.ParseUDP(pkt)
		if err != nil {
			a.counts.malformed.Add(1)
			return event{}, false
		}
		if u.Dst.Port() != 434 {
			return event{}, false
		}
		ev.src = u.Src
		if len(u.Payload) == 0 || mip.MessageType(u.Payload[0]) != mip.MessageRequest {
			a.counts.unexpected.Add(1)
			return event{}, false
		}
		req, err := mip.ParseRequest(u.Payload)
		switch {
		case errors.Is(err, mip.ErrUnknownExtension):
			a.counts.unknownExt.Add(1)
			return event{}, false
		case err != nil:
			a.counts.malformed.Add(1)
			if len(u.Payload) < mip.RequestLen {
				return event{}, false
			}
			b := u.Payload
			ev.kind = evPoorRequest
			ev.poor = poorRequest{
				home: netip.AddrFrom4([4]byte(b[4:8])),
				ha:   netip.AddrFrom4([4]byte(b[8:12])),
				coa:  netip.AddrFrom4([4]byte(b[12:16])),
				id:   binary.BigEndian.Uint64(b[16:24]),
			}
			return ev, true
		}
		ev.kind = evRequest
		ev.req = req
		return ev, true
	}
	return event{}, false
}

// dstReader is an upstream socket that tells each datagram's destination
// (UpstreamConn).
type dstReader interface {
	ReadFromDst(b []byte) (int, netip.AddrPort, netip.Addr, error)
}

// infoReader is an upstream socket that also tells the interface each
// datagram arrived on (UpstreamConn).
type infoReader interface {
	ReadFromInfo(b []byte) (n int, src netip.AddrPort, dst netip.Addr, ifindex int, err error)
}

// srcWriter is an upstream socket that can send from a chosen address of
// the agent (UpstreamConn).
type srcWriter interface {
	WriteToFrom(b []byte, src netip.Addr, dst netip.AddrPort) (int, error)
}

// readUpstream reads the upstream socket until ctx ends or it fails. Each
// datagram goes with its destination and the interface it arrived on
// (signalling protection tells ESP's by it) as far as the socket tells
// them: an infoReader both, a dstReader the destination, a plain
// net.PacketConn neither (interface 0).
func (a *Agent) readUpstream(ctx context.Context) error {
	var read func(b []byte) (int, netip.AddrPort, netip.Addr, int, error)
	switch r := a.upstream.(type) {
	case infoReader:
		read = r.ReadFromInfo
	case dstReader:
		read = func(b []byte) (int, netip.AddrPort, netip.Addr, int, error) {
			n, src, dst, err := r.ReadFromDst(b)
			return n, src, dst, 0, err
		}
	default:
		return daemon.ReadUDP(ctx, a.upstream, "fa: upstream socket", func(b []byte, src netip.AddrPort) bool {
			ev, ok := a.parseUpstream(b, src, netip.Addr{}, 0)
			return !ok || a.post(ctx, ev)
		}, func() { a.counts.unexpected.Add(1) })
	}
	buf := make([]byte, 1<<16)
	for {
		n, src, dst, ifindex, err := read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return fmt.Errorf("fa: upstream socket: %w", err)
		}
		if !src.IsValid() {
			a.counts.unexpected.Add(1)
			continue
		}
		if ev, ok := a.parseUpstream(buf[:n], src, dst, ifindex); ok && !a.post(ctx, ev) {
			return nil
		}
	}
}

// parseUpstream turns a datagram from upstream into an event, counting what
// it drops. local is the datagram's destination, when known, and ifindex
// the interface it arrived on (0: unknown).
func (a *Agent) parseUpstream(b []byte, src netip.AddrPort, local netip.Addr, ifindex int) (event, bool) {
	if len(b) == 0 {
		a.counts.malformed.Add(1)
		return event{}, false
	}
	ev := event{src: src, link: -1, local: local, ifindex: ifindex}
	var err error
	switch b[0] {
	case byte(mip.MessageReply):
		ev.kind = evReply
		ev.reply, err = mip.ParseReply(b)
	case byte(mip.MessageRevocation):
		ev.kind = evRevocation
		ev.rev, err = mip.ParseRevocation(b)
	case byte(mip.MessageRequest):
		// Requests from mobiles arrive as frames; one here comes from a
		// lower foreign agent, which only an agent in a hierarchy serves.
		if !a.cfg.Hierarchy() {
			a.counts.unexpected.Add(1)
			return event{}, false
		}
		ev.kind = evRequest
		ev.req, err = mip.ParseRequest(b)
		if err != nil && !errors.Is(err, mip.ErrUnknownExtension) && len(b) >= mip.RequestLen {
			a.counts.malformed.Add(1)
			ev.kind = evPoorRequest
			ev.poor = poorRequest{
				home: netip.AddrFrom4([4]byte(b[4:8])),
				ha:   netip.AddrFrom4([4]byte(b[8:12])),
				id:   binary.BigEndian.Uint64(b[16:24]),
			}
			return ev, true
		}
	case byte(mip.MessageRevocationAck):
		if !a.cfg.Hierarchy() {
			a.counts.unexpected.Add(1)
			return event{}, false
		}
		ev.kind = evRevocationAck
		ev.ack, err = mip.ParseRevocationAck(b)
	default:
		a.counts.unexpected.Add(1)
		return event{}, false
	}
	switch {
	case errors.Is(err, mip.ErrUnknownExtension):
		a.counts.unknownExt.Add(1)
		return event{}, false
	case err != nil:
		a.counts.malformed.Add(1)
		return event{}, false
	}
	return ev, true
}
