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
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/dynamics-go/dynamics/libdynamics/api"
	"github.com/dynamics-go/dynamics/libdynamics/daemon"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
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

	node, err := mn.New(mn.Options{
		Config: cfg,
		Link:   lc,
		UDP:    udp,
		Kernel: kern,
		Prober: mn.ARPProber{Interface: cfg.Interface},
		Logger: log,
	})
	if err != nil {
		return err
	}
	ctx, hup, stop := daemon.Signals(context.Background())
	defer stop()
	stopAPI, err := serveAPI(ctx, node, cfg.AdminSocket, cfg.MonitorSocket, log)
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

// serveAPI opens the control API's sockets, AdminSocket (mode 0600, every
// call) and MonitorSocket (mode 0666, read-only calls), an empty path
// leaving one off, and answers them with backend until ctx ends or stop is
// called. stop waits for the connections to end and removes the socket
// files. A socket that cannot be opened is an error naming its label.
func serveAPI(ctx context.Context, backend any, admin, monitor string, log *slog.Logger) (stop func(), err error) {
	type socket struct {
		label, path string
		admin       bool
		mode        fs.FileMode
		ln          net.Listener
	}
	var open []socket
	for _, s := range []socket{{"AdminSocket", admin, true, api.AdminMode, nil}, {"MonitorSocket", monitor, false, api.MonitorMode, nil}} {
		if s.path == "" {
			continue
		}
		if s.ln, err = api.Listen(s.path, s.mode); err != nil {
			for _, o := range open {
				o.ln.Close()
			}
			return nil, fmt.Errorf("%s: %w", s.label, err)
		}
		open = append(open, s)
		log.Info("control socket open", "socket", s.path, "admin", s.admin)
	}
	ctx, cancel := context.WithCancel(ctx)
	srv := api.NewServer(backend, log)
	var wg sync.WaitGroup
	for _, s := range open {
		wg.Go(func() {
			if err := srv.Serve(ctx, s.ln, s.admin); err != nil {
				log.Error("control socket failed", "socket", s.path, logging.KeyErr, err)
			}
		})
	}
	return func() { cancel(); wg.Wait() }, nil
}
