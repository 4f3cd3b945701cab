package ha

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/api"
	"github.com/dynamics-go/dynamics/libdynamics/config"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
	"github.com/dynamics-go/dynamics/libdynamics/version"
)

// The control API's calls the home agent serves. Each runs in the agent's
// loop through Do, like every other operation on its state.
var _ interface {
	api.StatusGetter
	api.TunnelGetter
	api.TunnelDestroyer
	api.MobileEnabler
	api.CareOfGetter
} = (*Agent)(nil)

// GetStatus implements api.StatusGetter: the agent, its version, the data
// path the kernel interface took, the uptime and the counters (see
// Stats.Counters).
func (a *Agent) GetStatus(ctx context.Context) (api.Status, error) {
	var s api.Status
	err := a.Do(ctx, func(st *State) {
		s = api.Status{
			Agent:    "ha",
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

// GetTunnels implements api.TunnelGetter: one record per binding, sorted by
// home address.
func (a *Agent) GetTunnels(ctx context.Context) ([]api.Tunnel, error) {
	var out []api.Tunnel
	err := a.Do(ctx, func(st *State) {
		now := st.Now()
		for _, b := range st.Bindings() {
			out = append(out, a.tunnelRecord(b, now))
		}
	})
	return out, err
}

// GetTunnelInfo implements api.TunnelGetter: the binding of home, or
// api.ErrNotAvailable.
func (a *Agent) GetTunnelInfo(ctx context.Context, home netip.Addr) (api.Tunnel, error) {
	if err := checkHome(home); err != nil {
		return api.Tunnel{}, err
	}
	var t api.Tunnel
	found := false
	err := a.Do(ctx, func(st *State) {
		var b Binding
		if b, found = st.Binding(home); found {
			t = a.tunnelRecord(b, st.Now())
		}
	})
	if err == nil && !found {
		err = notRegistered(home)
	}
	return t, err
}

// tunnelRecord is a binding as the control API shows it: the tunnel's far
// end is the care-of address.
func (a *Agent) tunnelRecord(b Binding, now time.Time) api.Tunnel {
	return api.Tunnel{
		Home:      b.Home,
		CareOf:    b.CareOf,
		HA:        a.cfg.HAIPAddress,
		Peer:      b.CareOf,
		ID:        b.ID,
		Flags:     b.Flags,
		Lifetime:  b.Lifetime,
		Remaining: max(b.Expiry.Sub(now), 0),
		State:     "registered",
		Confirmed: true,
		Iface:     b.Tunnel,
	}
}

// DestroyTunnel implements api.TunnelDestroyer: the binding of home goes
// with its route, proxy ARP entry and tunnel reference, and the foreign
// agent that holds it is sent a revocation when it supports them. The
// mobile may register again.
func (a *Agent) DestroyTunnel(ctx context.Context, home netip.Addr) error {
	if err := checkHome(home); err != nil {
		return err
	}
	removed := false
	if err := a.Do(ctx, func(st *State) { removed = st.Remove(home) }); err != nil {
		return err
	}
	if !removed {
		return notRegistered(home)
	}
	return nil
}

// EnableMobile implements api.MobileEnabler. Disabling an authorised mobile
// removes its binding as DestroyTunnel does and denies its requests with
// code 129 (administratively prohibited) until it is enabled again, which
// gives it back the authorisation of the configuration. A mobile the
// configuration does not list is api.ErrNotAvailable.
func (a *Agent) EnableMobile(ctx context.Context, home netip.Addr, enable bool) error {
	if err := checkHome(home); err != nil {
		return err
	}
	known := true
	err := a.Do(ctx, func(st *State) {
		if st.MobileState(home) == MobileUnknown {
			known = false
			return
		}
		if !enable {
			st.Remove(home)
		}
		_ = st.SetEnabled(home, enable) // cannot fail: the mobile is known
		msg := "mobile node disabled by the administrator"
		if enable {
			msg = "mobile node enabled by the administrator"
		}
		a.log.Info(msg, logging.KeyHome, home)
	})
	if err == nil && !known {
		err = &api.Error{Code: api.NotAvailable, Message: fmt.Sprintf("%s is not an authorised mobile node", home)}
	}
	return err
}

// GetCareOfAddr implements api.CareOfGetter: the care-of address of home's
// binding, or api.ErrNotAvailable when it is not registered away.
func (a *Agent) GetCareOfAddr(ctx context.Context, home netip.Addr) (netip.Addr, error) {
	t, err := a.GetTunnelInfo(ctx, home)
	return t.CareOf, err
}

// checkHome refuses a home address that cannot be one.
func checkHome(home netip.Addr) error {
	if !home.Is4() || home.IsUnspecified() {
		return &api.Error{Code: api.InvalidParams, Message: fmt.Sprintf("%v is not an IPv4 home address", home)}
	}
	return nil
}

func notRegistered(home netip.Addr) error {
	return &api.Error{Code: api.NotAvailable, Message: fmt.Sprintf("%s has no binding", home)}
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
