package api

import (
	"context"
	"net/netip"
)

// The server calls a daemon through these interfaces. A daemon implements
// the ones for the functions it serves; a function whose interface the
// backend lacks is answered with UndefinedFunction. An error returned by a
// method becomes the reply's return value: an *Error (or a sentinel such as
// ErrNotAvailable) gives its code and message; context.DeadlineExceeded
// gives Timeout; context.Canceled gives Cancelled; any other error Failed,
// with its text as the message.
//
// The ctx of a call is cancelled when the client closes its connection:
// a blocking call (Connect, Confirm) is then abandoned.

// StatusGetter serves get_status (every daemon).
type StatusGetter interface {
	GetStatus(ctx context.Context) (Status, error)
}

// TunnelGetter serves get_tunnels and get_tunnel_info (home and foreign
// agents). GetTunnelInfo returns ErrNotAvailable for an unknown mobile.
type TunnelGetter interface {
	GetTunnels(ctx context.Context) ([]Tunnel, error)
	GetTunnelInfo(ctx context.Context, home netip.Addr) (Tunnel, error)
}

// TunnelDestroyer serves destroy_tunnel (home and foreign agents): the
// mobile's binding, tunnel reference, routes and proxy ARP go.
type TunnelDestroyer interface {
	DestroyTunnel(ctx context.Context, home netip.Addr) error
}

// MobileEnabler serves enable_mobile (home agent): allow or deny a mobile
// at run time.
type MobileEnabler interface {
	EnableMobile(ctx context.Context, home netip.Addr, enable bool) error
}

// CareOfGetter serves get_care_of_addr: at a home agent the care-of address
// of the mobile home (ErrNotAvailable when it is not registered away); at a
// mobile node its own current care-of address (home is the zero Addr).
type CareOfGetter interface {
	GetCareOfAddr(ctx context.Context, home netip.Addr) (netip.Addr, error)
}

// MobileController serves the mobile node's calls.
type MobileController interface {
	// GetTunnelingMode returns "full", "triangle" or "none".
	GetTunnelingMode(ctx context.Context) (string, error)
	// SetTunnelingMode changes it; an unknown mode is InvalidParams.
	SetTunnelingMode(ctx context.Context, mode string) error
	// Connect blocks until the mobile is registered (or at home).
	Connect(ctx context.Context) error
	// Disconnect deregisters and stops registering; it cancels a running
	// Connect or Confirm.
	Disconnect(ctx context.Context) error
	// UpdateLocation makes the mobile look for agents and register now.
	UpdateLocation(ctx context.Context) error
	// Confirm blocks until the current registration is confirmed by a
	// fresh accepted reply.
	Confirm(ctx context.Context) error
	// HomeUpdate tells the mobile it is at home: it deregisters.
	HomeUpdate(ctx context.Context) error
}
