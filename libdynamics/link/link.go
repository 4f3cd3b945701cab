package link

import (
	"errors"
	"net"
	"net/netip"
	"time"
)

// Well-known link-layer destinations.
var (
	Broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	// AllSystems is the Ethernet group address of 224.0.0.1, where agent
	// advertisements go.
	AllSystems = net.HardwareAddr{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}
	// AllMobilityAgents is the Ethernet group address of 224.0.0.11, where
	// agent solicitations may go (RFC 5944 section 2.4).
	AllMobilityAgents = net.HardwareAddr{0x01, 0x00, 0x5e, 0x00, 0x00, 0x0b}
)

// Multicast IPv4 groups of agent discovery.
var (
	AllSystemsAddr        = netip.AddrFrom4([4]byte{224, 0, 0, 1})
	AllMobilityAgentsAddr = netip.AddrFrom4([4]byte{224, 0, 0, 11})
	LimitedBroadcastAddr  = netip.AddrFrom4([4]byte{255, 255, 255, 255})
)

// ErrClosed is returned by a Conn after Close.
var ErrClosed = errors.New("link: closed")

// Info describes the interface a Conn is bound to.
type Info struct {
	Name   string
	Index  int
	HWAddr net.HardwareAddr
	MTU    int
}

// Conn sends and receives IPv4 packets on one interface, with the sender's
// and receiver's link-layer addresses. Agents use it where a UDP socket
// cannot serve: a foreign agent must learn a visiting mobile's hardware
// address from its registration request and answer it without ARPing for the
// home address (RFC 5944 section 3.7.2.3); agent discovery is link-local.
//
// ReadFrame returns only frames that pass the Conn's filter (agent discovery
// ICMP and UDP port 434) and were not sent by this host.
type Conn interface {
	// ReadFrame reads the next IPv4 packet into b and returns its length
	// and the sender's hardware address.
	ReadFrame(b []byte) (int, net.HardwareAddr, error)
	// WriteFrame sends an IPv4 packet to dst (a unicast, broadcast or
	// multicast hardware address).
	WriteFrame(pkt []byte, dst net.HardwareAddr) error
	// SetReadDeadline bounds ReadFrame, as net.Conn's does.
	SetReadDeadline(t time.Time) error
	// Info describes the interface.
	Info() Info
	Close() error
}

// MulticastHW returns the Ethernet group address of an IPv4 multicast group
// (RFC 1112 section 6.4), or Broadcast for the limited broadcast address.
func MulticastHW(group netip.Addr) net.HardwareAddr {
	if group == LimitedBroadcastAddr {
		return Broadcast
	}
	a := group.As4()
	return net.HardwareAddr{0x01, 0x00, 0x5e, a[1] & 0x7f, a[2], a[3]}
}
