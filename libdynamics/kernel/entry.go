package kernel

import (
	"fmt"
	"sort"
	"strings"
)

func tableSuffix(table int) string {
	if table == 0 {
		return ""
	}
	return fmt.Sprintf(" table %d", table)
}

// Key implements Entry: tunnels are identified by device name.
func (t Tunnel) Key() string { return "tunnel " + t.Name }

func (t Tunnel) String() string {
	s := fmt.Sprintf("ip tunnel add %s mode ipip local %s remote %s ttl %d", t.Name, t.Local, t.Remote, t.ttl())
	if t.MTU != 0 {
		s += fmt.Sprintf(" && ip link set %s mtu %d", t.Name, t.MTU)
	}
	return s
}

func (t Tunnel) ttl() uint8 {
	if t.TTL == 0 {
		return 64
	}
	return t.TTL
}

// Validate reports whether the tunnel can be created.
func (t Tunnel) Validate() error {
	switch {
	case t.Name == "" || len(t.Name) > 15 || strings.ContainsAny(t.Name, "/ \t"):
		return fmt.Errorf("%w: tunnel name %q", ErrInvalid, t.Name)
	case !t.Local.Is4() || !t.Remote.Is4():
		return fmt.Errorf("%w: tunnel %s needs IPv4 local and remote addresses", ErrInvalid, t.Name)
	case t.MTU != 0 && (t.MTU < 68 || t.MTU > 65535-20):
		return fmt.Errorf("%w: tunnel %s mtu %d", ErrInvalid, t.Name, t.MTU)
	}
	return nil
}

// Key implements Entry: a route is identified by destination and table, as in
// the kernel's main and policy tables.
func (r Route) Key() string { return fmt.Sprintf("route %s%s", r.Dst, tableSuffix(r.Table)) }

func (r Route) String() string {
	s := "ip route replace " + r.Dst.String()
	if r.Gw.IsValid() {
		s += " via " + r.Gw.String()
	}
	s += " dev " + r.Dev
	if r.Src.IsValid() {
		s += " src " + r.Src.String()
	}
	return s + tableSuffix(r.Table)
}

// Validate reports whether the route can be installed.
func (r Route) Validate() error {
	switch {
	case !r.Dst.IsValid() || !r.Dst.Addr().Is4():
		return fmt.Errorf("%w: route needs an IPv4 destination", ErrInvalid)
	case r.Dev == "":
		return fmt.Errorf("%w: route %s needs a device", ErrInvalid, r.Dst)
	case r.Table < 0:
		return fmt.Errorf("%w: route %s table %d", ErrInvalid, r.Dst, r.Table)
	}
	return nil
}

// Key implements Entry: a rule is identified by all its fields but the table.
func (r Rule) Key() string {
	s := fmt.Sprintf("rule %d from %s", r.Priority, r.Src)
	if r.IIf != "" {
		s += " iif " + r.IIf
	}
	return s
}

func (r Rule) String() string {
	s := fmt.Sprintf("ip rule add priority %d from %s", r.Priority, r.Src)
	if r.IIf != "" {
		s += " iif " + r.IIf
	}
	return s + fmt.Sprintf(" lookup %d", r.Table)
}

// Validate reports whether the rule can be installed.
func (r Rule) Validate() error {
	switch {
	case !r.Src.IsValid() || !r.Src.Addr().Is4():
		return fmt.Errorf("%w: rule needs an IPv4 source prefix", ErrInvalid)
	case r.Priority <= 0 || r.Priority >= 32766:
		return fmt.Errorf("%w: rule priority %d outside 1..32765", ErrInvalid, r.Priority)
	case r.Table <= 0 || r.Table == 253 || r.Table == 254 || r.Table == 255:
		return fmt.Errorf("%w: rule table %d is reserved", ErrInvalid, r.Table)
	}
	return nil
}

// Key implements Entry.
func (p ProxyARP) Key() string { return fmt.Sprintf("proxy %s dev %s", p.IP, p.Dev) }

func (p ProxyARP) String() string { return fmt.Sprintf("ip neigh add proxy %s dev %s", p.IP, p.Dev) }

// Validate reports whether the entry can be installed.
func (p ProxyARP) Validate() error {
	if !p.IP.Is4() || p.Dev == "" {
		return fmt.Errorf("%w: proxy ARP needs an IPv4 address and a device", ErrInvalid)
	}
	return nil
}

// Key implements Entry.
func (n Neighbor) Key() string { return fmt.Sprintf("neigh %s dev %s", n.IP, n.Dev) }

func (n Neighbor) String() string {
	return fmt.Sprintf("ip neigh replace %s lladdr %s dev %s nud permanent", n.IP, n.HWAddr, n.Dev)
}

// Validate reports whether the entry can be installed.
func (n Neighbor) Validate() error {
	if !n.IP.Is4() || n.Dev == "" || len(n.HWAddr) != 6 {
		return fmt.Errorf("%w: neighbour needs an IPv4 address, a device and a 6-byte hardware address", ErrInvalid)
	}
	return nil
}

// Key implements Entry.
func (s Sysctl) Key() string { return "sysctl " + s.Name }

func (s Sysctl) String() string {
	return fmt.Sprintf("sysctl -w %s=%s", strings.ReplaceAll(s.Name, "/", "."), s.Value)
}

// Validate reports whether the sysctl may be written.
func (s Sysctl) Validate() error {
	if s.Name == "" || strings.Contains(s.Name, "..") || strings.HasPrefix(s.Name, "/") || s.Value == "" {
		return fmt.Errorf("%w: sysctl %q=%q", ErrInvalid, s.Name, s.Value)
	}
	return nil
}

// Validate checks any entry.
func Validate(e Entry) error {
	if v, ok := e.(interface{ Validate() error }); ok {
		return v.Validate()
	}
	return fmt.Errorf("%w: unknown entry type %T", ErrInvalid, e)
}

// Sort orders entries by kind, then key: the order in which they are ensured.
func Sort(entries []Entry) {
	sort.SliceStable(entries, func(i, j int) bool {
		if entries[i].Kind() != entries[j].Kind() {
			return entries[i].Kind() < entries[j].Kind()
		}
		return entries[i].Key() < entries[j].Key()
	})
}

// Render returns entries as one command per line, in ensure order.
func Render(entries []Entry) string {
	sorted := append([]Entry(nil), entries...)
	Sort(sorted)
	var b strings.Builder
	for _, e := range sorted {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}
