package ike

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
	"github.com/dynamics-go/dynamics/libdynamics/ikev2/ikecrypto"
)

// createChildTask creates a new child SA, or with old a replacement for it
// (RFC 7296 sections 1.3.1 and 1.3.3). done, when set, gets the result.
func (sa *ikeSA) createChildTask(old *childSA, done func(ChildInfo, error)) *task {
	name := "create child SA"
	if old != nil {
		name = "rekey child SA"
	}
	fail := func(err error) {
		if done != nil {
			done(ChildInfo{}, err)
		}
	}
	return &task{name: name, fail: fail, start: func() error {
		if old != nil && (old.state != ChildInstalled || sa.childByIn(old.inSPI) != old) {
			return fmt.Errorf("%w: %08x is %s", ErrNoChild, old.inSPI, old.state)
		}
		return sa.sendCreateChild(old, ikecrypto.Group(sa.e.cfg.ESPProposals[0].DH), 0, done)
	}}
}

// rekeyChildTask rekeys c and then deletes it.
func (sa *ikeSA) rekeyChildTask(c *childSA, done func(ChildInfo, error)) *task {
	return sa.createChildTask(c, done)
}

// sendCreateChild sends the CREATE_CHILD_SA request for a child SA with a
// key exchange in group g (GroupNone: no PFS).
func (sa *ikeSA) sendCreateChild(old *childSA, g ikecrypto.Group, tries int, done func(ChildInfo, error)) error {
	e := sa.e
	c, ps, err := sa.proposeChild(old, nil, true)
	if err != nil {
		return err
	}
	ni, err := e.randomBytes(nonceLen)
	if err != nil {
		sa.releaseChild(c)
		return err
	}
	c.ni = ni
	var req []ikev2.Payload
	if old != nil {
		req = append(req, ikev2.RekeySA(ikev2.ProtocolESP, old.inSPI))
	}
	// SA, Ni, [KEi], TSi, TSr (RFC 7296 section 1.3.1); ps holds
	// [USE_TRANSPORT_MODE,] SA, TSi, TSr.
	for _, p := range ps {
		req = append(req, p)
		if p.Type() == ikev2.PayloadSA {
			req = append(req, &ikev2.Nonce{Data: ni})
			if g != ikecrypto.GroupNone {
				dh, err := ikecrypto.NewDH(g)
				if err != nil {
					sa.releaseChild(c)
					return err
				}
				c.dh = dh
				req = append(req, &ikev2.KE{Group: ikev2.DHGroup(g), Data: dh.PublicValue()})
			}
		}
	}
	onFail := func(err error) {
		sa.releaseChild(c)
		if done != nil {
			done(ChildInfo{}, err)
		}
	}
	return sa.sendRequest(ikev2.ExchangeCreateChildSA, req, func(p packet, ps []ikev2.Payload) {
		if n := ikev2.FindNotify(ps, ikev2.NotifyInvalidKEPayload); n != nil {
			sa.releaseChild(c)
			if grp, ok := n.Group(); ok && tries < maxInitRetries && grp != ikev2.DHGroup(g) && sa.offersESPGroup(ikecrypto.Group(grp)) {
				sa.enqueue(&task{name: "create child SA (other group)", fail: func(err error) { onFail(err) }, start: func() error {
					return sa.sendCreateChild(old, ikecrypto.Group(grp), tries+1, done)
				}})
				return
			}
			onFail(fmt.Errorf("%w: INVALID_KE_PAYLOAD", ErrNoProposal))
			return
		}
		var gir []byte
		nonce, _ := ikev2.Find(ps, ikev2.PayloadNonce).(*ikev2.Nonce)
		if n := errorNotify(ps); n != nil {
			onFail(notifyErr(n))
			return
		}
		if nonce == nil {
			onFail(fmt.Errorf("%w: CREATE_CHILD_SA response without Nonce", ErrRefused))
			return
		}
		if c.dh != nil {
			ke, _ := ikev2.Find(ps, ikev2.PayloadKE).(*ikev2.KE)
			if ke == nil || ikecrypto.Group(ke.Group) != c.dh.Group() {
				onFail(fmt.Errorf("%w: CREATE_CHILD_SA response without our KE group", ErrRefused))
				return
			}
			s, err := c.dh.SharedSecret(ke.Data)
			if err != nil {
				onFail(err)
				return
			}
			gir = s
		}
		if err := sa.childReply(c, ps, gir, ni, nonce.Data); err != nil {
			if done != nil {
				done(ChildInfo{}, err)
			}
			return
		}
		c.dh, c.ni = nil, nil
		if done != nil {
			done(c.info(), nil)
		}
		if old != nil {
			// The initiator of a rekey deletes the old SA (RFC 7296
			// section 2.8).
			sa.enqueue(sa.deleteChildTask(old, nil))
		}
	}, onFail)
}

