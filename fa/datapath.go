package fa

import (
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/binding"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/tunnel"
)

// Reverse tunnelling (RFC 3024) uses one routing table per tunnel, numbered
// TableBase plus the tunnel's ID, holding a default route into the tunnel,
// and one rule per visitor with the T flag, at RulePriority, sending what
// arrives from its home address on its visitor interface to that table.
const (
	TableBase    = 2000
	RulePriority = 2000
)

// tableFor is the routing table of tunnel id.
func tableFor(id tunnel.ID) int { return TableBase + int(id) }

// wantsTunnel reports whether a visitor registered with flags needs the
// tunnel to its home agent: to decapsulate what the home agent sends
// (EnableFADecapsulation) or to reverse-tunnel what the mobile sends (T).
// A mobile with a co-located care-of address (D) decapsulates itself.
func (a *Agent) wantsTunnel(flags mip.Flags) bool {
	if flags.Has(mip.FlagDecapsulation) {
		return false
	}
	return a.cfg.EnableFADecapsulation || flags.Has(mip.FlagReverseTunnel)
}

// visitorEntries are a visitor's own kernel entries. For a mobile on a
// visitor link: a permanent neighbour entry with the mobile's hardware
// address (the agent never ARPs for a home address on the foreign link) and
// a host route to the home address on the visitor interface. For a mobile
// below a lower agent: a host route to the home address into the tunnel to
// that agent (down). Either way, with T, a rule sending what arrives from
// the home address that way into the upward tunnel's table.
func (a *Agent) visitorEntries(home netip.Addr, flags mip.Flags, d Downlink, up, down tunnel.ID) []kernel.Entry {
	if flags.Has(mip.FlagDecapsulation) {
		return nil
	}
	host := netip.PrefixFrom(home, 32)
	var dev string
	var entries []kernel.Entry
	if d.IsAgent() {
		t, ok := a.tunnels.ByID(down)
		if !ok {
			return nil
		}
		dev = t.Name
		entries = []kernel.Entry{kernel.Route{Dst: host, Dev: dev}}
	} else {
		dev = d.Iface
		entries = []kernel.Entry{
			kernel.Neighbor{IP: home, Dev: dev, HWAddr: d.HWAddr},
			kernel.Route{Dst: host, Dev: dev},
		}
	}
	if flags.Has(mip.FlagReverseTunnel) && up != 0 {
		entries = append(entries, kernel.Rule{Priority: RulePriority, Src: host, IIf: dev, Table: tableFor(up)})
	}
	return entries
}

// tunnelEntries are a tunnel's device and its table's default route.
func (a *Agent) tunnelEntries(t tunnel.Tunnel) []kernel.Entry {
	return []kernel.Entry{
		kernel.Tunnel{Name: t.Name, Local: t.Local, Remote: t.Remote},
		kernel.Route{Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Dev: t.Name, Table: tableFor(t.ID)},
	}
}

// rpFilter turns the reverse-path filter off on a device: decapsulated
// packets from correspondents arrive on the tunnel although the route back
// to them leaves by the upstream interface.
func rpFilter(dev string) kernel.Sysctl {
	return kernel.Sysctl{Name: "net/ipv4/conf/" + dev + "/rp_filter", Value: "0"}
}

// holdTunnel returns a reference to the tunnel from local to remote for
// home's visitor entry, which held old (0 for none): old itself when it
// joins the same endpoints (kept: the caller must not release it), else a
// new reference, or 0 when the tunnel cannot be made.
func (a *Agent) holdTunnel(old tunnel.ID, local, remote, home netip.Addr) (id tunnel.ID, kept bool) {
	if old != 0 {
		if t, ok := a.tunnels.ByID(old); ok && t.Local == local && t.Remote == remote {
			return old, true
		}
	}
	t, err := a.acquireTunnel(local, remote)
	if err != nil {
		a.log.Error("cannot make the tunnel", logging.KeyHome, home, "local", local, "remote", remote, logging.KeyErr, err)
		return 0, false
	}
	return t.ID, false
}

// acquireTunnel takes a reference to the tunnel from local to remote (the
// care-of address to the home agent or the upper agent, or the agent's
// address to a lower agent), making the device when it is the first.
func (a *Agent) acquireTunnel(local, remote netip.Addr) (tunnel.Tunnel, error) {
	t, created, err := a.tunnels.Acquire(local, remote)
	if err != nil || !created {
		return t, err
	}
	if err := a.kern.Ensure(a.tunnelEntries(t)...); err != nil {
		_, _, _ = a.tunnels.ReleaseID(t.ID)
		_ = a.kern.Remove(a.tunnelEntries(t)...)
		return tunnel.Tunnel{}, err
	}
	// The device exists only now, so its sysctl comes in a call of its own.
	if err := a.kern.Ensure(rpFilter(t.Name)); err != nil {
		a.log.Warn("cannot turn rp_filter off on the tunnel", logging.KeyIface, t.Name, logging.KeyErr, err)
	}
	a.log.Info("tunnel up", logging.KeyIface, t.Name, "remote", t.Remote, "local", t.Local)
	return t, nil
}

