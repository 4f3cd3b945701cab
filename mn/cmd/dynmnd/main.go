// Command dynmnd is the Dynamics mobile node: it listens for agent
// advertisements on its interface, registers its home address with its home
// agent through foreign agents or from a co-located care-of address, and
// installs the routes that keep its home address working wherever it is (see
// package mn and docs/CONFIGURATION.md).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/dynamics-go/dynamics/libdynamics/daemon"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
	"github.com/dynamics-go/dynamics/mn"
)

const name = "dynmnd"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	return daemon.Main(daemon.Command[mn.Config]{
		Name:     name,
		Role:     "mobile node",
		Load:     mn.LoadConfig,
		Facility: func(c mn.Config) string { return c.SyslogFacility },
		Serve:    serve,
	}, args, stdout, stderr)
}

// serve opens the sockets and the kernel, runs the mobile node until
// SIGTERM or SIGINT, and removes its kernel state. On SIGHUP it applies the
// configuration file as reload reads it again.
func serve(cfg mn.Config, log *slog.Logger, reload func() (mn.Config, error)) (err error) {
	lc, err := link.ListenPacket(cfg.Interface)
	if err != nil {
		return fmt.Errorf("interface %s: %w", cfg.Interface, err)
	}
	defer lc.Close()
	udp, err := mn.ListenUDP(mn.Port)
	if err != nil {
		return err
	}
	defer udp.Close()

	if dir := filepath.Dir(cfg.StateFile); cfg.StateFile != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("StateFile: %w", err)
		}
	}
	kern, err := daemon.OpenKernel(daemon.KernelOptions{
		Mode:         cfg.TunnelMode,
		TunnelPrefix: cfg.TunnelPrefix,
		StateFile:    cfg.StateFile,
		Logger:       log,
	})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := kern.Close(); cerr != nil {
			log.Error("removing kernel state", logging.KeyErr, cerr)
			err = errors.Join(err, cerr)
		}
	}()

	opts := mn.Options{
		Config: cfg,
		Link:   lc,
		UDP:    udp,
		Kernel: kern,
		Prober: mn.ARPProber{Interface: cfg.Interface},
		Logger: log,
	}
	if cfg.Config.Enabled() {
		// The SAs with the home agent start from the home address, the
		// mobile's signalling address at home; the node moves them when
		// it registers from another address of its own.
		guard, err := secure.Open(secure.Options{
			Config:   cfg.Config,
			Local:    cfg.Home,
			Initiate: []netip.Addr{cfg.HA},
			Logger:   log,
		})
		if err != nil {
			return fmt.Errorf("signalling protection: %w", err)
		}
		defer func() {
			if cerr := guard.Close(); cerr != nil {
				log.Error("closing signalling protection", logging.KeyErr, cerr)
			}
		}()
		opts.Protector, opts.Mover = guard, guard
		if len(cfg.IPsecInterfaces) > 0 {
			opts.Watcher = mn.NetlinkWatcher{}
		}
		log.Info("registrations with the home agent protected by IPsec", logging.KeyHome, cfg.Home,
			logging.KeyHA, cfg.HA, "interfaces", strings.Join(ipsecInterfaces(cfg), ","))
	}
	node, err := mn.New(opts)
	if err != nil {
		return err
	}
	ctx, hup, stop := daemon.Signals(context.Background())
	defer stop()
	stopAPI, err := daemon.ServeAPI(ctx, node, cfg.AdminSocket, cfg.MonitorSocket, log)
	if err != nil {
		return err
	}
	defer stopAPI()
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx) }()
	for {
		select {
		case <-hup:
			_ = daemon.Reload(ctx, log, reload, node.Reload)
		case err := <-done:
			return err
		}
	}
}

// ipsecInterfaces names the IPSEC_INTERFACES entries.
func ipsecInterfaces(cfg mn.Config) []string {
	names := make([]string, len(cfg.IPsecInterfaces))
	for i, e := range cfg.IPsecInterfaces {
		names[i] = e.Name
	}
	return names
}
