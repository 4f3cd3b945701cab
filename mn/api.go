package mn

import (
	"github.com/dynamics-go/dynamics/libdynamics/config"
)

// maxSocketPath is the longest path a Unix socket can be bound to (the
// 108 bytes of sun_path, less the terminating NUL).
const maxSocketPath = 107

// checkSockets checks the AdminSocket and MonitorSocket labels: paths a
// Unix socket can have, and not the same one.
func checkSockets(f *config.File, admin, monitor string) []error {
	var errs []error
	for _, s := range []struct{ label, path string }{{"AdminSocket", admin}, {"MonitorSocket", monitor}} {
		if len(s.path) > maxSocketPath {
			errs = append(errs, f.Errorf(s.label, "%q is longer than %d bytes, the limit of a Unix socket path", s.path, maxSocketPath))
		}
	}
	if admin != "" && admin == monitor {
		errs = append(errs, f.Errorf("MonitorSocket", "%q is also the AdminSocket", monitor))
	}
	return errs
}
