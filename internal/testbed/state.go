package testbed

import (
	"fmt"
	"slices"
	"strings"
)

// State is the kernel state of every host of a bed that the suite may
// change, as normalised `ip` and `sysctl` output: for each host and kind
// ("addr", "link", "route", "rule", "proxy", "neigh", "sysctl") a sorted
// list of lines.
type State map[string]map[string][]string

// stateKinds are the kinds a State holds and the `ip` arguments (or, for
// sysctl, the command) that list them.
var stateKinds = []struct {
	kind string
	args []string
}{
	{"addr", []string{"-o", "-4", "addr", "show"}},
	{"link", []string{"-o", "link", "show"}},
	{"route", []string{"route", "show", "table", "all"}},
	{"rule", []string{"rule", "show"}},
	{"proxy", []string{"neigh", "show", "proxy"}},
	{"neigh", []string{"neigh", "show", "nud", "permanent"}},
	{"sysctl", []string{"sysctl", "-a", "-r", sysctlPattern}},
}

// sysctlPattern selects the IPv4 sysctls an agent may set: forwarding,
// proxy ARP, reverse-path filtering, redirects and ARP behaviour, for all,
// default and each interface.
const sysctlPattern = `^net\.ipv4\.(ip_forward|conf\.[^.]+\.(forwarding|proxy_arp|proxy_arp_pvlan|rp_filter|` +
	`send_redirects|accept_redirects|accept_local|arp_ignore|arp_announce|arp_filter))$`

// StateKinds lists the kinds of a State in the order reports use.
func StateKinds() []string {
	var k []string
	for _, s := range stateKinds {
		k = append(k, s.kind)
	}
	return k
}

// Snapshot records the state of every host: addresses, link names, routes
// of every table, rules, proxy neighbour entries, permanent neighbour
// entries and the IPv4 sysctls agents set (those of tunnel devices left
// out: the devices themselves are in "link").
func (b *Bed) Snapshot() (State, error) {
	st := State{}
	for _, role := range b.Hosts() {
		st[role] = map[string][]string{}
		for _, k := range stateKinds {
			var out string
			var err error
			if k.kind == "sysctl" {
				out, err = b.Exec(role, k.args...)
			} else {
				out, err = b.IP(role, k.args...)
			}
			if err != nil {
				return nil, err
			}
			st[role][k.kind] = normalise(k.kind, out)
		}
	}
	return st, nil
}

// normalise keeps what identifies an entry and drops what changes on its
// own (link flags and counters, "linkdown" markers).
func normalise(kind, out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		f := strings.Fields(l)
		switch kind {
		case "addr": // "2: eth0    inet 10.1.0.1/24 scope global eth0\ ..."
			if len(f) < 4 {
				continue
			}
			l = f[1] + " " + f[3]
		case "link": // "5: eth0@if6: <BROADCAST,...> mtu 1500 ..."
			// ip also writes notes such as "Peer netns reference is
			// invalid." when a veth's peer namespace is being torn
			// down; only numbered lines are links.
			if len(f) < 2 || !strings.HasSuffix(f[0], ":") || strings.Trim(f[0], "0123456789:") != "" {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			l = name
		case "sysctl": // "net.ipv4.conf.eth0.proxy_arp = 1"
			if strings.HasPrefix(l, "net.ipv4.conf.dyn") {
				continue
			}
			l = strings.Join(f, " ")
		case "route":
			l = strings.Join(slices.DeleteFunc(f, func(s string) bool { return s == "linkdown" }), " ")
		default:
			l = strings.Join(f, " ")
		}
		lines = append(lines, l)
	}
	slices.Sort(lines)
	return slices.Compact(lines)
}

// Change is one line present in one State and not in the other.
type Change struct {
	Host, Kind string
	Added      bool // in the later state only; else in the earlier only
	Line       string
}

func (c Change) String() string {
	sign := "-"
	if c.Added {
		sign = "+"
	}
	return fmt.Sprintf("%s %s %s %s", c.Host, c.Kind, sign, c.Line)
}

// Diff lists what changed from s to later, host by host in the bed's order
// of hosts seen in either, kind by kind.
func (s State) Diff(later State) []Change {
	var hosts []string
	for h := range s {
		hosts = append(hosts, h)
	}
	for h := range later {
		if _, ok := s[h]; !ok {
			hosts = append(hosts, h)
		}
	}
	slices.Sort(hosts)
	var ch []Change
	for _, h := range hosts {
		for _, k := range StateKinds() {
			a, b := s[h][k], later[h][k]
			for _, l := range a {
				if !slices.Contains(b, l) {
					ch = append(ch, Change{h, k, false, l})
				}
			}
			for _, l := range b {
				if !slices.Contains(a, l) {
					ch = append(ch, Change{h, k, true, l})
				}
			}
		}
	}
	return ch
}

// Report formats what the suite has changed since base on each host, for
// people: tunnel devices and other links, addresses, routes, rules, proxy
// and permanent neighbour entries, one line each, "(nothing)" for a host
// without changes.
func (b *Bed) Report(base State) (string, error) {
	now, err := b.Snapshot()
	if err != nil {
		return "", err
	}
	changes := base.Diff(now)
	var w strings.Builder
	for _, h := range b.Hosts() {
		var mine []Change
		for _, c := range changes {
			if c.Host == h {
				mine = append(mine, c)
			}
		}
		if len(mine) == 0 {
			fmt.Fprintf(&w, "  %-4s (nothing)\n", h)
			continue
		}
		for i, c := range mine {
			host := ""
			if i == 0 {
				host = h
			}
			sign := "+"
			if !c.Added {
				sign = "-"
			}
			fmt.Fprintf(&w, "  %-4s %-5s %s %s\n", host, c.Kind, sign, c.Line)
		}
	}
	return w.String(), nil
}
