package ha

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/binding"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/sessionkey"
	"github.com/dynamics-go/dynamics/libdynamics/tunnel"
)

// response is what the agent knows while deciding on one request, and
// what its reply is built from.
type response struct {
	src        netip.AddrPort
	home, coa  netip.Addr
	ha         netip.Addr // the home agent address the request named
	id         uint64     // the request's identification
	replyHA    netip.Addr
	replyID    uint64
	mh, fh     *mip.SecurityAssociation // authenticate the reply with these
	mobile     *mobile                  // whose association mh is
	revSupport bool                     // answer with a Revocation Support extension
	session    *sessionGrant            // the session key of a hierarchical registration
}

// handleRequest decides on a Registration Request, in the order of RFC 5944
// section 3.8.2.1, and answers it.
func (a *Agent) handleRequest(req *mip.Request, src netip.AddrPort) {
	a.stats.Requests++
	now := a.clock.Now()
	if a.log.Enabled(context.Background(), slog.LevelDebug) {
		a.log.Debug("registration request", logging.KeyHome, req.Home, logging.KeyCoA, req.CareOf,
			logging.KeyHA, req.HomeAgent, logging.KeyFA, src, logging.KeyID, req.ID,
			"flags", req.Flags.String(), "lifetime", req.Lifetime, "extensions", extensionTypes(req.Extensions))
	}
	r := &response{src: src, home: req.Home, coa: req.CareOf, ha: req.HomeAgent, id: req.ID,
		replyHA: req.HomeAgent, replyID: req.ID}

	// The reply carries a Foreign-Home authenticator when the request did
	// and the agent shares a security association with its sender.
	fhSA, haveFH := a.fasas[src.Addr()]
	fhAuth, fhIndex := req.Auth(mip.TypeForeignHome)
	if haveFH && fhAuth != nil {
		r.fh = &fhSA
	}

	// Mobile-Home authentication is mandatory.
	m := a.mobiles[req.Home]
	if m == nil {
		a.deny(r, mip.CodeHAMobileAuthFailed, slog.LevelWarn, "unknown mobile node")
		return
	}
	r.mh, r.mobile = &m.sa, m
	if err := m.verifyRequest(req); err != nil {
		a.deny(r, mip.CodeHAMobileAuthFailed, slog.LevelWarn, "mobile-home authentication failed", logging.KeyErr, err)
		return
	}
	// Foreign-Home authentication: required of every sender the agent
	// shares a security association with, and of every foreign agent when
	// RequireFAAuth is set. A request is relayed when it does not come from
	// the mobile node itself: not from its home address, and not from a
	// co-located care-of address (D flag).
	fhValid := false
	relayed := !req.Flags.Has(mip.FlagDecapsulation) && src.Addr() != req.Home
	switch {
	case haveFH:
		if err := mip.VerifyRequest(req.Raw(), mip.TypeForeignHome, fhSA); err != nil {
			a.deny(r, mip.CodeHAForeignAgentAuthFailed, slog.LevelWarn, "foreign-home authentication failed", logging.KeyErr, err)
			return
		}
		fhValid = true
	case a.cfg.RequireFAAuth && relayed:
		a.deny(r, mip.CodeHAForeignAgentAuthFailed, slog.LevelWarn, "no security association with the foreign agent")
		return
	}
	if !m.enabled {
		a.deny(r, mip.CodeHAProhibited, slog.LevelInfo, "mobile node disabled")
		return
	}
	var nonce uint32
	if m.sa.Replay == mip.ReplayNonce {
		nonce = a.nonce()
	}
	id, err := a.replay.Check(req.Home, m.sa.Replay, req.ID, now, nonce)
	r.replyID = id
	if err != nil {
		a.deny(r, mip.CodeIDMismatch, slog.LevelInfo, "identification mismatch", logging.KeyErr, err)
		return
	}
	if req.HomeAgent != a.cfg.HAIPAddress {
		r.replyHA = a.cfg.HAIPAddress
		a.deny(r, mip.CodeHAUnknownHomeAgent, slog.LevelInfo, "unknown home agent address")
		return
	}
	// The Revocation Support extension counts only where the Foreign-Home
	// authenticator covers it.
	var support bool
	if fhValid {
		rs, err := mip.FindRevocationSupport(req.Extensions[:fhIndex])
		if support = err == nil && rs != nil; support {
			a.faStamps[src.Addr()] = rs.Timestamp
		}
	}

	if req.Lifetime == 0 || req.CareOf == req.Home {
		a.deregister(r, now)
		return
	}
	if !usableCareOf(req.CareOf) || a.cfg.HomeNetPrefix.Contains(req.CareOf) {
		a.deny(r, mip.CodeHAPoorRequest, slog.LevelInfo, "care-of address unusable")
		return
	}
	if _, had := a.bindings.Get(req.Home); !had && a.bindings.Len() >= a.cfg.MaxBindings {
		a.deny(r, mip.CodeHAInsufficientResources, slog.LevelInfo, "binding list full")
		return
	}
	if req.Flags&(mip.FlagMinimalEncapsulation|mip.FlagGRE) != 0 {
		a.deny(r, mip.CodeHAEncapsulation, slog.LevelInfo, "only IP-in-IP encapsulation is offered")
		return
	}
	lifetime := min(req.Lifetime, a.maxLif)
	how, err := a.bind(req, src, lifetime, support, now)
	if err != nil {
		a.stats.KernelErrors++
		code := mip.CodeHAUnspecified
		if errors.Is(err, tunnel.ErrExhausted) {
			code = mip.CodeHAInsufficientResources
		}
		a.deny(r, code, slog.LevelError, "cannot install the binding", logging.KeyErr, err)
		return
	}
	// A revocation still being retransmitted to the agent this request
	// came through is stale: the mobile is back there, and a late copy
	// would remove its new visitor entry.
	if _, ok := a.revocations[revKey{req.Home, src.Addr()}]; ok {
		delete(a.revocations, revKey{req.Home, src.Addr()})
		a.log.Debug("pending revocation dropped: the mobile registered through that agent again",
			logging.KeyHome, req.Home, logging.KeyFA, src.Addr())
	}
	code := mip.CodeAccepted
	if req.Flags.Has(mip.FlagSimultaneous) {
		code = mip.CodeAcceptedNoSimultaneous
	}
	r.revSupport = support
	// A request that climbed a hierarchy of foreign agents carries their
	// public keys: answer with a session key for the mobile and for each
	// of them.
	var sessionSPI uint32
	if !fhValid {
		fhIndex = -1
	}
	if keys := a.hierarchyKeys(req, fhIndex); len(keys) > 0 {
		g, err := a.issueSessionKey(req.Home, lifetime, keys)
		if err != nil {
			a.log.Error("no session key for a hierarchical registration", logging.KeyHome, req.Home, logging.KeyErr, err)
		} else {
			r.session, sessionSPI = g, g.spi
			a.stats.SessionKeys++
			a.stats.FASessionKeys += uint64(len(g.fas))
		}
	}
	a.binfo[req.Home].sessionSPI = sessionSPI
	a.stats.Accepted++
	// A renewal to the same care-of address changes nothing but the
	// lifetime: at a high rate of renewals, one info line each would cost
	// the agent more than the renewal itself, so it is a debug line (whose
	// attributes are not even built unless debug is on).
	level := slog.LevelInfo
	if how == bindRenewed && r.session == nil {
		level = slog.LevelDebug
	}
	if a.log.Enabled(context.Background(), level) {
		attrs := []any{logging.KeyHome, r.home, logging.KeyCoA, r.coa, logging.KeyHA, r.ha,
			logging.KeyFA, src.Addr(), logging.KeyID, r.id, logging.KeyCode, uint8(code),
			"lifetime", lifetime, "move", how == bindMoved, "revocation", support}
		if r.session != nil {
			attrs = append(attrs, "session_spi", r.session.spi, "fa_session_keys", len(r.session.fas))
		}
		a.log.Log(context.Background(), level, "registration accepted", attrs...)
	}
	a.reply(r, code, lifetime)
}

