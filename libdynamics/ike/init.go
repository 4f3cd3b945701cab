package ike

import (
	"bytes"
	"fmt"
	"net/netip"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
	"github.com/dynamics-go/dynamics/libdynamics/ikev2/ikecrypto"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
)

// nonceLen is the length of the nonces this side sends: 32 octets, at least
// half the key size of every PRF offered (RFC 7296 section 2.10).
const nonceLen = 32

// maxInitRetries bounds the IKE_SA_INIT retries after COOKIE and
// INVALID_KE_PAYLOAD answers.
const maxInitRetries = 3

// initiate starts an IKE SA with peer (RFC 7296 section 1.2): IKE_SA_INIT
// from port 500, then IKE_AUTH with the first child SA.
func (e *Engine) initiate(peer *Peer, done func(result)) error {
	if !peer.Address.IsValid() {
		return fmt.Errorf("%w: peer %q has no address to initiate to", ErrConfig, peer.Name)
	}
	s := e.sockTo(peer.Address.Addr(), false)
	if s == nil {
		return fmt.Errorf("%w: no port-500 socket to reach %s", ErrNoSocket, peer.Address)
	}
	spi, err := e.newIKESPI()
	if err != nil {
		return err
	}
	ni, err := e.randomBytes(nonceLen)
	if err != nil {
		return err
	}
	now := e.clock.Now()
	sa := &ikeSA{
		e: e, peer: peer, state: StateInitSent, initiator: true, spiI: spi,
		sock: s, remote: peer.Address, ni: ni, created: now, lastHeard: now,
	}
	sa.waiters = append(sa.waiters, done)
	e.sas[spi] = sa
	sa.logger().Info("initiating IKE SA", logging.KeyHA, peer.Address.Addr())
	if err := sa.sendInit(ikecrypto.Group(e.cfg.IKEProposals[0].DH)); err != nil {
		sa.close(err)
		return nil // done was told by close
	}
	return nil
}

// sendInit sends (or, after a COOKIE or INVALID_KE_PAYLOAD, sends again)
// the IKE_SA_INIT request with a key exchange in group g.
func (sa *ikeSA) sendInit(g ikecrypto.Group) error {
	e := sa.e
	if sa.dh == nil || sa.dh.Group() != g {
		dh, err := ikecrypto.NewDH(g)
		if err != nil {
			return err
		}
		sa.dh = dh
	}
	var ps []ikev2.Payload
	if sa.cookie != nil {
		// The COOKIE goes first (RFC 7296 section 2.6).
		ps = append(ps, ikev2.NewNotify(ikev2.NotifyCookie, sa.cookie))
	}
	ps = append(ps,
		saPayload(e.cfg.IKEProposals, ikev2.ProtocolIKE, nil),
		&ikev2.KE{Group: ikev2.DHGroup(g), Data: sa.dh.PublicValue()},
		&ikev2.Nonce{Data: sa.ni},
	)
	ps = append(ps, sa.natdPayloads(sa.spiI, 0, sa.sock.local, sa.remote)...)
	if sa.e.cfg.PrivateKey != nil {
		ps = append(ps, hashAlgorithmsNotify())
	}
	m := &ikev2.Message{Header: sa.header(ikev2.ExchangeIKESAInit, false, 0), Payloads: ps}
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	sa.initReq = b
	sa.nextID = 1
	sa.deadline = e.clock.Now().Add(e.cfg.HalfOpenTimeout)
	sa.startRequest(&request{exch: ikev2.ExchangeIKESAInit, id: 0, raw: b, sock: sa.sock, to: sa.remote, onReply: sa.initReply})
	sa.logger().Debug("IKE request sent", "msg", m.String())
	return nil
}

func hashAlgorithmsNotify() *ikev2.Notify {
	var hs []ikev2.HashAlgorithm
	for _, h := range ikecrypto.SupportedHashAlgorithms() {
		hs = append(hs, ikev2.HashAlgorithm(h))
	}
	return ikev2.SignatureHashAlgorithms(hs...)
}

// natdPayloads are this side's NAT_DETECTION_SOURCE_IP and
// NAT_DETECTION_DESTINATION_IP (RFC 7296 section 2.23), hashed with the
// SPIs of the message they go in. With ForceEncap the source hash is of no
// address at all, so the peer believes this side is behind a NAT.
func (sa *ikeSA) natdPayloads(spii, spir ikev2.SPI, local, remote netip.AddrPort) []ikev2.Payload {
	src := ikecrypto.NATDetectionHash(spii, spir, local)
	if sa.e.cfg.ForceEncap {
		src = ikecrypto.NATDetectionHash(spii, spir, netip.AddrPortFrom(netip.IPv4Unspecified(), 0))
	}
	dst := ikecrypto.NATDetectionHash(spii, spir, remote)
	return []ikev2.Payload{
		ikev2.NewNotify(ikev2.NotifyNATDetectionSourceIP, src[:]),
		ikev2.NewNotify(ikev2.NotifyNATDetectionDestinationIP, dst[:]),
	}
}

