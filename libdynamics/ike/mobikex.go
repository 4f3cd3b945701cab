package ike

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/dynamics-go/dynamics/libdynamics/esp"
	"github.com/dynamics-go/dynamics/libdynamics/ike/mobikex"
	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
	"github.com/dynamics-go/dynamics/libdynamics/ikev2/ikecrypto"
)

// Errors of the MOBIKE-X operations.
var (
	// ErrNoMOBIKEX: the IKE SA does not speak MOBIKE-X (version 2).
	ErrNoMOBIKEX = errors.New("ike: MOBIKE-X not negotiated")
	// ErrClosing: the peer closed the SAs because their last address was
	// removed (CLOSING_SA).
	ErrClosing = errors.New("ike: SA closed: its last address was removed")
)

// altAddr is an address added to an SA with ADD_SA_ADDRESS, with its
// Multihoming Information when the peer sent some.
type altAddr struct {
	addr netip.Addr
	info *mobikex.Info
}

func (a altAddr) preference() int {
	if a.info == nil {
		return 0
	}
	return int(a.info.Preference)
}

func altAddrs(as []altAddr) []netip.Addr {
	var out []netip.Addr
	for _, a := range as {
		out = append(out, a.addr)
	}
	return out
}

// bestFirst returns the addresses in the order the SA would move to them.
func bestFirst(as []altAddr) []netip.Addr {
	var out []netip.Addr
	rest := slices.Clone(as)
	for len(rest) > 0 {
		i := best(rest, netip.Addr{})
		out = append(out, rest[i].addr)
		rest = slices.Delete(rest, i, i+1)
	}
	return out
}

// best returns the index of the alternative to move to: prefer when it
// is one, else the highest preference, the earliest added on ties; -1
// when there is none.
func best(as []altAddr, prefer netip.Addr) int {
	b := -1
	for i, a := range as {
		if a.addr == prefer {
			return i
		}
		if b < 0 || a.preference() > as[b].preference() {
			b = i
		}
	}
	return b
}

// mobility reports whether the SA has MOBIKE (version 1 or 2).
func (sa *ikeSA) mobility() bool { return sa.version >= mobikex.VersionMOBIKE }

// versions are the mobility versions the engine speaks.
func (e *Engine) versions() []mobikex.Version {
	switch {
	case e.cfg.MOBIKEX:
		return []mobikex.Version{mobikex.VersionMOBIKE, mobikex.VersionMOBIKEX}
	case e.cfg.MOBIKE:
		return []mobikex.Version{mobikex.VersionMOBIKE}
	}
	return nil
}

// mobikeOffer is the initiator's MOBIKE_SUPPORTED: VERSION 2 (critical
// with RequireMOBIKEX) and VERSION 1, or empty (RFC 4555) without
// MOBIKE-X.
func (sa *ikeSA) mobikeOffer() *ikev2.Notify {
	if !sa.e.cfg.MOBIKEX {
		sa.offered = []mobikex.Version{mobikex.VersionMOBIKE}
		return mobikex.SupportedNotify()
	}
	sa.offered = []mobikex.Version{mobikex.VersionMOBIKEX, mobikex.VersionMOBIKE}
	return mobikex.SupportedNotify(mobikex.VersionParam(mobikex.VersionMOBIKEX, sa.e.cfg.RequireMOBIKEX),
		mobikex.VersionParam(mobikex.VersionMOBIKE, false))
}

// acceptedVersion reads the responder's answer to the offer (initiator).
func (sa *ikeSA) acceptedVersion(ps []ikev2.Payload) mobikex.Version {
	if !sa.e.cfg.MOBIKE {
		return mobikex.VersionNone
	}
	v, warning := mobikex.Accepted(sa.offered, ps)
	if warning != "" {
		sa.logger().Warn("mobility version", "version", v, "warning", warning)
	}
	if sa.e.cfg.RequireMOBIKEX && v == mobikex.VersionMOBIKE {
		sa.logger().Warn("MOBIKE-X required but the peer speaks MOBIKE (RFC 4555) only: the IKE SA keeps MOBIKE")
	}
	return v
}

// chooseVersion is the responder's choice for the initiator's offer in
// IKE_AUTH, and the notification that answers it (nil: none). An RFC 4555
// offer (empty) is answered empty.
func (sa *ikeSA) chooseVersion(ps []ikev2.Payload) (mobikex.Version, *ikev2.Notify) {
	sup := sa.e.versions()
	n := ikev2.FindNotify(ps, ikev2.NotifyMOBIKESupported)
	if len(sup) == 0 || n == nil {
		return mobikex.VersionNone, nil
	}
	offer, err := mobikex.ReadOffer(n)
	if err != nil {
		// RFC 4555 peers ignore the data; so does this side when it
		// cannot read it.
		sa.logger().Warn("unreadable MOBIKE_SUPPORTED data, taken as MOBIKE (RFC 4555)", "err", err)
		offer = mobikex.Offer{Versions: []mobikex.Version{mobikex.VersionMOBIKE}}
	}
	v, resp := mobikex.Choose(offer, sup)
	if v == mobikex.VersionMOBIKE && (len(n.Data) == 0 || err != nil) {
		resp = mobikex.SupportedNotify()
	}
	if v == mobikex.VersionNone {
		sa.logger().Info("mobility refused: no offered version in common", "offered", offer.Versions, "critical", offer.Critical, "supported", sup)
	}
	return v, resp
}

// lowerVersion applies a peer's INFORMATIONAL MOBIKE_UNSUPPORTED_VERSION.
func (sa *ikeSA) lowerVersion(n *ikev2.Notify) {
	if !sa.e.cfg.MOBIKE || sa.version == mobikex.VersionNone {
		return
	}
	vs, err := mobikex.ReadVersions(n)
	if err != nil {
		sa.logger().Warn("MOBIKE_UNSUPPORTED_VERSION ignored", "err", err)
		return
	}
	v := mobikex.Lowered(sa.version, sa.e.versions(), vs)
	sa.logger().Info("mobility version lowered by the peer", "from", sa.version, "to", v, "listed", vs)
	sa.version = v
}

