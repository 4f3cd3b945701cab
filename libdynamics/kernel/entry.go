package kernel

import (
	"fmt"
	"net"
	"sort"
	"strings"
)

// mainTable is the kernel's main routing table, also named by table 0.
const mainTable = 254

func tableSuffix(table int) string {
	if table == 0 || table == mainTable {
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
	case r.Dst != r.Dst.Masked():
		return fmt.Errorf("%w: route destination %s has host bits set (did you mean %s?)", ErrInvalid, r.Dst, r.Dst.Masked())
	case r.Gw.IsValid() && !r.Gw.Is4():
		return fmt.Errorf("%w: route %s gateway %s is not IPv4", ErrInvalid, r.Dst, r.Gw)
	case r.Src.IsValid() && !r.Src.Is4():
		return fmt.Errorf("%w: route %s source %s is not IPv4", ErrInvalid, r.Dst, r.Src)
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
	case r.Src != r.Src.Masked():
		return fmt.Errorf("%w: rule source %s has host bits set (did you mean %s?)", ErrInvalid, r.Src, r.Src.Masked())
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

// Validate checks any entry. Entries are values: a pointer to one is
// rejected, as is any type this package does not define.
func Validate(e Entry) error {
	switch v := e.(type) {
	case Tunnel:
		return v.Validate()
	case Route:
		return v.Validate()
	case Rule:
		return v.Validate()
	case ProxyARP:
		return v.Validate()
	case Neighbor:
		return v.Validate()
	case Sysctl:
		return v.Validate()
	case Address:
		return v.Validate()
	case *Tunnel, *Route, *Rule, *ProxyARP, *Neighbor, *Sysctl, *Address:
		return fmt.Errorf("%w: entry %T passed by pointer; pass it by value", ErrInvalid, e)
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

// Equal reports whether two entries are identical: String covers every field.
func Equal(a, b Entry) bool { return a.Kind() == b.Kind() && a.String() == b.String() }

// Prepare validates entries, drops exact duplicates, rejects two different
// entries with the same Key (ErrInvalid), and returns a copy in ensure order
// with neighbours' hardware addresses copied, so later changes by the caller
// do not reach an implementation's state. Implementations call it before
// changing anything, so an invalid batch changes nothing.
func Prepare(entries []Entry) ([]Entry, error) {
	byKey := make(map[string]Entry, len(entries))
	out := make([]Entry, 0, len(entries))
	for _, e := range entries {
		if err := Validate(e); err != nil {
			return nil, err
		}
		if n, ok := e.(Neighbor); ok {
			n.HWAddr = append(net.HardwareAddr(nil), n.HWAddr...)
			e = n
		}
		if prev, dup := byKey[e.Key()]; dup {
			if !Equal(prev, e) {
				return nil, fmt.Errorf("%w: conflicting entries %q and %q", ErrInvalid, prev, e)
			}
			continue
		}
		byKey[e.Key()] = e
		out = append(out, e)
	}
	Sort(out)
	return out, nil
}
