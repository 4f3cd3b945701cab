package daemon

import (
	"net"
	"syscall"
)

// SetBuffers sets c's receive and send buffers to n bytes, beyond
// net.core.rmem_max and wmem_max where the process may (CAP_NET_ADMIN),
// else as far as those allow; failures leave the defaults. Sockets that
// take bursts (the home agent's, the ESP encapsulation socket) use it so
// that a burst waits in the socket instead of being dropped.
func SetBuffers(c *net.UDPConn, n int) {
	_ = c.SetReadBuffer(n)
	_ = c.SetWriteBuffer(n)
	raw, err := c.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, n)
		_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUFFORCE, n)
	})
}