// SetMOBIKEVersion lowers the IKE SA's mobility version to v (0 switches
// mobility off) with an INFORMATIONAL MOBIKE_UNSUPPORTED_VERSION listing
// the versions this side still speaks; the SA's version changes when the
// peer answers. Versions never go up.
func (e *Engine) SetMOBIKEVersion(ctx context.Context, spi ikev2.SPI, v mobikex.Version) error {
	_, err := call(ctx, e, func(done func(struct{}, error)) error {
		sa, err := e.established(spi)
		if err != nil {
			return err
		}
		if v > sa.version {
			return fmt.Errorf("%w: version %s is above the SA's %s: versions never go up", ErrNoMOBIKE, v, sa.version)
		}
		list := []mobikex.Version{mobikex.VersionNone}
		if v > mobikex.VersionNone {
			list = nil
			for _, s := range e.versions() {
				if s <= v {
					list = append(list, s)
				}
			}
		}
		sa.enqueue(&task{name: "lower the mobility version", fail: func(err error) { done(struct{}{}, err) }, start: func() error {
			return sa.sendRequest(ikev2.ExchangeInformational, []ikev2.Payload{mobikex.UnsupportedNotify(list...)},
				func(packet, []ikev2.Payload) {
					if v < sa.version {
						sa.logger().Info("mobility version lowered", "from", sa.version, "to", v)
						sa.version = v
					}
					done(struct{}{}, nil)
				}, func(err error) { done(struct{}{}, err) })
		}})
		return nil
	})
	return err
}

// mxObj is one SA a selector set reaches, with the addresses (and, for a
// child SA, the traffic selectors) it has once the set's actions ran.
type mxObj struct {
	ike   *ikeSA // an IKE SA, or
	child *childSA
	// local and remote are the addresses in use, localAlts and
	// remoteAlts the added ones.
	local, remote         netip.Addr
	localAlts, remoteAlts []altAddr
	localTS, remoteTS     []Selector
	// additional are ADDITIONAL_IP_ADDRESS addresses of the peer.
	additional []netip.Addr
	// closing: the set removed the SA's last address on one side.
	closing bool
}

func (o *mxObj) transport() bool { return o.child != nil && o.child.mode == ModeTransport }

// sideOf returns pointers to one side of the object's state.
func (o *mxObj) sideOf(remote bool) (cur *netip.Addr, alts *[]altAddr, ts *[]Selector) {
	if remote {
		return &o.remote, &o.remoteAlts, &o.remoteTS
	}
	return &o.local, &o.localAlts, &o.localTS
}

// has reports whether a is one of the object's addresses on a side.
func (o *mxObj) has(remote bool, a netip.Addr) bool {
	cur, alts, _ := o.sideOf(remote)
	return *cur == a || slices.ContainsFunc(*alts, func(x altAddr) bool { return x.addr == a })
}

// peerSAs returns the established IKE SAs with the same authenticated
// peer identity as sa, sa first. MOBIKE-X selections never reach beyond.
func (sa *ikeSA) peerSAs() []*ikeSA {
	out := []*ikeSA{sa}
	if sa.peerID == nil {
		return out
	}
	for _, o := range sa.e.sasList() {
		if o != sa && o.state == StateEstablished && sameID(o.peerID, sa.peerID) {
			out = append(out, o)
		}
	}
	return out
}

func ikeObj(sa *ikeSA) *mxObj {
	return &mxObj{ike: sa, local: sa.sock.local.Addr(), remote: sa.remote.Addr(),
		localAlts: slices.Clone(sa.localAlts), remoteAlts: slices.Clone(sa.remoteAlts)}
}

func childObj(c *childSA) *mxObj {
	return &mxObj{child: c, local: c.local, remote: c.remote,
		localAlts: slices.Clone(c.localAlts), remoteAlts: slices.Clone(c.remoteAlts),
		localTS: slices.Clone(c.localTS), remoteTS: slices.Clone(c.remoteTS)}
}

// selectSAs returns the SAs a set selects (draft section 6): the default
// (this IKE SA and its children), the SAs its SPIs name, or the child SAs
// its mode, protocol and selectors match, among the SAs of the same peer
// identity. An SPI this side cannot place among them selects nothing.
// requester says whether this side sent the set: its SPI parameters name
// the sender's inbound SPIs.
func (sa *ikeSA) selectSAs(set mobikex.Set, requester bool) []*mxObj {
	var out []*mxObj
	seenIKE := map[*ikeSA]bool{}
	seenChild := map[*childSA]bool{}
	addIKE := func(s *ikeSA) {
		if !seenIKE[s] {
			seenIKE[s] = true
			out = append(out, ikeObj(s))
		}
	}
	addChild := func(c *childSA) {
		if !seenChild[c] {
			seenChild[c] = true
			out = append(out, childObj(c))
		}
	}
	live := func(c *childSA) bool { return c.installed && c.state != ChildDeleted }
	if set.Default() {
		addIKE(sa)
		for _, c := range sa.children {
			if live(c) {
				addChild(c)
			}
		}
		return out
	}
	peers := sa.peerSAs()
	if len(set.SPIs) > 0 {
		for _, s := range set.SPIs {
			found := false
			if spii, spir, current, ok := s.IKE(); ok {
				for _, o := range peers {
					if (current && o == sa) || (!current && o.spiI == spii && o.spiR == spir) {
						addIKE(o)
						found = true
					}
				}
			} else if v, ok := s.Child(); ok && s.Protocol == ikev2.ProtocolESP {
				for _, o := range peers {
					for _, c := range o.children {
						spi := c.outSPI
						if requester {
							spi = c.inSPI
						}
						if spi == v && live(c) {
							addChild(c)
							found = true
						}
					}
				}
			}
			if !found {
				return nil
			}
		}
		return out
	}
	for _, o := range peers {
		for _, c := range o.children {
			if !live(c) {
				continue
			}
			switch {
			case set.Mode == mobikex.ModeTunnel && c.mode != ModeTunnel,
				set.Mode == mobikex.ModeTransport && c.mode != ModeTransport,
				set.Proto != ikev2.ProtocolNone && set.Proto != ikev2.ProtocolESP:
				continue
			}
			if len(set.Selectors) > 0 && !intersectsAny(fromTS(&ikev2.TS{Selectors: set.Selectors}), append(slices.Clone(c.localTS), c.remoteTS...)) {
				continue
			}
			addChild(c)
		}
	}
	return out
}