// detectNAT reads the peer's NAT detection notifications, hashed with the
// SPIs of its message, against the addresses the message travelled
// between: no source hash matching the source seen means a NAT before the
// peer; a destination hash other than this side's address, a NAT before
// this side. ForceEncap claims the latter.
func (sa *ikeSA) detectNAT(ps []ikev2.Payload, spii, spir ikev2.SPI, from, local netip.AddrPort) {
	var srcs [][]byte
	var dst []byte
	for _, p := range ps {
		if n, ok := p.(*ikev2.Notify); ok {
			switch n.NotifyType {
			case ikev2.NotifyNATDetectionSourceIP:
				srcs = append(srcs, n.Data)
			case ikev2.NotifyNATDetectionDestinationIP:
				dst = n.Data
			}
		}
	}
	if len(srcs) == 0 || dst == nil {
		sa.peerNATD = false
		sa.natLocal, sa.natRemote = false, false
		return
	}
	sa.peerNATD = true
	want := ikecrypto.NATDetectionHash(spii, spir, from)
	sa.natRemote = true
	for _, s := range srcs {
		if bytes.Equal(s, want[:]) {
			sa.natRemote = false
		}
	}
	me := ikecrypto.NATDetectionHash(spii, spir, local)
	sa.natLocal = !bytes.Equal(dst, me[:]) || sa.e.cfg.ForceEncap
}

// errorNotify returns the first error notification (type below 16384).
func errorNotify(ps []ikev2.Payload) *ikev2.Notify {
	for _, p := range ps {
		if n, ok := p.(*ikev2.Notify); ok && n.NotifyType < 16384 {
			return n
		}
	}
	return nil
}

// notifyErr turns an error notification into the engine's error.
func notifyErr(n *ikev2.Notify) error {
	switch n.NotifyType {
	case ikev2.NotifyAuthenticationFailed:
		return ErrAuthFailed
	case ikev2.NotifyNoProposalChosen:
		return ErrNoProposal
	case ikev2.NotifyTSUnacceptable:
		return ErrTSUnaccepted
	case ikev2.NotifyUnexpectedNATDetected:
		return ErrNAT
	}
	return fmt.Errorf("%w: %s", ErrRefused, n.NotifyType)
}

// initReply handles the IKE_SA_INIT response (initiator).
func (sa *ikeSA) initReply(p packet, ps []ikev2.Payload) {
	e := sa.e
	if n := ikev2.FindNotify(ps, ikev2.NotifyCookie); n != nil {
		sa.retries++
		if sa.retries > maxInitRetries || len(n.Data) == 0 {
			sa.close(fmt.Errorf("%w: COOKIE asked %d times", ErrRefused, sa.retries))
			return
		}
		sa.cookie = append([]byte(nil), n.Data...)
		sa.logger().Debug("IKE_SA_INIT answered with a COOKIE, retrying")
		if err := sa.sendInit(sa.dh.Group()); err != nil {
			sa.close(err)
		}
		return
	}
	if n := ikev2.FindNotify(ps, ikev2.NotifyInvalidKEPayload); n != nil {
		g, ok := n.Group()
		sa.retries++
		if !ok || !sa.offersGroup(ikecrypto.Group(g)) || ikecrypto.Group(g) == sa.dh.Group() || sa.retries > maxInitRetries {
			sa.close(fmt.Errorf("%w: INVALID_KE_PAYLOAD asks for group %v", ErrNoProposal, g))
			return
		}
		sa.logger().Debug("IKE_SA_INIT answered with INVALID_KE_PAYLOAD, retrying", "group", g)
		if err := sa.sendInit(ikecrypto.Group(g)); err != nil {
			sa.close(err)
		}
		return
	}
	if n := errorNotify(ps); n != nil {
		sa.close(notifyErr(n))
		return
	}
	h := &p.msg.Header
	saP, _ := ikev2.Find(ps, ikev2.PayloadSA).(*ikev2.SA)
	ke, _ := ikev2.Find(ps, ikev2.PayloadKE).(*ikev2.KE)
	nonce, _ := ikev2.Find(ps, ikev2.PayloadNonce).(*ikev2.Nonce)
	if h.SPIr == 0 || saP == nil || ke == nil || nonce == nil {
		sa.close(fmt.Errorf("%w: IKE_SA_INIT response without SPI, SA, KE or Nonce", ErrRefused))
		return
	}
	prop, _, err := accepted(saP, e.cfg.IKEProposals, ikev2.ProtocolIKE)
	if err != nil {
		sa.close(err)
		return
	}
	if ikecrypto.Group(ke.Group) != prop.DH || prop.DH != sa.dh.Group() {
		sa.close(fmt.Errorf("%w: KE of group %v for proposal %s", ErrRefused, ke.Group, prop))
		return
	}
	sa.spiR = h.SPIr
	sa.nr = append([]byte(nil), nonce.Data...)
	sa.initResp = p.raw
	if err := sa.deriveKeys(prop, ke.Data); err != nil {
		sa.close(err)
		return
	}
	sa.detectNAT(ps, sa.spiI, sa.spiR, p.from, p.sock.local)
	if n := ikev2.FindNotify(ps, ikev2.NotifySignatureHashAlgorithms); n != nil {
		sa.hashes = toHashes(n.Hashes())
	}
	// Float to port 4500 when a NAT is in the way, encapsulation is
	// forced, or MOBIKE may move the SA later (RFC 7296 section 2.23, RFC
	// 4555 section 3.3).
	if sa.peerNATD && (sa.natLocal || sa.natRemote || e.cfg.MOBIKE) {
		if s := e.sockFor(sa.sock.local.Addr(), true); s != nil {
			sa.sock = s
			sa.remote = netip.AddrPortFrom(sa.remote.Addr(), uint16(4500))
			sa.natt = true
		} else if sa.natLocal || sa.natRemote {
			sa.logger().Warn("NAT detected but no NAT-T socket on the local address", "local", sa.sock.local.Addr())
		}
	}
	sa.state = StateAuthSent
	if err := sa.sendAuth(); err != nil {
		sa.close(err)
	}
}