// offersESPGroup reports whether an ESP proposal has PFS group g.
func (sa *ikeSA) offersESPGroup(g ikecrypto.Group) bool {
	for _, p := range sa.e.cfg.ESPProposals {
		if p.DH == g {
			return true
		}
	}
	return false
}

// answerCreateChild answers a CREATE_CHILD_SA request (responder): a new
// child SA, a child rekey (REKEY_SA), or an IKE SA rekey (an SA payload of
// protocol IKE).
func (sa *ikeSA) answerCreateChild(p packet, ps []ikev2.Payload) ([]ikev2.Payload, func()) {
	e := sa.e
	if sa.state != StateEstablished {
		return []ikev2.Payload{ikev2.NewNotify(ikev2.NotifyTemporaryFailure, nil)}, nil
	}
	saP, _ := ikev2.Find(ps, ikev2.PayloadSA).(*ikev2.SA)
	nonce, _ := ikev2.Find(ps, ikev2.PayloadNonce).(*ikev2.Nonce)
	if saP == nil || nonce == nil || len(saP.Proposals) == 0 {
		return []ikev2.Payload{ikev2.NewNotify(ikev2.NotifyInvalidSyntax, nil)}, nil
	}
	if saP.Proposals[0].Protocol == ikev2.ProtocolIKE {
		return sa.answerRekeyIKE(p, ps, saP, nonce)
	}
	var old *childSA
	if n := ikev2.FindNotify(ps, ikev2.NotifyRekeySA); n != nil {
		spi, ok := n.ChildSPI()
		if ok {
			old = sa.childByOut(spi)
		}
		if old == nil || old.state == ChildDeleted {
			sa.logger().Info("child SA rekey refused: no such child SA", "spi", fmt.Sprintf("%08x", spi))
			return []ikev2.Payload{&ikev2.Notify{Protocol: ikev2.ProtocolESP, SPI: n.SPI, NotifyType: ikev2.NotifyChildSANotFound}}, nil
		}
	}
	nr, err := e.randomBytes(nonceLen)
	if err != nil {
		return []ikev2.Payload{ikev2.NewNotify(ikev2.NotifyTemporaryFailure, nil)}, nil
	}
	// A KE payload asks for PFS in its group, which the chosen proposal
	// must name.
	var gir []byte
	var keResp []ikev2.Payload
	ke, _ := ikev2.Find(ps, ikev2.PayloadKE).(*ikev2.KE)
	props := e.cfg.ESPProposals
	if ke == nil {
		props = nil
		for _, pr := range e.cfg.ESPProposals {
			pr.DH = ikecrypto.GroupNone
			props = append(props, pr)
		}
	}
	prop, _, ok := choose(saP, props, ikev2.ProtocolESP)
	if !ok {
		sa.logger().Info("child SA refused: no proposal chosen")
		return []ikev2.Payload{ikev2.NewNotify(ikev2.NotifyNoProposalChosen, nil)}, nil
	}
	if ke != nil {
		if prop.DH == ikecrypto.GroupNone {
			return []ikev2.Payload{ikev2.NewNotify(ikev2.NotifyNoProposalChosen, nil)}, nil
		}
		if ikecrypto.Group(ke.Group) != prop.DH {
			return []ikev2.Payload{ikev2.InvalidKE(ikev2.DHGroup(prop.DH))}, nil
		}
		dh, err := ikecrypto.NewDH(prop.DH)
		if err != nil {
			return []ikev2.Payload{ikev2.NewNotify(ikev2.NotifyNoProposalChosen, nil)}, nil
		}
		if gir, err = dh.SharedSecret(ke.Data); err != nil {
			return []ikev2.Payload{ikev2.NewNotify(ikev2.NotifyInvalidSyntax, nil)}, nil
		}
		keResp = []ikev2.Payload{&ikev2.KE{Group: ke.Group, Data: dh.PublicValue()}}
	}
	childPs, c := sa.acceptChild(ps, nonce.Data, nr, gir, old)
	if c == nil {
		return childPs, nil
	}
	// SA, Nr, [KEr], TSi, TSr.
	var resp []ikev2.Payload
	for _, q := range childPs {
		resp = append(resp, q)
		if q.Type() == ikev2.PayloadSA {
			resp = append(resp, &ikev2.Nonce{Data: nr})
			resp = append(resp, keResp...)
		}
	}
	return resp, nil
}

