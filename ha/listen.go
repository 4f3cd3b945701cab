package ha

import (
	"net"
	"net/netip"

	"github.com/dynamics-go/dynamics/libdynamics/daemon"
)

// SocketBuffer is the receive and send buffer ListenUDP asks for: room for
// some thousands of registration messages, so that a burst from many
// foreign agents waits in the socket instead of being dropped while the
// loop works (the kernel's default of about 200 KiB holds some hundreds).
const SocketBuffer = 4 << 20

// ListenUDP opens the agent's UDP socket on addr (HAIPAddress port 434)
// with buffers of SocketBuffer bytes: beyond net.core.rmem_max and wmem_max
// where the process may (CAP_NET_ADMIN), else as far as they allow. The
// socket tells each datagram's arrival interface from the start (signalling
// protection tells the ESP device's by it).
func ListenUDP(addr netip.AddrPort) (*net.UDPConn, error) {
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, err
	}
	if err := askInterface(c); err != nil {
		c.Close()
		return nil, err
	}
	daemon.SetBuffers(c, SocketBuffer)
	return c, nil
}
