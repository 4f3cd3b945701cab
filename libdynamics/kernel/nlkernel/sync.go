package nlkernel

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

// snapshot is what Sync reads from the kernel: the routes and rules marked
// with the Kernel's protocol, the tunnel links named with its prefix, and
// the proxy and permanent neighbour entries, each by Key.
type snapshot struct {
	routes    map[string]kernel.Route
	rules     map[string]kernel.Rule
	tunnels   map[string]bool // link names
	proxies   map[string]bool
	neighbors map[string]kernel.Neighbor
	addresses map[string]kernel.Address
}

// dumpRetries bounds the retries of a dump the kernel interrupted because
// the table changed during it.
const dumpRetries = 5

// retryDump runs a netlink dump again while the kernel reports it
// interrupted.
func retryDump(fn func() error) error {
	var err error
	for range dumpRetries {
		if err = fn(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
	}
	return err
}

// snapshot reads the kernel's state for Sync. k.mu is held.
func (k *Kernel) snapshot() (*snapshot, error) {
	s := &snapshot{
		routes:    map[string]kernel.Route{},
		rules:     map[string]kernel.Rule{},
		tunnels:   map[string]bool{},
		proxies:   map[string]bool{},
		neighbors: map[string]kernel.Neighbor{},
	}
	var links []netlink.Link
	if err := retryDump(func() (err error) { links, err = k.h.LinkList(); return err }); err != nil {
		return nil, fmt.Errorf("nlkernel: list links: %w", err)
	}
	names := make(map[int]string, len(links))
	for _, l := range links {
		a := l.Attrs()
		names[a.Index] = a.Name
		if strings.HasPrefix(a.Name, k.opts.TunnelPrefix) && tunnelLinkTypes[l.Type()] {
			s.tunnels[a.Name] = true
		}
	}

	var routes []netlink.Route
	filter := &netlink.Route{Table: unix.RT_TABLE_UNSPEC, Protocol: netlink.RouteProtocol(k.opts.RouteProtocol)}
	if err := retryDump(func() (err error) {
		routes, err = k.h.RouteListFiltered(netlink.FAMILY_V4, filter, netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
		return err
	}); err != nil {
		return nil, fmt.Errorf("nlkernel: list routes: %w", err)
	}
	for _, nr := range routes {
		if r, ok := routeEntry(nr, names); ok && int(nr.Protocol) == k.opts.RouteProtocol {
			s.routes[r.Key()] = r
		}
	}

	var rules []netlink.Rule
	if err := retryDump(func() (err error) { rules, err = k.h.RuleList(netlink.FAMILY_V4); return err }); err != nil {
		return nil, fmt.Errorf("nlkernel: list rules: %w", err)
	}
	for _, nr := range rules {
		if int(nr.Protocol) != k.opts.RouteProtocol {
			continue
		}
		if r, ok := ruleEntry(nr); ok {
			s.rules[r.Key()] = r
		}
	}

	var proxies, neighs []netlink.Neigh
	if err := retryDump(func() (err error) { proxies, err = k.h.NeighProxyList(0, netlink.FAMILY_V4); return err }); err != nil {
		return nil, fmt.Errorf("nlkernel: list proxy entries: %w", err)
	}
	for _, n := range proxies {
		if p, ok := neighEntry(n, names); ok {
			s.proxies[kernel.ProxyARP{IP: p.IP, Dev: p.Dev}.Key()] = true
		}
	}
	if err := retryDump(func() (err error) { neighs, err = k.h.NeighList(0, netlink.FAMILY_V4); return err }); err != nil {
		return nil, fmt.Errorf("nlkernel: list neighbours: %w", err)
	}
	for _, n := range neighs {
		if n.State&netlink.NUD_PERMANENT == 0 || n.Flags&netlink.NTF_PROXY != 0 {
			continue
		}
		if e, ok := neighEntry(n, names); ok {
			s.neighbors[e.Key()] = e
		}
	}
	addresses, err := k.snapshotAddresses(names)
	if err != nil {
		return nil, fmt.Errorf("nlkernel: list addresses: %w", err)
	}
	s.addresses = addresses
	return s, nil
}

// neighEntry converts a kernel neighbour entry back.
func neighEntry(n netlink.Neigh, names map[int]string) (kernel.Neighbor, bool) {
	a, ok := addrOf(n.IP)
	if !ok || !a.Is4() || names[n.LinkIndex] == "" {
		return kernel.Neighbor{}, false
	}
	return kernel.Neighbor{IP: a, Dev: names[n.LinkIndex], HWAddr: n.HardwareAddr}, true
}

// present reports whether the kernel holds e as given, so that Sync can
// adopt it without a change. Tunnels count as present only when this Kernel
// made them as given and their link exists; sysctls never do (ensureSysctl
// reads them itself).
func (s *snapshot) present(k *Kernel, e kernel.Entry) bool {
	switch v := e.(type) {
	case kernel.Route:
		r, ok := s.routes[v.Key()]
		return ok && kernel.Equal(r, v)
	case kernel.Rule:
		r, ok := s.rules[v.Key()]
		return ok && r.Table == v.Table
	case kernel.ProxyARP:
		return s.proxies[v.Key()]
	case kernel.Neighbor:
		n, ok := s.neighbors[v.Key()]
		return ok && bytes.Equal(n.HWAddr, v.HWAddr)
	case kernel.Tunnel:
		cur, ok := k.owned[v.Key()]
		return ok && kernel.Equal(cur, v) && s.tunnels[v.Name]
	case kernel.Address:
		a, ok := s.addresses[v.Key()]
		return ok && a == v
	}
	return false
}

// stale is one removal Sync makes.
type stale struct {
	kind kernel.Kind
	key  string
	fn   func() error
}

// removeStale removes, in reverse ensure order, every owned entry, marked
// route, rule and tunnel link, and state file entry whose Key is not wanted.
// k.mu is held.
func (k *Kernel) removeStale(s *snapshot, wanted map[string]bool) error {
	var todo []stale
	seen := map[string]bool{}
	add := func(kind kernel.Kind, key string, fn func() error) {
		if wanted[key] || seen[key] {
			return
		}
		seen[key] = true
		todo = append(todo, stale{kind, key, fn})
	}
	for key, e := range k.owned {
		add(e.Kind(), key, func() error { return k.remove(e) })
	}
	for key, e := range k.left.entries {
		add(e.Kind(), key, func() error { return k.remove(e) })
	}
	for name := range k.sysctls {
		e := kernel.Sysctl{Name: name}
		add(kernel.KindSysctl, e.Key(), func() error { return k.remove(e) })
	}
	for name := range k.left.sysctls {
		e := kernel.Sysctl{Name: name}
		add(kernel.KindSysctl, e.Key(), func() error { return k.remove(e) })
	}
	for key, r := range s.routes {
		add(kernel.KindRoute, key, func() error {
			if err := k.removeRoute(r.Dst, r.Table); err != nil {
				return fmt.Errorf("nlkernel: remove leftover %s: %w", key, err)
			}
			return nil
		})
	}
	for key, r := range s.rules {
		add(kernel.KindRule, key, func() error {
			if err := k.delRule(r); err != nil {
				return fmt.Errorf("nlkernel: remove leftover %s: %w", key, err)
			}
			return nil
		})
	}
	for name := range s.tunnels {
		e := kernel.Tunnel{Name: name}
		add(kernel.KindTunnel, e.Key(), func() error { return k.remove(e) })
	}
	sort.Slice(todo, func(i, j int) bool {
		if todo[i].kind != todo[j].kind {
			return todo[i].kind > todo[j].kind
		}
		return todo[i].key < todo[j].key
	})
	var errs []error
	for _, t := range todo {
		if err := t.fn(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