// rekeyIKETask rekeys the IKE SA (RFC 7296 section 1.3.2): a new IKE SA
// takes the child SAs, and the old one is deleted.
func (sa *ikeSA) rekeyIKETask(done func(SAInfo, error)) *task {
	fail := func(err error) {
		if done != nil {
			done(SAInfo{}, err)
		}
	}
	return &task{name: "rekey IKE SA", fail: fail, start: func() error {
		return sa.sendRekeyIKE(ikecrypto.Group(sa.e.cfg.IKEProposals[0].DH), 0, done)
	}}
}

func (sa *ikeSA) sendRekeyIKE(g ikecrypto.Group, tries int, done func(SAInfo, error)) error {
	e := sa.e
	spi, err := e.newIKESPI()
	if err != nil {
		return err
	}
	ni, err := e.randomBytes(nonceLen)
	if err != nil {
		return err
	}
	dh, err := ikecrypto.NewDH(g)
	if err != nil {
		return err
	}
	// Reserve the SPI while the exchange runs.
	placeholder := &ikeSA{e: e, state: StateClosed, initiator: true, spiI: spi}
	e.sas[spi] = placeholder
	release := func() {
		if e.sas[spi] == placeholder {
			delete(e.sas, spi)
		}
	}
	fail := func(err error) {
		release()
		if done != nil {
			done(SAInfo{}, err)
		}
	}
	spiB := binary.BigEndian.AppendUint64(nil, uint64(spi))
	ps := []ikev2.Payload{
		saPayload(e.cfg.IKEProposals, ikev2.ProtocolIKE, spiB),
		&ikev2.Nonce{Data: ni},
		&ikev2.KE{Group: ikev2.DHGroup(g), Data: dh.PublicValue()},
	}
	return sa.sendRequest(ikev2.ExchangeCreateChildSA, ps, func(p packet, ps []ikev2.Payload) {
		if n := ikev2.FindNotify(ps, ikev2.NotifyInvalidKEPayload); n != nil {
			release()
			if grp, ok := n.Group(); ok && tries < maxInitRetries && sa.offersGroup(ikecrypto.Group(grp)) && ikecrypto.Group(grp) != g {
				sa.enqueue(&task{name: "rekey IKE SA (other group)", fail: fail, start: func() error {
					return sa.sendRekeyIKE(ikecrypto.Group(grp), tries+1, done)
				}})
				return
			}
			fail(fmt.Errorf("%w: INVALID_KE_PAYLOAD", ErrNoProposal))
			return
		}
		if n := errorNotify(ps); n != nil {
			fail(notifyErr(n))
			return
		}
		saP, _ := ikev2.Find(ps, ikev2.PayloadSA).(*ikev2.SA)
		nonce, _ := ikev2.Find(ps, ikev2.PayloadNonce).(*ikev2.Nonce)
		ke, _ := ikev2.Find(ps, ikev2.PayloadKE).(*ikev2.KE)
		prop, pr, err := accepted(saP, e.cfg.IKEProposals, ikev2.ProtocolIKE)
		if err != nil || nonce == nil || ke == nil || len(pr.SPI) != 8 {
			fail(fmt.Errorf("%w: IKE rekey response: %v", ErrRefused, err))
			return
		}
		if ikecrypto.Group(ke.Group) != g || prop.DH != g {
			fail(fmt.Errorf("%w: IKE rekey response in group %v", ErrRefused, ke.Group))
			return
		}
		gir, err := dh.SharedSecret(ke.Data)
		if err != nil {
			fail(err)
			return
		}
		theirs := ikev2.SPI(binary.BigEndian.Uint64(pr.SPI))
		release()
		nsa, err := sa.rekeyed(prop, true, spi, theirs, gir, ni, nonce.Data)
		if err != nil {
			fail(err)
			return
		}
		if done != nil {
			done(nsa.info(), nil)
		}
		// The initiator of the rekey deletes the old IKE SA.
		sa.state = StateClosing
		sa.queue = nil
		if err := sa.sendRequest(ikev2.ExchangeInformational, []ikev2.Payload{&ikev2.Delete{Protocol: ikev2.ProtocolIKE}},
			func(packet, []ikev2.Payload) { sa.close(nil) }, nil); err != nil {
			sa.close(nil)
		}
	}, fail)
}