func intersectsAny(a, b []Selector) bool {
	for _, x := range a {
		for _, y := range b {
			if _, ok := x.Intersect(y); ok {
				return true
			}
		}
	}
	return false
}

// mxPlan is a validated set: the SAs it reaches as they will be.
type mxPlan struct {
	set  mobikex.Set
	objs []*mxObj
}

// closingSPIs names the SAs the plan closes, as the side sending
// CLOSING_SA does: IKE SAs by their SPIs, child SAs by this side's
// inbound SPI; children of a closing IKE SA go with it.
func (pl *mxPlan) closingSPIs() []mobikex.SPI {
	var out []mobikex.SPI
	closingIKE := map[*ikeSA]bool{}
	for _, o := range pl.objs {
		if o.closing && o.ike != nil {
			closingIKE[o.ike] = true
			out = append(out, mobikex.IKESPI(o.ike.spiI, o.ike.spiR))
		}
	}
	for _, o := range pl.objs {
		if o.closing && o.child != nil && !closingIKE[o.child.sa] {
			out = append(out, mobikex.ChildSPI(o.child.inSPI))
		}
	}
	return out
}

// mxView is how a set is read: by the responder (the sender's addresses
// are the peer's) or by the requester applying its own set after a
// positive answer.
type mxView struct {
	requester bool
	// from is the request's source (responder), or the address the
	// requester sent it from.
	from netip.AddrPort
}

// remoteSide says whether an IP parameter names the peer's address.
func (v mxView) remoteSide(ip mobikex.IP) bool { return ip.Receiver == v.requester }

// applies says whether an IP parameter applies to an object (C, I).
func applies(ip mobikex.IP, o *mxObj) bool {
	switch {
	case ip.IKE && !ip.Child:
		return o.ike != nil
	case ip.Child && !ip.IKE:
		return o.child != nil
	}
	return true
}

// badAddr says why an address cannot be an SA's.
func badAddr(a netip.Addr) bool {
	return !a.IsValid() || a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() ||
		a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || a.IsLinkLocalMulticast()
}

