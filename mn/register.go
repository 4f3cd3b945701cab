package mn

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/discovery"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// requestTTL is the IP TTL of requests sent to a foreign agent as frames.
const requestTTL = 64

// maxSent bounds the transmissions of one attempt whose replies are still
// accepted.
const maxSent = 8

// attempt is an outstanding request: a registration (or renewal) through a
// foreign agent or from a co-located address, or a deregistration.
type attempt struct {
	dereg     bool
	colocated bool
	via       *agent     // the foreign agent relaying, or nil: straight to the home agent
	src       netip.Addr // source of a request straight to the home agent
	coa       netip.Addr
	flags     mip.Flags
	lifetime  uint16
	renewal   bool // a registration is in force meanwhile
	// local marks a local move (docs/PROTOCOL.md, "Foreign agent
	// hierarchy"): the request carries the MN-GFA authenticator made with
	// sess, and a switching agent may answer it.
	local bool
	sess  *session

	sent     []transmission // the latest transmissions, oldest first
	tries    int            // retransmissions so far
	interval time.Duration  // until the next retransmission
	nextAt   time.Time
	due      bool // to be sent at the next settle
	resynced bool // identification resynchronised once (code 133)
	// unmoved: the SAs could not be moved to src for this transmission;
	// it goes out all the same if the home agent is Ready.
	unmoved bool
}

// attrs are the log attributes naming the attempt: home address, care-of
// address, home agent and, through one, the foreign agent.
func (p *attempt) attrs(l *Loop, more ...any) []any {
	a := []any{logging.KeyHome, l.cfg.Home, logging.KeyCoA, p.coa, logging.KeyHA, l.cfg.HA}
	if p.via != nil {
		a = append(a, logging.KeyFA, p.via.addr)
	}
	return append(a, more...)
}

// transmission is one request sent: its identification and when.
type transmission struct {
	id uint64
	at time.Time
	n  uint64 // the loop's count of requests sent, this one included
}

// match returns when the request that reply identification id answers was
// sent.
func (p *attempt) match(id uint64) (transmission, bool) {
	for i := len(p.sent) - 1; i >= 0; i-- {
		if mip.ReplyMatches(p.sent[i].id, id) {
			return p.sent[i], true
		}
	}
	return transmission{}, false
}

// registration is the registration the home agent accepted.
type registration struct {
	ok        bool
	coa       netip.Addr
	colocated bool
	agent     netip.Addr // the foreign agent, when through one
	lifetime  time.Duration
	expiry    time.Time // zero for an infinite lifetime
	renewAt   time.Time
}

func (r registration) valid() bool { return r.ok }

// renewAfter returns how long after sending a request whose registration
// was granted life the mobile renews it: at 80% of the lifetime, or earlier
// for short lifetimes, leaving at least three retry intervals (but no more
// than half the lifetime) for the renewal to be answered.
func (l *Loop) renewAfter(life time.Duration) time.Duration {
	margin := max(life/5, min(life/2, 3*l.cfg.RetryInterval))
	return life - margin
}

// register starts a registration where the mobile is attached: through the
// current foreign agent, or from the co-located address. With a
// registration in force it is a renewal and the state stays Registered.
func (l *Loop) register(now time.Time) {
	p := &attempt{interval: l.cfg.RetryInterval, due: true, renewal: l.reg.valid(), lifetime: l.lifetimeSeconds()}
	switch l.where {
	case atAgent:
		a := l.cur
		p.via, p.coa = a, a.coa
		if !p.renewal && l.localMove(a, now) {
			p.local, p.sess = true, l.session
		}
		if a.maxLife != 0 && a.maxLife != discovery.InfiniteLifetime && a.maxLife < p.lifetime {
			p.lifetime = a.maxLife
		}
		if l.cfg.TunnelingMode == TunnelFull {
			if a.flags&discovery.FlagReverseTunnel != 0 {
				p.flags |= mip.FlagReverseTunnel
			} else if !p.renewal {
				l.log.Info("foreign agent offers no reverse tunnel; the mobile's traffic leaves directly",
					logging.KeyFA, a.addr)
			}
		}
	case atColocated:
		e := l.cfg.Colocated[l.coloc]
		p.colocated = true
		p.coa = e.Addr.Prefix().Addr()
		p.src = p.coa
		p.flags = mip.FlagDecapsulation
		if l.cfg.TunnelingMode == TunnelFull {
			p.flags |= mip.FlagReverseTunnel
		}
	default:
		return
	}
	l.pending = p
	if !p.renewal {
		l.setState(StateRegistering, now)
	}
}

