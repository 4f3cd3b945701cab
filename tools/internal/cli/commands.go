package cli

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/api"
)

// The commands the tools are made of. Each checks its arguments, makes its
// calls through the session and prints its result.

// noTunnel is the words for a mobile an agent has no entry for.
func noTunnel(home netip.Addr) map[api.Code]string {
	return map[api.Code]string{api.NotAvailable: home.String() + " has no tunnel"}
}

// interval parses the optional last argument of a refreshing command.
func interval(cmd Command, args []string, fixed int) (time.Duration, error) {
	switch len(args) - fixed {
	case 0:
		return 0, nil
	case 1:
		d, err := parseDuration(args[fixed])
		if err != nil {
			return 0, usagef(cmd, "bad interval: %v", err)
		}
		return d, nil
	}
	return 0, usagef(cmd, "")
}

// homeArg parses a mobile's home address.
func homeArg(cmd Command, s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() || a.IsUnspecified() {
		return netip.Addr{}, usagef(cmd, "%q is not a mobile's IPv4 home address", s)
	}
	return a, nil
}

// noArgs checks that a command got no arguments.
func noArgs(cmd Command, args []string) error {
	if len(args) > 0 {
		return usagef(cmd, "")
	}
	return nil
}

// List lists the tunnels of a home agent ("ha") or foreign agent ("fa").
func List(agent string) Command {
	cmd := Command{Name: "list", Args: "[interval]",
		Help: "list the tunnels: home, care-of, " + map[string]string{"ha": "peer", "fa": "home agent"}[agent] +
			", lifetime left, state, device"}
	cmd.Run = func(ctx context.Context, s *Session, args []string) error {
		every, err := interval(cmd, args, 0)
		if err != nil {
			return err
		}
		return s.repeat(ctx, "list", every, func(ctx context.Context) error {
			ts, err := s.getTunnels(ctx)
			if err != nil {
				return err
			}
			return s.emit(listJSON(ts), func(w io.Writer) { writeTable(w, ts, agent) })
		})
	}
	return cmd
}

// Show prints every field of one mobile's tunnel.
func Show() Command {
	cmd := Command{Name: "show", Args: "<home> [interval]", Help: "show every field of the tunnel of the mobile with this home address"}
	cmd.Run = func(ctx context.Context, s *Session, args []string) error {
		if len(args) == 0 {
			return usagef(cmd, "")
		}
		home, err := homeArg(cmd, args[0])
		if err != nil {
			return err
		}
		every, err := interval(cmd, args, 1)
		if err != nil {
			return err
		}
		return s.repeat(ctx, "show "+home.String(), every, func(ctx context.Context) error {
			t, err := s.getTunnelInfo(ctx, home)
			if err != nil {
				return withContext(err, noTunnel(home))
			}
			return s.emit(tunnelJSON(t), func(w io.Writer) { writeTunnel(w, t) })
		})
	}
	return cmd
}

// Destroy removes a mobile's binding and tunnel.
func Destroy() Command {
	cmd := Command{Name: "destroy", Args: "<home>", Help: "remove the binding and tunnel of the mobile with this home address", Write: true}
	cmd.Run = func(ctx context.Context, s *Session, args []string) error {
		if len(args) != 1 {
			return usagef(cmd, "")
		}
		home, err := homeArg(cmd, args[0])
		if err != nil {
			return err
		}
		if err := s.destroyTunnel(ctx, home); err != nil {
			return withContext(err, noTunnel(home))
		}
		return s.emit(DoneJSON{Command: "destroy", Home: home.String(), OK: true}, func(w io.Writer) {
			fmt.Fprintf(w, "destroyed the tunnel of %s\n", home)
		})
	}
	return cmd
}

// Enable allows (enable) or refuses a mobile's registrations at a home
// agent.
func Enable(enable bool) Command {
	cmd := Command{Name: "enable", Args: "<home>", Help: "accept registrations of the mobile with this home address", Write: true}
	if !enable {
		cmd.Name, cmd.Help = "disable", "remove the binding of the mobile with this home address and refuse its registrations"
	}
	cmd.Run = func(ctx context.Context, s *Session, args []string) error {
		if len(args) != 1 {
			return usagef(cmd, "")
		}
		home, err := homeArg(cmd, args[0])
		if err != nil {
			return err
		}
		if err := s.enableMobile(ctx, home, enable); err != nil {
			return withContext(err, map[api.Code]string{api.NotAvailable: home.String() + " is not a mobile of this home agent"})
		}
		return s.emit(DoneJSON{Command: cmd.Name, Home: home.String(), OK: true}, func(w io.Writer) {
			fmt.Fprintf(w, "%sd %s\n", cmd.Name, home)
		})
	}
	return cmd
}

// HomeCareOf prints the care-of address of a mobile at its home agent.
func HomeCareOf() Command {
	cmd := Command{Name: "careof", Args: "<home>", Help: "print the care-of address of the mobile with this home address"}
	cmd.Run = func(ctx context.Context, s *Session, args []string) error {
		if len(args) != 1 {
			return usagef(cmd, "")
		}
		home, err := homeArg(cmd, args[0])
		if err != nil {
			return err
		}
		coa, err := s.getCareOfAddr(ctx, home)
		if err != nil {
			return withContext(err, map[api.Code]string{api.NotAvailable: home.String() + " is not registered away from home"})
		}
		return s.emit(CareOfJSON{Home: home.String(), CareOf: addrJSON(coa)}, func(w io.Writer) {
			fmt.Fprintln(w, addr(coa))
		})
	}
	return cmd
}