// plan validates a set against the SAs' state (draft section 8, first
// error wins: no SA selected, parameters, addresses, SPD) and returns what
// the SAs become.
func (sa *ikeSA) plan(set mobikex.Set, v mxView) (*mxPlan, *mobikex.Error) {
	fail := func(t ikev2.NotifyType, ip *mobikex.IP) *mobikex.Error {
		e := &mobikex.Error{Type: t, ID: set.ID}
		if ip != nil {
			p := mobikex.IPParam(*ip)
			e.Param = &p
		}
		return e
	}
	objs := sa.selectSAs(set, v.requester)
	if len(objs) == 0 {
		return nil, fail(ikev2.NotifyUnmatchedSelectorSet, nil)
	}
	// Parameters: UPDATE pairs by family, one side each (the codec
	// checked the grammar; the engine relies on it).
	type pair struct{ old, new mobikex.IP }
	pairsOf := func(a mobikex.Action) ([]pair, *mobikex.Error) {
		var ps []pair
		for _, fam6 := range []bool{false, true} {
			var p pair
			n := 0
			for _, ip := range a.IPs {
				if ip.Addr.Is6() != fam6 {
					continue
				}
				switch {
				case ip.Old:
					p.old = ip
					n |= 1
				case ip.New:
					p.new = ip
					n |= 2
				}
			}
			switch {
			case n == 3 && p.old.Receiver == p.new.Receiver:
				ps = append(ps, p)
			case n != 0:
				return nil, fail(ikev2.NotifyUnacceptableParameter, nil)
			}
		}
		if len(ps) == 0 {
			return nil, fail(ikev2.NotifyUnacceptableParameter, nil)
		}
		return ps, nil
	}
	for _, a := range set.Actions {
		if a.Kind == mobikex.ActionUpdate {
			if _, err := pairsOf(a); err != nil {
				return nil, err
			}
		}
	}
	// Addresses (3) and SPD (4): run the actions on copies, keeping the
	// first error of each class.
	var addrErr, spdErr *mobikex.Error
	addrFail := func(ip mobikex.IP) {
		if addrErr == nil {
			addrErr = fail(ikev2.NotifyUnacceptableAddress, &ip)
		}
	}
	// checkNew checks an address becoming one of an object's.
	checkNew := func(o *mxObj, remote bool, ip mobikex.IP) bool {
		cur, _, _ := o.sideOf(remote)
		if badAddr(ip.Addr) || ip.Addr.Is4() != cur.Is4() {
			addrFail(ip)
			return false
		}
		if !remote && sa.e.sockFor(ip.Addr, o.owner().natt) == nil {
			addrFail(ip)
			return false
		}
		if remote && !v.requester && !inPrefixes(o.owner().peer.Addresses, ip.Addr) && spdErr == nil {
			spdErr = fail(ikev2.NotifyDoesNotFitSPD, &ip)
		}
		return true
	}
	for _, a := range set.Actions {
		switch a.Kind {
		case mobikex.ActionUpdate:
			ps, _ := pairsOf(a)
			for _, p := range ps {
				remote := v.remoteSide(p.old)
				for _, o := range objs {
					if !applies(p.old, o) {
						continue
					}
					if !o.has(remote, p.old.Addr) {
						addrFail(p.old)
						continue
					}
					if !checkNew(o, remote, p.new) {
						continue
					}
					cur, alts, ts := o.sideOf(remote)
					if *cur == p.old.Addr {
						// The IKE SA moves to the request's source.
						if o.ike != nil && remote && !v.requester && !set.Check && p.new.Addr != v.from.Addr() {
							addrFail(p.new)
							continue
						}
						*cur = p.new.Addr
					} else {
						for i := range *alts {
							if (*alts)[i].addr == p.old.Addr {
								(*alts)[i].addr = p.new.Addr
							}
						}
					}
					if o.transport() {
						*ts = replaceHost(*ts, p.old.Addr, p.new.Addr)
					}
				}
			}
		case mobikex.ActionAdd:
			for _, ip := range a.IPs {
				remote := v.remoteSide(ip)
				for _, o := range objs {
					if !applies(ip, o) || !checkNew(o, remote, ip) || o.has(remote, ip.Addr) {
						continue
					}
					cur, alts, ts := o.sideOf(remote)
					*alts = append(*alts, altAddr{addr: ip.Addr, info: ip.Info})
					if o.transport() {
						*ts = addHost(*ts, *cur, ip.Addr)
					}
				}
			}
		case mobikex.ActionRemove:
			for _, ip := range a.IPs {
				remote := v.remoteSide(ip)
				for _, o := range objs {
					if !applies(ip, o) {
						continue
					}
					if !o.has(remote, ip.Addr) {
						addrFail(ip)
						continue
					}
					cur, alts, ts := o.sideOf(remote)
					if *cur != ip.Addr {
						*alts = slices.DeleteFunc(*alts, func(x altAddr) bool { return x.addr == ip.Addr })
						if o.transport() {
							*ts = dropHost(*ts, ip.Addr)
						}
						continue
					}
					prefer := netip.Addr{}
					if o.ike != nil && remote && !v.requester {
						prefer = v.from.Addr()
					}
					i := best(*alts, prefer)
					if i < 0 {
						o.closing = true
						continue
					}
					next := (*alts)[i].addr
					*alts = slices.Delete(*alts, i, i+1)
					*cur = next
					if o.transport() {
						*ts = replaceHost(*ts, ip.Addr, next)
					}
				}
			}
		case mobikex.ActionAdditional:
			for _, ip := range a.IPs {
				remote := v.remoteSide(ip)
				for _, o := range objs {
					if !applies(ip, o) {
						continue
					}
					if badAddr(ip.Addr) {
						addrFail(ip)
						continue
					}
					if remote && o.ike != nil && !slices.Contains(o.additional, ip.Addr) {
						o.additional = append(o.additional, ip.Addr)
					}
				}
			}
		}
	}
	if addrErr != nil {
		return nil, addrErr
	}
	// Transport selectors must still fit the configured policy (the
	// responder's check: the requester asked for its own changes).
	for _, o := range objs {
		if o.child == nil || spdErr != nil || v.requester {
			continue
		}
		p := o.child.sa.peer
		if !fits(o.localTS, p.LocalTS) || !fits(o.remoteTS, p.RemoteTS) || len(o.localTS) == 0 || len(o.remoteTS) == 0 {
			spdErr = fail(ikev2.NotifyDoesNotFitSPD, nil)
		}
	}
	if spdErr != nil {
		return nil, spdErr
	}
	return &mxPlan{set: set, objs: objs}, nil
}

// owner is the IKE SA of the object.
func (o *mxObj) owner() *ikeSA {
	if o.ike != nil {
		return o.ike
	}
	return o.child.sa
}

func inPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	if len(ps) == 0 {
		return true
	}
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// fits reports whether every selector lies in one of the configured ones
// (none configured: the selectors follow the SA's addresses).
func fits(sels, cfg []Selector) bool {
	return len(cfg) == 0 || within(sels, cfg)
}

func isHost(s Selector, a netip.Addr) bool { return s.Start == a && s.End == a }