// deregister starts a deregistration from home: lifetime 0, care-of address
// the home address, sent straight to the home agent (RFC 5944 section
// 3.6.1.2).
func (l *Loop) deregister(now time.Time) {
	l.dropSession("deregistration")
	l.pending = &attempt{dereg: true, src: l.cfg.Home, coa: l.cfg.Home, interval: l.cfg.RetryInterval, due: true}
	l.setState(StateDeregistering, now)
}

// flush sends the request that is due, unless it waits for the IPsec SAs
// to move to its source (protect.go).
func (l *Loop) flush(now time.Time) {
	if p := l.pending; p != nil && p.due && !l.holdForMove(p) {
		l.send(p, now)
	}
}

// send transmits the attempt's request with a fresh identification. A
// request to a destination that signalling protection is not ready for is
// held instead: not sent, counted, and repeated by the retransmission
// timer as if it had been lost.
func (l *Loop) send(p *attempt, now time.Time) {
	p.due, p.unmoved = false, false
	p.nextAt = now.Add(p.interval)
	dst := l.cfg.HA
	if p.via != nil {
		dst = p.via.addr
	}
	if !l.n.protect.Ready(dst) {
		l.stats.SendsHeld++
		l.log.Debug("registration request held: no ESP SA to its destination yet",
			p.attrs(l, "dst", dst, "retry", p.interval)...)
		return
	}
	req := &mip.Request{
		Flags:     p.flags,
		Lifetime:  p.lifetime,
		Home:      l.cfg.Home,
		HomeAgent: l.cfg.HA,
		CareOf:    p.coa,
		ID:        l.nextID(now),
	}
	var err error
	if p.local {
		// The session key may have run out since the move: then the
		// request goes up as a full registration.
		if l.validSession(now) != p.sess {
			p.local, p.sess = false, nil
		} else {
			err = req.Authenticate(mip.TypeGeneralizedAuth, p.sess.sa())
		}
	}
	if err == nil {
		err = req.Authenticate(mip.TypeMobileHome, l.cfg.SA())
	}
	var b []byte
	if err == nil {
		b, err = req.Marshal()
	}
	if err != nil {
		l.log.Error("cannot build registration request", "err", err)
		return
	}
	l.txN++
	p.sent = append(p.sent, transmission{id: req.ID, at: now, n: l.txN})
	if len(p.sent) > maxSent {
		p.sent = p.sent[1:]
	}
	if p.via != nil {
		pkt := link.AppendUDP(nil, netip.AddrPortFrom(l.cfg.Home, Port), netip.AddrPortFrom(p.via.addr, Port), requestTTL, b)
		err = l.n.link.WriteFrame(pkt, p.via.hw)
	} else {
		err = l.n.sendUDP(b, netip.AddrPortFrom(l.cfg.HA, Port), p.src)
	}
	if err != nil {
		l.log.Warn("cannot send registration request", p.attrs(l, logging.KeyErr, err)...)
		return
	}
	l.stats.Requests++
	if p.local {
		l.stats.LocalRequests++
	}
	l.log.Debug("registration request sent", p.attrs(l, logging.KeyID, req.ID, "lifetime", p.lifetime,
		"flags", p.flags.String(), "retransmission", p.tries, "local", p.local)...)
}

// sendUDP sends a datagram from src when the socket can choose.
func (n *Node) sendUDP(b []byte, dst netip.AddrPort, src netip.Addr) error {
	if sw, ok := n.udp.(SourceWriter); ok && src.IsValid() {
		return sw.WriteToFrom(b, dst, src)
	}
	_, err := n.udp.WriteTo(b, net.UDPAddrFromAddrPort(dst))
	return err
}

// nextID returns the identification of the next request: a timestamp of
// the mobile's clock corrected by the offset learnt from code 133, later
// than any sent before; or the home agent's last nonce and a fresh one.
func (l *Loop) nextID(now time.Time) uint64 {
	var id uint64
	if mip.ReplayMode(l.cfg.Replay) == mip.ReplayNonce {
		var b [4]byte
		if _, err := io.ReadFull(l.n.rand, b[:]); err != nil {
			l.log.Error("cannot read a nonce", "err", err)
		}
		id = mip.NonceID(l.haNonce, binary.BigEndian.Uint32(b[:]))
	} else {
		id = mip.TimestampID(now.Add(l.offset))
		if id <= l.lastID {
			id = l.lastID + 1
		}
	}
	l.lastID = id
	return id
}

