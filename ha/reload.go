package ha

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/daemon"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// restartLabels are the settings the agent cannot change while it runs:
// its sockets, the home link, the kernel's data path and state file, the
// logger. A reload that changes one keeps its running value.
var restartLabels = []string{
	"HAIPAddress", "HomeNetPrefix", "HomeInterface",
	"TunnelMode", "TunnelPrefix", "StateFile", "SyslogFacility",
	"AdminSocket", "MonitorSocket",
}

// Reload applies a new configuration to the running agent, in its loop,
// keeping every binding the new configuration still allows:
//
//   - a mobile node added to AUTHORIZEDLIST may register at once;
//   - a mobile node removed from it loses its binding (route, proxy ARP
//     entry, its share of the tunnel; the foreign agent holding it is sent
//     a revocation when it supports them) and is denied from then on with
//     code 131;
//   - a changed security association (SPI, algorithm, key, replay
//     protection) applies to the mobile node's next request; the binding
//     stays. A changed replay protection forgets the identification last
//     accepted;
//   - SECURITY, RequireFAAuth, MaxBindings, MaxLifetime and ReplayWindow
//     apply to the next request; bindings already granted keep their
//     lifetimes, and a lowered MaxBindings removes none;
//   - a changed AgentAdvInterval reschedules the next advertisement (one
//     interval after the last); a changed AgentAdvLifetime or MaxLifetime
//     is advertised at once.
//
// The labels of restartLabels, and the IPsec labels and IPSEC section (the
// IKE SAs and the ESP path were set up from them at start), keep their
// running values and are logged in one warning line ("needs a restart:
// HAIPAddress, IPSEC"), as is
// AgentAdvInterval when advertisements were off at start (the home link is
// not open). AUTHORIZEDLIST entries that the running HAIPAddress and
// HomeNetPrefix do not allow are refused. What was applied is logged in one
// line, "configuration reloaded", with the labels changed and the mobile
// nodes and foreign agents added, removed or updated. The error, a
// *daemon.ReloadError, names what was not applied; the rest was.
func (a *Agent) Reload(ctx context.Context, cfg Config) error {
	var err error
	if derr := a.Do(ctx, func(*State) { err = a.reload(cfg) }); derr != nil {
		return derr
	}
	return err
}

// reload is Reload inside the loop.
func (a *Agent) reload(next Config) error {
	now := a.clock.Now()
	old := a.cfg
	changed, restart := daemon.SplitChanges(old, &next, restartLabels...)
	restart = append(restart, keepIPsec(old, &next)...)
	if i := slices.Index(changed, "AgentAdvInterval"); i >= 0 && a.link == nil && next.AgentAdvInterval > 0 {
		changed = slices.Delete(changed, i, i+1)
		restart = append(restart, "AgentAdvInterval")
		next.AgentAdvInterval = old.AgentAdvInterval
	}
	rerr := &daemon.ReloadError{Restart: restart}
	if len(restart) > 0 {
		a.log.Warn(daemon.RestartMessage(restart))
	}

	// Entries the running addresses do not allow (when HAIPAddress or
	// HomeNetPrefix changed too, the new file was checked against the new
	// ones).
	authorized := next.Authorized[:0:0]
	for _, e := range next.Authorized {
		if !next.HomeNetPrefix.Contains(e.Home) || e.Home == next.HAIPAddress {
			err := fmt.Errorf("AUTHORIZEDLIST: line %d: %s is outside the running HomeNetPrefix %s or is HAIPAddress %s",
				e.Line, e.Home, next.HomeNetPrefix, next.HAIPAddress)
			rerr.Rejected = append(rerr.Rejected, err)
			a.log.Warn("reload: mobile node not authorised", logging.KeyHome, e.Home, logging.KeyErr, err)
			continue
		}
		authorized = append(authorized, e)
	}
	next.Authorized = authorized

	a.cfg = next
	a.maxLif = uint16(min(next.MaxLifetime/time.Second, time.Duration(mip.Infinite-1)))
	a.replay.Window = next.ReplayWindow
	added, removed, updated := a.reloadMobiles(next.Authorized)
	faAdded, faRemoved, faUpdated := a.reloadForeignAgents(next.Security)
	if len(added)+len(removed)+len(updated) == 0 {
		changed = slices.DeleteFunc(changed, func(l string) bool { return l == "AUTHORIZEDLIST" })
	}
	if len(faAdded)+len(faRemoved)+len(faUpdated) == 0 {
		changed = slices.DeleteFunc(changed, func(l string) bool { return l == "SECURITY" })
	}
	a.rescheduleAdvertisement(old, now)

	attrs := []any{"changed", daemon.JoinLabels(changed)}
	for _, l := range []struct {
		key   string
		addrs []netip.Addr
	}{
		{"added", added}, {"removed", removed}, {"updated", updated},
		{"fa_added", faAdded}, {"fa_removed", faRemoved}, {"fa_updated", faUpdated},
	} {
		if len(l.addrs) > 0 {
			attrs = append(attrs, l.key, daemon.JoinAddrs(l.addrs))
		}
	}
	a.log.Info("configuration reloaded", attrs...)
	return rerr.Err()
}

