package api

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// Func is an API function code.
type Func uint8

// The function codes.
const (
	FuncDummy            Func = 0
	FuncGetTunnels       Func = 1
	FuncGetTunnelInfo    Func = 2
	FuncDestroyTunnel    Func = 3
	FuncEnableMobile     Func = 4
	FuncGetCareOfAddr    Func = 5
	FuncGetTunnelingMode Func = 6
	FuncGetStatus        Func = 7
	FuncConnect          Func = 8
	FuncDisconnect       Func = 9
	FuncUpdateLocation   Func = 10
	FuncConfirm          Func = 11
	FuncHomeUpdate       Func = 12
	// FuncSetTunnelingMode is this suite's addition: the mobile's
	// tunnelling mode is changed at run time (dynmn_ctl tunnel <mode>).
	FuncSetTunnelingMode Func = 13
)

var funcNames = [...]string{
	"dummy", "get_tunnels", "get_tunnel_info", "destroy_tunnel", "enable_mobile",
	"get_care_of_addr", "get_tunneling_mode", "get_status", "connect", "disconnect",
	"update_location", "confirm", "home_update", "set_tunneling_mode",
}

func (f Func) String() string {
	if int(f) < len(funcNames) {
		return funcNames[f]
	}
	return fmt.Sprintf("function(%d)", uint8(f))
}

// ReadOnly reports whether f may be called over the monitor socket.
func (f Func) ReadOnly() bool {
	switch f {
	case FuncDummy, FuncGetTunnels, FuncGetTunnelInfo, FuncGetCareOfAddr, FuncGetTunnelingMode, FuncGetStatus:
		return true
	}
	return false
}

// Code is an API return value: 0 for success, negative for failure.
type Code int8

// The return values.
const (
	OK                Code = 0
	NotPermitted      Code = -1  // the call needs the admin socket, or the agent refuses it
	NotAvailable      Code = -2  // no such tunnel or mobile; not registered
	Failed            Code = -3  // the agent tried and failed; the data says why
	Denied            Code = -4  // the registration was denied; the data names the reply code
	Timeout           Code = -5  // the call's time ran out
	InvalidParams     Code = -6  // the params do not parse
	UndefinedFunction Code = -7  // the function is unknown, or not one this agent serves
	TooLong           Code = -8  // the frame is longer than MaxLength
	InProgress        Code = -9  // another blocking call is running
	Cancelled         Code = -10 // a disconnect cancelled the blocking call
)

// Tunnel is one mobile's entry in a home or foreign agent: its binding and
// the tunnel that carries its traffic.
type Tunnel struct {
	Home   netip.Addr
	CareOf netip.Addr
	// HA is the mobile's home agent.
	HA netip.Addr
	// Peer is the far end of the tunnel: the care-of address at a home
	// agent, the home agent (or upper foreign agent) at a foreign agent.
	Peer netip.Addr
	// Lower is where a foreign agent reaches the mobile: the mobile itself,
	// or the lower foreign agent in a hierarchy. Zero at a home agent.
	Lower     netip.Addr
	ID        uint64 // identification of the registration
	Flags     mip.Flags
	Lifetime  time.Duration // granted
	Remaining time.Duration
	// State: "registered", "pending", "renewing" at a foreign agent;
	// "registered" at a home agent.
	State     string
	Confirmed bool
	// Iface is the tunnel device ("" when the mobile has no tunnel of its
	// own, e.g. a foreign agent without decapsulation).
	Iface string
	// Link is the interface the mobile is reached on (foreign agent).
	Link string
}

// Counter is one named status counter, e.g. "requests" or "denied.67".
type Counter struct {
	Name  string
	Value uint64
}

// Status is what get_status returns. Agents fill the common part and the
// counters; a mobile node also its connection.
type Status struct {
	Agent    string        // "ha", "fa" or "mn"
	Version  string        // the daemon's version
	DataPath string        // "netlink" or "userspace"
	Uptime   time.Duration // since the daemon started

	// Mobile node only.
	State         string // "Connected", "Disconnected", "Searching", "At home", ...
	Home          netip.Addr
	CareOf        netip.Addr
	FA            netip.Addr
	HA            netip.Addr
	Lifetime      time.Duration // granted by the last accepted reply
	Remaining     time.Duration
	TunnelingMode string // "full", "triangle" or "none"
	Iface         string // the interface the mobile uses now

	// Counters, sorted by name.
	Counters []Counter
}
