package ike

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/esp"
	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
	"github.com/dynamics-go/dynamics/libdynamics/ikev2/ikecrypto"
)

// childSA is one ESP child SA pair.
type childSA struct {
	sa    *ikeSA
	reqid uint32
	// inSPI is ours (the peer sends with it), outSPI the peer's.
	inSPI, outSPI     uint32
	prop              Proposal
	mode              Mode
	localTS, remoteTS []Selector
	in, out           esp.Keys
	state             ChildState
	installed         bool
	created           time.Time
	rekeyAt           time.Time
	// dh and ni are this side's key exchange and nonce while a
	// CREATE_CHILD_SA it started runs.
	dh *ikecrypto.DH
	ni []byte
	// rekeys is the child this one replaces.
	rekeys *childSA
	// offered are the proposals this side offered for it.
	offered []Proposal
	// local and remote are the child's outer addresses: its IKE SA's
	// when installed, moved with it by MOBIKE, or on their own by a
	// MOBIKE-X selector set; localAlts and remoteAlts the addresses added
	// with ADD_SA_ADDRESS.
	local, remote         netip.Addr
	localAlts, remoteAlts []altAddr
}

// selectors returns the configured traffic selectors of a peer's child SA:
// the configured ones, or the IKE addresses as single hosts.
func (sa *ikeSA) selectors() (local, remote []Selector) {
	local, remote = sa.peer.LocalTS, sa.peer.RemoteTS
	if len(local) == 0 {
		a := sa.sock.local.Addr()
		local = []Selector{PrefixSelector(netip.PrefixFrom(a, a.BitLen()))}
	}
	if len(remote) == 0 {
		a := sa.remote.Addr()
		remote = []Selector{PrefixSelector(netip.PrefixFrom(a, a.BitLen()))}
	}
	return local, remote
}

func toTS(responder bool, sels []Selector) *ikev2.TS {
	ts := &ikev2.TS{Responder: responder}
	for _, s := range sels {
		t := ikev2.TSIPv4AddrRange
		if s.Start.Is6() {
			t = ikev2.TSIPv6AddrRange
		}
		ts.Selectors = append(ts.Selectors, ikev2.Selector{Type: t, Protocol: s.Protocol, StartPort: s.StartPort, EndPort: s.EndPort, Start: s.Start, End: s.End})
	}
	return ts
}

func fromTS(ts *ikev2.TS) []Selector {
	if ts == nil {
		return nil
	}
	var out []Selector
	for _, s := range ts.Selectors {
		if s.Type != ikev2.TSIPv4AddrRange && s.Type != ikev2.TSIPv6AddrRange {
			continue
		}
		sel := Selector{Start: s.Start, End: s.End, Protocol: s.Protocol, StartPort: s.StartPort, EndPort: s.EndPort}
		if sel.Valid() {
			out = append(out, sel)
		}
	}
	return out
}

// installable keeps the selectors the ESP policies can express: a prefix,
// and a single port or all of them.
func installable(sels []Selector) []Selector {
	var out []Selector
	for _, s := range sels {
		if _, ok := s.Prefix(); !ok {
			continue
		}
		if !(s.StartPort == s.EndPort || s.StartPort == 0 && s.EndPort == 0xffff) {
			continue
		}
		if s.StartPort == s.EndPort && !(s.Protocol == 6 || s.Protocol == 17 || s.Protocol == 132) {
			continue
		}
		out = append(out, s)
	}
	return out
}

