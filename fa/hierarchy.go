package fa

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/binding"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/sessionkey"
)

// session is the session key of a hierarchical registration and the SPI it
// is used under.
type session struct {
	key sessionkey.Key
	spi uint32
}

// sa is the security association of a session: HMAC-MD5 with the session
// key under the session SPI, for MN-GFA and Foreign-Home authenticators.
func (s session) sa() mip.SecurityAssociation {
	return mip.SecurityAssociation{SPI: s.spi, Alg: mip.HMACMD5, Key: append([]byte(nil), s.key[:]...)}
}

// bindingSession returns the session a confirmed binding holds, if any.
func bindingSession(b binding.Binding) (session, bool) {
	if !b.Confirmed || !b.HasKey {
		return session{}, false
	}
	return session{key: sessionkey.Key(b.Key), spi: b.SPI}, true
}

// answerLocally makes the agent the switching agent for req (docs/PROTOCOL.md,
// "A local move") when it may be: the request carries an MN-GFA
// authenticator under the SPI of the session of a confirmed binding this
// agent holds for the mobile, and arrives by another way down than that
// binding's (otherwise nothing moved below this agent, and an agent above
// decides). A wrong authenticator is denied with 67 and changes nothing. A
// request the agent may not answer (identification not newer than the
// binding's, another home agent, care-of address or flags, a
// deregistration, too little lifetime left) is left to be relayed up, and
// answerLocally returns false. Otherwise the agent answers the mobile
// itself, moves its part of the tunnel chain to the new way down, revokes
// the old branch, and returns true.
func (a *Agent) answerLocally(req *mip.Request, down Downlink) bool {
	auth, _ := req.Auth(mip.TypeGeneralizedAuth)
	if auth == nil {
		return false
	}
	b, ok := a.visitors.Get(req.Home)
	info := a.vinfo[req.Home]
	if !ok || info == nil {
		return false
	}
	sess, ok := bindingSession(b)
	if !ok || sess.spi != auth.SPI || info.down.Same(down) {
		return false
	}
	if err := mip.VerifyRequest(req.Raw(), mip.TypeGeneralizedAuth, sess.sa()); err != nil {
		a.log.Warn("local registration failed MN-GFA authentication", logging.KeyHome, req.Home,
			logging.KeyID, req.ID, "spi", auth.SPI, "from", down.String(), logging.KeyErr, err)
		a.deny(down, req.Home, req.HomeAgent, req.CareOf, req.ID, mip.CodeFAMobileAuthFailed, 0, "MN-GFA authenticator wrong")
		return true
	}
	now := a.clock.Now()
	remaining := b.Expiry.Sub(now)
	why := ""
	switch {
	case req.ID <= b.ID:
		why = "identification not newer than the binding's"
	case req.HomeAgent != b.HA:
		why = "another home agent"
	case req.CareOf != b.CareOf:
		why = "another care-of address"
	case uint8(req.Flags) != b.Flags:
		why = "flags changed"
	case req.Lifetime == 0:
		why = "deregistration"
	case remaining <= a.cfg.PendingTimeout:
		why = "too little binding lifetime left"
	}
	if why != "" {
		a.log.Debug("local registration relayed up", logging.KeyHome, req.Home, logging.KeyID, req.ID, "reason", why)
		return false
	}

	// An infinite binding has a century left, so an infinite request stays
	// infinite.
	granted := uint16(min(remaining/time.Second, time.Duration(req.Lifetime)))
	reply, err := a.localReply(req, sess, granted)
	if err != nil {
		a.log.Warn("cannot answer a local registration", logging.KeyHome, req.Home, logging.KeyID, req.ID,
			"from", down.String(), logging.KeyErr, err)
		a.deny(down, req.Home, req.HomeAgent, req.CareOf, req.ID, mip.CodeFAPoorRequest, 0, "FA Public Key extensions: "+err.Error())
		return true
	}

	// The new branch first (the tunnel to the new lower agent, the host
	// route and reverse tunnel rule into it), so that the mobile's traffic
	// finds it once the answer has reached it; then the answer; then the
	// old branch goes and is revoked, off the answer's path.
	oldDown := info.down
	stale := a.confirm(grant{
		home: req.Home, ha: b.HA, careOf: b.CareOf, id: req.ID, flags: req.Flags,
		lifetime: time.Duration(granted) * time.Second, infinite: granted == mip.Infinite,
		down: down, up: info.up, sess: &sess,
	})
	a.sendDown(down, req.Home, reply)
	a.dropStale(stale)
	a.stats.LocalReplies++
	a.log.Info("registration answered locally", logging.KeyHome, req.Home, logging.KeyHA, req.HomeAgent,
		logging.KeyCoA, req.CareOf, logging.KeyID, req.ID, logging.KeyCode, 0, "lifetime", granted,
		"from", oldDown.String(), "to", down.String())
	if oldDown.IsAgent() {
		a.revokeDown(b.Home, b.HA, sess, oldDown)
	}
	return true
}

