package secure

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"

	"github.com/dynamics-go/dynamics/libdynamics/daemon"
	"github.com/dynamics-go/dynamics/libdynamics/esp"
	"github.com/dynamics-go/dynamics/libdynamics/ike"
)

// Endpoint is one local address's IKE sockets: UDP port 500, and port
// 4500 shared with ESP through a Mux (RFC 3948).
type Endpoint struct {
	Addr netip.Addr
	// IKE is the port-500 socket.
	IKE *net.UDPConn
	// Mux owns the port-4500 socket.
	Mux *esp.Mux
}

// EncapBuffer is the receive and send buffer of the port-4500 socket,
// which carries every ESP datagram of the userspace path.
const EncapBuffer = 4 << 20

// OpenEndpoint binds ports 500 and 4500 on addr, in the network namespace
// of the calling thread. With xfrm the port-4500 socket gets ESP-in-UDP
// decapsulation by the kernel (esp.EnableUDPEncap).
func OpenEndpoint(addr netip.Addr, xfrm bool, log *slog.Logger) (*Endpoint, error) {
	if log == nil {
		log = slog.Default()
	}
	c500, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, esp.IKEPort)))
	if err != nil {
		return nil, fmt.Errorf("IKE socket: %w", err)
	}
	c4500, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, esp.EncapPort)))
	if err != nil {
		c500.Close()
		return nil, fmt.Errorf("NAT-T socket: %w", err)
	}
	// The encapsulation socket carries every protected datagram: room
	// for a burst of them, as the home agent's own socket has.
	daemon.SetBuffers(c4500, EncapBuffer)
	if xfrm {
		if err := esp.EnableUDPEncap(c4500); err != nil {
			c500.Close()
			c4500.Close()
			return nil, err
		}
	}
	return &Endpoint{Addr: addr, IKE: c500, Mux: esp.NewMux(c4500, esp.MuxOptions{Logger: log})}, nil
}

// Sockets returns the endpoint as an IKE engine takes it.
func (ep *Endpoint) Sockets() []ike.Socket {
	return []ike.Socket{{Conn: ep.IKE}, {Conn: ep.Mux.IKE(), Mux: ep.Mux}}
}

// Close closes both sockets.
func (ep *Endpoint) Close() error {
	return errors.Join(ep.IKE.Close(), ep.Mux.Close())
}

// ResolveESP turns IPsecESP's auto into xfrm where the kernel has ESP
// (esp.ProbeXFRM) and userspace elsewhere; other values are returned as
// they are, after a check.
func ResolveESP(mode string) (string, error) {
	switch mode {
	case ESPAuto:
		if esp.ProbeXFRM() == nil {
			return ESPXFRM, nil
		}
		return ESPUserspace, nil
	case ESPXFRM, ESPUserspace:
		return mode, nil
	}
	return "", fmt.Errorf("%w: ESP data path %q is none of auto, xfrm, userspace", ErrConfig, mode)
}

// OpenESP opens the ESP data path mode (xfrm or userspace, resolved) in
// the network namespace of the calling thread: XFRM, or the userspace
// path over the TUN device named device (esp.DefaultDevice if empty) that
// sends and receives through ep's Mux.
func OpenESP(mode string, ep *Endpoint, device string, log *slog.Logger) (esp.Kernel, error) {
	switch mode {
	case ESPXFRM:
		return esp.NewXFRM(esp.XFRMOptions{Logger: log})
	case ESPUserspace:
		return esp.NewUserspace(esp.UserspaceOptions{Mux: ep.Mux, Device: device, Logger: log})
	}
	return nil, fmt.Errorf("%w: ESP data path %q is neither xfrm nor userspace", ErrConfig, mode)
}

// HostAddresses lists the IPv4 unicast addresses of the host's interfaces
// that are up, loopback and link-local ones excepted, in the network
// namespace of the calling thread: what an upper foreign agent passes as
// Options.Addresses, since the agents below it reach it on the addresses
// of their links.
func HostAddresses() ([]netip.Addr, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", ifi.Name, err)
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if ip = ip.Unmap(); !ok || !ip.Is4() || ip.IsLinkLocalUnicast() || ip.IsLoopback() || ip.IsMulticast() {
				continue
			}
			if !slices.Contains(out, ip) {
				out = append(out, ip)
			}
		}
	}
	return out, nil
}