// onReply acts on a registration reply: it must answer the outstanding
// request and carry a valid Mobile-Home authenticator unless a foreign
// agent denies the request. A reply to a local move may instead carry an
// MN-GFA authenticator made with the session key: the switching agent's
// answer.
func (l *Loop) onReply(ev replyEvent, now time.Time) {
	r := ev.reply
	p := l.pending
	var tx transmission
	ok := p != nil && r.Home == l.cfg.Home
	if ok {
		tx, ok = p.match(r.ID)
	}
	if !ok {
		l.stats.Discards.Unmatched++
		l.log.Debug("reply answers no outstanding request", "from", ev.from, logging.KeyID, r.ID,
			logging.KeyCode, int(r.Code))
		return
	}
	sa := l.cfg.SA()
	mh, _ := r.Auth(mip.TypeMobileHome)
	gfa, _ := r.Auth(mip.TypeGeneralizedAuth)
	local := false
	switch {
	case p.local && mh == nil && gfa != nil:
		// The switching agent's answer: no Mobile-Home authenticator,
		// an MN-GFA one with the session key.
		if err := mip.VerifyReply(r.Raw(), mip.TypeGeneralizedAuth, p.sess.sa()); err != nil {
			l.stats.Discards.Authentication++
			l.log.Warn("local reply failed MN-GFA authentication", "from", ev.from, logging.KeyID, r.ID, "err", err)
			return
		}
		local = true
	case mh != nil || !r.Code.FromFA():
		// A foreign agent's denial cannot carry the Mobile-Home
		// authenticator; it is believed, since all it can do is delay.
		if err := mip.VerifyReply(r.Raw(), mip.TypeMobileHome, sa); err != nil {
			l.stats.Discards.Authentication++
			l.log.Warn("reply failed authentication", "from", ev.from, logging.KeyID, r.ID, "err", err)
			return
		}
	}
	l.stats.Replies[r.Code]++
	if !r.Code.FromFA() && sa.Replay == mip.ReplayNonce {
		l.haNonce = uint32(r.ID >> 32)
	}
	l.log.Debug("registration reply", "from", ev.from, logging.KeyID, r.ID, logging.KeyCode, int(r.Code),
		"lifetime", r.Lifetime, "local", local)
	switch {
	case r.Code.Accepted():
		l.accepted(p, r, tx, local, now)
	case r.Code == mip.CodeIDMismatch && !p.resynced:
		l.resync(p, r, tx, now)
	default:
		l.denied(p, r, tx, now)
	}
}

// accepted completes an attempt. local reports a switching agent's answer
// to a local move, which keeps the session key; any other accepted
// registration brings the next one, or ends it.
func (l *Loop) accepted(p *attempt, r *mip.Reply, tx transmission, local bool, now time.Time) {
	if p.dereg {
		l.pending = nil
		l.log.Info("deregistered", p.attrs(l, logging.KeyID, r.ID, logging.KeyCode, int(r.Code))...)
		l.confirmReply(tx, nil)
		if l.disc {
			l.enterDisconnected(now)
			return
		}
		l.announce = true
		l.setState(StateHome, now)
		return
	}
	granted := min(r.Lifetime, p.lifetime)
	if granted == 0 {
		l.log.Info("registration accepted with lifetime 0; taken as a denial", logging.KeyHome, l.cfg.Home,
			logging.KeyCoA, p.coa, logging.KeyID, r.ID, logging.KeyCode, int(r.Code))
		l.denied(p, r, tx, now)
		return
	}
	reg := registration{ok: true, coa: p.coa, colocated: p.colocated}
	if p.via != nil {
		reg.agent = p.via.addr
	}
	if local {
		l.stats.LocalAccepted++
		p.sess.agent = p.via.addr
	} else {
		l.takeSession(p, r, tx)
	}
	if granted != mip.Infinite {
		reg.lifetime = time.Duration(granted) * time.Second
		reg.expiry = tx.at.Add(reg.lifetime)
		reg.renewAt = tx.at.Add(l.renewAfter(reg.lifetime))
	}
	l.reg = reg
	l.pending = nil
	if p.via != nil {
		l.moveHome()
	}
	l.setState(StateRegistered, now)
	l.log.Info("registered", p.attrs(l, logging.KeyID, r.ID, logging.KeyCode, int(r.Code), "lifetime", granted,
		"renewal", p.renewal, "local", local)...)
	l.confirmReply(tx, nil)
}