func toHashes(hs []ikev2.HashAlgorithm) []ikecrypto.HashAlgorithm {
	out := make([]ikecrypto.HashAlgorithm, len(hs))
	for i, h := range hs {
		out[i] = ikecrypto.HashAlgorithm(h)
	}
	return out
}

// offersGroup reports whether one of our IKE proposals uses group g.
func (sa *ikeSA) offersGroup(g ikecrypto.Group) bool {
	for _, p := range sa.e.cfg.IKEProposals {
		if p.DH == g {
			return true
		}
	}
	return false
}

// deriveKeys computes the IKE SA's keys and ciphers from the peer's public
// value (RFC 7296 section 2.14).
func (sa *ikeSA) deriveKeys(prop Proposal, peerKE []byte) error {
	gir, err := sa.dh.SharedSecret(peerKE)
	if err != nil {
		return err
	}
	suite := suiteOf(prop)
	keys, err := ikecrypto.DeriveIKEKeys(suite, gir, sa.ni, sa.nr, sa.spiI, sa.spiR)
	if err != nil {
		return err
	}
	return sa.setKeys(prop, keys)
}

func suiteOf(p Proposal) ikecrypto.Suite {
	return ikecrypto.Suite{Encr: p.Encr, KeyBits: p.KeyBits, Integ: p.Integ, PRF: p.PRF, Group: p.DH}
}

// setKeys installs keys as the SA's and logs them for decryption.
func (sa *ikeSA) setKeys(prop Proposal, keys *ikecrypto.IKEKeys) error {
	suite := suiteOf(prop)
	out, in, err := keys.Ciphers(suite, sa.initiator)
	if err != nil {
		return err
	}
	sa.prop, sa.suite, sa.keys, sa.out, sa.in = prop, suite, keys, out, in
	sa.e.logKeys(sa)
	return nil
}