// replaceHost replaces the single-host selectors of old by new ones.
func replaceHost(ts []Selector, old, new netip.Addr) []Selector {
	var out []Selector
	for _, s := range ts {
		if isHost(s, old) {
			s.Start, s.End = new, new
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// addHost adds, for each single-host selector of cur, the same one of a.
func addHost(ts []Selector, cur, a netip.Addr) []Selector {
	out := slices.Clone(ts)
	for _, s := range ts {
		if isHost(s, cur) {
			s.Start, s.End = a, a
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// dropHost removes the single-host selectors of a, unless none would be
// left.
func dropHost(ts []Selector, a netip.Addr) []Selector {
	out := slices.DeleteFunc(slices.Clone(ts), func(s Selector) bool { return isHost(s, a) })
	if len(out) == 0 {
		return ts
	}
	return out
}

// commit applies a plan. The responder moves a child SA whose peer address
// is not the request's source only after a return routability check
// (RFC 4555 section 3.7), which it returns to start once the answer is
// sent; closing SAs are left to the caller.
func (sa *ikeSA) commit(pl *mxPlan, v mxView, via *sock) (later []func()) {
	e := sa.e
	for _, o := range pl.objs {
		if o.closing {
			continue
		}
		if s := o.ike; s != nil {
			if o.local != s.sock.local.Addr() {
				if k := e.sockFor(o.local, s.natt); k != nil {
					s.sock = k
				}
			} else if !v.requester && s == sa && o.remote != s.remote.Addr() && o.remote == v.from.Addr() && via != nil {
				s.sock = via
			}
			if o.remote != s.remote.Addr() {
				if !v.requester && o.remote == v.from.Addr() {
					s.remote = v.from
				} else {
					s.remote = netip.AddrPortFrom(o.remote, s.remote.Port())
				}
			}
			s.localAlts, s.remoteAlts = o.localAlts, o.remoteAlts
			for _, a := range o.additional {
				if !slices.Contains(s.peerAddrs, a) {
					s.peerAddrs = append(s.peerAddrs, a)
				}
			}
			s.logger().Info("IKE SA addresses (MOBIKE-X)", "set", pl.set.ID, "local", s.sock.local, "remote", s.remote,
				"local_alts", altAddrs(s.localAlts), "remote_alts", altAddrs(s.remoteAlts))
			continue
		}
		c, o := o.child, o
		apply := func() {
			if err := e.rechild(c, o); err != nil {
				c.sa.logger().Warn("child SA not moved", "in_spi", fmt.Sprintf("%08x", c.inSPI), "err", err)
				return
			}
			c.sa.logger().Info("child SA addresses (MOBIKE-X)", "set", pl.set.ID, "in_spi", fmt.Sprintf("%08x", c.inSPI),
				"local", c.local, "remote", c.remote, "local_ts", c.localTS, "remote_ts", c.remoteTS)
		}
		if !v.requester && o.remote != c.remote && o.remote != v.from.Addr() {
			owner, to := c.sa, netip.AddrPortFrom(o.remote, c.sa.remote.Port())
			later = append(later, func() {
				owner.enqueue(owner.rrTask(owner.sock, to, func() {
					if c.state != ChildDeleted {
						apply()
					}
				}))
			})
			continue
		}
		apply()
	}
	return later
}

// rechild gives a child SA new addresses and traffic selectors: its ESP
// SAs get the new outer addresses (UpdateSA), and its policies are
// replaced where the selectors changed (updated in place where their key
// stays).
func (e *Engine) rechild(c *childSA, o *mxObj) error {
	var oldPols []esp.Policy
	if c.installed && c.state == ChildInstalled {
		oldPols = c.policies()
	}
	moved := c.local != o.local || c.remote != o.remote
	c.local, c.remote = o.local, o.remote
	c.localAlts, c.remoteAlts = o.localAlts, o.remoteAlts
	c.localTS, c.remoteTS = o.localTS, o.remoteTS
	if e.esp == nil || !c.installed {
		return nil
	}
	if moved {
		in, out, err := c.espSAs()
		if err != nil {
			return err
		}
		if err := e.esp.UpdateSA(in); err != nil {
			return err
		}
		if err := e.esp.UpdateSA(out); err != nil {
			return err
		}
	}
	if c.state != ChildInstalled {
		return nil
	}
	newPols := c.policies()
	keep := map[esp.PolicyKey]bool{}
	for _, p := range newPols {
		keep[p.Key()] = true
	}
	had := map[esp.PolicyKey]bool{}
	for _, p := range oldPols {
		had[p.Key()] = true
		if !keep[p.Key()] {
			if err := e.esp.DeletePolicy(p.Key()); err != nil {
				return fmt.Errorf("ike: policy %s: %w", p.Key(), err)
			}
		}
	}
	for _, p := range newPols {
		var err error
		if had[p.Key()] {
			if err = e.esp.UpdatePolicy(p); errors.Is(err, esp.ErrNotFound) {
				err = e.esp.AddPolicy(p)
			}
		} else if err = e.esp.AddPolicy(p); errors.Is(err, esp.ErrExists) {
			err = e.esp.UpdatePolicy(p)
		}
		if err != nil {
			return fmt.Errorf("ike: policy %s: %w", p.Key(), err)
		}
	}
	return nil
}

// closeSAs closes what a plan (or a peer's CLOSING_SA) names: IKE SAs with
// their children, and child SAs, without a Delete exchange: both sides
// know.
func (sa *ikeSA) closeSAs(pl *mxPlan) {
	for _, o := range pl.objs {
		if !o.closing {
			continue
		}
		if o.ike != nil {
			o.ike.logger().Info("IKE SA closing: its last address was removed (CLOSING_SA)", "set", pl.set.ID)
			o.ike.close(ErrClosing)
		} else if o.child.sa.state != StateClosed && o.child.state != ChildDeleted {
			o.child.sa.removeChild(o.child)
		}
	}
}

// mxResponder runs the selector sets of one request (responder).
type mxResponder struct {
	sa    *ikeSA
	p     packet
	m     mobikex.Machine
	resp  []ikev2.Payload
	plans []*mxPlan // applied, for closing after the answer
	later []func()  // return routability checks to start after it
	// movedIKE: a set moved this IKE SA's peer address.
	movedIKE bool
}

// feed takes one payload of the request; false hands it back as not
// MOBIKE-X's.
func (r *mxResponder) feed(q ikev2.Payload) bool {
	set, err, other := r.m.Feed(q)
	switch {
	case other:
		return false
	case err != nil:
		r.refuse(err)
	case set != nil:
		r.handle(*set)
	}
	return true
}

func (r *mxResponder) refuse(err *mobikex.Error) {
	r.sa.logger().Info("MOBIKE-X selector set refused", "set", err.ID, "error", err.Type, "state", r.m.State())
	r.resp = append(r.resp, err.Notify())
}

// handle validates a complete set and applies it (or with CHECK only
// answers).
func (r *mxResponder) handle(set mobikex.Set) {
	sa := r.sa
	v := mxView{from: r.p.from}
	pl, err := sa.plan(set, v)
	if err != nil {
		r.refuse(err)
		return
	}
	if spis := pl.closingSPIs(); len(spis) > 0 {
		r.resp = append(r.resp, mobikex.ClosingNotify(set.ID, spis...))
	}
	if set.Check {
		sa.logger().Info("MOBIKE-X selector set checked", "set", set.String())
		return
	}
	sa.logger().Info("MOBIKE-X selector set applied", "set", set.String(), "from", r.p.from)
	before := sa.remote
	r.later = append(r.later, sa.commit(pl, v, r.p.sock)...)
	if sa.remote != before {
		r.movedIKE = true
		sa.natt = sa.sock.mux != nil
	}
	r.plans = append(r.plans, pl)
}

// end closes the request: an open set is UNMATCHED_SELECTOR_SET; NAT
// detection is answered when the IKE SA moved. It returns what runs after
// the response is sent.
func (r *mxResponder) end(rest []ikev2.Payload) func() {
	sa := r.sa
	if err := r.m.End(); err != nil {
		r.refuse(err)
	}
	if r.movedIKE && ikev2.FindNotify(rest, ikev2.NotifyNATDetectionSourceIP) != nil {
		sa.detectNAT(rest, sa.spiI, sa.spiR, r.p.from, r.p.sock.local)
		r.resp = append(r.resp, sa.natdPayloads(sa.spiI, sa.spiR, r.p.sock.local, r.p.from)...)
	}
	plans, later := r.plans, r.later
	return func() {
		for _, pl := range plans {
			sa.closeSAs(pl)
		}
		for _, f := range later {
			f()
		}
	}
}

// mxTask sends selector sets in one INFORMATIONAL (with NAT detection and
// COOKIE2 before them) and, when the peer accepts a set, applies it to
// this side's SAs. The request leaves from the address the IKE SA moves
// to when a set moves it, else from the IKE SA's.
func (sa *ikeSA) mxTask(sets []mobikex.Set, done func([]mobikex.Result, error)) *task {
	return &task{name: "MOBIKE-X selector sets", fail: func(err error) { done(nil, err) }, start: func() error {
		e := sa.e
		if sa.version < mobikex.VersionMOBIKEX {
			return fmt.Errorf("%w (version %s)", ErrNoMOBIKEX, sa.version)
		}
		var ps []ikev2.Payload
		for _, s := range sets {
			sp, err := s.Payloads()
			if err != nil {
				return err
			}
			ps = append(ps, sp...)
		}
		via := sa.sock
		for _, s := range sets {
			if s.Check {
				continue
			}
			pl, err := sa.plan(s, mxView{requester: true, from: via.local})
			if err != nil {
				continue
			}
			for _, o := range pl.objs {
				if o.ike == sa && !o.closing && o.local != sa.sock.local.Addr() {
					if k := e.sockFor(o.local, sa.natt); k != nil {
						via = k
					}
				}
			}
		}
		cookie, err := ikecrypto.NewCookie2()
		if err != nil {
			return err
		}
		head := sa.natdPayloads(sa.spiI, sa.spiR, via.local, sa.remote)
		head = append(head, ikev2.NewNotify(ikev2.NotifyCookie2, cookie))
		fail := func(err error) {
			sa.logger().Warn("MOBIKE-X request failed", "err", err)
			done(nil, err)
		}
		return sa.sendRequestVia(ikev2.ExchangeInformational, append(head, ps...), via, sa.remote, via != sa.sock, func(p packet, rs []ikev2.Payload) {
			c := ikev2.FindNotify(rs, ikev2.NotifyCookie2)
			if c == nil || ikecrypto.CheckCookie2(cookie, c.Data) != nil {
				fail(fmt.Errorf("%w: the answer does not echo COOKIE2", ErrRefused))
				return
			}
			results := mobikex.Results(sets, rs)
			v := mxView{requester: true, from: via.local}
			var closing []*mxPlan
			for i, r := range results {
				if r.Err != nil || sets[i].Check {
					continue
				}
				pl, err := sa.plan(sets[i], v)
				if err != nil {
					sa.logger().Warn("MOBIKE-X set accepted by the peer but not applicable here", "set", sets[i].String(), "err", err)
					continue
				}
				sa.commit(pl, v, via)
				closing = append(closing, pl)
			}
			if sa.sock == via && ikev2.FindNotify(rs, ikev2.NotifyNATDetectionSourceIP) != nil {
				sa.detectNAT(rs, sa.spiI, sa.spiR, p.from, via.local)
			}
			for _, pl := range closing {
				sa.closeSAs(pl)
			}
			sa.closePeerNamed(results, sets)
			done(results, nil)
		}, fail)
	}}
}

// closePeerNamed closes the SAs a CLOSING_SA names that this side's own
// reading of the sets did not close.
func (sa *ikeSA) closePeerNamed(results []mobikex.Result, sets []mobikex.Set) {
	for i, r := range results {
		if sets[i].Check {
			continue
		}
		for _, s := range r.Closing {
			if spii, spir, current, ok := s.IKE(); ok {
				for _, o := range sa.peerSAs() {
					if (current && o == sa) || (o.spiI == spii && o.spiR == spir) {
						o.close(ErrClosing)
					}
				}
			} else if v, ok := s.Child(); ok {
				for _, o := range sa.peerSAs() {
					if c := o.childByOut(v); c != nil {
						o.removeChild(c)
					}
				}
			}
		}
	}
}

// nextSetID returns a fresh selector set ID (never 0, the implicit sets').
func (e *Engine) nextSetID() uint32 {
	e.setID++
	if e.setID == 0 {
		e.setID++
	}
	return e.setID
}

// Exchange sends one INFORMATIONAL carrying the selector sets (any
// action, CHECK, explicit selections) and returns one result per set, in
// order; the sets the peer accepted (CHECK ones excepted) are applied to
// this side's SAs too. A set with ID 0 that is not implicit gets a fresh
// ID.
func (e *Engine) Exchange(ctx context.Context, spi ikev2.SPI, sets []mobikex.Set) ([]mobikex.Result, error) {
	return call(ctx, e, func(done func([]mobikex.Result, error)) error {
		sa, err := e.established(spi)
		if err != nil {
			return err
		}
		sets = slices.Clone(sets)
		for i := range sets {
			if sets[i].ID == 0 && !sets[i].Implicit {
				sets[i].ID = e.nextSetID()
			}
		}
		sa.enqueue(sa.mxTask(sets, done))
		return nil
	})
}

// one runs one default selector set and returns its error.
func (e *Engine) one(ctx context.Context, spi ikev2.SPI, a mobikex.Action) error {
	rs, err := e.Exchange(ctx, spi, []mobikex.Set{{Actions: []mobikex.Action{a}}})
	if err != nil {
		return err
	}
	if len(rs) != 1 {
		return fmt.Errorf("%w: %d results for one set", ErrRefused, len(rs))
	}
	if rs[0].Err != nil {
		return fmt.Errorf("%w: %w", ErrRefused, rs[0].Err)
	}
	if len(rs[0].Closing) > 0 {
		return ErrClosing
	}
	return nil
}

// UpdateAddress moves the SAs of IKE SA spi from this side's address old
// to new. With MOBIKE-X it is one UPDATE_SA_ADDRESSES (OLD_IP, NEW_IP) in
// a default selector set, sent from the socket on new (AddSocket first):
// the IKE SA and its child SAs move on both sides, transport-mode child
// SAs with their traffic selectors and policies. With MOBIKE (version 1)
// it is Move, which moves tunnel-mode child SAs only: a transport-mode
// child SA cannot change its selectors with RFC 4555.
func (e *Engine) UpdateAddress(ctx context.Context, spi ikev2.SPI, old, new netip.Addr) error {
	var version mobikex.Version
	var transport bool
	var local netip.Addr
	var saErr error
	err := e.Do(ctx, func(*State) {
		sa, err := e.established(spi)
		if err != nil {
			saErr = err
			return
		}
		if e.sockFor(new, sa.natt) == nil {
			saErr = fmt.Errorf("%w: %s (NAT-T %v)", ErrNoSocket, new, sa.natt)
			return
		}
		version, local = sa.version, sa.sock.local.Addr()
		for _, c := range sa.children {
			transport = transport || c.mode == ModeTransport
		}
		sa.follow(old, new)
	})
	if err != nil {
		return err
	}
	if saErr != nil {
		return saErr
	}
	switch version {
	case mobikex.VersionNone:
		return ErrNoMOBIKE
	case mobikex.VersionMOBIKE:
		if transport {
			return fmt.Errorf("%w: a transport-mode child SA cannot move its traffic selectors with MOBIKE (RFC 4555): the peer does not speak MOBIKE-X", ErrNoMOBIKEX)
		}
		if old != local {
			return fmt.Errorf("%w: %s is not the IKE SA's address (%s)", ErrNoSocket, old, local)
		}
		return e.Move(ctx, spi, new)
	}
	return e.one(ctx, spi, mobikex.Action{Kind: mobikex.ActionUpdate, IPs: []mobikex.IP{{Addr: old, Old: true}, {Addr: new, New: true}}})
}

// AddAddress adds one of this side's addresses (a socket on it must
// exist) to the IKE SA spi and all its child SAs with ADD_SA_ADDRESS: they
// go there when their address in use is removed, the highest preference
// first (info may be nil).
func (e *Engine) AddAddress(ctx context.Context, spi ikev2.SPI, addr netip.Addr, info *mobikex.Info) error {
	var saErr error
	err := e.Do(ctx, func(*State) {
		sa, err := e.established(spi)
		switch {
		case err != nil:
			saErr = err
		case e.sockFor(addr, sa.natt) == nil:
			saErr = fmt.Errorf("%w: %s (NAT-T %v)", ErrNoSocket, addr, sa.natt)
		}
	})
	if err != nil {
		return err
	}
	if saErr != nil {
		return saErr
	}
	return e.one(ctx, spi, mobikex.Action{Kind: mobikex.ActionAdd, IPs: []mobikex.IP{{Addr: addr, Info: info}}})
}

// RemoveAddress removes one of this side's addresses from the IKE SA spi
// and all its child SAs with REMOVE_SA_ADDRESS. Removing the address in
// use moves the SAs to the best remaining one (the request leaves from
// it); removing the last one closes them on both sides (ErrClosing).
func (e *Engine) RemoveAddress(ctx context.Context, spi ikev2.SPI, addr netip.Addr) error {
	return e.one(ctx, spi, mobikex.Action{Kind: mobikex.ActionRemove, IPs: []mobikex.IP{{Addr: addr}}})
}

// UpdateAddressAhead is UpdateAddress for a host whose peer's answer
// cannot reach it before it has moved: a mobile node coming home, whose
// home agent still tunnels the home address to the care-of address it
// leaves until the deregistration, which must itself travel inside the
// SAs on the home address. This side's IKE SA and child SAs (outer
// addresses, transport selectors and policies, the socket) move to new as
// the UPDATE_SA_ADDRESSES request leaves from it, and UpdateAddressAhead
// returns then; the exchange goes on in the background, retransmitted from
// new. answered tells its end once: nil when the peer accepted; the
// peer's refusal (a *mobikex.Error) after this side moved back to old (or,
// when it has no socket on old any more, deleted the IKE SA, which the
// peer no longer reaches) and logged a warning; or, with no answer, the
// error with which the IKE SA closed as with any dead peer. The IKE SA
// must speak MOBIKE-X (ErrNoMOBIKEX): RFC 4555 has nothing that moves
// ahead of the answer.
func (e *Engine) UpdateAddressAhead(ctx context.Context, spi ikev2.SPI, old, new netip.Addr) (answered <-chan error, err error) {
	ch := make(chan error, 1)
	told := false
	tell := func(err error) {
		if !told {
			told = true
			ch <- err
		}
	}
	_, err = call(ctx, e, func(done func(struct{}, error)) error {
		sa, err := e.established(spi)
		if err != nil {
			return err
		}
		if sa.version < mobikex.VersionMOBIKEX {
			return fmt.Errorf("%w (version %s)", ErrNoMOBIKEX, sa.version)
		}
		if e.sockFor(new, sa.natt) == nil {
			return fmt.Errorf("%w: %s (NAT-T %v)", ErrNoSocket, new, sa.natt)
		}
		sa.follow(old, new)
		set := mobikex.Set{ID: e.nextSetID(), Actions: []mobikex.Action{{Kind: mobikex.ActionUpdate,
			IPs: []mobikex.IP{{Addr: old, Old: true}, {Addr: new, New: true}}}}}
		sa.enqueue(sa.aheadTask(set, old, new, func(err error) { done(struct{}{}, err) }, tell))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ch, nil
}

// aheadTask applies an UPDATE_SA_ADDRESSES set (old to new) to this side's
// SAs and sends it from new: sent is told when the request has left (or
// could not), answered when the exchange ends (see UpdateAddressAhead).
func (sa *ikeSA) aheadTask(set mobikex.Set, old, new netip.Addr, sent, answered func(error)) *task {
	failed := func(err error) { sent(err); answered(err) }
	return &task{name: "MOBIKE-X update ahead of the answer", fail: failed, start: func() error {
		e := sa.e
		if sa.version < mobikex.VersionMOBIKEX {
			return fmt.Errorf("%w (version %s)", ErrNoMOBIKEX, sa.version)
		}
		via := e.sockFor(new, sa.natt)
		if via == nil {
			return fmt.Errorf("%w: %s (NAT-T %v)", ErrNoSocket, new, sa.natt)
		}
		ps, err := set.Payloads()
		if err != nil {
			return err
		}
		v := mxView{requester: true, from: via.local}
		pl, mxErr := sa.plan(set, v)
		if mxErr != nil {
			return fmt.Errorf("ike: the update of %s to %s does not apply to this side's SAs: %w", old, new, mxErr)
		}
		cookie, err := ikecrypto.NewCookie2()
		if err != nil {
			return err
		}
		sa.commit(pl, v, via)
		head := sa.natdPayloads(sa.spiI, sa.spiR, sa.sock.local, sa.remote)
		head = append(head, ikev2.NewNotify(ikev2.NotifyCookie2, cookie))
		refused := func(err error) {
			sa.logger().Warn("MOBIKE-X update refused after this side moved: moving back", "set", set.ID, "from", new, "to", old, "err", err)
			sa.moveBack(set.ID, new, old)
			answered(err)
		}
		err = sa.sendRequest(ikev2.ExchangeInformational, append(head, ps...), func(p packet, rs []ikev2.Payload) {
			c := ikev2.FindNotify(rs, ikev2.NotifyCookie2)
			if c == nil || ikecrypto.CheckCookie2(cookie, c.Data) != nil {
				refused(fmt.Errorf("%w: the answer does not echo COOKIE2", ErrRefused))
				return
			}
			r := mobikex.Results([]mobikex.Set{set}, rs)
			if len(r) != 1 || r[0].Err != nil {
				var why error = ErrRefused
				if len(r) == 1 {
					why = fmt.Errorf("%w: %w", ErrRefused, r[0].Err)
				}
				refused(why)
				return
			}
			if ikev2.FindNotify(rs, ikev2.NotifyNATDetectionSourceIP) != nil {
				sa.detectNAT(rs, sa.spiI, sa.spiR, p.from, sa.sock.local)
			}
			sa.logger().Info("MOBIKE-X update ahead answered", "set", set.ID, "local", sa.sock.local, "remote", sa.remote)
			answered(nil)
		}, func(err error) {
			sa.logger().Warn("MOBIKE-X update ahead unanswered", "set", set.ID, "err", err)
			answered(err)
		})
		if err != nil {
			// Nothing left: this side goes back where it was.
			sa.moveBack(set.ID, new, old)
			return err
		}
		sa.logger().Info("MOBIKE-X update sent ahead of the answer: this side moved", "set", set.ID, "from", old, "to", new, "remote", sa.remote)
		sent(nil)
		return nil
	}}
}

// moveBack undoes, on this side only, an update of this side's address
// from old to new that the peer did not take. Without a socket on old any
// more the IKE SA cannot go back: it is deleted (the request leaves from
// new, where the peer may still hear it) and brought up again by whoever
// keeps it.
func (sa *ikeSA) moveBack(id uint32, new, old netip.Addr) {
	e := sa.e
	if sa.state != StateEstablished {
		return
	}
	via := e.sockFor(old, sa.natt)
	if via == nil {
		sa.logger().Warn("IKE SA cannot move back: no socket on its old address, deleting it", "set", id, "addr", old)
		sa.enqueue(sa.deleteTask(nil))
		return
	}
	back := mobikex.Set{ID: id, Actions: []mobikex.Action{{Kind: mobikex.ActionUpdate,
		IPs: []mobikex.IP{{Addr: new, Old: true}, {Addr: old, New: true}}}}}
	v := mxView{requester: true, from: via.local}
	pl, err := sa.plan(back, v)
	if err != nil {
		sa.logger().Warn("IKE SA cannot move back, deleting it", "set", id, "addr", old, "err", err)
		sa.enqueue(sa.deleteTask(nil))
		return
	}
	sa.commit(pl, v, via)
}

// follow sends the request outstanding on the IKE SA again, now, from the
// socket on new when it was sent from the SA's socket on old: this side's
// address changed while an exchange was in progress, and its
// retransmissions leave from the new address (RFC 4555 section 3.5; the
// peer answers a request, or its retransmission from the cache, to the
// address it came from). The mobile node that came home and at once
// leaves again still gets the answer to the update it sent from home,
// which its next update waits for.
func (sa *ikeSA) follow(old, new netip.Addr) {
	r := sa.pending
	if r == nil || r.soft || r.sock != sa.sock || sa.sock.local.Addr() != old {
		return
	}
	k := sa.e.sockFor(new, sa.natt)
	if k == nil {
		return
	}
	r.sock = k
	sa.logger().Info("IKE request outstanding: sent again from the new address", "exchange", r.exch, "id", r.id, "from", k.local)
	sa.e.send(k, r.raw, r.to)
}
