package fa

import (
	"bytes"
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/daemon"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// restartLabels are the settings the agent cannot change while it runs:
// its interfaces and sockets, the care-of address its tunnels end at, the
// hierarchy and the key pair loaded at start, the kernel's data path and
// state file, the logger.
var restartLabels = []string{
	"UpstreamInterface", "CareOfAddress", "UpperFAIPAddress", "HighestFAIPAddress",
	"TunnelMode", "TunnelPrefix", "StateFile", "SyslogFacility",
	"AdminSocket", "MonitorSocket", "INTERFACES", "PrivateKeyFile", "PublicKeyFile",
}

// Reload applies a new configuration to the running agent, in its loop,
// keeping every visitor and pending request:
//
//   - AgentAdvInterval reschedules the next advertisement (one interval
//     after the last); AgentAdvLifetime, MaxLifetime, ReverseTunnel and
//     RegistrationRequired change what is advertised, and an advertisement
//     goes out at once;
//   - MaxLifetime, MaxVisitors and ReverseTunnel apply to the next request
//     (visitors registered keep their lifetimes, and a lowered MaxVisitors
//     removes none); EnableFADecapsulation to the next registration;
//   - PendingTimeout applies to the requests already relayed too: each
//     deadline moves by the difference;
//   - SECURITY applies to the next request relayed and the next reply or
//     revocation checked;
//   - TunnelLinger applies to the tunnels left idle from then on (those
//     already idle keep their end).
//
// The labels of restartLabels, and the IPsec labels and IPSEC section (the
// IKE SAs and the ESP path were set up from them at start), keep their
// running values and are logged in one warning line ("needs a restart:
// INTERFACES, IPSEC"). A CareOfAddress left
// out of the file means the running one (the command takes it from the
// upstream interface). What was applied is logged in one line,
// "configuration reloaded", with the labels changed and the home agents
// whose security associations were added, removed or updated. The error,
// a *daemon.ReloadError, names what was not applied; the rest was.
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
	if !next.CareOfAddress.IsValid() {
		next.CareOfAddress = old.CareOfAddress
	}
	changed, restart := daemon.SplitChanges(old, &next, restartLabels...)
	restart = append(restart, keepIPsec(old, &next)...)
	if len(restart) > 0 {
		a.log.Warn(daemon.RestartMessage(restart))
	}
	a.cfg = next
	added, removed, updated := a.reloadSecurity(next.Security)
	if len(added)+len(removed)+len(updated) == 0 {
		changed = slices.DeleteFunc(changed, func(l string) bool { return l == "SECURITY" })
	}
	if d := next.PendingTimeout - old.PendingTimeout; d != 0 {
		a.shiftPending(d)
	}
	a.rescheduleAdvertisement(old, now)

	attrs := []any{"changed", daemon.JoinLabels(changed)}
	for _, l := range []struct {
		key   string
		addrs []netip.Addr
	}{{"ha_added", added}, {"ha_removed", removed}, {"ha_updated", updated}} {
		if len(l.addrs) > 0 {
			attrs = append(attrs, l.key, daemon.JoinAddrs(l.addrs))
		}
	}
	a.log.Info("configuration reloaded", attrs...)
	return (&daemon.ReloadError{Restart: restart}).Err()
}

// reloadSecurity makes the Foreign-Home security associations those of
// entries.
func (a *Agent) reloadSecurity(entries []SecurityEntry) (added, removed, updated []netip.Addr) {
	want := make(map[netip.Addr]mip.SecurityAssociation, len(entries))
	for _, e := range entries {
		want[e.Peer] = e.SA()
	}
	for ha := range a.sas {
		if _, ok := want[ha]; !ok {
			removed = append(removed, ha)
			delete(a.sas, ha)
		}
	}
	for ha, sa := range want {
		old, ok := a.sas[ha]
		switch {
		case !ok:
			added = append(added, ha)
		case old.SPI != sa.SPI || old.Alg != sa.Alg || !bytes.Equal(old.Key, sa.Key):
			updated = append(updated, ha)
		default:
			continue
		}
		a.sas[ha] = sa
	}
	for _, l := range [][]netip.Addr{added, removed, updated} {
		slices.SortFunc(l, netip.Addr.Compare)
	}
	return added, removed, updated
}

// shiftPending moves the deadline of every pending request by d. All move
// alike, so the deadline queue stays in order.
func (a *Agent) shiftPending(d time.Duration) {
	for _, p := range a.pending {
		p.Deadline = p.Deadline.Add(d)
	}
	for i := range a.pendingQ {
		a.pendingQ[i].deadline = a.pendingQ[i].deadline.Add(d)
	}
}

// rescheduleAdvertisement moves the next advertisement after a reload: one
// new interval after the last one sent, or at once when what the
// advertisements say changed or advertising has just been turned on.
func (a *Agent) rescheduleAdvertisement(old Config, now time.Time) {
	next := a.cfg
	if next.AgentAdvInterval <= 0 {
		return
	}
	switch {
	case old.AgentAdvInterval <= 0,
		old.AgentAdvLifetime != next.AgentAdvLifetime,
		old.MaxLifetime != next.MaxLifetime,
		old.ReverseTunnel != next.ReverseTunnel,
		old.RegistrationRequired != next.RegistrationRequired,
		(a.visitors.Len() >= old.MaxVisitors) != (a.visitors.Len() >= next.MaxVisitors):
		a.nextAdv = now
	case old.AgentAdvInterval != next.AgentAdvInterval:
		last := a.nextAdv.Add(-old.AgentAdvInterval)
		a.nextAdv = last.Add(next.AgentAdvInterval)
		if a.nextAdv.Before(now) {
			a.nextAdv = now
		}
	}
}

// keepIPsec gives next the running IPsec labels and IPSEC section, and
// returns the labels that changed: signalling protection was set up from
// them at start and needs a restart to change.
func keepIPsec(running Config, next *Config) []string {
	changed, _ := daemon.SplitChanges(running.Config, &next.Config)
	next.Config = running.Config
	return changed
}
