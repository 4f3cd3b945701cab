package fa

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"
)

// UpstreamConn is the agent's UDP socket on port 434 for its traffic with
// home agents: a net.PacketConn bound to the unspecified address, so that
// no registration datagram to any of the host's addresses is answered with
// ICMP port unreachable, which leaves out what mobiles send on the visitor
// links. The kernel delivers those to the socket too, but the agent reads
// them as frames from its links (with the mobile's hardware address), so the
// socket drops every datagram addressed to a visitor link's address or
// arriving on a visitor interface. It sends from the care-of address.
type UpstreamConn struct {
	c       *net.UDPConn
	p       *ipv4.PacketConn
	src     net.IP
	skipDst map[netip.Addr]bool
	skipIf  map[int]bool
}

var _ net.PacketConn = (*UpstreamConn)(nil)

// ListenUpstream opens the upstream socket on laddr ("0.0.0.0:434"),
// sending from src and leaving out the datagrams of the visitor links.
func ListenUpstream(laddr string, src netip.Addr, links []Link) (*UpstreamConn, error) {
	pc, err := net.ListenPacket("udp4", laddr)
	if err != nil {
		return nil, fmt.Errorf("fa: upstream socket: %w", err)
	}
	c := pc.(*net.UDPConn)
	p := ipv4.NewPacketConn(c)
	if err := p.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true); err != nil {
		c.Close()
		return nil, fmt.Errorf("fa: upstream socket: control messages: %w", err)
	}
	u := &UpstreamConn{c: c, p: p, skipDst: map[netip.Addr]bool{}, skipIf: map[int]bool{}}
	if src.Is4() {
		u.src = net.IP(src.AsSlice())
	}
	for _, l := range links {
		u.skipDst[l.Addr.Addr()] = true
		if idx := l.Conn.Info().Index; idx > 0 {
			u.skipIf[idx] = true
		}
	}
	return u, nil
}

// ReadFrom implements net.PacketConn, skipping the visitor links' datagrams.
func (u *UpstreamConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, _, _, err := u.read(b)
	return n, addr, err
}

// ReadFromDst is ReadFrom that also returns the datagram's destination
// address: the agent's address that a lower foreign agent sent to, from
// which the agent answers it and where its tunnel to that agent starts. The
// source is invalid in the (unexpected) case that the socket reports no UDP
// address.
func (u *UpstreamConn) ReadFromDst(b []byte) (int, netip.AddrPort, netip.Addr, error) {
	n, src, dst, _, err := u.ReadFromInfo(b)
	return n, src, dst, err
}

// ReadFromInfo is ReadFromDst that also returns the index of the interface
// the datagram arrived on: signalling protection's ESP device for a
// datagram that came out of an ESP SA (0 when the kernel does not tell).
func (u *UpstreamConn) ReadFromInfo(b []byte) (int, netip.AddrPort, netip.Addr, int, error) {
	n, addr, dst, ifindex, err := u.read(b)
	if err != nil {
		return n, netip.AddrPort{}, netip.Addr{}, 0, err
	}
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return n, netip.AddrPort{}, dst, ifindex, nil // not from a UDP peer: no source to give
	}
	src := ua.AddrPort()
	return n, netip.AddrPortFrom(src.Addr().Unmap(), src.Port()), dst, ifindex, nil
}

func (u *UpstreamConn) read(b []byte) (int, net.Addr, netip.Addr, int, error) {
	for {
		n, cm, addr, err := u.p.ReadFrom(b)
		if err != nil {
			return n, addr, netip.Addr{}, 0, err
		}
		var dst netip.Addr
		ifindex := 0
		if cm != nil {
			dst, _ = netip.AddrFromSlice(cm.Dst)
			dst = dst.Unmap()
			if u.skipDst[dst] || u.skipIf[cm.IfIndex] {
				continue
			}
			ifindex = cm.IfIndex
		}
		return n, addr, dst, ifindex, nil
	}
}

// WriteTo implements net.PacketConn, sending from the care-of address.
func (u *UpstreamConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if u.src == nil {
		return u.c.WriteTo(b, addr)
	}
	return u.p.WriteTo(b, &ipv4.ControlMessage{Src: u.src}, addr)
}

// WriteToFrom sends b to dst from the agent's address src (one a lower
// foreign agent sent to), instead of the care-of address.
func (u *UpstreamConn) WriteToFrom(b []byte, src netip.Addr, dst netip.AddrPort) (int, error) {
	if !src.Is4() {
		return u.WriteTo(b, net.UDPAddrFromAddrPort(dst))
	}
	return u.p.WriteTo(b, &ipv4.ControlMessage{Src: net.IP(src.AsSlice())}, net.UDPAddrFromAddrPort(dst))
}

// Close implements net.PacketConn.
func (u *UpstreamConn) Close() error { return u.c.Close() }

// LocalAddr implements net.PacketConn.
func (u *UpstreamConn) LocalAddr() net.Addr { return u.c.LocalAddr() }

// SetDeadline implements net.PacketConn.
func (u *UpstreamConn) SetDeadline(t time.Time) error { return u.c.SetDeadline(t) }

// SetReadDeadline implements net.PacketConn.
func (u *UpstreamConn) SetReadDeadline(t time.Time) error { return u.c.SetReadDeadline(t) }

// SetWriteDeadline implements net.PacketConn.
func (u *UpstreamConn) SetWriteDeadline(t time.Time) error { return u.c.SetWriteDeadline(t) }
