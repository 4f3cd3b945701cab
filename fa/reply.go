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

// handleReply matches a reply from upstream to its pending request
// (RFC 5944 section 3.7.3), checks its Foreign-Home authenticator when it
// comes from the home agent, takes the agent's session key from it in a
// hierarchy, updates the visitor list and the kernel, and relays the reply
// down: to the mobile its own part, to a lower agent also the FA Session
// Key extensions of the agents below.
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
	// Only the home agent's own reply carries a Foreign-Home authenticator
	// for this agent: one relayed down by an upper agent had it for that
	// agent.
	if sa, ok := a.sas[p.HA]; ok && p.Up == p.HA {
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

	register := r.Code.Accepted() && p.Lifetime != 0 && r.Lifetime != 0
	var sess *session
	var below []mip.FASessionKey
	// A home agent's reply is passed down before the agent decrypts its
	// own session key (an RSA private-key operation, a millisecond or
	// two), which only later local moves need; a switching agent's answer
	// is believed only once its MN-GFA authenticator verifies with that
	// key, so it is decrypted first.
	var own *mip.FASessionKey
	var keyErr error
	homeKey := false
	if register && a.cfg.Hierarchy() {
		var local bool
		own, below, local, keyErr = a.replyKeys(r)
		if local {
			var err error
			if sess, err = a.localSession(p.Home, r, own); err != nil {
				a.counts.auth.Add(1)
				a.log.Warn("reply's session key unusable", logging.KeyHome, r.Home, logging.KeyID, r.ID,
					"src", ev.src, logging.KeyErr, err)
				a.deny(p.Down, p.Home, p.HA, p.CareOf, p.ID, mip.CodeFAHomeAgentAuthFailed, 0, "session key: "+err.Error())
				return
			}
		} else {
			homeKey = true
		}
	}

	var stale staleWay
	if r.Code.Accepted() {
		a.stats.Accepted++
		if !register {
			if _, ok := a.visitors.Get(p.Home); ok {
				a.removeVisitor(p.Home)
			}
			a.log.Info("deregistration accepted", logging.KeyHome, p.Home, logging.KeyCoA, p.CareOf, logging.KeyHA, p.HA,
				logging.KeyID, p.ID, logging.KeyCode, uint8(r.Code), logging.KeyIface, p.Down.Iface)
		} else {
			lifetime := min(r.Lifetime, p.Lifetime)
			stale = a.confirm(grant{
				home: p.Home, ha: p.HA, careOf: p.CareOf, id: p.ID, flags: p.Flags,
				lifetime: time.Duration(lifetime) * time.Second,
				infinite: r.Lifetime == mip.Infinite && p.Lifetime == mip.Infinite,
				down:     p.Down, up: p.Up, sess: sess,
			})
		}
	} else {
		a.stats.countDeniedUpstream(r.Code)
		a.log.Info("registration denied by home agent", logging.KeyHome, p.Home, logging.KeyCoA, p.CareOf,
			logging.KeyHA, p.HA, logging.KeyID, p.ID, logging.KeyCode, uint8(r.Code), logging.KeyIface, p.Down.Iface,
			"reason", r.Code.String())
	}
	a.stats.Replies++
	out := mobilePart(r)
	if p.Down.IsAgent() {
		out = append(make([]byte, 0, len(out)+300*len(below)), out...)
		for _, k := range below {
			var err error
			if out, err = mip.AppendFASessionKey(out, k); err != nil {
				a.log.Warn("cannot pass an FA Session Key down", logging.KeyHome, p.Home, logging.KeyFA, k.Agent, logging.KeyErr, err)
				out = out[:len(mobilePart(r))]
				break
			}
		}
	}
	a.sendDown(p.Down, p.Home, out)
	a.dropStale(stale)
	if register {
		if homeKey {
			if sess = a.homeSession(p.Home, r, own, keyErr); sess != nil {
				a.keepSession(p.Home, *sess)
			}
		}
		a.log.Info("registration accepted", logging.KeyHome, p.Home, logging.KeyCoA, p.CareOf,
			logging.KeyHA, p.HA, logging.KeyID, p.ID, logging.KeyCode, uint8(r.Code),
			logging.KeyIface, p.Down.Iface, "lifetime", min(r.Lifetime, p.Lifetime), "down", p.Down.String(),
			"session_key", sess != nil)
	}
}

// keepSession gives home's visitor binding the session key of the reply
// that confirmed it, decrypted once the reply was on its way down.
func (a *Agent) keepSession(home netip.Addr, s session) {
	b, ok := a.visitors.Get(home)
	if !ok {
		return
	}
	b.Key, b.HasKey, b.SPI = s.key, true, s.spi
	if _, _, err := a.visitors.Put(b); err != nil {
		a.log.Error("visitor entry rejected", logging.KeyHome, home, logging.KeyErr, err)
		return
	}
	a.touchSession(s, a.clock.Now())
}

// mobilePart is the reply as the mobile receives it: the bytes up to and
// including the mobile's authenticator (Mobile-Home, or the MN-GFA one of a
// switching agent's answer), as they were sent. What follows (FA Session
// Keys for the agents, Revocation Support, Foreign-Home) was for the agents.
func mobilePart(r *mip.Reply) []byte {
	raw := r.Raw()
	m := mobileAuthIndex(r)
	end := mip.ReplyLen
	for i := 0; i <= m; i++ {
		end += len(r.ExtensionBytes(i))
	}
	return raw[:end]
}

