package mn

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

// The control API's calls the mobile node serves. Connect, Confirm and
// Disconnect are the node's own blocking calls (connect.go); the others run
// in the loop through Do, like every other operation on its state.
var _ interface {
	api.StatusGetter
	api.CareOfGetter
	api.MobileController
} = (*Node)(nil)

// callError is an error of the blocking calls that carries its return
// value in the control API.
type callError struct {
	msg  string
	code api.Code
}

func (e *callError) Error() string { return e.msg }

// As gives the error as an *api.Error.
func (e *callError) As(target any) bool {
	if p, ok := target.(**api.Error); ok {
		*p = &api.Error{Code: e.code, Message: e.msg}
		return true
	}
	return false
}

// Is matches the control API's error of the same return value, so that
// errors.Is(ErrInProgress, api.ErrInProgress) holds.
func (e *callError) Is(target error) bool {
	t, ok := target.(*api.Error)
	return ok && t != nil && t.Code == e.code
}

// Is matches api.ErrDenied.
func (e *DeniedError) Is(target error) bool {
	t, ok := target.(*api.Error)
	return ok && t != nil && t.Code == api.Denied
}

// As gives the denial as the control API's *api.Error: return value
// Denied, the message naming the code.
func (e *DeniedError) As(target any) bool {
	if p, ok := target.(**api.Error); ok {
		*p = &api.Error{Code: api.Denied, Message: fmt.Sprintf("registration denied: code %d (%s)", int(e.Code), e.Code)}
		return true
	}
	return false
}

// errDisconnected answers the calls that need a connected node.
var errDisconnected = &api.Error{Code: api.NotPermitted, Message: "the mobile node is disconnected; connect first"}

// GetStatus implements api.StatusGetter: the connection (State is
// "Connected", "Registering", "Searching", "At home", "Deregistering",
// "Disconnecting", "Disconnected" or "Starting"), the addresses in use,
// the registration's lifetime, the tunneling mode and the counters (see
// Stats.Counters).
func (n *Node) GetStatus(ctx context.Context) (api.Status, error) {
	var s api.Status
	err := n.Do(ctx, func(l *Loop) {
		now := n.clock.Now()
		st := l.Status()
		s = api.Status{
			Agent:         "mn",
			Version:       version.Version,
			DataPath:      n.k.Name(),
			Uptime:        now.Sub(n.runStart),
			State:         l.apiState(),
			Home:          st.Home,
			CareOf:        st.CareOf,
			HA:            st.HA,
			Lifetime:      st.Lifetime,
			TunnelingMode: st.Mode.String(),
			Iface:         l.cfg.Interface,
			Counters:      l.Stats().Counters(),
		}
		if l.where == atAgent {
			s.FA = st.Agent
		}
		if !st.Expiry.IsZero() {
			s.Remaining = max(st.Expiry.Sub(now), 0)
		}
	})
	if err == nil {
		s.Counters = secure.AppendCounters(s.Counters, n.protect)
	}
	return s, err
}

// apiState names the state for people: what get_status reports.
func (l *Loop) apiState() string {
	switch l.state {
	case StateStartup:
		return "Starting"
	case StateHome:
		return "At home"
	case StateFindingAgent:
		return "Searching"
	case StateRegistering:
		return "Registering"
	case StateRegistered:
		return "Connected"
	case StateDeregistering:
		if l.disc {
			return "Disconnecting"
		}
		return "Deregistering"
	case StateDisconnected:
		return "Disconnected"
	}
	return l.state.String()
}

// GetCareOfAddr implements api.CareOfGetter: the care-of address of the
// registration in force, or api.ErrNotAvailable when the node is not
// registered away from home. home is ignored.
func (n *Node) GetCareOfAddr(ctx context.Context, home netip.Addr) (netip.Addr, error) {
	var coa netip.Addr
	if err := n.Do(ctx, func(l *Loop) {
		if l.reg.valid() {
			coa = l.reg.coa
		}
	}); err != nil {
		return netip.Addr{}, err
	}
	if !coa.IsValid() {
		return coa, &api.Error{Code: api.NotAvailable, Message: "not registered away from home"}
	}
	return coa, nil
}