// releaseDeferred releases the tunnels moves left behind, once the replies
// queued with them have been written (flush calls it).
func (a *Agent) releaseDeferred() {
	for _, coa := range a.releaseAfterReply {
		a.releaseTunnel(a.cfg.HAIPAddress, coa)
	}
	a.releaseAfterReply = a.releaseAfterReply[:0]
}

// handlePoorRequest answers a request whose extensions do not parse with
// code 134. The reply is authenticated when the mobile node is known.
func (a *Agent) handlePoorRequest(p poorRequest, src netip.AddrPort) {
	a.stats.Requests++
	r := &response{src: src, home: p.home, coa: p.coa, ha: p.ha, id: p.id, replyHA: p.ha, replyID: p.id}
	if m := a.mobiles[p.home]; m != nil {
		r.mh, r.mobile = &m.sa, m
	}
	a.deny(r, mip.CodeHAPoorRequest, slog.LevelInfo, "poorly formed request")
}

// usableCareOf reports whether a can end a tunnel: a unicast IPv4 address.
func usableCareOf(a netip.Addr) bool {
	return a.Is4() && !a.IsUnspecified() && !a.IsMulticast() && !a.IsLoopback() &&
		a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// deny counts, logs and sends a denial.
func (a *Agent) deny(r *response, code mip.Code, level slog.Level, reason string, args ...any) {
	a.stats.Denied[code]++
	attrs := append([]any{logging.KeyHome, r.home, logging.KeyCoA, r.coa, logging.KeyHA, r.ha,
		logging.KeyFA, r.src.Addr(), logging.KeyID, r.id, logging.KeyCode, uint8(code), "reason", reason}, args...)
	a.log.Log(context.Background(), level, "registration denied", attrs...)
	a.reply(r, code, 0)
}

// reply sends the Registration Reply for r: Mobile-Home authenticated when
// the mobile node is known, then the session key extensions, the
// Revocation Support extension and the Foreign-Home authenticator where
// they apply.
func (a *Agent) reply(r *response, code mip.Code, lifetime uint16) {
	rep := &mip.Reply{Code: code, Lifetime: lifetime, Home: r.home, HomeAgent: r.replyHA, ID: r.replyID}
	b, err := a.buildReply(rep, r)
	if err != nil {
		a.log.Error("cannot build registration reply", logging.KeyHome, r.home, logging.KeyErr, err)
		return
	}
	if a.log.Enabled(context.Background(), slog.LevelDebug) {
		exts := ""
		if p, err := mip.ParseReply(b); err == nil {
			exts = extensionTypes(p.Extensions)
		}
		a.log.Debug("registration reply", logging.KeyHome, r.home, logging.KeyHA, rep.HomeAgent, logging.KeyID, rep.ID,
			logging.KeyCode, uint8(code), "lifetime", lifetime, "to", r.src, "extensions", exts)
	}
	a.send(outReply, r.home, b, r.src)
}

// buildReply returns the reply's bytes, in the order docs/PROTOCOL.md
// gives: the fixed part, the Mobile Session Key, the Mobile-Home
// authenticator, the FA Session Key extensions, the Revocation Support
// extension and the Foreign-Home authenticator.
func (a *Agent) buildReply(rep *mip.Reply, r *response) ([]byte, error) {
	if r.session != nil && r.mh != nil {
		rep.Extensions = append(rep.Extensions, &mip.MobileSessionKey{
			SPI:      r.session.spi,
			Lifetime: r.session.lifetime,
			Masked:   sessionkey.ForMobile(r.session.key, r.mh.Key, rep.ID),
		})
	}
	b, err := rep.AppendMarshal(make([]byte, 0, mip.ReplyLen+64))
	if err != nil {
		return nil, err
	}
	if r.mh != nil {
		if r.mobile != nil && r.mh == &r.mobile.sa {
			b, err = r.mobile.appendAuth(b)
		} else {
			b, err = mip.AppendAuth(b, mip.TypeMobileHome, *r.mh)
		}
		if err != nil {
			return nil, err
		}
	}
	if r.session != nil {
		if b, err = appendSessionKeys(b, r.session); err != nil {
			return nil, err
		}
	}
	if r.fh == nil {
		return b, nil
	}
	if r.revSupport {
		rs := &mip.RevocationSupport{Timestamp: a.revocationStamp()}
		if b, err = rs.AppendMarshal(b); err != nil {
			return nil, err
		}
	}
	return mip.AppendAuth(b, mip.TypeForeignHome, *r.fh)
}

// deregister removes the binding a deregistration names (all of them, with
// the home address as care-of address; else the one to the care-of address
// given) and confirms. The route and proxy entry go before the reply, so
// that a reply to a mobile node back home reaches it on the home link.
func (a *Agent) deregister(r *response, now time.Time) {
	b, had := a.bindings.Get(r.home)
	removed := false
	if had && (r.coa == r.home || r.coa == b.CareOf) {
		a.revokeOld(b, r.src.Addr())
		a.unbind(b)
		removed = true
	}
	a.stats.Deregistrations++
	a.log.Info("deregistration accepted", logging.KeyHome, r.home, logging.KeyCoA, r.coa, logging.KeyHA, r.ha,
		logging.KeyFA, r.src.Addr(), logging.KeyID, r.id, logging.KeyCode, uint8(mip.CodeAccepted), "removed", removed)
	a.reply(r, mip.CodeAccepted, 0)
}

// bind makes or renews the binding of req. A renewal to the same care-of
// address changes only the lifetime and identification; a new care-of
// address gets its tunnel and route before the old tunnel is released, and
// the foreign agent left behind is sent a revocation. It reports which of
// the three it was.
func (a *Agent) bind(req *mip.Request, src netip.AddrPort, lifetime uint16, support bool, now time.Time) (bindKind, error) {
	home, ha := req.Home, a.cfg.HAIPAddress
	life := time.Duration(lifetime) * time.Second
	nb := binding.Binding{
		Home: home, Lower: src.Addr(), CareOf: req.CareOf, HA: ha, ID: req.ID,
		Expiry: now.Add(life), Lifetime: life, Confirmed: true,
		SPI: a.mobiles[home].sa.SPI, Flags: uint8(req.Flags),
	}
	old, had := a.bindings.Get(home)
	if had && old.CareOf == req.CareOf {
		nb.Value = old.Value
		if _, _, err := a.bindings.Put(nb); err != nil {
			return 0, err
		}
		info := a.binfo[home]
		info.sender, info.revocation = src, support
		return bindRenewed, nil
	}

	tun, created, err := a.tunnels.Acquire(ha, req.CareOf)
	if err != nil {
		return 0, err
	}
	if created {
		if err := a.kern.Ensure(kernel.Tunnel{Name: tun.Name, Local: ha, Remote: req.CareOf}); err != nil {
			_, _, _ = a.tunnels.Release(ha, req.CareOf)
			return 0, err
		}
	}
	if err := a.kern.Ensure(routeEntries(home, tun.Name, a.cfg.HomeInterface)...); err != nil {
		if !had {
			// Ensure stops at the first failure: take back what it made.
			_ = a.kern.Remove(routeEntries(home, tun.Name, a.cfg.HomeInterface)...)
		}
		a.releaseTunnel(ha, req.CareOf)
		return 0, err
	}
	if had {
		a.revokeOld(old, src.Addr())
		// The old tunnel goes after the reply: deleting a device can take
		// tens of milliseconds the mobile would otherwise wait for, and
		// nothing routes into it any more.
		a.releaseAfterReply = append(a.releaseAfterReply, old.CareOf)
	}
	nb.Value = uint32(tun.ID)
	if _, _, err := a.bindings.Put(nb); err != nil {
		// Not reached for a request that parsed: its addresses are IPv4.
		return 0, err
	}
	a.binfo[home] = &bindingInfo{sender: src, tunnel: tun, revocation: support}
	if !had {
		a.announce(home, now)
	}
	if had {
		return bindMoved, nil
	}
	return bindNew, nil
}

// bindKind is what bind did.
type bindKind uint8

const (
	bindNew     bindKind = iota + 1 // a first binding
	bindRenewed                     // the same care-of address, a new lifetime
	bindMoved                       // a new care-of address
)

// routeEntries are the kernel entries of a binding: the host route of the
// home address into the tunnel and the proxy ARP entry on the home link.
func routeEntries(home netip.Addr, dev, homeIface string) []kernel.Entry {
	return []kernel.Entry{
		kernel.Route{Dst: netip.PrefixFrom(home, 32), Dev: dev},
		kernel.ProxyARP{IP: home, Dev: homeIface},
	}
}

// unbind removes a binding and its kernel state: the route and proxy entry,
// then its share of the tunnel.
func (a *Agent) unbind(b binding.Binding) {
	info := a.binfo[b.Home]
	dev := ""
	if info != nil {
		dev = info.tunnel.Name
	}
	if err := a.kern.Remove(routeEntries(b.Home, dev, a.cfg.HomeInterface)...); err != nil {
		a.stats.KernelErrors++
		a.log.Error("cannot remove a binding's route and proxy entry", logging.KeyHome, b.Home, logging.KeyErr, err)
	}
	a.releaseTunnel(a.cfg.HAIPAddress, b.CareOf)
	a.bindings.Delete(b.Home)
	delete(a.binfo, b.Home)
	a.cancelARPs(b.Home)
}

// releaseTunnel drops a reference to the tunnel to remote and deletes its
// device with the last one.
func (a *Agent) releaseTunnel(local, remote netip.Addr) {
	tun, removed, err := a.tunnels.Release(local, remote)
	if err != nil {
		a.log.Error("tunnel release", logging.KeyCoA, remote, logging.KeyErr, err)
		return
	}
	if !removed {
		return
	}
	if err := a.kern.Remove(kernel.Tunnel{Name: tun.Name, Local: local, Remote: remote}); err != nil {
		a.stats.KernelErrors++
		a.log.Error("cannot remove tunnel", logging.KeyIface, tun.Name, logging.KeyCoA, remote, logging.KeyErr, err)
	}
}

// nonce returns a fresh random nonce for nonce replay protection.
func (a *Agent) nonce() uint32 {
	var b [4]byte
	if _, err := io.ReadFull(a.rand, b[:]); err != nil {
		a.log.Error("no randomness for a nonce", logging.KeyErr, err)
	}
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// extensionTypes lists the types of exts, for debug logs.
func extensionTypes(exts []mip.Extension) string {
	s := ""
	for i, e := range exts {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprint(uint8(e.Kind()))
	}
	return s
}
