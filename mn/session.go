package mn

import (
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/sessionkey"
)

// session is the session key of the last full registration through a
// hierarchy of foreign agents (docs/PROTOCOL.md, "Foreign agent
// hierarchy"): the key the home agent masked for the mobile in the Mobile
// Session Key extension, under which a local move is authenticated to the
// switching agent.
type session struct {
	key    sessionkey.Key
	spi    uint32
	coa    netip.Addr // the care-of address registered: the highest agent's
	agent  netip.Addr // the foreign agent the mobile last registered through
	expiry time.Time  // zero: as long as the registration lasts
}

// sa is the session's security association: HMAC-MD5 with the session key
// under the session SPI, for the MN-GFA authenticator.
func (s *session) sa() mip.SecurityAssociation {
	return mip.SecurityAssociation{SPI: s.spi, Alg: mip.HMACMD5, Key: append([]byte(nil), s.key[:]...)}
}

// validSession returns the session key when the mobile holds one that has
// not expired.
func (l *Loop) validSession(now time.Time) *session {
	s := l.session
	if s == nil || (!s.expiry.IsZero() && !now.Before(s.expiry)) {
		return nil
	}
	return s
}

// localMove reports whether a registration through a may be a local move:
// the mobile holds a valid session key for a's care-of address (the same
// highest agent), and a is another foreign agent than the one it last
// registered through.
func (l *Loop) localMove(a *agent, now time.Time) bool {
	s := l.validSession(now)
	return s != nil && a != nil && a.coa == s.coa && a.addr != s.agent
}

// dropSession forgets the session key.
func (l *Loop) dropSession(why string) {
	if l.session == nil {
		return
	}
	l.log.Debug("session key dropped", logging.KeyHome, l.cfg.Home, "spi", l.session.spi, "reason", why)
	l.session = nil
}

// takeSession keeps the session key of an accepted full registration:
// the Mobile Session Key extension the Mobile-Home authenticator covers,
// unmasked with the mobile-home key and the reply's identification. A
// reply without one ends any session the mobile held: the registration
// did not come through a hierarchy, or the home agent made no key.
func (l *Loop) takeSession(p *attempt, r *mip.Reply, tx transmission) {
	_, mh := r.Auth(mip.TypeMobileHome)
	var msk *mip.MobileSessionKey
	if mh > 0 {
		msk, _ = mip.FindMobileSessionKey(r.Extensions[:mh])
	}
	if msk == nil || p.via == nil || msk.Lifetime == 0 {
		l.dropSession("registration without a session key")
		return
	}
	s := &session{
		key:   sessionkey.FromMobile(msk.Masked, l.cfg.SA().Key, r.ID),
		spi:   msk.SPI,
		coa:   p.coa,
		agent: p.via.addr,
	}
	if msk.Lifetime < uint32(mip.Infinite) {
		s.expiry = tx.at.Add(time.Duration(msk.Lifetime) * time.Second)
	}
	l.session = s
	l.log.Info("session key received", logging.KeyHome, l.cfg.Home, logging.KeyCoA, s.coa, logging.KeyFA, s.agent,
		"spi", s.spi, "lifetime", msk.Lifetime)
}
