// Package clitest runs a control API server over Unix sockets with a fake
// agent behind it, for the tests of the operator tools.
package clitest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/api"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// Fake is an agent behind the API: it implements every backend interface
// over a few fields, and records the calls it served.
type Fake struct {
	mu       sync.Mutex
	agent    string
	tunnels  []api.Tunnel
	disabled map[netip.Addr]bool
	mode     string
	state    string
	careOf   netip.Addr
	calls    []string
	hang     bool  // every call waits for its ctx
	connect  error // what Connect and Confirm return
	statusN  int   // get_status calls served
}

// NewFake returns a fake agent of kind "ha", "fa" or "mn", with two
// tunnels at an agent and a registered mobile at a mobile node.
func NewFake(agent string) *Fake {
	f := &Fake{agent: agent, disabled: map[netip.Addr]bool{}, mode: "full", state: "Connected",
		careOf: netip.MustParseAddr("10.2.0.1")}
	ha := netip.MustParseAddr("10.1.0.1")
	for i, coa := range []string{"10.2.0.1", "10.3.0.1"} {
		t := api.Tunnel{
			Home:      netip.AddrFrom4([4]byte{10, 1, 0, byte(10 + i)}),
			CareOf:    netip.MustParseAddr(coa),
			HA:        ha,
			ID:        0xe8f5a1b200000001 + uint64(i),
			Flags:     mip.FlagReverseTunnel,
			Lifetime:  600 * time.Second,
			Remaining: time.Duration(540-60*i) * time.Second,
			State:     "registered",
			Confirmed: true,
		}
		if agent == "ha" {
			t.Peer, t.Iface = t.CareOf, fmt.Sprintf("dyn%d", i)
		} else {
			t.Peer, t.Lower, t.Iface, t.Link = ha, t.Home, fmt.Sprintf("dynfa%d", i), "veth-vis"
		}
		f.tunnels = append(f.tunnels, t)
	}
	return f
}

// Calls returns the functions served so far, e.g. "destroy_tunnel 10.1.0.10".
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// SetTunnels replaces the tunnels.
func (f *Fake) SetTunnels(ts []api.Tunnel) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tunnels = ts
}

// Hang makes every call wait until it is abandoned.
func (f *Fake) Hang() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hang = true
}

// FailConnect makes Connect and Confirm return err.
func (f *Fake) FailConnect(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.connect = err
}

// Disabled reports whether enable_mobile turned home off.
func (f *Fake) Disabled(home netip.Addr) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.disabled[home]
}

// Mode returns the tunnelling mode.
func (f *Fake) Mode() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mode
}

// State returns the mobile's state.
func (f *Fake) State() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state
}

// StatusCalls returns how many get_status calls were served.
func (f *Fake) StatusCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.statusN
}

