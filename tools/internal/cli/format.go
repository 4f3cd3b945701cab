package cli

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/api"
)

// The JSON documents. Their field names are part of the tools' interface
// (docs/TOOLS.md): addresses are strings ("" when there is none),
// durations whole seconds.

// TunnelJSON is one tunnel, as list and show print it.
type TunnelJSON struct {
	Home      string `json:"home"`
	CareOf    string `json:"care_of"`
	HA        string `json:"ha"`
	Peer      string `json:"peer"`
	Lower     string `json:"lower"`
	ID        uint64 `json:"id"`
	Flags     string `json:"flags"`
	Lifetime  int64  `json:"lifetime"`
	Remaining int64  `json:"remaining"`
	State     string `json:"state"`
	Confirmed bool   `json:"confirmed"`
	Iface     string `json:"iface"`
	Link      string `json:"link"`
}

// ListJSON is what list prints.
type ListJSON struct {
	Tunnels []TunnelJSON `json:"tunnels"`
}

// StatusJSON is what status prints. The mobile node's fields are present
// only for a mobile node.
type StatusJSON struct {
	Agent    string            `json:"agent"`
	Version  string            `json:"version"`
	DataPath string            `json:"data_path"`
	Uptime   int64             `json:"uptime"`
	Mobile   *MobileJSON       `json:"mobile,omitempty"`
	Counters map[string]uint64 `json:"counters"`
}

// MobileJSON is a mobile node's connection in its status.
type MobileJSON struct {
	State         string `json:"state"`
	Home          string `json:"home"`
	CareOf        string `json:"care_of"`
	FA            string `json:"fa"`
	HA            string `json:"ha"`
	Lifetime      int64  `json:"lifetime"`
	Remaining     int64  `json:"remaining"`
	TunnelingMode string `json:"tunneling_mode"`
	Iface         string `json:"iface"`
}

// CareOfJSON is what careof prints; home is "" at a mobile node.
type CareOfJSON struct {
	Home   string `json:"home"`
	CareOf string `json:"care_of"`
}

// ModeJSON is what tunnel prints.
type ModeJSON struct {
	TunnelingMode string `json:"tunneling_mode"`
}

// DoneJSON is what a command that changes the agent prints when it
// succeeds.
type DoneJSON struct {
	Command string `json:"command"`
	Home    string `json:"home,omitempty"`
	Mode    string `json:"tunneling_mode,omitempty"`
	OK      bool   `json:"ok"`
}

func addrJSON(a netip.Addr) string {
	if !a.IsValid() || a.IsUnspecified() {
		return ""
	}
	return a.String()
}

func seconds(d time.Duration) int64 { return int64(d.Round(time.Second) / time.Second) }

func tunnelJSON(t api.Tunnel) TunnelJSON {
	return TunnelJSON{
		Home: addrJSON(t.Home), CareOf: addrJSON(t.CareOf), HA: addrJSON(t.HA), Peer: addrJSON(t.Peer),
		Lower: addrJSON(t.Lower), ID: t.ID, Flags: t.Flags.String(),
		Lifetime: seconds(t.Lifetime), Remaining: seconds(t.Remaining),
		State: t.State, Confirmed: t.Confirmed, Iface: t.Iface, Link: t.Link,
	}
}

func listJSON(ts []api.Tunnel) ListJSON {
	l := ListJSON{Tunnels: make([]TunnelJSON, 0, len(ts))}
	for _, t := range ts {
		l.Tunnels = append(l.Tunnels, tunnelJSON(t))
	}
	return l
}