// localReply builds the switching agent's answer to req: code 0, the
// granted lifetime, the request's identification, an FA Session Key
// extension for each agent below on the new branch (from the FA Public Key
// extensions they added to the request), and the MN-GFA authenticator over
// all of it, with which each of them checks the answer once it has
// decrypted its key.
func (a *Agent) localReply(req *mip.Request, sess session, lifetime uint16) ([]byte, error) {
	pubs, err := mip.FAPublicKeys(req.Extensions)
	if err != nil {
		return nil, err
	}
	r := &mip.Reply{Code: mip.CodeAccepted, Lifetime: lifetime, Home: req.Home, HomeAgent: req.HomeAgent, ID: req.ID}
	out, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	label := sessionkey.Label(req.Home)
	for _, p := range pubs {
		pub, err := sessionkey.ParsePublicKey(p.DER)
		if err != nil {
			return nil, fmt.Errorf("key of %s: %w", p.Agent, err)
		}
		ct, err := sessionkey.WrapForFA(nil, pub, sess.key, label)
		if err != nil {
			return nil, fmt.Errorf("key of %s: %w", p.Agent, err)
		}
		if out, err = mip.AppendFASessionKey(out, mip.FASessionKey{Agent: p.Agent, SPI: sess.spi, Ciphertext: ct}); err != nil {
			return nil, err
		}
	}
	return mip.AppendAuth(out, mip.TypeGeneralizedAuth, sess.sa())
}

// replyKeys reads the FA Session Key extensions of an accepting reply: the
// agent's own (found by its address; nil when there is none, with the error
// that kept it from being found), those after the mobile's authenticator
// for the agents below, and whether the reply is a switching agent's answer
// (an MN-GFA authenticator instead of a Mobile-Home one).
func (a *Agent) replyKeys(r *mip.Reply) (own *mip.FASessionKey, below []mip.FASessionKey, local bool, kerr error) {
	m := mobileAuthIndex(r)
	_, mh := r.Auth(mip.TypeMobileHome)
	_, gfa := r.Auth(mip.TypeGeneralizedAuth)
	local = mh < 0 && gfa >= 0
	keys, kerr := mip.FASessionKeys(r.Extensions)
	if m+1 < len(r.Extensions) {
		after, _ := mip.FASessionKeys(r.Extensions[m+1:])
		for _, k := range after {
			if k.Agent != a.careOf {
				below = append(below, k)
			}
		}
	}
	for i := range keys {
		if keys[i].Agent == a.careOf {
			own = &keys[i]
			break
		}
	}
	return own, below, local, kerr
}

