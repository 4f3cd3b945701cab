package fa

import (
	"net/netip"

	"time"

	"github.com/dynamics-go/dynamics/libdynamics/binding"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// handleReply matches a reply from upstream to its pending request
// (RFC 5944 section 3.7.3), checks its Foreign-Home authenticator, updates
// the visitor list and the kernel, and relays the reply to the mobile.
func (a *Agent) handleReply(ev event) {
	r := ev.reply
	key := pendingKey{r.Home, uint32(r.ID)}
	p, ok := a.pending[key]
	if !ok || ev.src.Addr() != p.Up || !mip.ReplyMatches(p.ID, r.ID) {
		a.counts.unmatched.Add(1)
		a.log.Debug("reply matches no pending request", logging.KeyHome, r.Home, logging.KeyID, r.ID,
			logging.KeyCode, uint8(r.Code), "src", ev.src)
		return
	}
	a.log.Debug("registration reply", logging.KeyHome, r.Home, logging.KeyHA, r.HomeAgent, logging.KeyID, r.ID,
		logging.KeyCode, uint8(r.Code), "lifetime", r.Lifetime, "src", ev.src)
	if sa, ok := a.sas[p.HA]; ok {
		if err := mip.VerifyReply(r.Raw(), mip.TypeForeignHome, sa); err != nil {
			a.counts.auth.Add(1)
			a.removePending(key)
			a.log.Warn("reply failed Foreign-Home authentication", logging.KeyHome, r.Home,
				logging.KeyHA, p.HA, logging.KeyID, r.ID, logging.KeyErr, err)
			a.deny(p.Down, p.Home, p.HA, p.CareOf, p.ID, mip.CodeFAHomeAgentAuthFailed, 0, "home agent failed authentication")
			return
		}
		if rs, err := mip.FindRevocationSupport(r.Extensions); err == nil && rs != nil {
			a.revSupport[p.Up] = rs.Timestamp
		}
	}
	a.removePending(key)

	if r.Code.Accepted() {
		a.stats.Accepted++
		if p.Lifetime == 0 || r.Lifetime == 0 {
			if _, ok := a.visitors.Get(p.Home); ok {
				a.removeVisitor(p.Home)
			}
			a.log.Info("deregistration accepted", logging.KeyHome, p.Home, logging.KeyCoA, p.CareOf, logging.KeyHA, p.HA,
				logging.KeyID, p.ID, logging.KeyCode, uint8(r.Code), logging.KeyIface, p.Down.Iface)
		} else {
			a.register(p, r)
			a.log.Info("registration accepted", logging.KeyHome, p.Home, logging.KeyCoA, p.CareOf,
				logging.KeyHA, p.HA, logging.KeyID, p.ID, logging.KeyCode, uint8(r.Code),
				logging.KeyIface, p.Down.Iface, "lifetime", r.Lifetime)
		}
	} else {
		a.stats.countDeniedUpstream(r.Code)
		a.log.Info("registration denied by home agent", logging.KeyHome, p.Home, logging.KeyCoA, p.CareOf,
			logging.KeyHA, p.HA, logging.KeyID, p.ID, logging.KeyCode, uint8(r.Code), logging.KeyIface, p.Down.Iface,
			"reason", r.Code.String())
	}
	a.stats.Replies++
	a.sendDown(p.Down, p.Home, mobilePart(r))
}

// mobilePart is the reply as the mobile receives it: the bytes up to and
// including the Mobile-Home authenticator, as the home agent sent them.
// What follows (the Revocation Support and Foreign-Home extensions) was for
// this agent.
func mobilePart(r *mip.Reply) []byte {
	raw := r.Raw()
	_, mh := r.Auth(mip.TypeMobileHome)
	if mh < 0 {
		if _, fh := r.Auth(mip.TypeForeignHome); fh >= 0 {
			mh = fh - 1
		} else {
			return raw
		}
	}
	end := mip.ReplyLen
	for i := 0; i <= mh; i++ {
		end += len(r.ExtensionBytes(i))
	}
	return raw[:end]
}

// register makes or updates the visitor entry for an accepted reply. A
// visitor that re-registers keeps its kernel state; only what changed is
// replaced.
func (a *Agent) register(p *Pending, r *mip.Reply) {
	now := a.clock.Now()
	lifetime := time.Duration(r.Lifetime) * time.Second
	if r.Lifetime > p.Lifetime {
		lifetime = time.Duration(p.Lifetime) * time.Second
	}
	expiry := now.Add(lifetime)
	if r.Lifetime == mip.Infinite && p.Lifetime == mip.Infinite {
		expiry = now.AddDate(100, 0, 0)
	}
	b := binding.Binding{
		Home:      p.Home,
		Lower:     p.Home, // the mobile itself is below this agent
		CareOf:    p.CareOf,
		HA:        p.HA,
		ID:        p.ID,
		Expiry:    expiry,
		Lifetime:  lifetime,
		Confirmed: true,
		Flags:     uint8(p.Flags),
	}
	old := a.vinfo[p.Home]
	info := &visitorInfo{down: p.Down, up: p.Up}

	// The tunnel: keep the old reference when the endpoints are the same.
	if a.wantsTunnel(p.Flags) {
		if old != nil && old.tunnel != 0 && old.tunnelRemote == p.HA {
			info.tunnel, info.tunnelRemote = old.tunnel, old.tunnelRemote
			old.tunnel = 0 // handed over
		} else if t, err := a.acquireTunnel(p.HA); err != nil {
			a.log.Error("cannot make the tunnel to the home agent", logging.KeyHome, p.Home,
				logging.KeyHA, p.HA, logging.KeyErr, err)
		} else {
			info.tunnel, info.tunnelRemote = t.ID, p.HA
		}
	}
	b.Value = uint32(info.tunnel)
	info.entries = a.visitorEntries(p.Home, p.Flags, p.Down, info.tunnel)
	if err := a.kern.Ensure(info.entries...); err != nil {
		a.log.Error("kernel entries for visitor failed", logging.KeyHome, p.Home, logging.KeyIface, p.Down.Iface,
			logging.KeyErr, err)
	}
	if old != nil {
		a.removeStale(old.entries, info.entries)
		if old.tunnel != 0 {
			a.releaseTunnel(old.tunnel)
		}
	}
	if _, _, err := a.visitors.Put(b); err != nil {
		a.log.Error("visitor entry rejected", logging.KeyHome, p.Home, logging.KeyErr, err)
	}
	a.vinfo[p.Home] = info
}

// removeVisitor removes a visitor and everything the agent made for it.
func (a *Agent) removeVisitor(home netip.Addr) {
	a.visitors.Delete(home)
	a.cleanupVisitor(home)
}

// cleanupVisitor removes the kernel state and tunnel reference of a visitor
// no longer in the table.
func (a *Agent) cleanupVisitor(home netip.Addr) {
	info, ok := a.vinfo[home]
	if !ok {
		return
	}
	delete(a.vinfo, home)
	if err := a.kern.Remove(info.entries...); err != nil {
		a.log.Error("removing visitor's kernel entries failed", logging.KeyHome, home, logging.KeyErr, err)
	}
	if info.tunnel != 0 {
		a.releaseTunnel(info.tunnel)
	}
}