func statusJSON(st api.Status) StatusJSON {
	j := StatusJSON{
		Agent: st.Agent, Version: st.Version, DataPath: st.DataPath, Uptime: seconds(st.Uptime),
		Counters: make(map[string]uint64, len(st.Counters)),
	}
	for _, c := range st.Counters {
		j.Counters[c.Name] = c.Value
	}
	if st.Agent == "mn" {
		j.Mobile = &MobileJSON{
			State: st.State, Home: addrJSON(st.Home), CareOf: addrJSON(st.CareOf), FA: addrJSON(st.FA),
			HA: addrJSON(st.HA), Lifetime: seconds(st.Lifetime), Remaining: seconds(st.Remaining),
			TunnelingMode: st.TunnelingMode, Iface: st.Iface,
		}
	}
	return j
}

// For people.

// addr prints an address, "-" when there is none.
func addr(a netip.Addr) string {
	if s := addrJSON(a); s != "" {
		return s
	}
	return "-"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// dur prints a duration to the second.
func dur(d time.Duration) string { return d.Round(time.Second).String() }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// writeTable prints tunnels as a table. The third column is the peer (the
// tunnel's far end) at a home agent and the home agent at a foreign agent.
func writeTable(w io.Writer, ts []api.Tunnel, agent string) {
	if len(ts) == 0 {
		fmt.Fprintln(w, "no tunnels")
		return
	}
	third, pick := "HA", func(t api.Tunnel) netip.Addr { return t.HA }
	if agent == "ha" {
		third, pick = "PEER", func(t api.Tunnel) netip.Addr { return t.Peer }
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "HOME\tCARE-OF\t%s\tREMAINING\tSTATE\tTUNNEL\n", third)
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", addr(t.Home), addr(t.CareOf), addr(pick(t)),
			dur(t.Remaining)+"/"+dur(t.Lifetime), dash(t.State), dash(t.Iface))
	}
	tw.Flush()
}

// writeTunnel prints every field of a tunnel, one per line.
func writeTunnel(w io.Writer, t api.Tunnel) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for _, f := range [][2]string{
		{"home", addr(t.Home)},
		{"care-of", addr(t.CareOf)},
		{"home agent", addr(t.HA)},
		{"peer", addr(t.Peer)},
		{"lower", addr(t.Lower)},
		{"identification", fmt.Sprintf("0x%016x", t.ID)},
		{"flags", dash(t.Flags.String())},
		{"lifetime", dur(t.Lifetime)},
		{"remaining", dur(t.Remaining)},
		{"state", dash(t.State)},
		{"confirmed", yesNo(t.Confirmed)},
		{"tunnel", dash(t.Iface)},
		{"link", dash(t.Link)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], f[1])
	}
	tw.Flush()
}

var agentNames = map[string]string{"ha": "home agent", "fa": "foreign agent", "mn": "mobile node"}

// writeStatus prints the agent's summary, then its counters.
func writeStatus(w io.Writer, st api.Status) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	name := agentNames[st.Agent]
	if name == "" {
		name = dash(st.Agent)
	}
	rows := [][2]string{
		{"agent", name},
		{"version", dash(st.Version)},
		{"data path", dash(st.DataPath)},
		{"uptime", dur(st.Uptime)},
	}
	if st.Agent == "mn" {
		rows = append(rows, [][2]string{
			{"state", dash(st.State)},
			{"home", addr(st.Home)},
			{"care-of", addr(st.CareOf)},
			{"foreign agent", addr(st.FA)},
			{"home agent", addr(st.HA)},
			{"lifetime", dur(st.Lifetime)},
			{"remaining", dur(st.Remaining)},
			{"tunnelling", dash(st.TunnelingMode)},
			{"interface", dash(st.Iface)},
		}...)
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	tw.Flush()
	fmt.Fprintln(w)
	if len(st.Counters) == 0 {
		fmt.Fprintln(w, "no counters")
		return
	}
	fmt.Fprintln(w, "counters:")
	nw, vw := 0, 0
	for _, c := range st.Counters {
		nw = max(nw, len(c.Name))
		vw = max(vw, len(strconv.FormatUint(c.Value, 10)))
	}
	for _, c := range st.Counters {
		fmt.Fprintf(w, "  %-*s  %*d\n", nw, c.Name, vw, c.Value)
	}
}