// initRequest answers an IKE_SA_INIT request (responder).
func (e *Engine) initRequest(p packet) {
	h := &p.msg.Header
	if h.SPIr != 0 || h.MessageID != 0 {
		e.stats.UnknownSPI++
		return
	}
	key := initKey{spi: h.SPIi, from: p.from}
	if sa := e.halfOpen[key]; sa != nil {
		// A retransmission gets the same response; a new request with
		// the same SPI (after COOKIE or INVALID_KE) is not ours to
		// have kept state for, so only an identical one is answered.
		if bytes.Equal(p.raw, sa.initReq) {
			e.stats.CachedResponses++
			e.send(p.sock, sa.initResp, p.from)
		}
		return
	}
	ps := p.msg.Payloads
	saP, _ := ikev2.Find(ps, ikev2.PayloadSA).(*ikev2.SA)
	ke, _ := ikev2.Find(ps, ikev2.PayloadKE).(*ikev2.KE)
	nonce, _ := ikev2.Find(ps, ikev2.PayloadNonce).(*ikev2.Nonce)
	if saP == nil || ke == nil || nonce == nil {
		e.answerInit(p, ikev2.NewNotify(ikev2.NotifyInvalidSyntax, nil))
		return
	}
	if th := e.cfg.CookieThreshold; th < 0 || e.halfOpenCount() >= th {
		c := ikev2.FindNotify(ps, ikev2.NotifyCookie)
		if c == nil || !e.cookies.Check(c.Data, nonce.Data, p.from.Addr(), h.SPIi) {
			e.stats.CookiesSent++
			e.answerInit(p, ikev2.NewNotify(ikev2.NotifyCookie, e.cookies.Make(nonce.Data, p.from.Addr(), h.SPIi)))
			return
		}
	}
	prop, theirs, ok := choose(saP, e.cfg.IKEProposals, ikev2.ProtocolIKE)
	if !ok {
		e.log.Info("IKE_SA_INIT refused: no proposal chosen", "from", p.from, "offered", saP.Proposals)
		e.answerInit(p, ikev2.NewNotify(ikev2.NotifyNoProposalChosen, nil))
		return
	}
	if ikecrypto.Group(ke.Group) != prop.DH {
		e.log.Debug("IKE_SA_INIT with another key exchange group, asking for ours", "from", p.from, "group", ke.Group, "want", prop.DH)
		e.answerInit(p, ikev2.InvalidKE(ikev2.DHGroup(prop.DH)))
		return
	}
	prf, _ := ikecrypto.NewPRF(prop.PRF)
	if len(nonce.Data) < prf.Size()/2 {
		e.answerInit(p, ikev2.NewNotify(ikev2.NotifyInvalidSyntax, nil))
		return
	}
	spi, err := e.newIKESPI()
	if err != nil {
		return
	}
	nr, err := e.randomBytes(nonceLen)
	if err != nil {
		return
	}
	dh, err := ikecrypto.NewDH(prop.DH)
	if err != nil {
		return
	}
	now := e.clock.Now()
	sa := &ikeSA{
		e: e, state: StateHalfOpen, spiI: h.SPIi, spiR: spi, sock: p.sock, remote: p.from,
		ni: append([]byte(nil), nonce.Data...), nr: nr, dh: dh, created: now, lastHeard: now,
		deadline: now.Add(e.cfg.HalfOpenTimeout), nextID: 0, peerNext: 1,
	}
	sa.detectNAT(ps, h.SPIi, 0, p.from, p.sock.local)
	if err := sa.deriveKeys(prop, ke.Data); err != nil {
		e.log.Info("IKE_SA_INIT refused", "from", p.from, "err", err)
		e.answerInit(p, ikev2.NewNotify(ikev2.NotifyInvalidSyntax, nil))
		return
	}
	if n := ikev2.FindNotify(ps, ikev2.NotifySignatureHashAlgorithms); n != nil {
		sa.hashes = toHashes(n.Hashes())
	}
	resp := []ikev2.Payload{
		&ikev2.SA{Proposals: []ikev2.Proposal{{Number: theirs.Number, Protocol: ikev2.ProtocolIKE, Transforms: prop.transforms(false)}}},
		&ikev2.KE{Group: ikev2.DHGroup(prop.DH), Data: dh.PublicValue()},
		&ikev2.Nonce{Data: nr},
	}
	if sa.peerNATD {
		resp = append(resp, sa.natdPayloads(sa.spiI, sa.spiR, p.sock.local, p.from)...)
	}
	if e.cfg.PrivateKey != nil {
		resp = append(resp, hashAlgorithmsNotify())
	}
	m := &ikev2.Message{Header: sa.header(ikev2.ExchangeIKESAInit, true, 0), Payloads: resp}
	b, err := m.Marshal()
	if err != nil {
		e.log.Warn("IKE_SA_INIT response not built", "err", err)
		return
	}
	sa.initReq, sa.initResp = p.raw, b
	e.sas[spi] = sa
	e.halfOpen[key] = sa
	e.send(p.sock, b, p.from)
	sa.logger().Debug("IKE_SA_INIT answered", "proposal", prop.String(), "nat_local", sa.natLocal, "nat_remote", sa.natRemote)
}

// answerInit answers an IKE_SA_INIT request with one notification and
// keeps no state (RFC 7296 sections 1.2 and 2.6: the responder SPI is
// zero).
func (e *Engine) answerInit(p packet, n *ikev2.Notify) {
	h := &p.msg.Header
	m := &ikev2.Message{Header: ikev2.Header{SPIi: h.SPIi, Exchange: ikev2.ExchangeIKESAInit, Flags: ikev2.FlagResponse}, Payloads: []ikev2.Payload{n}}
	b, err := m.Marshal()
	if err != nil {
		return
	}
	e.send(p.sock, b, p.from)
}

// halfOpenCount counts responder IKE SAs waiting for IKE_AUTH.
func (e *Engine) halfOpenCount() int {
	n := 0
	for _, sa := range e.sas {
		if sa.state == StateHalfOpen {
			n++
		}
	}
	return n
}
