package link

import (
	"bytes"
	"fmt"
	"net"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// PacketConn is a Conn over an AF_PACKET datagram socket (mdlayher/packet).
type PacketConn struct {
	c    *packet.Conn
	info Info
}

var _ Conn = (*PacketConn)(nil)

// filter accepts IPv4 packets that are UDP to port 434 or ICMP router
// advertisements and solicitations (types 9 and 10), in datagram mode where
// offset 0 is the IP header.
func filter() ([]bpf.RawInstruction, error) {
	return bpf.Assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 6, Size: 2},                            // flags and fragment offset
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipTrue: 11}, // fragment: drop
		bpf.LoadAbsolute{Off: 9, Size: 1},                            // protocol
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: ProtoUDP, SkipFalse: 3},
		bpf.LoadMemShift{Off: 0},
		bpf.LoadIndirect{Off: 2, Size: 2}, // UDP destination port
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 434, SkipTrue: 5, SkipFalse: 6},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: ProtoICMP, SkipFalse: 5},
		bpf.LoadMemShift{Off: 0},
		bpf.LoadIndirect{Off: 0, Size: 1}, // ICMP type
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 9, SkipTrue: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 10, SkipFalse: 1},
		bpf.RetConstant{Val: 0xffff},
		bpf.RetConstant{Val: 0},
	})
}

// ListenPacket opens a PacketConn on the named interface, in the network
// namespace of the calling thread.
func ListenPacket(ifname string) (*PacketConn, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("link: interface %s: %w", ifname, err)
	}
	prog, err := filter()
	if err != nil {
		return nil, fmt.Errorf("link: assemble filter: %w", err)
	}
	c, err := packet.Listen(ifi, packet.Datagram, unix.ETH_P_IP, &packet.Config{Filter: prog})
	if err != nil {
		return nil, fmt.Errorf("link: listen on %s: %w", ifname, err)
	}
	return &PacketConn{c: c, info: Info{Name: ifi.Name, Index: ifi.Index, HWAddr: ifi.HardwareAddr, MTU: ifi.MTU}}, nil
}

// ReadFrame implements Conn. Frames this host sent are skipped.
func (p *PacketConn) ReadFrame(b []byte) (int, net.HardwareAddr, error) {
	for {
		n, addr, err := p.c.ReadFrom(b)
		if err != nil {
			return 0, nil, err
		}
		pa, ok := addr.(*packet.Addr)
		if !ok {
			continue
		}
		if bytes.Equal(pa.HardwareAddr, p.info.HWAddr) {
			continue // our own transmission, looped back to the socket
		}
		return n, pa.HardwareAddr, nil
	}
}

// WriteFrame implements Conn.
func (p *PacketConn) WriteFrame(pkt []byte, dst net.HardwareAddr) error {
	_, err := p.c.WriteTo(pkt, &packet.Addr{HardwareAddr: dst})
	return err
}

// SetReadDeadline implements Conn.
func (p *PacketConn) SetReadDeadline(t time.Time) error { return p.c.SetReadDeadline(t) }

// Info implements Conn.
func (p *PacketConn) Info() Info { return p.info }

// Close implements Conn.
func (p *PacketConn) Close() error { return p.c.Close() }