// GetTunnelingMode implements api.MobileController: "full", "triangle" or
// "none".
func (n *Node) GetTunnelingMode(ctx context.Context) (string, error) {
	var m TunnelingMode
	err := n.Do(ctx, func(l *Loop) { m = l.cfg.TunnelingMode })
	return m.String(), err
}

// SetTunnelingMode implements api.MobileController: the node takes the
// mode at once. The kernel's routes and rules follow before the call
// returns, and a node registered (or registering) away from home registers
// again, so that the T flag of its request matches the new mode.
func (n *Node) SetTunnelingMode(ctx context.Context, mode string) error {
	var m TunnelingMode
	if err := m.UnmarshalText([]byte(mode)); err != nil {
		return &api.Error{Code: api.InvalidParams, Message: fmt.Sprintf("%q is not a tunneling mode (full, triangle or none)", mode)}
	}
	return n.Do(ctx, func(l *Loop) { l.setTunnelingMode(m, n.clock.Now()) })
}

func (l *Loop) setTunnelingMode(m TunnelingMode, now time.Time) {
	if m == l.cfg.TunnelingMode {
		return
	}
	l.log.Info("tunneling mode changed", logging.KeyHome, l.cfg.Home, "from", l.cfg.TunnelingMode, "to", m)
	l.cfg.TunnelingMode = m
	away := l.where == atAgent || l.where == atColocated
	if away && !l.disc && (l.reg.valid() || (l.pending != nil && !l.pending.dereg)) {
		l.register(now)
	}
}

// UpdateLocation implements api.MobileController: the node solicits
// advertisements and registers where it is now (a renewal when registered,
// a deregistration at home, the outstanding request sent again when there
// is one); while it has no agent it solicits at once. A disconnected node
// refuses with api.NotPermitted.
func (n *Node) UpdateLocation(ctx context.Context) error {
	var err error
	if derr := n.Do(ctx, func(l *Loop) { err = l.updateLocation(n.clock.Now()) }); derr != nil {
		return derr
	}
	return err
}

func (l *Loop) updateLocation(now time.Time) error {
	if l.disc {
		return errDisconnected
	}
	l.log.Info("location update requested", logging.KeyHome, l.cfg.Home, "state", l.state, "at", l.where)
	if l.state == StateStartup || l.state == StateFindingAgent {
		l.solicitAt = now // the loop's tick solicits now
		return nil
	}
	l.sendSolicitation()
	switch {
	case l.pending != nil:
		l.pending.due = true
	case l.where == atHome:
		l.deregister(now)
	case l.where == atAgent || l.where == atColocated:
		l.register(now)
	}
	return nil
}

// HomeUpdate implements api.MobileController: the node takes itself to be
// at home and deregisters, as when it hears its home agent. The home
// agent's last advertisement is its agent there; without one, the home
// agent is taken on trust for the hold-down time (4 * MaxRetryInterval),
// after which, unheard, the node looks for agents again. Advertisements of
// a foreign agent of another network still move it away. A disconnected
// node refuses with api.NotPermitted.
func (n *Node) HomeUpdate(ctx context.Context) error {
	var err error
	if derr := n.Do(ctx, func(l *Loop) { err = l.homeUpdate(n.clock.Now()) }); derr != nil {
		return derr
	}
	return err
}

func (l *Loop) homeUpdate(now time.Time) error {
	if l.disc {
		return errDisconnected
	}
	if l.where == atHome {
		l.deregister(now)
		return nil
	}
	var ha *agent
	for _, a := range l.heard {
		if a.home && (ha == nil || a.heardAt.After(ha.heardAt)) {
			ha = a
		}
	}
	if ha == nil {
		ha = &agent{addr: l.cfg.HA, home: true, prefixes: []netip.Prefix{l.cfg.HomeNet},
			expiry: now.Add(l.holdDown()), heardAt: now}
	}
	l.log.Info("told it is at home", logging.KeyHome, l.cfg.Home, logging.KeyHA, ha.addr, "from", l.where)
	l.comeHome(ha, now)
	return nil
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
