package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/dynamics-go/dynamics/libdynamics/ipip"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/kernel/nlkernel"
)

// TunnelMode selects how tunnels are realised.
type TunnelMode string

// Tunnel modes of the TunnelMode configuration label.
const (
	TunnelAuto      TunnelMode = "auto"      // netlink where the kernel has ipip, else userspace
	TunnelNetlink   TunnelMode = "netlink"   // ipip links; fails where the module is missing
	TunnelUserspace TunnelMode = "userspace" // TUN devices and a raw protocol-4 socket
)

// UnmarshalText implements encoding.TextUnmarshaler for configuration files.
func (m *TunnelMode) UnmarshalText(b []byte) error {
	switch v := TunnelMode(strings.ToLower(string(b))); v {
	case TunnelAuto, TunnelNetlink, TunnelUserspace:
		*m = v
		return nil
	}
	return fmt.Errorf("%q is not a tunnel mode (auto, netlink or userspace)", b)
}

// KernelOptions configure OpenKernel.
type KernelOptions struct {
	Mode         TunnelMode // default auto
	TunnelPrefix string     // device name prefix, e.g. "dynha"
	StateFile    string     // optional; see nlkernel.Options
	Logger       *slog.Logger
}

// OpenKernel returns the host kernel with the tunnel driver the mode asks
// for, probing for ipip in auto mode, and logs which data path it chose.
func OpenKernel(opts KernelOptions) (kernel.Kernel, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	nlopts := nlkernel.Options{TunnelPrefix: opts.TunnelPrefix, StateFile: opts.StateFile, Logger: log}
	mode := opts.Mode
	if mode == "" {
		mode = TunnelAuto
	}
	var driver kernel.TunnelDriver
	switch mode {
	case TunnelNetlink:
		if err := nlkernel.ProbeIPIP(); err != nil {
			return nil, fmt.Errorf("TunnelMode netlink: %w", err)
		}
		driver = nlkernel.NewLinkDriver(nlopts)
	case TunnelUserspace:
		d, err := ipip.NewDriver(ipip.Options{Logger: log})
		if err != nil {
			return nil, fmt.Errorf("userspace data path: %w", err)
		}
		driver = d
	case TunnelAuto:
		if err := nlkernel.ProbeIPIP(); err == nil {
			driver = nlkernel.NewLinkDriver(nlopts)
		} else {
			log.Info("kernel cannot make ipip links; using the userspace data path", "reason", err)
			d, err := ipip.NewDriver(ipip.Options{Logger: log})
			if err != nil {
				return nil, fmt.Errorf("userspace data path: %w", err)
			}
			driver = d
		}
	default:
		return nil, fmt.Errorf("unknown tunnel mode %q", mode)
	}
	k, err := nlkernel.New(driver, nlopts)
	if err != nil {
		return nil, errors.Join(err, driver.Close())
	}
	log.Info("kernel interface ready", "datapath", k.Name())
	return k, nil
}