// proposeChild makes a child SA to propose, for IKE_AUTH (no key exchange)
// or CREATE_CHILD_SA, and returns the payloads that propose it: SA, TSi,
// TSr and USE_TRANSPORT_MODE (plus Nonce and KE in CREATE_CHILD_SA, added
// by the caller). rekeys, when set, is the child it replaces, whose
// selectors and mode it keeps.
func (sa *ikeSA) proposeChild(rekeys *childSA, g *ikecrypto.Group, withKE bool) (*childSA, []ikev2.Payload, error) {
	e := sa.e
	spi, err := e.newESPSPI()
	if err != nil {
		return nil, nil, err
	}
	c := &childSA{sa: sa, inSPI: spi, mode: sa.peer.Mode, rekeys: rekeys}
	if rekeys != nil {
		c.mode, c.localTS, c.remoteTS = rekeys.mode, rekeys.localTS, rekeys.remoteTS
	} else {
		c.localTS, c.remoteTS = sa.selectors()
	}
	e.inSPIs[spi] = c // reserved while negotiating
	props := e.cfg.ESPProposals
	if !withKE {
		// IKE_AUTH carries no key exchange: offer the proposals
		// without their PFS groups (RFC 7296 section 1.2).
		props = make([]Proposal, len(e.cfg.ESPProposals))
		for i, p := range e.cfg.ESPProposals {
			p.DH = ikecrypto.GroupNone
			props[i] = p
		}
	}
	c.offered = props
	spiB := binary.BigEndian.AppendUint32(nil, spi)
	var ps []ikev2.Payload
	if c.mode == ModeTransport {
		ps = append(ps, ikev2.NewNotify(ikev2.NotifyUseTransportMode, nil))
	}
	ps = append(ps, saPayload(props, ikev2.ProtocolESP, spiB), toTS(false, c.localTS), toTS(true, c.remoteTS))
	return c, ps, nil
}

// releaseChild forgets a child that was proposed but not made.
func (sa *ikeSA) releaseChild(c *childSA) {
	if c != nil && !c.installed && sa.e.inSPIs[c.inSPI] == c {
		delete(sa.e.inSPIs, c.inSPI)
	}
}

// childReply completes a child SA this side proposed from the response
// (IKE_AUTH or CREATE_CHILD_SA): the accepted proposal, the narrowed
// selectors, the mode, and keys from the exchange's nonces (and shared
// secret gir with PFS). This side was the exchange's initiator.
func (sa *ikeSA) childReply(c *childSA, ps []ikev2.Payload, gir, ni, nr []byte) error {
	if c == nil {
		return nil
	}
	fail := func(err error) error {
		sa.releaseChild(c)
		sa.logger().Warn("child SA not made", "err", err)
		return err
	}
	if n := errorNotify(ps); n != nil {
		return fail(notifyErr(n))
	}
	saP, _ := ikev2.Find(ps, ikev2.PayloadSA).(*ikev2.SA)
	prop, pr, err := accepted(saP, c.offered, ikev2.ProtocolESP)
	if err != nil {
		return fail(err)
	}
	if len(pr.SPI) != 4 || binary.BigEndian.Uint32(pr.SPI) < esp.MinSPI {
		return fail(fmt.Errorf("%w: ESP SPI %x", ErrRefused, pr.SPI))
	}
	tsi, _ := ikev2.Find(ps, ikev2.PayloadTSi).(*ikev2.TS)
	tsr, _ := ikev2.Find(ps, ikev2.PayloadTSr).(*ikev2.TS)
	local, remote := fromTS(tsi), fromTS(tsr)
	if !within(local, c.localTS) || !within(remote, c.remoteTS) {
		sa.enqueue(sa.deleteSPITask(c.inSPI))
		return fail(fmt.Errorf("%w: the responder's selectors %v === %v are not within ours", ErrTSUnaccepted, local, remote))
	}
	transport := ikev2.FindNotify(ps, ikev2.NotifyUseTransportMode) != nil
	if c.mode == ModeTransport && !transport {
		// The responder made a tunnel-mode child we do not want:
		// delete its half (RFC 7296 section 1.3.1).
		sa.enqueue(sa.deleteSPITask(c.inSPI))
		return fail(fmt.Errorf("%w: transport mode refused", ErrNoProposal))
	}
	keys, err := ikecrypto.DeriveChildKeys(sa.prop.PRF, sa.keys.SKd, childSuite(prop), gir, ni, nr)
	if err != nil {
		return fail(err)
	}
	c.prop, c.outSPI = prop, binary.BigEndian.Uint32(pr.SPI)
	c.localTS, c.remoteTS = installable(local), installable(remote)
	c.out = esp.Keys{Enc: keys.EncrI, Auth: keys.IntegI}
	c.in = esp.Keys{Enc: keys.EncrR, Auth: keys.IntegR}
	if err := sa.addChild(c); err != nil {
		return fail(err)
	}
	return nil
}

func childSuite(p Proposal) ikecrypto.ChildSuite {
	return ikecrypto.ChildSuite{Encr: p.Encr, KeyBits: p.KeyBits, Integ: p.Integ, Group: p.DH}
}

