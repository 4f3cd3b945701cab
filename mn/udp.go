package mn

import (
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
)

// UDPConn is the registration socket of a real mobile node: a UDP socket on
// 0.0.0.0:434 that sends each request from the address the mobile chooses
// (the co-located care-of address, or the home address at home) with
// IP_PKTINFO, whatever the routes would pick, and tells on which interface
// each reply arrived (the userspace ESP path's device for a reply that
// came through ESP).
type UDPConn struct {
	*net.UDPConn
	p *ipv4.PacketConn
}

var (
	_ SourceWriter    = (*UDPConn)(nil)
	_ InterfaceReader = (*UDPConn)(nil)
)

// ListenUDP binds the registration socket to 0.0.0.0 and port. Binding the
// port keeps the kernel from answering replies with ICMP port unreachable.
func ListenUDP(port int) (*UDPConn, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero, Port: port})
	if err != nil {
		return nil, fmt.Errorf("mn: registration socket: %w", err)
	}
	p := ipv4.NewPacketConn(c)
	if err := p.SetControlMessage(ipv4.FlagInterface, true); err != nil {
		c.Close()
		return nil, fmt.Errorf("mn: registration socket: IP_PKTINFO: %w", err)
	}
	return &UDPConn{UDPConn: c, p: p}, nil
}

// ReadFromIface implements InterfaceReader.
func (c *UDPConn) ReadFromIface(b []byte) (n, ifindex int, from netip.AddrPort, err error) {
	n, cm, src, err := c.p.ReadFrom(b)
	if cm != nil {
		ifindex = cm.IfIndex
	}
	if ua, ok := src.(*net.UDPAddr); ok {
		ap := ua.AddrPort()
		from = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return n, ifindex, from, err
}

// WriteToFrom implements SourceWriter.
func (c *UDPConn) WriteToFrom(b []byte, dst netip.AddrPort, src netip.Addr) error {
	cm := &ipv4.ControlMessage{Src: src.AsSlice()}
	_, err := c.p.WriteTo(b, cm, net.UDPAddrFromAddrPort(dst))
	return err
}
