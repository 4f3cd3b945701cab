package ikecrypto

import (
	"fmt"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// DefaultIKEProposals returns the IKE proposals offered and accepted by
// default, in order of preference (nothing weaker than these is offered):
//
//	#1 ENCR_AES_GCM_16/256, ENCR_AES_GCM_16/128; PRF_HMAC_SHA2_256; CURVE_25519, ECP_256
//	#2 ENCR_AES_CBC/256, ENCR_AES_CBC/128; AUTH_HMAC_SHA2_256_128; PRF_HMAC_SHA2_256; MODP_2048
//
// The second is for peers without AEAD or elliptic curves. The SPIs are
// empty, as in IKE_SA_INIT; a caller rekeying an IKE SA sets them.
func DefaultIKEProposals() []ikev2.Proposal {
	return []ikev2.Proposal{
		{Number: 1, Protocol: ikev2.ProtocolIKE, Transforms: []ikev2.Transform{
			ikev2.EncrTransform(EncrAESGCM16, 256),
			ikev2.EncrTransform(EncrAESGCM16, 128),
			ikev2.PRFTransform(PRFHMACSHA256),
			ikev2.DHTransform(GroupCurve25519),
			ikev2.DHTransform(GroupECP256),
		}},
		{Number: 2, Protocol: ikev2.ProtocolIKE, Transforms: []ikev2.Transform{
			ikev2.EncrTransform(EncrAESCBC, 256),
			ikev2.EncrTransform(EncrAESCBC, 128),
			ikev2.IntegTransform(IntegHMACSHA256128),
			ikev2.PRFTransform(PRFHMACSHA256),
			ikev2.DHTransform(GroupMODP2048),
		}},
	}
}

// DefaultESPProposals returns the ESP proposals offered and accepted by
// default, in order of preference:
//
//	#1 ENCR_AES_GCM_16/256, ENCR_AES_GCM_16/128; NO_EXT_SEQ
//	#2 ENCR_AES_CBC/256, ENCR_AES_CBC/128; AUTH_HMAC_SHA2_256_128; NO_EXT_SEQ
//
// With pfs groups, each proposal also carries those D-H transforms, for a
// CREATE_CHILD_SA exchange with perfect forward secrecy. The SPIs are
// empty; the caller sets its own 4-octet inbound SPI in each.
func DefaultESPProposals(pfs ...Group) []ikev2.Proposal {
	ps := []ikev2.Proposal{
		{Number: 1, Protocol: ikev2.ProtocolESP, Transforms: []ikev2.Transform{
			ikev2.EncrTransform(EncrAESGCM16, 256),
			ikev2.EncrTransform(EncrAESGCM16, 128),
		}},
		{Number: 2, Protocol: ikev2.ProtocolESP, Transforms: []ikev2.Transform{
			ikev2.EncrTransform(EncrAESCBC, 256),
			ikev2.EncrTransform(EncrAESCBC, 128),
			ikev2.IntegTransform(IntegHMACSHA256128),
		}},
	}
	for i := range ps {
		for _, g := range pfs {
			ps[i].Transforms = append(ps[i].Transforms, ikev2.DHTransform(g))
		}
		ps[i].Transforms = append(ps[i].Transforms, ikev2.ESNTransform(ikev2.ESNNone))
	}
	return ps
}

// SelectIKE chooses, as a responder, the IKE SA transforms from the peer's
// SA payload: the first of the peer's IKE proposals (in the peer's order of
// preference) that one of ours accepts, and within it the first transform
// of each type that the same proposal of ours lists and this package
// implements (RFC 7296 section 2.7). A transform with an attribute other
// than a Key Length is skipped (section 3.3.6). An AEAD cipher takes no
// integrity algorithm (or NONE); other ciphers need one. The returned
// proposal is the answer to put in the response's SA payload: the peer's
// proposal number, one transform of each type, and no SPI (a responder
// rekeying an IKE SA sets its own). ke is the group of the peer's KE
// payload (GroupNone if there is none): when the chosen proposal lets both
// sides use it, it is taken before the peer's first acceptable group, so
// that the exchange needs no INVALID_KE_PAYLOAD round trip (RFC 7296
// section 1.2); otherwise the caller compares the suite's group with ke
// and answers INVALID_KE_PAYLOAD. Nothing acceptable is an error wrapping
// ErrNoProposal (answered with NO_PROPOSAL_CHOSEN).
func SelectIKE(ours []ikev2.Proposal, peer *ikev2.SA, ke Group) (ikev2.Proposal, Suite, error) {
	if peer == nil {
		return ikev2.Proposal{}, Suite{}, fmt.Errorf("%w: no SA payload", ErrNoProposal)
	}
	for _, p := range peer.Proposals {
		if p.Protocol != ikev2.ProtocolIKE {
			continue
		}
		for _, o := range ours {
			if o.Protocol != ikev2.ProtocolIKE {
				continue
			}
			if ch, ok := choose(p, o, true, true, ke); ok {
				return ch.reply(p), ch.suite(), nil
			}
		}
	}
	return ikev2.Proposal{}, Suite{}, fmt.Errorf("%w: none of %d IKE proposals", ErrNoProposal, len(peer.Proposals))
}

// SelectESP chooses, as a responder, the ESP child SA transforms from the
// peer's SA payload, as SelectIKE does for IKE. withKE says whether the
// exchange carries a KE payload (CREATE_CHILD_SA with perfect forward
// secrecy is possible): without one (the child SA of IKE_AUTH), D-H
// transforms on either side are ignored and the suite has GroupNone; with
// one, a peer proposal with D-H transforms needs one of ours (or NONE), and
// one without needs ours to have none or NONE. A peer proposal without an
// ESN transform is taken as NO_EXT_SEQ (and the answer has none); ESN is
// chosen only if ours lists EXT_SEQ. The returned proposal has the peer's
// number and no SPI: the caller puts its own inbound SPI in it.
func SelectESP(ours []ikev2.Proposal, peer *ikev2.SA, withKE bool) (ikev2.Proposal, ChildSuite, error) {
	if peer == nil {
		return ikev2.Proposal{}, ChildSuite{}, fmt.Errorf("%w: no SA payload", ErrNoProposal)
	}
	for _, p := range peer.Proposals {
		if p.Protocol != ikev2.ProtocolESP {
			continue
		}
		for _, o := range ours {
			if o.Protocol != ikev2.ProtocolESP {
				continue
			}
			if ch, ok := choose(p, o, false, withKE, GroupNone); ok {
				return ch.reply(p), ch.childSuite(), nil
			}
		}
	}
	return ikev2.Proposal{}, ChildSuite{}, fmt.Errorf("%w: none of %d ESP proposals", ErrNoProposal, len(peer.Proposals))
}

// AcceptedIKE checks, as an initiator, the responder's SA payload against
// the proposals we sent (RFC 7296 section 2.7: the responder picks one
// proposal and one transform of each type from it) and returns the
// accepted proposal (its SPI is the responder's, when rekeying) and suite.
// A reply that is not exactly one IKE proposal naming one of ours, with one
// implemented transform of each needed type taken from that proposal, is
// an error wrapping ErrNoProposal.
func AcceptedIKE(ours []ikev2.Proposal, reply *ikev2.SA) (ikev2.Proposal, Suite, error) {
	p, o, err := accepted(ours, reply, ikev2.ProtocolIKE)
	if err != nil {
		return ikev2.Proposal{}, Suite{}, err
	}
	ch, ok := choose(p, o, true, true, GroupNone)
	if !ok || !ch.exact(p) {
		return ikev2.Proposal{}, Suite{}, fmt.Errorf("%w: the responder's IKE proposal %v is not one we offered", ErrNoProposal, &p)
	}
	return p, ch.suite(), nil
}

// AcceptedESP checks, as an initiator, the responder's SA payload for a
// child SA against the ESP proposals we sent, as AcceptedIKE does, and
// returns the accepted proposal (its SPI is the responder's inbound SPI,
// the one our outbound SA uses) and suite. withKE is as for SelectESP.
func AcceptedESP(ours []ikev2.Proposal, reply *ikev2.SA, withKE bool) (ikev2.Proposal, ChildSuite, error) {
	p, o, err := accepted(ours, reply, ikev2.ProtocolESP)
	if err != nil {
		return ikev2.Proposal{}, ChildSuite{}, err
	}
	ch, ok := choose(p, o, false, withKE, GroupNone)
	if !ok || !ch.exact(p) {
		return ikev2.Proposal{}, ChildSuite{}, fmt.Errorf("%w: the responder's ESP proposal %v is not one we offered", ErrNoProposal, &p)
	}
	return p, ch.childSuite(), nil
}

// accepted finds the responder's single proposal and ours of the same
// number.
func accepted(ours []ikev2.Proposal, reply *ikev2.SA, proto ikev2.Protocol) (ikev2.Proposal, ikev2.Proposal, error) {
	if reply == nil || len(reply.Proposals) != 1 {
		n := 0
		if reply != nil {
			n = len(reply.Proposals)
		}
		return ikev2.Proposal{}, ikev2.Proposal{}, fmt.Errorf("%w: the responder's SA payload has %d proposals, want 1", ErrNoProposal, n)
	}
	p := reply.Proposals[0]
	if p.Protocol != proto {
		return ikev2.Proposal{}, ikev2.Proposal{}, fmt.Errorf("%w: the responder chose a %v proposal, want %v", ErrNoProposal, p.Protocol, proto)
	}
	for _, o := range ours {
		if o.Number == p.Number && o.Protocol == proto {
			return p, o, nil
		}
	}
	return ikev2.Proposal{}, ikev2.Proposal{}, fmt.Errorf("%w: the responder chose proposal #%d, which we did not offer", ErrNoProposal, p.Number)
}

// choice is one transform of each type chosen from a peer's proposal.
type choice struct {
	encr, integ, prf, dh, esn *ikev2.Transform
	ike                       bool
}

// choose picks from the peer's proposal p the first transform of each type
// that our proposal o lists and the package implements. ike selects the
// IKE rules (PRF and D-H required, no ESN) or the ESP rules (no PRF, D-H as
// withKE says, ESN optional). For IKE, the group ke is preferred when both
// sides accept it.
func choose(p, o ikev2.Proposal, ike, withKE bool, ke Group) (choice, bool) {
	ch := choice{ike: ike}
	for _, t := range p.Transforms {
		switch t.Type {
		case ikev2.TransformEncr, ikev2.TransformInteg, ikev2.TransformPRF, ikev2.TransformDH:
		case ikev2.TransformESN:
			if ike {
				return ch, false
			}
		default:
			// A transform type we do not know cannot be agreed to: RFC
			// 7296 section 3.3.6 rejects the proposal.
			return ch, false
		}
	}
	if !ike && len(p.ByType(ikev2.TransformPRF)) > 0 {
		return ch, false
	}
	ourInteg := o.ByType(ikev2.TransformInteg)
	peerInteg := p.ByType(ikev2.TransformInteg)
	for _, e := range p.ByType(ikev2.TransformEncr) {
		if !offers(o, e) {
			continue
		}
		bits, _ := e.KeyLength()
		if e.ID == uint16(EncrAESGCM16) {
			if _, _, err := KeyLens(EncrAESGCM16, int(bits), IntegNone); err != nil {
				continue
			}
			// AEAD: acceptable when the peer offers no integrity
			// algorithm or NONE among them.
			if len(peerInteg) > 0 && !hasID(peerInteg, uint16(IntegNone)) {
				continue
			}
			ch.encr, ch.integ = &e, nil
			break
		}
		var in *ikev2.Transform
		for _, i := range peerInteg {
			if i.ID == uint16(IntegNone) || !offers(o, i) || len(ourInteg) == 0 {
				continue
			}
			if _, _, err := KeyLens(EncrID(e.ID), int(bits), IntegID(i.ID)); err != nil {
				continue
			}
			in = &i
			break
		}
		if in == nil {
			continue
		}
		ch.encr, ch.integ = &e, in
		break
	}
	if ch.encr == nil {
		return ch, false
	}
	if ike {
		for _, t := range p.ByType(ikev2.TransformPRF) {
			if _, err := NewPRF(PRFID(t.ID)); err == nil && offers(o, t) {
				ch.prf = &t
				break
			}
		}
		if ch.prf == nil {
			return ch, false
		}
	}
	peerDH, ourDH := p.ByType(ikev2.TransformDH), o.ByType(ikev2.TransformDH)
	switch {
	case ike:
		for _, t := range peerDH {
			if t.ID != uint16(GroupNone) && SupportedGroup(Group(t.ID)) && offers(o, t) &&
				(ch.dh == nil || Group(t.ID) == ke) {
				ch.dh = &t
				if Group(t.ID) == ke || ke == GroupNone {
					break
				}
			}
		}
		if ch.dh == nil {
			return ch, false
		}
	case !withKE:
		// IKE_AUTH: no KE payload, D-H transforms do not apply.
	case len(peerDH) == 0:
		if len(ourDH) > 0 && !hasID(ourDH, uint16(GroupNone)) {
			return ch, false
		}
	default:
		for _, t := range peerDH {
			none := t.ID == uint16(GroupNone)
			if (none && (len(ourDH) == 0 || hasID(ourDH, t.ID))) ||
				(!none && SupportedGroup(Group(t.ID)) && offers(o, t)) {
				ch.dh = &t
				break
			}
		}
		if ch.dh == nil {
			return ch, false
		}
	}
	if !ike {
		ourESN := o.ByType(ikev2.TransformESN)
		if peerESN := p.ByType(ikev2.TransformESN); len(peerESN) > 0 {
			for _, t := range peerESN {
				none := t.ID == uint16(ikev2.ESNNone)
				if len(t.Attributes) == 0 && ((none && len(ourESN) == 0) || hasID(ourESN, t.ID)) &&
					(none || t.ID == uint16(ikev2.ESNExtended)) {
					ch.esn = &t
					break
				}
			}
			if ch.esn == nil {
				return ch, false
			}
		}
	}
	return ch, true
}

// offers reports whether our proposal o lists transform t: the same type,
// ID and key length, and t has no attribute but the key length.
func offers(o ikev2.Proposal, t ikev2.Transform) bool {
	for _, a := range t.Attributes {
		if a.Type != ikev2.AttributeKeyLength || !a.TV {
			return false
		}
	}
	bits, hasBits := t.KeyLength()
	for _, u := range o.Transforms {
		if u.Type != t.Type || u.ID != t.ID {
			continue
		}
		ub, uHas := u.KeyLength()
		if ub == bits && uHas == hasBits {
			return true
		}
	}
	return false
}

func hasID(ts []ikev2.Transform, id uint16) bool {
	for _, t := range ts {
		if t.ID == id {
			return true
		}
	}
	return false
}

// reply builds the responder's proposal: p's number and protocol, the
// chosen transforms, no SPI.
func (ch choice) reply(p ikev2.Proposal) ikev2.Proposal {
	out := ikev2.Proposal{Number: p.Number, Protocol: p.Protocol}
	for _, t := range []*ikev2.Transform{ch.encr, ch.prf, ch.integ, ch.dh, ch.esn} {
		if t != nil {
			c := *t
			c.Attributes = append([]ikev2.Attribute(nil), t.Attributes...)
			out.Transforms = append(out.Transforms, c)
		}
	}
	return out
}

// exact reports whether the responder's proposal p holds exactly the
// chosen transforms, no more: one of each type.
func (ch choice) exact(p ikev2.Proposal) bool {
	want := 0
	for _, t := range []*ikev2.Transform{ch.encr, ch.prf, ch.integ, ch.dh, ch.esn} {
		if t != nil {
			want++
		}
	}
	// An AEAD answer may spell out INTEG NONE, and an IKE_AUTH answer may
	// carry a D-H transform that does not apply.
	extra := 0
	for _, t := range p.Transforms {
		if (t.Type == ikev2.TransformInteg && t.ID == uint16(IntegNone) && ch.integ == nil) ||
			(t.Type == ikev2.TransformDH && ch.dh == nil) {
			extra++
		}
	}
	seen := map[ikev2.TransformType]bool{}
	for _, t := range p.Transforms {
		if seen[t.Type] {
			return false
		}
		seen[t.Type] = true
	}
	return len(p.Transforms) == want+extra
}

func (ch choice) suite() Suite {
	bits, _ := ch.encr.KeyLength()
	s := Suite{Encr: EncrID(ch.encr.ID), KeyBits: int(bits), PRF: PRFID(ch.prf.ID), Group: Group(ch.dh.ID)}
	if ch.integ != nil {
		s.Integ = IntegID(ch.integ.ID)
	}
	return s
}

func (ch choice) childSuite() ChildSuite {
	bits, _ := ch.encr.KeyLength()
	c := ChildSuite{Encr: EncrID(ch.encr.ID), KeyBits: int(bits)}
	if ch.integ != nil {
		c.Integ = IntegID(ch.integ.ID)
	}
	if ch.dh != nil {
		c.Group = Group(ch.dh.ID)
	}
	if ch.esn != nil {
		c.ESN = ch.esn.ID == uint16(ikev2.ESNExtended)
	}
	return c
}
