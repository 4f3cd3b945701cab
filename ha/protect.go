package ha

import (
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/logging"
)

// unprotectedLogGap is the least time between two debug lines about
// registration messages dropped for arriving outside ESP; those in between
// are counted in the next line's "suppressed".
const unprotectedLogGap = time.Second

// admit judges a received registration message against signalling
// protection (Options.Protector) and reports whether the agent may act on
// it. It drops, and counts as discards.unprotected:
//
//   - a message from a peer whose signalling must arrive inside ESP (a
//     configured IPsec peer, or an address its SA uses now) that did not;
//   - a request, well formed or not, for a protected mobile (its home
//     address is an IPsec peer) that did not arrive inside ESP: such a
//     mobile's registration reaches the agent only from the mobile itself
//     or from a protected foreign agent.
//
// Agent Solicitations on the home link are not registration signalling and
// are always admitted.
func (a *Agent) admit(ev event) bool {
	if ev.kind == evSolicit {
		return true
	}
	v := a.prot.Check(ev.src.Addr(), ev.ifindex)
	if v.Drop() {
		a.dropUnprotected(ev, ev.src.Addr(), "sender requires protection")
		return false
	}
	if v.Protected {
		return true
	}
	var home netip.Addr
	switch ev.kind {
	case evRequest:
		home = ev.req.Home
	case evPoorRequest:
		home = ev.poor.home
	default:
		return true
	}
	if a.prot.Requires(home) {
		a.dropUnprotected(ev, home, "mobile node requires protection")
		return false
	}
	return true
}

// dropUnprotected counts a message dropped by admit and logs it at debug
// level, at most once per unprotectedLogGap.
func (a *Agent) dropUnprotected(ev event, peer netip.Addr, why string) {
	a.counts.unprotected.Add(1)
	if ok, suppressed := a.unprotLog.Allow(a.clock.Now()); ok {
		a.log.Debug("registration message dropped: not protected", "src", ev.src, "peer", peer,
			logging.KeyIface, ev.ifindex, "reason", why, "suppressed", suppressed)
	}
}

// ready reports whether a datagram may be sent to dst now: signalling
// protection does not require ESP with dst, or its outbound SA is in
// place. When it may not, the datagram is not sent (never in clear) and is
// counted as sends.held: the request's retransmission, or the foreign
// agent's revocation timer, brings it back once the SA is up.
func (a *Agent) ready(dst netip.Addr, what outKind, home netip.Addr) bool {
	if a.prot.Ready(dst) {
		return true
	}
	a.stats.SendsHeld++
	a.log.Debug("send held: no ESP security association with the peer yet", "to", dst, logging.KeyHome, home,
		"message", what.String())
	return false
}
