package fa

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/api"
	"github.com/dynamics-go/dynamics/libdynamics/config"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
	"github.com/dynamics-go/dynamics/libdynamics/version"
)

// The control API's calls the foreign agent serves. Each runs in the
// agent's loop through Do, like every other operation on its state.
var _ interface {
	api.StatusGetter
	api.TunnelGetter
	api.TunnelDestroyer
} = (*Agent)(nil)

// GetStatus implements api.StatusGetter: the agent, its version, the data
// path the kernel interface took, the uptime and the counters (see
// Stats.Counters).
func (a *Agent) GetStatus(ctx context.Context) (api.Status, error) {
	var s api.Status
	err := a.Do(ctx, func(st *State) {
		s = api.Status{
			Agent:    "fa",
			Version:  version.Version,
			DataPath: a.kern.Name(),
			Uptime:   st.Now().Sub(a.runStart),
			Counters: st.Stats().Counters(),
		}
	})
	if err == nil {
		s.Counters = secure.AppendCounters(s.Counters, a.prot)
	}
	return s, err
}

// GetTunnels implements api.TunnelGetter: one record per visitor (state
// "registered", or "renewing" while a newer request waits for its reply)
// and one per mobile whose first request waits for its reply ("pending"),
// sorted by home address.
func (a *Agent) GetTunnels(ctx context.Context) ([]api.Tunnel, error) {
	var out []api.Tunnel
	err := a.Do(ctx, func(st *State) {
		now := st.Now()
		for _, v := range st.Visitors() {
			out = append(out, a.visitorRecord(v, st.MobileState(v.Home), now))
		}
		for home, key := range a.latest {
			if _, registered := a.visitors.Get(home); !registered {
				if p := a.pending[key]; p != nil {
					out = append(out, pendingRecord(p, now))
				}
			}
		}
	})
	slices.SortFunc(out, func(x, y api.Tunnel) int { return x.Home.Compare(y.Home) })
	return out, err
}

// GetTunnelInfo implements api.TunnelGetter: the record of home, as
// GetTunnels gives it, or api.ErrNotAvailable.
func (a *Agent) GetTunnelInfo(ctx context.Context, home netip.Addr) (api.Tunnel, error) {
	if err := checkHome(home); err != nil {
		return api.Tunnel{}, err
	}
	var t api.Tunnel
	found := false
	err := a.Do(ctx, func(st *State) {
		now := st.Now()
		if v, ok := st.Visitor(home); ok {
			t, found = a.visitorRecord(v, st.MobileState(home), now), true
		} else if key, ok := a.latest[home]; ok && a.pending[key] != nil {
			t, found = pendingRecord(a.pending[key], now), true
		}
	})
	if err == nil && !found {
		err = unknownMobile(home)
	}
	return t, err
}

// visitorRecord is a visitor as the control API shows it: the tunnel's far
// end is the home agent (Up), the mobile is reached on Link.
func (a *Agent) visitorRecord(v Visitor, state MobileState, now time.Time) api.Tunnel {
	t := api.Tunnel{
		Home:      v.Home,
		CareOf:    v.CareOf,
		HA:        v.HA,
		Peer:      v.Up,
		Lower:     v.Lower,
		ID:        v.ID,
		Flags:     mip.Flags(v.Flags),
		Lifetime:  v.Lifetime,
		Remaining: max(v.Expiry.Sub(now), 0),
		State:     state.String(),
		Confirmed: v.Confirmed,
		Link:      v.Down.Iface,
	}
	if v.Tunnel != 0 {
		if tun, ok := a.tunnels.ByID(v.Tunnel); ok {
			t.Iface = tun.Name
		}
	}
	return t
}

// pendingRecord is a request waiting for its reply: Lifetime is the one
// requested, Remaining the time left before it times out (code 78).
func pendingRecord(p *Pending, now time.Time) api.Tunnel {
	return api.Tunnel{
		Home:      p.Home,
		CareOf:    p.CareOf,
		HA:        p.HA,
		Peer:      p.Up,
		Lower:     p.Home,
		ID:        p.ID,
		Flags:     p.Flags,
		Lifetime:  time.Duration(p.Lifetime) * time.Second,
		Remaining: max(p.Deadline.Sub(now), 0),
		State:     StatePending.String(),
		Link:      p.Down.Iface,
	}
}

// DestroyTunnel implements api.TunnelDestroyer: the visitor home goes with
// its neighbour entry, host route, reverse-tunnel rule and tunnel
// reference (the tunnel itself with its last user), and the agent forgets
// the requests of home still waiting for replies; replies to them are then
// discarded as unmatched. The home agent is not told: the mobile's binding
// there lasts until the mobile registers again or it expires. A mobile
// the agent neither serves nor registers is api.ErrNotAvailable.
func (a *Agent) DestroyTunnel(ctx context.Context, home netip.Addr) error {
	if err := checkHome(home); err != nil {
		return err
	}
	found := false
	err := a.Do(ctx, func(st *State) {
		_, visitor := a.visitors.Get(home)
		_, pending := a.latest[home]
		if found = visitor || pending; !found {
			return
		}
		if visitor {
			a.removeVisitor(home)
		}
		for key := range a.pending {
			if key.home == home {
				a.removePending(key)
			}
		}
		a.log.Info("visitor removed by the administrator", logging.KeyHome, home, "registered", visitor, "pending", pending)
	})
	if err == nil && !found {
		err = unknownMobile(home)
	}
	return err
}

// checkHome refuses a home address that cannot be one.
func checkHome(home netip.Addr) error {
	if !home.Is4() || home.IsUnspecified() {
		return &api.Error{Code: api.InvalidParams, Message: fmt.Sprintf("%v is not an IPv4 home address", home)}
	}
	return nil
}

func unknownMobile(home netip.Addr) error {
	return &api.Error{Code: api.NotAvailable, Message: fmt.Sprintf("%s is neither a visitor nor registering", home)}
}

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
