// Command dynfad is the Dynamics foreign agent: it advertises itself on its
// visitor interfaces, relays mobiles' registrations to their home agents (or
// up its hierarchy of foreign agents, answering local moves itself) and
// delivers their traffic (see package fa and docs/CONFIGURATION.md).
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
	"slices"

	"github.com/dynamics-go/dynamics/fa"
	"github.com/dynamics-go/dynamics/libdynamics/daemon"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
)

const name = "dynfad"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	return daemon.Main(daemon.Command[fa.Config]{
		Name:     name,
		Role:     "foreign agent",
		Load:     fa.LoadConfig,
		Facility: func(c fa.Config) string { return c.SyslogFacility },
		Serve:    serve,
	}, args, stdout, stderr)
}

// serve opens the sockets and the kernel, runs the agent until SIGTERM or
// SIGINT, and removes the agent's kernel state. On SIGHUP it applies the
// configuration file as reload reads it again.
func serve(cfg fa.Config, log *slog.Logger, reload func() (fa.Config, error)) (err error) {
	key, err := fa.LoadKeys(cfg)
	if err != nil {
		return err
	}
	if !cfg.CareOfAddress.IsValid() {
		p, err := ifaceAddr(cfg.UpstreamInterface)
		if err != nil {
			return fmt.Errorf("CareOfAddress: %w", err)
		}
		cfg.CareOfAddress = p.Addr()
	}
	var links []fa.Link
	defer func() {
		for _, l := range links {
			l.Conn.Close()
		}
	}()
	for _, ifname := range cfg.Interfaces {
		p, err := ifaceAddr(ifname)
		if err != nil {
			return err
		}
		c, err := link.ListenPacket(ifname)
		if err != nil {
			return err
		}
		links = append(links, fa.Link{Conn: c, Addr: p})
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

	up, err := fa.ListenUpstream("0.0.0.0:434", cfg.CareOfAddress, links)
	if err != nil {
		return err
	}
	defer up.Close()

	// Signalling protection, when IPSEC lists peers: the agent brings up
	// and keeps the IKE SA with its upstream agents (initiators) and
	// answers those of the agents below it.
	var prot secure.Protector = secure.Off{}
	if cfg.Config.Enabled() {
		answer, err := answerAddresses(cfg.Interfaces)
		if err != nil {
			return err
		}
		g, err := secure.Open(secure.Options{Config: cfg.Config, Local: cfg.CareOfAddress, Addresses: answer, Initiate: cfg.UpstreamAgents(), Logger: log})
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

	agent, err := fa.New(fa.Options{Config: cfg, Upstream: up, Links: links, Key: key, Kernel: kern, Logger: log, Protector: prot})
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
				log.Info("foreign agent stopping")
			}
			return err
		}
	}
}

// ifaceAddr returns the first IPv4 address of the named interface, with its
// prefix length.
func ifaceAddr(ifname string) (netip.Prefix, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("interface %s: %w", ifname, err)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("interface %s: %w", ifname, err)
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok || !ip.Unmap().Is4() {
			continue
		}
		ones, _ := ipn.Mask.Size()
		if ones > 32 {
			ones -= 96
		}
		return netip.PrefixFrom(ip.Unmap(), ones), nil
	}
	return netip.Prefix{}, fmt.Errorf("interface %s has no IPv4 address", ifname)
}

// answerAddresses are the addresses an agent answers IKE on besides its
// care-of address: an upper agent's lower agents reach it on the
// addresses of their links to it (their UpperFAIPAddress). The visitor
// links' addresses are left out: mobiles there have no IPsec with the
// foreign agent.
func answerAddresses(visitor []string) ([]netip.Addr, error) {
	all, err := secure.HostAddresses()
	if err != nil {
		return nil, err
	}
	var skip []netip.Addr
	for _, name := range visitor {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			continue // a missing visitor interface is reported by the agent
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", name, err)
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
					skip = append(skip, ip.Unmap())
				}
			}
		}
	}
	return slices.DeleteFunc(all, func(a netip.Addr) bool { return slices.Contains(skip, a) }), nil
}