// grant is a registration the agent confirms: from a reply from above, or
// its own answer as switching agent.
type grant struct {
	home, ha, careOf netip.Addr
	id               uint64
	flags            mip.Flags
	lifetime         time.Duration // granted
	infinite         bool          // both sides asked for 65535: no expiry
	down             Downlink
	up               netip.Addr
	sess             *session // nil: no session key
}

// confirm makes or updates the visitor entry and the kernel state of a
// granted registration. A visitor that re-registers keeps its kernel state
// and tunnel references where they do not change; only what changed is
// replaced, so moving the way down to another lower agent replaces the
// host route and reverse tunnel rule and swaps the downward tunnel.
//
// confirm makes only what the new registration needs: the tunnels, the
// routes and rules of the new way. What the visitor's old way leaves
// behind (entries no longer wanted, tunnel references no longer held) is
// returned, for the caller to drop with dropStale once it has sent the
// reply down: the mobile, told by the reply that it may use the new way,
// finds it in place, and the old way, which it no longer uses, goes
// afterwards. Removing a tunnel device can take the kernel tens of
// milliseconds, which the reply no longer waits for.
func (a *Agent) confirm(g grant) staleWay {
	now := a.clock.Now()
	expiry := now.Add(g.lifetime)
	if g.infinite {
		expiry = now.AddDate(100, 0, 0)
	}
	lower := g.home // the mobile itself is below this agent
	if g.down.IsAgent() {
		lower = g.down.Agent.Addr()
	}
	b := binding.Binding{
		Home:      g.home,
		Lower:     lower,
		CareOf:    g.careOf,
		HA:        g.ha,
		ID:        g.id,
		Expiry:    expiry,
		Lifetime:  g.lifetime,
		Confirmed: true,
		Flags:     uint8(g.flags),
	}
	if g.sess != nil {
		b.Key, b.HasKey, b.SPI = g.sess.key, true, g.sess.spi
		a.touchSession(*g.sess, now)
	}
	old := a.vinfo[g.home]
	var oldUp, oldDown tunnel.ID
	if old != nil {
		oldUp, oldDown = old.tunnel, old.downTunnel
	}
	info := &visitorInfo{down: g.down, up: g.up}
	keepUp, keepDown := false, false
	if a.wantsTunnel(g.flags) {
		info.tunnel, keepUp = a.holdTunnel(oldUp, a.careOf, g.up, g.home)
	}
	if g.down.IsAgent() && !g.flags.Has(mip.FlagDecapsulation) {
		info.downTunnel, keepDown = a.holdTunnel(oldDown, g.down.Local, g.down.Agent.Addr(), g.home)
	}
	b.Value = uint32(info.tunnel)
	info.entries = a.visitorEntries(g.home, g.flags, g.down, info.tunnel, info.downTunnel)
	if err := a.kern.Ensure(info.entries...); err != nil {
		a.log.Error("kernel entries for visitor failed", logging.KeyHome, g.home, "down", g.down.String(),
			logging.KeyErr, err)
	}
	var stale staleWay
	if old != nil {
		stale.entries = staleEntries(old.entries, info.entries)
		if !keepUp {
			stale.up = oldUp
		}
		if !keepDown {
			stale.down = oldDown
		}
	}
	if _, _, err := a.visitors.Put(b); err != nil {
		a.log.Error("visitor entry rejected", logging.KeyHome, g.home, logging.KeyErr, err)
	}
	a.vinfo[g.home] = info
	return stale
}

// staleWay is what a visitor's old way down and up leaves behind once a
// registration moved it: kernel entries no longer wanted and references to
// tunnels no longer used (0 for none).
type staleWay struct {
	entries  []kernel.Entry
	up, down tunnel.ID
}

// dropStale removes what a move left behind (confirm).
func (a *Agent) dropStale(s staleWay) {
	if len(s.entries) > 0 {
		if err := a.kern.Remove(s.entries...); err != nil {
			a.log.Error("removing stale visitor entries", logging.KeyErr, err)
		}
	}
	a.releaseWays(s.up, s.down)
}

// releaseWays drops a visitor's references to its upward and downward
// tunnels (0 for none). Tunnels to other foreign agents linger: the
// upward one below the highest agent, every downward one.
func (a *Agent) releaseWays(up, down tunnel.ID) {
	if up != 0 {
		a.releaseTunnel(up, a.cfg.UpperFAIPAddress.IsValid())
	}
	if down != 0 {
		a.releaseTunnel(down, true)
	}
}

// removeVisitor removes a visitor and everything the agent made for it.
func (a *Agent) removeVisitor(home netip.Addr) {
	if b, ok := a.visitors.Get(home); ok {
		a.rememberSession(home, b)
	}
	a.visitors.Delete(home)
	a.cleanupVisitor(home)
}

// cleanupVisitor removes the kernel state and tunnel references of a
// visitor no longer in the table.
func (a *Agent) cleanupVisitor(home netip.Addr) {
	info, ok := a.vinfo[home]
	if !ok {
		return
	}
	delete(a.vinfo, home)
	if err := a.kern.Remove(info.entries...); err != nil {
		a.log.Error("removing visitor's kernel entries failed", logging.KeyHome, home, logging.KeyErr, err)
	}
	a.releaseWays(info.tunnel, info.downTunnel)
}