// acceptChild answers a child SA proposal (IKE_AUTH or CREATE_CHILD_SA,
// responder): it returns the response's SA, TSi, TSr (and
// USE_TRANSPORT_MODE) payloads, or the error notification. gir is the
// exchange's shared secret with PFS; rekeys the child replaced.
func (sa *ikeSA) acceptChild(ps []ikev2.Payload, ni, nr, gir []byte, rekeys *childSA) ([]ikev2.Payload, *childSA) {
	e := sa.e
	refuse := func(t ikev2.NotifyType, why string) ([]ikev2.Payload, *childSA) {
		sa.logger().Info("child SA refused", "reason", why, "notify", t)
		return []ikev2.Payload{ikev2.NewNotify(t, nil)}, nil
	}
	saP, _ := ikev2.Find(ps, ikev2.PayloadSA).(*ikev2.SA)
	tsi, _ := ikev2.Find(ps, ikev2.PayloadTSi).(*ikev2.TS)
	tsr, _ := ikev2.Find(ps, ikev2.PayloadTSr).(*ikev2.TS)
	if saP == nil || tsi == nil || tsr == nil {
		if saP == nil && tsi == nil && tsr == nil {
			return nil, nil // an IKE SA without a child (RFC 6023)
		}
		return refuse(ikev2.NotifyInvalidSyntax, "SA, TSi or TSr missing")
	}
	props := e.cfg.ESPProposals
	if gir == nil {
		props = make([]Proposal, len(e.cfg.ESPProposals))
		for i, p := range e.cfg.ESPProposals {
			p.DH = ikecrypto.GroupNone
			props[i] = p
		}
	}
	prop, theirs, ok := choose(saP, props, ikev2.ProtocolESP)
	if !ok {
		return refuse(ikev2.NotifyNoProposalChosen, "no ESP proposal acceptable")
	}
	if len(theirs.SPI) != 4 || binary.BigEndian.Uint32(theirs.SPI) < esp.MinSPI {
		return refuse(ikev2.NotifyInvalidSyntax, "bad ESP SPI")
	}
	mode := ModeTunnel
	wantTransport := ikev2.FindNotify(ps, ikev2.NotifyUseTransportMode) != nil
	switch {
	case rekeys != nil:
		mode = rekeys.mode
	case sa.peer.Mode == ModeTransport && wantTransport:
		mode = ModeTransport
	case sa.peer.Mode == ModeTransport:
		return refuse(ikev2.NotifyNoProposalChosen, "tunnel mode asked, transport configured")
	}
	cfgLocal, cfgRemote := sa.selectors()
	if rekeys != nil {
		cfgLocal, cfgRemote = rekeys.localTS, rekeys.remoteTS
	}
	remote := installable(narrow(fromTS(tsi), cfgRemote))
	local := installable(narrow(fromTS(tsr), cfgLocal))
	if len(remote) == 0 || len(local) == 0 {
		return refuse(ikev2.NotifyTSUnacceptable, fmt.Sprintf("selectors %v === %v outside %v === %v", fromTS(tsi), fromTS(tsr), cfgRemote, cfgLocal))
	}
	keys, err := ikecrypto.DeriveChildKeys(sa.prop.PRF, sa.keys.SKd, childSuite(prop), gir, ni, nr)
	if err != nil {
		return refuse(ikev2.NotifyNoProposalChosen, err.Error())
	}
	spi, err := e.newESPSPI()
	if err != nil {
		return refuse(ikev2.NotifyTemporaryFailure, err.Error())
	}
	c := &childSA{
		sa: sa, inSPI: spi, outSPI: binary.BigEndian.Uint32(theirs.SPI), prop: prop, mode: mode,
		localTS: local, remoteTS: remote, rekeys: rekeys,
		in:  esp.Keys{Enc: keys.EncrI, Auth: keys.IntegI},
		out: esp.Keys{Enc: keys.EncrR, Auth: keys.IntegR},
	}
	e.inSPIs[spi] = c
	if err := sa.addChild(c); err != nil {
		delete(e.inSPIs, spi)
		return refuse(ikev2.NotifyTemporaryFailure, err.Error())
	}
	// The answer lists our transforms as chosen, with the ESN transform
	// only if the initiator sent one.
	trs := prop.transforms(true)
	if len(theirs.ByType(ikev2.TransformESN)) == 0 {
		trs = trs[:len(trs)-1]
	}
	resp := []ikev2.Payload{}
	if mode == ModeTransport {
		resp = append(resp, ikev2.NewNotify(ikev2.NotifyUseTransportMode, nil))
	}
	resp = append(resp,
		&ikev2.SA{Proposals: []ikev2.Proposal{{Number: theirs.Number, Protocol: ikev2.ProtocolESP, SPI: binary.BigEndian.AppendUint32(nil, spi), Transforms: trs}}},
		toTS(false, remote), toTS(true, local))
	return resp, c
}