// localSession is the session of a switching agent's answer r: it must
// carry the agent's key (own) and verify with it. A key the agent held for
// the mobile before under the same SPI is tried first (knownSession), which
// spares the RSA decryption.
func (a *Agent) localSession(home netip.Addr, r *mip.Reply, own *mip.FASessionKey) (*session, error) {
	if own == nil {
		return nil, fmt.Errorf("local answer without a session key for %s", a.careOf)
	}
	// A mobile coming back under a session key this agent held for it:
	// the answer's MN-GFA authenticator, which covers the FA Session Key
	// extensions, verifies with that key, which spares the RSA decryption
	// (a millisecond or two) on the answer's way to the mobile.
	if sess, ok := a.knownSession(home, own.SPI, r); ok {
		return &sess, nil
	}
	key, err := a.unwrap(a.key, own.Ciphertext, sessionkey.Label(home))
	if err != nil {
		return nil, err
	}
	sess := &session{key: key, spi: own.SPI}
	if err := mip.VerifyReply(r.Raw(), mip.TypeGeneralizedAuth, sess.sa()); err != nil {
		return nil, err
	}
	return sess, nil
}

// homeSession is the session of a home agent's reply r: the agent's key
// (own) decrypted. Without a usable one the binding is confirmed without a
// session (nil, logged): the mobile's moves then go up to the home agent.
func (a *Agent) homeSession(home netip.Addr, r *mip.Reply, own *mip.FASessionKey, kerr error) *session {
	if own == nil {
		a.log.Warn("reply without a session key for this agent; binding confirmed without one",
			logging.KeyHome, home, logging.KeyID, r.ID, logging.KeyErr, kerr)
		return nil
	}
	key, err := a.unwrap(a.key, own.Ciphertext, sessionkey.Label(home))
	if err != nil {
		a.log.Warn("session key does not decrypt; binding confirmed without one",
			logging.KeyHome, home, logging.KeyID, r.ID, logging.KeyErr, err)
		return nil
	}
	return &session{key: key, spi: own.SPI}
}

// mobileAuthIndex is the index of the mobile's authenticator in a reply:
// the Mobile-Home one, else (a switching agent's answer) the MN-GFA one;
// without either, the extension before the Foreign-Home authenticator, or
// the last one.
func mobileAuthIndex(r *mip.Reply) int {
	if _, i := r.Auth(mip.TypeMobileHome); i >= 0 {
		return i
	}
	if _, i := r.Auth(mip.TypeGeneralizedAuth); i >= 0 {
		return i
	}
	if _, i := r.Auth(mip.TypeForeignHome); i >= 0 {
		return i - 1
	}
	return len(r.Extensions) - 1
}

// pastSession is the session key of a mobile's binding that is gone from
// this agent, kept until expiry (zero: as long as the agent runs).
type pastSession struct {
	sess   session
	expiry time.Time
}

// rememberSession keeps the session of home's binding that goes now, for
// knownSession, as long as the revocation state of a session used now is
// kept.
func (a *Agent) rememberSession(home netip.Addr, b binding.Binding) {
	if sess, ok := bindingSession(b); ok {
		a.pastSess[home] = pastSession{sess: sess, expiry: a.sessionHorizon(a.clock.Now())}
	}
}

// knownSession returns the session key, among those this agent holds or
// held for home under spi (its visitor binding's, or its last one's), with
// which the switching agent's answer r verifies: the answer is then
// genuine, and the key is the one its FA Session Key extension carries for
// this agent, without decrypting it.
func (a *Agent) knownSession(home netip.Addr, spi uint32, r *mip.Reply) (session, bool) {
	var candidates []session
	if b, ok := a.visitors.Get(home); ok {
		if s, ok := bindingSession(b); ok {
			candidates = append(candidates, s)
		}
	}
	if p, ok := a.pastSess[home]; ok {
		candidates = append(candidates, p.sess)
	}
	for _, s := range candidates {
		if s.spi == spi && mip.VerifyReply(r.Raw(), mip.TypeGeneralizedAuth, s.sa()) == nil {
			return s, true
		}
	}
	return session{}, false
}