// releaseTunnel drops a reference to tunnel id. With the last one the
// device goes, unless linger is set and TunnelLinger is not 0: then the
// tunnel stays idle for TunnelLinger (tunnel.Table.ReleaseLinger), so that
// a mobile coming back through the same agent takes it as it is, and
// expireTunnels removes it afterwards. Tunnels to other foreign agents
// linger; tunnels to home agents do not.
func (a *Agent) releaseTunnel(id tunnel.ID, linger bool) {
	var until time.Time
	if linger && a.cfg.TunnelLinger > 0 {
		until = a.clock.Now().Add(a.cfg.TunnelLinger)
	}
	t, removed, err := a.tunnels.ReleaseLinger(id, until)
	if err != nil {
		a.log.Error("releasing tunnel", "tunnel", id, logging.KeyErr, err)
		return
	}
	if removed {
		a.removeTunnel(t)
	} else if t.Refs == 0 {
		a.log.Debug("tunnel idle", logging.KeyIface, t.Name, "remote", t.Remote, "until", t.Idle)
	}
}

// removeTunnel removes a tunnel the table has forgotten: its device and
// its table's route. The sysctl is restored while the device still exists.
func (a *Agent) removeTunnel(t tunnel.Tunnel) {
	if err := a.kern.Remove(rpFilter(t.Name)); err != nil {
		a.log.Warn("restoring rp_filter on the tunnel", logging.KeyIface, t.Name, logging.KeyErr, err)
	}
	if err := a.kern.Remove(a.tunnelEntries(t)...); err != nil {
		a.log.Error("removing tunnel", logging.KeyIface, t.Name, logging.KeyErr, err)
	}
	a.log.Info("tunnel down", logging.KeyIface, t.Name, "remote", t.Remote)
}

// expireTunnels removes the idle tunnels whose linger has ended.
func (a *Agent) expireTunnels(now time.Time) {
	for _, t := range a.tunnels.Expire(now) {
		a.removeTunnel(t)
	}
}

// holdUpward takes the agent's own reference to its tunnel to the upper
// agent at start, in a hierarchy below the highest agent: every visitor's
// way up is that tunnel, so it is made before the first registration
// instead of during it, and stays until the agent stops. A failure is
// logged; the first visitor then makes the tunnel.
func (a *Agent) holdUpward() {
	upper := a.cfg.UpperFAIPAddress
	if !upper.IsValid() || (!a.cfg.EnableFADecapsulation && !a.cfg.ReverseTunnel) {
		return
	}
	t, err := a.acquireTunnel(a.careOf, upper)
	if err != nil {
		a.log.Warn("cannot make the tunnel to the upper agent; the first visitor makes it", logging.KeyFA, upper,
			logging.KeyErr, err)
		return
	}
	a.upTunnel = t.ID
}

// staleEntries returns the entries of old whose keys new does not hold:
// entries with a key in new are replaced by Ensure.
func staleEntries(old, new []kernel.Entry) []kernel.Entry {
	keep := make(map[string]bool, len(new))
	for _, e := range new {
		keep[e.Key()] = true
	}
	var stale []kernel.Entry
	for _, e := range old {
		if !keep[e.Key()] {
			stale = append(stale, e)
		}
	}
	return stale
}

// teardown removes every visitor's kernel state and the tunnels, idle ones
// included, when the agent stops. Forwarding and the visitor links'
// sysctls stay for the kernel's Close to restore.
func (a *Agent) teardown() {
	for _, b := range a.visitors.List() {
		a.removeVisitor(b.Home)
	}
	for home := range a.vinfo {
		a.cleanupVisitor(home)
	}
	for _, t := range a.tunnels.List() {
		if t, ok := a.tunnels.Destroy(t.ID); ok {
			a.removeTunnel(t)
		}
	}
	a.upTunnel = 0
	clear(a.pending)
	clear(a.latest)
	a.pendingQ = nil
	a.revOut = nil
}

// visitor assembles the exported view of a visitor.
func (a *Agent) visitor(b binding.Binding) Visitor {
	v := Visitor{Binding: b}
	if info, ok := a.vinfo[b.Home]; ok {
		v.Down, v.Up, v.Tunnel, v.DownTunnel = info.down, info.up, info.tunnel, info.downTunnel
		v.Entries = append([]kernel.Entry(nil), info.entries...)
	}
	return v
}
