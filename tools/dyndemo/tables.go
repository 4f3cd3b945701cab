package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/dynamics-go/dynamics/internal/testbed"
	"github.com/dynamics-go/dynamics/libdynamics/api"
)

// apiTimeout bounds each call the demo makes to an agent.
const apiTimeout = 2 * time.Second

// agentTables prints what the agents themselves report through their
// monitor sockets: the home agent's bindings, each foreign agent's
// visitors, and the mobile node's connection.
func (d *demo) agentTables() {
	d.printf("\n  What the agents report (control API, monitor sockets):\n")
	for _, role := range d.bed.Agents() {
		for _, line := range tunnelLines(role, d.bed.MonitorSocket(role)) {
			d.printf("  %-4s %s\n", role, line)
		}
	}
	d.printf("  %-4s %s\n", testbed.MN, mobileLine(d.bed.MonitorSocket(testbed.MN)))
}

// tunnelLines asks an agent for its table: one line per binding (home
// agent) or visitor (foreign agent).
func tunnelLines(role, socket string) []string {
	var list []api.Tunnel
	err := withClient(socket, func(c *api.Client) (err error) {
		list, err = c.GetTunnels(apiTimeout)
		return err
	})
	if err != nil {
		return []string{fmt.Sprintf("(no answer: %v)", err)}
	}
	if len(list) == 0 {
		if role == testbed.HA {
			return []string{"no bindings"}
		}
		return []string{"no visitors"}
	}
	var lines []string
	for _, t := range list {
		lines = append(lines, tunnelLine(role, t))
	}
	return lines
}

// tunnelLine is one binding or visitor for people.
func tunnelLine(role string, t api.Tunnel) string {
	var b strings.Builder
	if role == testbed.HA {
		fmt.Fprintf(&b, "binding %s -> care-of %s", t.Home, t.CareOf)
	} else {
		where := "on " + t.Link
		if t.Link == "" && t.Lower.IsValid() {
			where = "via lower agent " + t.Lower.String()
		}
		fmt.Fprintf(&b, "visitor %s %s %s, home agent %s", t.Home, t.State, where, t.HA)
	}
	if t.Iface != "" {
		fmt.Fprintf(&b, ", tunnel %s", t.Iface)
	}
	if f := t.Flags.String(); f != "" {
		fmt.Fprintf(&b, ", flags %s", f)
	}
	fmt.Fprintf(&b, ", %s", left(t.Remaining, t.Lifetime))
	return b.String()
}

// mobileLine is the mobile node's status for people.
func mobileLine(socket string) string {
	var s api.Status
	err := withClient(socket, func(c *api.Client) (err error) {
		s, err = c.GetStatus(apiTimeout)
		return err
	})
	if err != nil {
		return fmt.Sprintf("(no answer: %v)", err)
	}
	var b strings.Builder
	b.WriteString(s.State)
	if s.CareOf.IsValid() {
		fmt.Fprintf(&b, ", care-of %s", s.CareOf)
	}
	if s.FA.IsValid() {
		fmt.Fprintf(&b, " through foreign agent %s", s.FA)
	}
	fmt.Fprintf(&b, ", mode %s", s.TunnelingMode)
	if s.Lifetime > 0 {
		fmt.Fprintf(&b, ", %s", left(s.Remaining, s.Lifetime))
	}
	return b.String()
}

// left says how much of a lifetime remains.
func left(remaining, lifetime time.Duration) string {
	return fmt.Sprintf("%ds of %ds left", int(remaining/time.Second), int(lifetime/time.Second))
}

// withClient dials socket, runs fn and hangs up.
func withClient(socket string, fn func(*api.Client) error) error {
	if socket == "" {
		return fmt.Errorf("no socket")
	}
	c, err := api.Dial(socket)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c)
}
