package daemon

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"sync"

	"github.com/dynamics-go/dynamics/libdynamics/api"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
)

// ServeAPI opens the control API's sockets, AdminSocket (mode 0600, every
// call) and MonitorSocket (mode 0666, read-only calls), an empty path
// leaving one off, and answers them with backend until ctx ends or stop is
// called. stop waits for the connections to end and removes the socket
// files. A socket that cannot be opened is an error naming its label.
func ServeAPI(ctx context.Context, backend any, admin, monitor string, log *slog.Logger) (stop func(), err error) {
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
