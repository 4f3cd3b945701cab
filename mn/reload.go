package mn

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/daemon"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
)

// restartLabels are the settings the node cannot change while it runs: who
// and where it is, its interface, the co-located addresses it may be using,
// the kernel's data path and state file, the logger, and StartDisconnected,
// which only the start reads.
var restartLabels = []string{
	"MNHomeIPAddress", "HAIPAddress", "HomeNetPrefix", "Interface", "StartDisconnected",
	"TunnelMode", "TunnelPrefix", "StateFile", "SyslogFacility",
	"AdminSocket", "MonitorSocket", "COLOCATED", "IPSEC_INTERFACES",
}

// ipsecLabels are the labels of the signalling protection (secure.Config):
// the IKE and ESP set-up is made once, at start, so they all need a
// restart.
var ipsecLabels = func() []string {
	var labels []string
	t := reflect.TypeFor[secure.Config]()
	for i := range t.NumField() {
		if tag, ok := t.Field(i).Tag.Lookup("dyn"); ok {
			if name, _, _ := strings.Cut(tag, ","); name != "" && name != "-" {
				labels = append(labels, name)
			}
		}
	}
	return labels
}()

// Reload applies a new configuration to the running node, in its loop,
// keeping its registration. Only what differs from the configuration
// loaded last changes, so a tunneling mode set through the control API
// stays until the file's TunnelingMode changes.
//
//   - SPI, Algorithm, SharedSecret and Replay (the security association)
//     and Lifetime apply to the next request sent, retransmissions
//     included; the registration in force stays. A changed Replay starts
//     the identification afresh;
//   - RetryInterval, MaxRetryInterval and MaxRetryCount apply to the
//     outstanding request at once: its interval is brought within the new
//     bounds and its next retransmission no later than one interval away;
//   - SolicitInterval brings the next solicitation (and the next check of
//     a co-located gateway) no later than the new interval allows;
//   - HomeGateway changes the home routes at once; TunnelingMode applies
//     at once as the control API's set_tunneling_mode does (the routes
//     follow, and a node registered away registers again).
//
// The labels of restartLabels and the IPsec labels (IPsecLocalID, IPsecPSK,
// the certificates, IPsecMOBIKEX, IPsecESP, IPsecDevice, IPsecKeyLog and
// the IPSEC section) keep their running values and are logged in
// one warning line ("needs a restart: HAIPAddress, Interface"); a
// HomeGateway outside the running HomeNetPrefix is refused. What was
// applied is logged in one line, "configuration reloaded", with the labels
// changed. The error, a *daemon.ReloadError, names what was not applied;
// the rest was.
func (n *Node) Reload(ctx context.Context, cfg Config) error {
	var err error
	if derr := n.Do(ctx, func(l *Loop) { err = l.reload(cfg, n.clock.Now()) }); derr != nil {
		return derr
	}
	return err
}

// reload is Reload inside the loop.
func (l *Loop) reload(next Config, now time.Time) error {
	loaded := l.loaded
	// The IPsec labels first: their running values go back into next,
	// so that the split below sees no change in them either way.
	_, ipsecRestart := daemon.SplitChanges(loaded.Config, &next.Config, ipsecLabels...)
	changed, restart := daemon.SplitChanges(loaded, &next, restartLabels...)
	restart = append(ipsecRestart, restart...)
	rerr := &daemon.ReloadError{Restart: restart}
	if len(restart) > 0 {
		l.log.Warn(daemon.RestartMessage(restart))
	}
	if next.HomeGateway.IsValid() && !next.HomeNet.Contains(next.HomeGateway) {
		err := fmt.Errorf("HomeGateway: %s is outside the running HomeNetPrefix %s", next.HomeGateway, next.HomeNet)
		rerr.Rejected = append(rerr.Rejected, err)
		l.log.Warn("reload: HomeGateway refused", logging.KeyErr, err)
		next.HomeGateway = loaded.HomeGateway
		changed = slices.DeleteFunc(changed, func(s string) bool { return s == "HomeGateway" })
	}
	l.loaded = next

	mode := l.cfg.TunnelingMode
	*l.cfg = next
	l.cfg.TunnelingMode = mode
	if slices.Contains(changed, "TunnelingMode") {
		l.setTunnelingMode(next.TunnelingMode, now)
	}
	if next.Replay != loaded.Replay {
		l.lastID, l.haNonce = 0, 0
	}
	if p := l.pending; p != nil {
		p.interval = min(max(p.interval, next.RetryInterval), next.MaxRetryInterval)
		if !p.due && p.nextAt.After(now.Add(p.interval)) {
			p.nextAt = now.Add(p.interval)
		}
	}
	if (l.state == StateStartup || l.state == StateFindingAgent) && l.solicitAt.After(now.Add(next.SolicitInterval)) {
		l.solicitAt = now.Add(next.SolicitInterval)
	}
	if !l.checkAt.IsZero() && l.checkAt.After(now.Add(checkEvery*next.SolicitInterval)) {
		l.checkAt = now.Add(checkEvery * next.SolicitInterval)
	}
	l.log.Info("configuration reloaded", "changed", daemon.JoinLabels(changed))
	return rerr.Err()
}