// resync corrects the identification after code 133 and sends again at
// once (RFC 5944 section 5.7).
func (l *Loop) resync(p *attempt, r *mip.Reply, tx transmission, now time.Time) {
	p.resynced = true
	if mip.ReplayMode(l.cfg.Replay) == mip.ReplayTimestamp {
		off, err := mip.Resync(tx.id, r.ID, now)
		if err != nil {
			l.denied(p, r, tx, now)
			return
		}
		l.offset = off
		l.lastID = 0
	}
	l.log.Info("registration identification mismatch; resynchronised, sending again", logging.KeyHome, l.cfg.Home,
		logging.KeyHA, l.cfg.HA, logging.KeyID, r.ID, logging.KeyCode, int(r.Code), "offset", l.offset)
	p.due = true
}

// denied logs a denial and ends a Confirm waiting for it; the
// retransmission timer tries again after the current backoff interval,
// unless the retries are used up.
func (l *Loop) denied(p *attempt, r *mip.Reply, tx transmission, now time.Time) {
	by := "home agent"
	if r.Code.FromFA() {
		by = "foreign agent"
	}
	what := "registration denied"
	if p.dereg {
		what = "deregistration denied"
	}
	l.log.Info(what, p.attrs(l, logging.KeyID, r.ID, logging.KeyCode, int(r.Code), "reason", r.Code.String(),
		"by", by)...)
	l.confirmReply(tx, &DeniedError{Code: r.Code})
	if p.local && r.Code == mip.CodeFAMobileAuthFailed {
		// The switching agent does not know the session key (it holds
		// a newer one, or none): register fully at once.
		l.dropSession("MN-GFA authenticator refused")
		p.local, p.sess = false, nil
		p.due = true
		return
	}
	if p.tries >= l.cfg.MaxRetryCount {
		l.giveUp(now, r.Code.String())
	}
}

// tickRegistration handles the registration's timers: expiry, renewal and
// retransmission.
func (l *Loop) tickRegistration(now time.Time) {
	if l.reg.valid() && !l.reg.expiry.IsZero() && !now.Before(l.reg.expiry) {
		l.log.Info("registration expired before it was renewed", logging.KeyHome, l.cfg.Home,
			logging.KeyCoA, l.reg.coa)
		l.reg = registration{}
		if l.pending == nil {
			l.register(now)
		} else {
			l.pending.renewal = false
			l.setState(StateRegistering, now)
		}
	}
	if p := l.pending; p != nil && !p.due && !now.Before(p.nextAt) {
		if p.tries >= l.cfg.MaxRetryCount {
			l.giveUp(now, "no reply")
		} else {
			p.tries++
			p.interval = min(2*p.interval, l.cfg.MaxRetryInterval)
			p.due = true
			l.stats.Retransmissions++
		}
	}
	if l.reg.valid() && l.pending == nil && !l.reg.renewAt.IsZero() && !now.Before(l.reg.renewAt) {
		l.log.Debug("renewing registration", logging.KeyCoA, l.reg.coa, "expiry", l.reg.expiry)
		l.register(now)
	}
}

// giveUp abandons the outstanding request. An agent or co-located address
// that did not register the mobile is held down for a while and the mobile
// looks for another; a deregistration nobody answers leaves the mobile home
// all the same.
func (l *Loop) giveUp(now time.Time, why string) {
	p := l.pending
	l.pending = nil
	if p.dereg {
		l.log.Warn("deregistration not confirmed; the home agent keeps any binding until it expires",
			logging.KeyHome, l.cfg.Home, logging.KeyHA, l.cfg.HA, "reason", why, "retransmissions", p.tries)
		if l.disc {
			l.enterDisconnected(now)
			return
		}
		l.setState(StateHome, now)
		return
	}
	key := ""
	if p.via != nil {
		key = p.via.key()
		if l.cur != nil && l.cur.addr == p.via.addr {
			l.cur = nil
		}
	} else if l.coloc >= 0 {
		key = l.colocatedKey(l.coloc)
	}
	if key != "" {
		l.held[key] = now.Add(l.holdDown())
	}
	l.log.Warn("giving up on registration", p.attrs(l, "reason", why, "retransmissions", p.tries,
		"hold", l.holdDown())...)
	l.where = atUnknown
	l.reattach(now)
}

// reattach attaches to the best agent still heard, or looks for one;
// disconnected, it is Disconnected.
func (l *Loop) reattach(now time.Time) {
	if l.disc {
		l.enterDisconnected(now)
		return
	}
	if b := l.bestHeard(now); b != nil {
		if b.home {
			l.comeHome(b, now)
		} else {
			l.attach(b, now, "current agent lost")
		}
		return
	}
	l.lose(now)
}
