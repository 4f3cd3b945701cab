package fa

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
// it. A message from a peer whose signalling must arrive inside ESP (a
// configured IPsec peer: the home agent, the upper agent, a lower agent)
// that came in clear is dropped and counted as discards.unprotected. Agent
// Solicitations are not registration signalling and are always admitted.
func (a *Agent) admit(ev event) bool {
	if ev.kind == evSolicit {
		return true
	}
	if !a.prot.Check(ev.src.Addr(), ev.ifindex).Drop() {
		return true
	}
	a.counts.unprotected.Add(1)
	if ok, suppressed := a.unprotLog.Allow(a.clock.Now()); ok {
		a.log.Debug("registration message dropped: not protected", "src", ev.src, logging.KeyIface, ev.ifindex,
			"message", ev.kind.String(), "suppressed", suppressed)
	}
	return false
}

// ready reports whether a datagram may be sent to dst over the upstream
// socket now: signalling protection does not require ESP with dst, or its
// outbound SA is in place. When it may not, the datagram is not sent
// (never in clear) and is counted as sends.held: the mobile's retry, or the
// revocation's retransmission, repeats it once the SA is up.
func (a *Agent) ready(dst netip.Addr, what string, home netip.Addr) bool {
	if a.prot.Ready(dst) {
		return true
	}
	a.hold(dst, what, home, "no ESP security association with the peer yet")
	return false
}

// readyFrame is ready for a message to a mobile on a visitor link. Frames
// never pass through ESP, so one to an address that requires protection is
// never sent.
func (a *Agent) readyFrame(dst netip.Addr, what string, home netip.Addr) bool {
	if !a.prot.Requires(dst) {
		return true
	}
	a.hold(dst, what, home, "the mobile requires protection, which frames on a visitor link cannot give")
	return false
}

func (a *Agent) hold(dst netip.Addr, what string, home netip.Addr, why string) {
	a.stats.SendsHeld++
	a.log.Debug("send held", "to", dst, logging.KeyHome, home, "message", what, "reason", why)
}

// String names the event's message in logs.
func (k eventKind) String() string {
	switch k {
	case evRequest:
		return "registration request"
	case evPoorRequest:
		return "malformed registration request"
	case evSolicit:
		return "agent solicitation"
	case evReply:
		return "registration reply"
	case evRevocation:
		return "revocation"
	case evRevocationAck:
		return "revocation acknowledgment"
	}
	return "unknown"
}
