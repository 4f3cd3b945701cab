package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"github.com/dynamics-go/dynamics/libdynamics/esp"
	"github.com/dynamics-go/dynamics/libdynamics/ike"
)

// datapath is the engine's sockets and ESP implementation.
type datapath struct {
	sockets []ike.Socket
	kernel  esp.Kernel
	closers []func()
}

func (d *datapath) close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
}

// openDatapath binds ports 500 and 4500 on the local address and opens the
// ESP implementation the configuration asks for: XFRM where the kernel has
// ESP (auto, xfrm), the userspace path over a TUN device otherwise (auto,
// userspace), or none.
func openDatapath(cfg *toolConfig, log *slog.Logger) (*datapath, error) {
	d := &datapath{}
	ok := false
	defer func() {
		if !ok {
			d.close()
		}
	}()
	c500, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(cfg.local, 500)))
	if err != nil {
		return nil, fmt.Errorf("IKE socket: %w", err)
	}
	d.closers = append(d.closers, func() { c500.Close() })
	c4500, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(cfg.local, esp.EncapPort)))
	if err != nil {
		return nil, fmt.Errorf("NAT-T socket: %w", err)
	}
	mode := cfg.esp
	if mode == "auto" {
		mode = "userspace"
		if esp.ProbeXFRM() == nil {
			mode = "xfrm"
		}
	}
	if mode == "xfrm" {
		if err := esp.EnableUDPEncap(c4500); err != nil {
			c4500.Close()
			return nil, err
		}
	}
	mux := esp.NewMux(c4500, esp.MuxOptions{Logger: log})
	d.closers = append(d.closers, func() { mux.Close() })
	d.sockets = []ike.Socket{{Conn: c500}, {Conn: mux.IKE(), Mux: mux}}
	switch mode {
	case "xfrm":
		x, err := esp.NewXFRM(esp.XFRMOptions{Logger: log})
		if err != nil {
			return nil, err
		}
		d.kernel = x
	case "userspace":
		u, err := esp.NewUserspace(esp.UserspaceOptions{Mux: mux, Device: cfg.device, Logger: log})
		if err != nil {
			return nil, err
		}
		d.kernel = u
	case "none":
	default:
		return nil, errors.New("unknown ESP mode " + mode)
	}
	if d.kernel != nil {
		k := d.kernel
		d.closers = append(d.closers, func() { k.Close() })
	}
	log.Info("dynike data path", "esp", mode, "local", cfg.local)
	ok = true
	return d, nil
}