// addChild installs a negotiated child SA and adds it to the IKE SA. A
// rekeyed child keeps the request id, so its policies stay.
func (sa *ikeSA) addChild(c *childSA) error {
	e := sa.e
	c.sa = sa
	if c.rekeys != nil {
		c.reqid = c.rekeys.reqid
	} else {
		e.nextReq++
		c.reqid = e.nextReq
	}
	c.created = e.clock.Now()
	if r := c.rekeys; r != nil {
		c.local, c.remote = r.local, r.remote
		c.localAlts, c.remoteAlts = r.localAlts, r.remoteAlts
	} else {
		c.local, c.remote = sa.sock.local.Addr(), sa.remote.Addr()
	}
	if err := e.install(c); err != nil {
		return err
	}
	c.state = ChildInstalled
	if e.cfg.ChildLifetime > 0 {
		c.rekeyAt = c.created.Add(e.cfg.ChildLifetime)
	}
	sa.children = append(sa.children, c)
	e.stats.Children++
	if c.rekeys != nil {
		c.rekeys.state = ChildRekeyed
		c.rekeys.rekeyAt = time.Time{}
	}
	sa.logger().Info("child SA installed", "in_spi", fmt.Sprintf("%08x", c.inSPI), "out_spi", fmt.Sprintf("%08x", c.outSPI),
		"mode", c.mode, "proposal", c.prop.String(), "local_ts", c.localTS, "remote_ts", c.remoteTS, "rekey", c.rekeys != nil)
	return nil
}

// outer returns the outer addresses of the SA's ESP packets: with UDP
// encapsulation the NAT-T ports, otherwise bare ESP.
func (sa *ikeSA) outer() (local, remote netip.AddrPort) {
	if sa.natt {
		return sa.sock.local, sa.remote
	}
	return netip.AddrPortFrom(sa.sock.local.Addr(), 0), netip.AddrPortFrom(sa.remote.Addr(), 0)
}

// outer returns the child's outer addresses: its own, with its IKE SA's
// ports.
func (c *childSA) outer() (local, remote netip.AddrPort) {
	local, remote = c.sa.outer()
	if c.local.IsValid() {
		local = netip.AddrPortFrom(c.local, local.Port())
	}
	if c.remote.IsValid() {
		remote = netip.AddrPortFrom(c.remote, remote.Port())
	}
	return local, remote
}

func espMode(m Mode) esp.Mode {
	if m == ModeTransport {
		return esp.ModeTransport
	}
	return esp.ModeTunnel
}

// espSAs returns the child's two ESP SAs.
func (c *childSA) espSAs() (in, out esp.SA, err error) {
	alg, err := esp.AlgorithmFor(uint16(c.prop.Encr), uint16(c.prop.Integ))
	if err != nil {
		return in, out, err
	}
	local, remote := c.outer()
	in = esp.SA{SPI: c.inSPI, Direction: esp.Inbound, Mode: espMode(c.mode), ReqID: c.reqid, Local: local, Remote: remote, Algorithm: alg, Keys: c.in}
	out = esp.SA{SPI: c.outSPI, Direction: esp.Outbound, Mode: espMode(c.mode), ReqID: c.reqid, Local: local, Remote: remote, Algorithm: alg, Keys: c.out}
	return in, out, nil
}