// reloadMobiles makes the authorised mobile nodes those of entries. A
// mobile node kept keeps its binding and whether the control API disabled
// it; one removed loses its binding at once.
func (a *Agent) reloadMobiles(entries []MobileEntry) (added, removed, updated []netip.Addr) {
	want := make(map[netip.Addr]mip.SecurityAssociation, len(entries))
	for _, e := range entries {
		want[e.Home] = e.SA()
	}
	for home := range a.mobiles {
		if _, ok := want[home]; ok {
			continue
		}
		removed = append(removed, home)
		if b, away := a.bindings.Get(home); away {
			a.log.Info("binding removed: mobile node no longer authorised", logging.KeyHome, home,
				logging.KeyCoA, b.CareOf, logging.KeyID, b.ID)
			a.revokeOld(b, netip.Addr{})
			a.unbind(b)
		}
		delete(a.mobiles, home)
		a.replay.Forget(home)
	}
	for home, sa := range want {
		m, ok := a.mobiles[home]
		if !ok {
			a.mobiles[home] = &mobile{sa: sa, enabled: true}
			added = append(added, home)
			continue
		}
		if sameSA(m.sa, sa) {
			continue
		}
		if m.sa.Replay != sa.Replay {
			a.replay.Forget(home)
		}
		m.sa = sa
		updated = append(updated, home)
	}
	for _, l := range [][]netip.Addr{added, removed, updated} {
		slices.SortFunc(l, netip.Addr.Compare)
	}
	return added, removed, updated
}

// reloadForeignAgents makes the Foreign-Home security associations those
// of entries. Bindings through a foreign agent whose association went stay;
// revocations already pending keep the association they were sent with.
func (a *Agent) reloadForeignAgents(entries []SecurityEntry) (added, removed, updated []netip.Addr) {
	want := make(map[netip.Addr]mip.SecurityAssociation, len(entries))
	for _, e := range entries {
		want[e.Peer] = e.SA()
	}
	for fa := range a.fasas {
		if _, ok := want[fa]; !ok {
			removed = append(removed, fa)
			delete(a.fasas, fa)
		}
	}
	for fa, sa := range want {
		old, ok := a.fasas[fa]
		switch {
		case !ok:
			added = append(added, fa)
		case !sameSA(old, sa):
			updated = append(updated, fa)
		default:
			continue
		}
		a.fasas[fa] = sa
	}
	for _, l := range [][]netip.Addr{added, removed, updated} {
		slices.SortFunc(l, netip.Addr.Compare)
	}
	return added, removed, updated
}

// rescheduleAdvertisement moves the next advertisement after a reload: one
// new interval after the last one sent, or at once when what the
// advertisement says (its lifetime, the registration lifetime) changed or
// advertising has just been turned on.
func (a *Agent) rescheduleAdvertisement(old Config, now time.Time) {
	next := a.cfg
	if a.link == nil || next.AgentAdvInterval <= 0 {
		return
	}
	switch {
	case old.AgentAdvInterval <= 0,
		old.AgentAdvLifetime != next.AgentAdvLifetime,
		old.MaxLifetime != next.MaxLifetime:
		a.nextAdv = now
	case old.AgentAdvInterval != next.AgentAdvInterval:
		last := a.nextAdv.Add(-old.AgentAdvInterval)
		a.nextAdv = last.Add(next.AgentAdvInterval)
		if a.nextAdv.Before(now) {
			a.nextAdv = now
		}
	}
}

func sameSA(x, y mip.SecurityAssociation) bool {
	return x.SPI == y.SPI && x.Alg == y.Alg && x.Replay == y.Replay && bytes.Equal(x.Key, y.Key)
}

// keepIPsec gives next the running IPsec labels and IPSEC section, and
// returns the labels that changed: signalling protection was set up from
// them at start and needs a restart to change.
func keepIPsec(running Config, next *Config) []string {
	changed, _ := daemon.SplitChanges(running.Config, &next.Config)
	next.Config = running.Config
	return changed
}
