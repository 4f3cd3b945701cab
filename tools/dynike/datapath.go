package main

import (
	"errors"
	"log/slog"

	"github.com/dynamics-go/dynamics/libdynamics/esp"
	"github.com/dynamics-go/dynamics/libdynamics/ike"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
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
// userspace), or none. The daemons' signalling protection (package
// secure) opens its data path the same way.
func openDatapath(cfg *toolConfig, log *slog.Logger) (*datapath, error) {
	mode := cfg.esp
	if mode != "none" {
		var err error
		if mode, err = secure.ResolveESP(mode); err != nil {
			return nil, errors.New("unknown ESP mode " + cfg.esp)
		}
	}
	ep, err := secure.OpenEndpoint(cfg.local, mode == secure.ESPXFRM, log)
	if err != nil {
		return nil, err
	}
	d := &datapath{sockets: ep.Sockets(), closers: []func(){func() { ep.Close() }}}
	if mode != "none" {
		k, err := secure.OpenESP(mode, ep, cfg.device, log)
		if err != nil {
			d.close()
			return nil, err
		}
		d.kernel = k
		d.closers = append(d.closers, func() { k.Close() })
	}
	log.Info("dynike data path", "esp", mode, "local", cfg.local)
	return d, nil
}
