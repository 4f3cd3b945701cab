package nlkernel

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

// DefaultRouteProtocol is the routing protocol number the suite marks its
// routes and rules with (rtm_protocol, FRA_PROTOCOL). It is unassigned in
// iproute2's rt_protos list and in the Linux uapi headers; `ip route` shows it
// as "proto 158" unless /etc/iproute2/rt_protos.d names it.
const DefaultRouteProtocol = 158

// Options configure a Kernel or a link driver. The zero value is usable.
type Options struct {
	// TunnelPrefix begins the name of every tunnel; Ensure rejects tunnels
	// named otherwise, and Sync deletes ipip and TUN links named with it that
	// are not listed. Default kernel.DefaultTunnelPrefix ("dyn").
	TunnelPrefix string
	// StateFile, when set, records the proxy and neighbour entries and the
	// sysctls the Kernel has changed, which carry no mark in the kernel, so
	// that Sync after a restart can undo what a crashed run left. Without it
	// those leftovers stay until removed by hand.
	StateFile string
	// RouteProtocol marks owned routes and rules. Default
	// DefaultRouteProtocol; 1 to 4 (redirect, kernel, boot, static) are
	// refused, since ordinary routes carry them.
	RouteProtocol int
	// Logger receives one line per change; default slog.Default().
	Logger *slog.Logger
}

// withDefaults fills in defaults and checks the options.
func (o Options) withDefaults() (Options, error) {
	if o.TunnelPrefix == "" {
		o.TunnelPrefix = kernel.DefaultTunnelPrefix
	}
	if o.RouteProtocol == 0 {
		o.RouteProtocol = DefaultRouteProtocol
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch {
	case len(o.TunnelPrefix) > 12 || strings.ContainsAny(o.TunnelPrefix, "/ \t%"):
		return o, fmt.Errorf("nlkernel: tunnel prefix %q: want at most 12 bytes without '/', '%%' or spaces", o.TunnelPrefix)
	case o.RouteProtocol <= 4 || o.RouteProtocol > 255:
		return o, fmt.Errorf("nlkernel: route protocol %d: want 5..255 (1 to 4 mark ordinary routes)", o.RouteProtocol)
	}
	return o, nil
}