// MobileCareOf prints a mobile node's own care-of address.
func MobileCareOf() Command {
	cmd := Command{Name: "careof", Help: "print the mobile's current care-of address"}
	cmd.Run = func(ctx context.Context, s *Session, args []string) error {
		if err := noArgs(cmd, args); err != nil {
			return err
		}
		coa, err := s.getCareOfAddr(ctx, netip.Addr{})
		if err != nil {
			return withContext(err, map[api.Code]string{api.NotAvailable: "the mobile has no care-of address"})
		}
		return s.emit(CareOfJSON{CareOf: addrJSON(coa)}, func(w io.Writer) {
			fmt.Fprintln(w, addr(coa))
		})
	}
	return cmd
}

// Status prints the agent's summary and counters; refresh says whether it
// takes an interval.
func Status(refresh bool) Command {
	cmd := Command{Name: "status", Help: "print the agent's state, then its counters"}
	if refresh {
		cmd.Args = "[interval]"
	}
	cmd.Run = func(ctx context.Context, s *Session, args []string) error {
		every, err := interval(cmd, args, 0)
		if err != nil {
			return err
		}
		if !refresh && every != 0 {
			return usagef(cmd, "")
		}
		return s.repeat(ctx, "status", every, func(ctx context.Context) error {
			st, err := s.getStatus(ctx)
			if err != nil {
				return err
			}
			return s.emit(statusJSON(st), func(w io.Writer) { writeStatus(w, st) })
		})
	}
	return cmd
}

// action is a mobile node command without arguments that changes it and
// prints done when it succeeds.
func action(name, help, done string, blocking bool, fn api.Func) Command {
	cmd := Command{Name: name, Help: help, Write: true, Blocking: blocking}
	cmd.Run = func(ctx context.Context, s *Session, args []string) error {
		if err := noArgs(cmd, args); err != nil {
			return err
		}
		if err := s.empty(ctx, fn, nil); err != nil {
			return err
		}
		return s.emit(DoneJSON{Command: name, OK: true}, func(w io.Writer) { fmt.Fprintln(w, done) })
	}
	return cmd
}

// Connect registers the mobile and waits until it is registered.
func Connect() Command {
	return action("connect", "register, and wait until registered (or at home)", "connected", true, api.FuncConnect)
}

// Disconnect deregisters the mobile and stops it registering.
func Disconnect() Command {
	return action("disconnect", "deregister and stop registering", "disconnected", false, api.FuncDisconnect)
}

// Update makes the mobile look for agents and register now.
func Update() Command {
	return action("update", "look for agents and register now", "location update started", false, api.FuncUpdateLocation)
}

// Confirm waits until a fresh reply confirms the registration.
func Confirm() Command {
	return action("confirm", "wait until a fresh accepted reply confirms the registration", "registration confirmed", true, api.FuncConfirm)
}

// Home tells the mobile it is at home.
func Home() Command {
	return action("home", "tell the mobile it is at home: it deregisters", "the mobile is at home", false, api.FuncHomeUpdate)
}

// Modes are the tunnelling modes of a mobile node.
var Modes = []string{"full", "triangle", "none"}

// parseMode reads a tunnelling mode without regard to case.
func parseMode(cmd Command, s string) (string, error) {
	for _, m := range Modes {
		if strings.EqualFold(s, m) {
			return m, nil
		}
	}
	return "", usagef(cmd, "unknown tunnelling mode %q", s)
}

// Tunnel shows (optional, no argument) or sets the tunnelling mode.
func Tunnel(optional bool) Command {
	cmd := Command{Name: "tunnel", Args: "<full|triangle|none>",
		Help: "set the tunnelling mode: full (reverse tunnel), triangle (direct from the care-of address) or none"}
	if optional {
		cmd.Args = "[full|triangle|none]"
		cmd.Help = "show the tunnelling mode, or set it: full, triangle or none"
	}
	cmd.Write = !optional
	cmd.Run = func(ctx context.Context, s *Session, args []string) error {
		switch {
		case len(args) > 1, len(args) == 0 && !optional:
			return usagef(cmd, "")
		case len(args) == 0:
			mode, err := s.getTunnelingMode(ctx)
			if err != nil {
				return err
			}
			return s.emit(ModeJSON{TunnelingMode: mode}, func(w io.Writer) { fmt.Fprintf(w, "tunnelling mode: %s\n", mode) })
		}
		mode, err := parseMode(cmd, args[0])
		if err != nil {
			return err
		}
		s.cmd.Write = true
		if err := s.setTunnelingMode(ctx, mode); err != nil {
			return err
		}
		return s.emit(DoneJSON{Command: "tunnel", Mode: mode, OK: true}, func(w io.Writer) {
			fmt.Fprintf(w, "tunnelling mode set to %s\n", mode)
		})
	}
	return cmd
}
