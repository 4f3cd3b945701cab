// Command dynhad is the Dynamics home agent: it authenticates mobile nodes'
// registrations, keeps their bindings, proxy-ARPs for them on the home link
// and tunnels their traffic to their care-of addresses (see package ha and
// docs/CONFIGURATION.md).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/dynamics-go/dynamics/ha"
	"github.com/dynamics-go/dynamics/libdynamics/daemon"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
)

const name = "dynhad"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	return daemon.Main(daemon.Command[ha.Config]{
		Name:     name,
		Role:     "home agent",
		Load:     ha.LoadConfig,
		Facility: func(c ha.Config) string { return c.SyslogFacility },
		Serve:    serve,
	}, args, stdout, stderr)
}

// serve opens the sockets and the kernel, runs the agent until SIGTERM or
// SIGINT, and removes the agent's kernel state. On SIGHUP it applies the
// configuration file as reload reads it again.
func serve(cfg ha.Config, log *slog.Logger, reload func() (ha.Config, error)) (err error) {
	conn, err := ha.ListenUDP(netip.AddrPortFrom(cfg.HAIPAddress, 434))
	if err != nil {
		return fmt.Errorf("HAIPAddress: %w", err)
	}
	defer conn.Close()
	var home link.Conn
	if cfg.AgentAdvInterval > 0 {
		c, err := link.ListenPacket(cfg.HomeInterface)
		if err != nil {
			return fmt.Errorf("HomeInterface: %w", err)
		}
		defer c.Close()
		home = c
	} else if _, err := net.InterfaceByName(cfg.HomeInterface); err != nil {
		return fmt.Errorf("HomeInterface: %w", err)
	}

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

	// Signalling protection, when IPSEC lists peers: the home agent
	// answers the IKE SAs its foreign agents and mobiles bring up (it
	// never initiates); the mobiles' (inside HomeNetPrefix) may move.
	var prot secure.Protector = secure.Off{}
	if cfg.Config.Enabled() {
		g, err := secure.Open(secure.Options{Config: cfg.Config, Local: cfg.HAIPAddress, Mobiles: cfg.HomeNetPrefix, Logger: log})
		if err != nil {
			return err
		}
		defer func() {
			if cerr := g.Close(); cerr != nil {
				log.Error("closing signalling protection", logging.KeyErr, cerr)
				err = errors.Join(err, cerr)
			}
		}()
		prot = g
	}

	agent, err := ha.New(ha.Options{Config: cfg, Conn: conn, Link: home, Kernel: kern, Logger: log, Protector: prot})
	if err != nil {
		return err
	}
	ctx, hup, stop := daemon.Signals(context.Background())
	defer stop()
	stopAPI, err := daemon.ServeAPI(ctx, agent, cfg.AdminSocket, cfg.MonitorSocket, log)
	if err != nil {
		return err
	}
	defer stopAPI()
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx) }()
	for {
		select {
		case <-hup:
			_ = daemon.Reload(ctx, log, reload, agent.Reload)
		case err := <-done:
			if err == nil {
				log.Info("home agent stopping")
			}
			return err
		}
	}
}
