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
// IP_PKTINFO, whatever the routes would pick.
type UDPConn struct {
	*net.UDPConn
	p *ipv4.PacketConn
}

var _ SourceWriter = (*UDPConn)(nil)

// ListenUDP binds the registration socket to 0.0.0.0 and port. Binding the
// port keeps the kernel from answering replies with ICMP port unreachable.
func ListenUDP(port int) (*UDPConn, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero, Port: port})
	if err != nil {
		return nil, fmt.Errorf("mn: registration socket: %w", err)
	}
	return &UDPConn{UDPConn: c, p: ipv4.NewPacketConn(c)}, nil
}

// WriteToFrom implements SourceWriter.
func (c *UDPConn) WriteToFrom(b []byte, dst netip.AddrPort, src netip.Addr) error {
	cm := &ipv4.ControlMessage{Src: src.AsSlice()}
	_, err := c.p.WriteTo(b, cm, net.UDPAddrFromAddrPort(dst))
	return err
}
