package mn

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/discovery"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// event is what a reader goroutine or a probe hands the loop.
type event any

// advertEvent is an agent advertisement heard on the link.
type advertEvent struct {
	adv *discovery.Advertisement
	src netip.Addr       // the IP source: the agent's address on the link
	hw  net.HardwareAddr // the frame's source
}

// replyEvent is a registration reply received on the UDP socket.
type replyEvent struct {
	reply *mip.Reply
	from  netip.AddrPort
}

// probeEvent is the outcome of an ARP probe of a co-located gateway.
type probeEvent struct {
	gen uint64
	hw  net.HardwareAddr
	err error
}

// ifaceEvent is an IPSEC_INTERFACES interface's address as the watcher
// reports it: the zero Addr while it is down or has none.
type ifaceEvent struct {
	name string
	addr netip.Addr
}

// moverEvent is the outcome of a call of the Mover made off the loop.
type moverEvent struct {
	op  *moverOp
	err error
}

// readErrorPause is how long a reader waits after a read error that is not
// the end of its socket (an interface going down), so a persistent error
// does not spin.
const readErrorPause = 100 * time.Millisecond

// readLink reads the roaming interface's frames and hands agent
// advertisements to the loop. Registration replies are taken from the UDP
// socket, so UDP frames are ignored here.
func (n *Node) readLink(ctx context.Context) {
	buf := make([]byte, 1<<16)
	for {
		nr, hw, err := n.link.ReadFrame(buf)
		if err != nil {
			if !n.readFailed(ctx, "link", err) {
				return
			}
			continue
		}
		ip, err := link.ParseIPv4(buf[:nr])
		if err != nil {
			n.malformed.Add(1)
			n.log.Debug("malformed frame dropped", "err", err)
			continue
		}
		if ip.Protocol != link.ProtoICMP || len(ip.Payload) == 0 || ip.Payload[0] != 9 {
			continue
		}
		adv, err := discovery.ParseAdvertisement(bytes.Clone(ip.Payload))
		if err == nil {
			err = adv.Validate()
		}
		if err != nil {
			n.malformed.Add(1)
			n.log.Debug("malformed advertisement dropped", "fa", ip.Src, "err", err)
			continue
		}
		ev := advertEvent{adv: adv, src: ip.Src, hw: bytes.Clone(hw)}
		select {
		case n.events <- ev:
		case <-ctx.Done():
			return
		}
	}
}

// readUDP reads the registration socket and hands replies to the loop.
func (n *Node) readUDP(ctx context.Context) {
	buf := make([]byte, 1<<16)
	ir, _ := n.udp.(InterfaceReader)
	for {
		var (
			nr, ifindex int
			from        netip.AddrPort
			err         error
		)
		if ir != nil {
			nr, ifindex, from, err = ir.ReadFromIface(buf)
		} else {
			var addr net.Addr
			nr, addr, err = n.udp.ReadFrom(buf)
			if ua, ok := addr.(*net.UDPAddr); ok {
				from = ua.AddrPort()
				from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
			}
		}
		if err != nil {
			if !n.readFailed(ctx, "udp", err) {
				return
			}
			continue
		}
		if v := n.protect.Check(from.Addr(), ifindex); v.Drop() {
			// From a peer whose signalling must travel in ESP, but in
			// clear: a forgery, or a peer without its SAs.
			n.unprotected.Add(1)
			n.log.Debug("unprotected datagram from an IPsec peer dropped", "from", from, "ifindex", ifindex)
			continue
		}
		if nr > 0 && mip.MessageType(buf[0]) != mip.MessageReply {
			n.log.Debug("non-reply on the registration port ignored", "from", from, "type", buf[0])
			continue
		}
		reply, err := mip.ParseReply(bytes.Clone(buf[:nr]))
		if errors.Is(err, mip.ErrUnknownExtension) {
			n.unknownExt.Add(1)
			n.log.Debug("registration reply with an unknown extension dropped", "from", from, "err", err)
			continue
		}
		if err != nil {
			n.malformed.Add(1)
			n.log.Debug("malformed registration reply dropped", "from", from, "err", err)
			continue
		}
		select {
		case n.events <- replyEvent{reply: reply, from: from}:
		case <-ctx.Done():
			return
		}
	}
}

// readFailed handles a read error: false when the reader should stop (the
// node is stopping or the socket was closed).
func (n *Node) readFailed(ctx context.Context, what string, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if errors.Is(err, net.ErrClosed) || errors.Is(err, link.ErrClosed) {
		n.log.Error("socket closed under the running node", "socket", what, "err", err)
		return false
	}
	n.log.Debug("read failed", "socket", what, "err", err)
	select {
	case <-ctx.Done():
		return false
	case <-time.After(readErrorPause):
	}
	return true
}

// watch runs the address watcher over the IPSEC_INTERFACES and hands what
// it reports to the loop; a watcher that fails is logged, and the
// addresses it last reported stay offered.
func (n *Node) watch(ctx context.Context, names []string) {
	err := n.watcher.Watch(ctx, names, func(name string, addr netip.Addr) {
		select {
		case n.events <- ifaceEvent{name: name, addr: addr}:
		case <-ctx.Done():
		}
	})
	if err != nil && ctx.Err() == nil {
		n.log.Error("cannot follow the addresses of IPSEC_INTERFACES", "err", err)
	}
}