// begin records a call and, when the fake hangs, waits for ctx.
func (f *Fake) begin(ctx context.Context, call string) error {
	f.mu.Lock()
	f.calls = append(f.calls, call)
	hang := f.hang
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (f *Fake) find(home netip.Addr) int {
	return slices.IndexFunc(f.tunnels, func(t api.Tunnel) bool { return t.Home == home })
}

// GetStatus implements api.StatusGetter.
func (f *Fake) GetStatus(ctx context.Context) (api.Status, error) {
	if err := f.begin(ctx, "get_status"); err != nil {
		return api.Status{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statusN++
	st := api.Status{Agent: f.agent, Version: "v1.2.3", DataPath: "userspace", Uptime: 3725 * time.Second,
		Counters: []api.Counter{{Name: "denied.67", Value: 1}, {Name: "requests", Value: uint64(41 + f.statusN)}}}
	if f.agent == "mn" {
		st.State, st.Home, st.CareOf = f.state, netip.MustParseAddr("10.1.0.10"), f.careOf
		st.FA, st.HA = netip.MustParseAddr("10.2.0.1"), netip.MustParseAddr("10.1.0.1")
		st.Lifetime, st.Remaining = 600*time.Second, 421*time.Second
		st.TunnelingMode, st.Iface = f.mode, "eth0"
	}
	return st, nil
}

// GetTunnels implements api.TunnelGetter.
func (f *Fake) GetTunnels(ctx context.Context) ([]api.Tunnel, error) {
	if err := f.begin(ctx, "get_tunnels"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.tunnels), nil
}

// GetTunnelInfo implements api.TunnelGetter.
func (f *Fake) GetTunnelInfo(ctx context.Context, home netip.Addr) (api.Tunnel, error) {
	if err := f.begin(ctx, "get_tunnel_info "+home.String()); err != nil {
		return api.Tunnel{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.find(home)
	if i < 0 {
		return api.Tunnel{}, api.ErrNotAvailable
	}
	return f.tunnels[i], nil
}

// DestroyTunnel implements api.TunnelDestroyer.
func (f *Fake) DestroyTunnel(ctx context.Context, home netip.Addr) error {
	if err := f.begin(ctx, "destroy_tunnel "+home.String()); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.find(home)
	if i < 0 {
		return api.ErrNotAvailable
	}
	f.tunnels = slices.Delete(f.tunnels, i, i+1)
	return nil
}

// EnableMobile implements api.MobileEnabler.
func (f *Fake) EnableMobile(ctx context.Context, home netip.Addr, enable bool) error {
	if err := f.begin(ctx, fmt.Sprintf("enable_mobile %s %t", home, enable)); err != nil {
		return err
	}
	if home.As4()[0] != 10 {
		return &api.Error{Code: api.NotAvailable, Message: home.String() + " is not in the authorised list"}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.disabled[home] = !enable
	return nil
}

// GetCareOfAddr implements api.CareOfGetter.
func (f *Fake) GetCareOfAddr(ctx context.Context, home netip.Addr) (netip.Addr, error) {
	if err := f.begin(ctx, "get_care_of_addr "+home.String()); err != nil {
		return netip.Addr{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.agent == "mn" {
		if !f.careOf.IsValid() {
			return netip.Addr{}, api.ErrNotAvailable
		}
		return f.careOf, nil
	}
	i := f.find(home)
	if i < 0 {
		return netip.Addr{}, api.ErrNotAvailable
	}
	return f.tunnels[i].CareOf, nil
}

// GetTunnelingMode implements api.MobileController.
func (f *Fake) GetTunnelingMode(ctx context.Context) (string, error) {
	if err := f.begin(ctx, "get_tunneling_mode"); err != nil {
		return "", err
	}
	return f.Mode(), nil
}

// SetTunnelingMode implements api.MobileController.
func (f *Fake) SetTunnelingMode(ctx context.Context, mode string) error {
	if err := f.begin(ctx, "set_tunneling_mode "+mode); err != nil {
		return err
	}
	switch mode {
	case "full", "triangle", "none":
	default:
		return &api.Error{Code: api.InvalidParams, Message: fmt.Sprintf("unknown tunnelling mode %q", mode)}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode = mode
	return nil
}

func (f *Fake) setState(s string, coa netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state, f.careOf = s, coa
}

// Connect implements api.MobileController.
func (f *Fake) Connect(ctx context.Context) error {
	if err := f.begin(ctx, "connect"); err != nil {
		return err
	}
	f.mu.Lock()
	err := f.connect
	f.mu.Unlock()
	if err != nil {
		return err
	}
	f.setState("Connected", netip.MustParseAddr("10.2.0.1"))
	return nil
}

// Disconnect implements api.MobileController.
func (f *Fake) Disconnect(ctx context.Context) error {
	if err := f.begin(ctx, "disconnect"); err != nil {
		return err
	}
	f.setState("Disconnected", netip.Addr{})
	return nil
}

// UpdateLocation implements api.MobileController.
func (f *Fake) UpdateLocation(ctx context.Context) error {
	return f.begin(ctx, "update_location")
}

// Confirm implements api.MobileController.
func (f *Fake) Confirm(ctx context.Context) error {
	if err := f.begin(ctx, "confirm"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.connect != nil {
		return f.connect
	}
	if f.state != "Connected" {
		return errors.New("the mobile is not registered")
	}
	return nil
}

// HomeUpdate implements api.MobileController.
func (f *Fake) HomeUpdate(ctx context.Context) error {
	if err := f.begin(ctx, "home_update"); err != nil {
		return err
	}
	f.setState("At home", netip.Addr{})
	return nil
}

var (
	_ api.StatusGetter     = (*Fake)(nil)
	_ api.TunnelGetter     = (*Fake)(nil)
	_ api.TunnelDestroyer  = (*Fake)(nil)
	_ api.MobileEnabler    = (*Fake)(nil)
	_ api.CareOfGetter     = (*Fake)(nil)
	_ api.MobileController = (*Fake)(nil)
)

// Backend returns f as its agent serves it: a home agent without the
// mobile node's calls, a foreign agent without enable_mobile and
// get_care_of_addr, a mobile node without the tunnel table.
func (f *Fake) Backend() any {
	switch f.agent {
	case "ha":
		return struct {
			api.StatusGetter
			api.TunnelGetter
			api.TunnelDestroyer
			api.MobileEnabler
			api.CareOfGetter
		}{f, f, f, f, f}
	case "fa":
		return struct {
			api.StatusGetter
			api.TunnelGetter
			api.TunnelDestroyer
		}{f, f, f}
	}
	return struct {
		api.StatusGetter
		api.CareOfGetter
		api.MobileController
	}{f, f, f}
}