// policies returns the child's ESP policies: every pair of local and
// remote selectors, out and in.
func (c *childSA) policies() []esp.Policy {
	local, remote := c.outer()
	var ps []esp.Policy
	for _, l := range c.localTS {
		for _, r := range c.remoteTS {
			lp, _ := l.Prefix()
			rp, _ := r.Prefix()
			proto := l.Protocol
			if proto == 0 {
				proto = r.Protocol
			}
			out := esp.Selector{Src: lp, Dst: rp, Protocol: proto}
			if l.StartPort == l.EndPort {
				out.SrcPort = l.StartPort
			}
			if r.StartPort == r.EndPort {
				out.DstPort = r.StartPort
			}
			in := esp.Selector{Src: rp, Dst: lp, Protocol: proto, SrcPort: out.DstPort, DstPort: out.SrcPort}
			ps = append(ps,
				esp.Policy{Direction: esp.Outbound, Selector: out, Mode: espMode(c.mode), Local: local.Addr(), Remote: remote.Addr(), ReqID: c.reqid},
				esp.Policy{Direction: esp.Inbound, Selector: in, Mode: espMode(c.mode), Local: local.Addr(), Remote: remote.Addr(), ReqID: c.reqid})
		}
	}
	return ps
}

// install puts a child's SAs and (for a new request id) policies into the
// ESP implementation.
func (e *Engine) install(c *childSA) error {
	e.inSPIs[c.inSPI] = c
	if e.esp == nil {
		c.installed = true
		return nil
	}
	in, out, err := c.espSAs()
	if err != nil {
		return err
	}
	if err := e.esp.AddSA(in); err != nil {
		return fmt.Errorf("ike: inbound SA: %w", err)
	}
	if err := e.esp.AddSA(out); err != nil {
		_ = e.esp.DeleteSA(in.Key())
		return fmt.Errorf("ike: outbound SA: %w", err)
	}
	if c.rekeys == nil {
		for _, p := range c.policies() {
			err := e.esp.AddPolicy(p)
			if errors.Is(err, esp.ErrExists) {
				err = e.esp.UpdatePolicy(p)
			}
			if err != nil {
				_ = e.esp.DeleteSA(in.Key())
				_ = e.esp.DeleteSA(out.Key())
				return fmt.Errorf("ike: policy %s: %w", p.Key(), err)
			}
		}
	}
	c.installed = true
	return nil
}

// uninstall removes a child's SAs, and its policies when no other child of
// the same request id remains.
func (e *Engine) uninstall(c *childSA) {
	if e.inSPIs[c.inSPI] == c {
		delete(e.inSPIs, c.inSPI)
	}
	c.state = ChildDeleted
	if !c.installed {
		return
	}
	c.installed = false
	if e.esp == nil {
		return
	}
	in, out, err := c.espSAs()
	if err == nil {
		if err := e.esp.DeleteSA(in.Key()); err != nil {
			e.log.Warn("inbound SA not removed", "spi", fmt.Sprintf("%08x", c.inSPI), "err", err)
		}
		if err := e.esp.DeleteSA(out.Key()); err != nil {
			e.log.Warn("outbound SA not removed", "spi", fmt.Sprintf("%08x", c.outSPI), "err", err)
		}
	}
	for _, o := range e.inSPIs {
		if o != c && o.reqid == c.reqid && o.installed {
			return
		}
	}
	for _, p := range c.policies() {
		if err := e.esp.DeletePolicy(p.Key()); err != nil {
			e.log.Warn("policy not removed", "policy", p.Key(), "err", err)
		}
	}
}

// update moves a child's SAs and policies to the IKE SA's current
// addresses (MOBIKE, RFC 4555 section 3.5).
func (e *Engine) update(c *childSA) error {
	if e.esp == nil || !c.installed {
		return nil
	}
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
	if c.state == ChildInstalled {
		for _, p := range c.policies() {
			if err := e.esp.UpdatePolicy(p); err != nil && !errors.Is(err, esp.ErrNotFound) {
				return err
			}
		}
	}
	return nil
}

// removeChild takes a child out of its IKE SA and the ESP implementation.
func (sa *ikeSA) removeChild(c *childSA) {
	for i, o := range sa.children {
		if o == c {
			sa.children = append(sa.children[:i], sa.children[i+1:]...)
			break
		}
	}
	sa.e.uninstall(c)
	sa.logger().Info("child SA removed", "in_spi", fmt.Sprintf("%08x", c.inSPI), "out_spi", fmt.Sprintf("%08x", c.outSPI))
}

// childByIn and childByOut find a child SA of the IKE SA by SPI.
func (sa *ikeSA) childByIn(spi uint32) *childSA {
	for _, c := range sa.children {
		if c.inSPI == spi {
			return c
		}
	}
	return nil
}

func (sa *ikeSA) childByOut(spi uint32) *childSA {
	for _, c := range sa.children {
		if c.outSPI == spi {
			return c
		}
	}
	return nil
}