// answerRekeyIKE answers an IKE SA rekey (responder).
func (sa *ikeSA) answerRekeyIKE(p packet, ps []ikev2.Payload, saP *ikev2.SA, nonce *ikev2.Nonce) ([]ikev2.Payload, func()) {
	e := sa.e
	ke, _ := ikev2.Find(ps, ikev2.PayloadKE).(*ikev2.KE)
	prop, theirs, ok := choose(saP, e.cfg.IKEProposals, ikev2.ProtocolIKE)
	if !ok {
		return []ikev2.Payload{ikev2.NewNotify(ikev2.NotifyNoProposalChosen, nil)}, nil
	}
	if ke == nil || len(theirs.SPI) != 8 {
		return []ikev2.Payload{ikev2.NewNotify(ikev2.NotifyInvalidSyntax, nil)}, nil
	}
	if ikecrypto.Group(ke.Group) != prop.DH {
		return []ikev2.Payload{ikev2.InvalidKE(ikev2.DHGroup(prop.DH))}, nil
	}
	dh, err := ikecrypto.NewDH(prop.DH)
	if err != nil {
		return []ikev2.Payload{ikev2.NewNotify(ikev2.NotifyNoProposalChosen, nil)}, nil
	}
	gir, err := dh.SharedSecret(ke.Data)
	if err != nil {
		return []ikev2.Payload{ikev2.NewNotify(ikev2.NotifyInvalidSyntax, nil)}, nil
	}
	spi, err := e.newIKESPI()
	if err != nil {
		return []ikev2.Payload{ikev2.NewNotify(ikev2.NotifyTemporaryFailure, nil)}, nil
	}
	nr, err := e.randomBytes(nonceLen)
	if err != nil {
		return []ikev2.Payload{ikev2.NewNotify(ikev2.NotifyTemporaryFailure, nil)}, nil
	}
	peerSPI := ikev2.SPI(binary.BigEndian.Uint64(theirs.SPI))
	if _, err := sa.rekeyed(prop, false, peerSPI, spi, gir, nonce.Data, nr); err != nil {
		return []ikev2.Payload{ikev2.NewNotify(ikev2.NotifyNoProposalChosen, nil)}, nil
	}
	// The old SA waits for the initiator's Delete.
	sa.state = StateClosing
	return []ikev2.Payload{
		&ikev2.SA{Proposals: []ikev2.Proposal{{Number: theirs.Number, Protocol: ikev2.ProtocolIKE, SPI: binary.BigEndian.AppendUint64(nil, uint64(spi)), Transforms: prop.transforms(false)}}},
		&ikev2.Nonce{Data: nr},
		&ikev2.KE{Group: ke.Group, Data: dh.PublicValue()},
	}, nil
}

// rekeyed makes the IKE SA that replaces sa (RFC 7296 section 2.18) and
// moves the child SAs to it. initiator says whether this side started the
// rekey, which makes it the new SA's original initiator.
func (sa *ikeSA) rekeyed(prop Proposal, initiator bool, spiI, spiR ikev2.SPI, gir, ni, nr []byte) (*ikeSA, error) {
	e := sa.e
	keys, err := ikecrypto.DeriveRekeyedIKEKeys(sa.prop.PRF, sa.keys.SKd, suiteOf(prop), gir, ni, nr, spiI, spiR)
	if err != nil {
		return nil, err
	}
	now := e.clock.Now()
	n := &ikeSA{
		e: e, peer: sa.peer, state: StateEstablished, initiator: initiator, spiI: spiI, spiR: spiR,
		sock: sa.sock, remote: sa.remote, natt: sa.natt, natLocal: sa.natLocal, natRemote: sa.natRemote,
		peerNATD: sa.peerNATD, version: sa.version, offered: sa.offered, peerAddrs: sa.peerAddrs, hashes: sa.hashes,
		peerID: sa.peerID, localAlts: sa.localAlts, remoteAlts: sa.remoteAlts,
		ni: ni, nr: nr, created: now, established: now, lastHeard: now, keepaliveAt: sa.keepaliveAt,
	}
	if err := n.setKeys(prop, keys); err != nil {
		return nil, err
	}
	if e.cfg.IKELifetime > 0 && initiator {
		n.rekeyAt = now.Add(e.cfg.IKELifetime)
	}
	n.children = sa.children
	for _, c := range n.children {
		c.sa = n
	}
	sa.children = nil
	sa.rekeyAt = time.Time{}
	sa.rekeyedTo = n
	e.sas[n.ourSPI()] = n
	e.stats.Established++
	n.logger().Info("IKE SA rekeyed", "old_spi_i", sa.spiI, "old_spi_r", sa.spiR, "proposal", prop.String(), "children", len(n.children))
	return n, nil
}
