package ike

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
	"github.com/dynamics-go/dynamics/libdynamics/ikev2/ikecrypto"
)

// Proposal is one IKE or ESP proposal with one transform of each type. It
// is written in strongSwan's notation: "aes128gcm16-prfsha256-x25519",
// "aes128-sha256-modp2048" for IKE, "aes128gcm16", "aes128-sha256" or
// "aes128gcm16-x25519" (with a PFS group) for ESP.
type Proposal struct {
	// Encr is the encryption algorithm, with a KeyBits key.
	Encr    ikecrypto.EncrID
	KeyBits int
	// Integ is the integrity algorithm; IntegNone with AES-GCM.
	Integ ikecrypto.IntegID
	// PRF is the pseudorandom function of an IKE SA; unused for ESP.
	PRF ikecrypto.PRFID
	// DH is the Diffie-Hellman group: of the IKE SA, or an ESP proposal's
	// PFS group (GroupNone for none).
	DH ikecrypto.Group
}

// Default proposals: nothing weaker than AES-128 with SHA-256 is offered.
var (
	DefaultIKEProposals = []Proposal{
		MustParseProposal("aes128gcm16-prfsha256-x25519", false),
		MustParseProposal("aes256gcm16-prfsha384-ecp256", false),
		MustParseProposal("aes128-sha256-modp2048", false),
	}
	DefaultESPProposals = []Proposal{
		MustParseProposal("aes128gcm16", true),
		MustParseProposal("aes128-sha256", true),
	}
)

// ErrProposal is wrapped by proposal parsing errors.
var ErrProposal = errors.New("ike: bad proposal")

// ParseProposal parses a proposal in strongSwan's notation. For IKE (esp
// false) it needs an encryption algorithm, a PRF (a "prf..." keyword, or
// the integrity algorithm's hash) and a DH group; for ESP an encryption
// algorithm and, unless AES-GCM, an integrity algorithm.
func ParseProposal(s string, esp bool) (Proposal, error) {
	var p Proposal
	for _, w := range strings.Split(strings.ToLower(strings.TrimSpace(s)), "-") {
		switch w {
		case "aes128", "aes192", "aes256":
			p.Encr, p.KeyBits = ikecrypto.EncrAESCBC, keyBits(w[3:])
		case "aes128gcm16", "aes192gcm16", "aes256gcm16", "aes128gcm128", "aes192gcm128", "aes256gcm128":
			p.Encr, p.KeyBits = ikecrypto.EncrAESGCM16, keyBits(w[3:6])
		case "sha256", "sha2_256":
			p.Integ = ikecrypto.IntegHMACSHA256128
		case "sha384", "sha2_384":
			p.Integ = ikecrypto.IntegHMACSHA384192
		case "sha512", "sha2_512":
			p.Integ = ikecrypto.IntegHMACSHA512256
		case "prfsha256":
			p.PRF = ikecrypto.PRFHMACSHA256
		case "prfsha384":
			p.PRF = ikecrypto.PRFHMACSHA384
		case "prfsha512":
			p.PRF = ikecrypto.PRFHMACSHA512
		case "modp2048":
			p.DH = ikecrypto.GroupMODP2048
		case "ecp256":
			p.DH = ikecrypto.GroupECP256
		case "x25519", "curve25519":
			p.DH = ikecrypto.GroupCurve25519
		default:
			return Proposal{}, fmt.Errorf("%w: %q: unknown or unsupported keyword %q", ErrProposal, s, w)
		}
	}
	if p.PRF == 0 && !esp {
		switch p.Integ {
		case ikecrypto.IntegHMACSHA256128:
			p.PRF = ikecrypto.PRFHMACSHA256
		case ikecrypto.IntegHMACSHA384192:
			p.PRF = ikecrypto.PRFHMACSHA384
		case ikecrypto.IntegHMACSHA512256:
			p.PRF = ikecrypto.PRFHMACSHA512
		}
	}
	switch {
	case p.Encr == 0:
		return Proposal{}, fmt.Errorf("%w: %q: no encryption algorithm", ErrProposal, s)
	case p.Encr.AEAD() && p.Integ != ikecrypto.IntegNone:
		return Proposal{}, fmt.Errorf("%w: %q: AES-GCM takes no integrity algorithm", ErrProposal, s)
	case !p.Encr.AEAD() && p.Integ == ikecrypto.IntegNone:
		return Proposal{}, fmt.Errorf("%w: %q: AES-CBC needs an integrity algorithm", ErrProposal, s)
	case !esp && p.PRF == 0:
		return Proposal{}, fmt.Errorf("%w: %q: no PRF", ErrProposal, s)
	case !esp && p.DH == ikecrypto.GroupNone:
		return Proposal{}, fmt.Errorf("%w: %q: no Diffie-Hellman group", ErrProposal, s)
	case esp && p.PRF != 0:
		return Proposal{}, fmt.Errorf("%w: %q: an ESP proposal has no PRF", ErrProposal, s)
	}
	if esp && p.Integ != ikecrypto.IntegNone && p.Integ != ikecrypto.IntegHMACSHA256128 {
		return Proposal{}, fmt.Errorf("%w: %q: ESP integrity is HMAC-SHA2-256-128 or none", ErrProposal, s)
	}
	return p, nil
}

func keyBits(s string) int {
	switch s {
	case "128":
		return 128
	case "192":
		return 192
	}
	return 256
}

// MustParseProposal is ParseProposal for constants; it panics on error.
func MustParseProposal(s string, esp bool) Proposal {
	p, err := ParseProposal(s, esp)
	if err != nil {
		panic(err)
	}
	return p
}

// ParseProposals parses a comma-separated list of proposals.
func ParseProposals(s string, esp bool) ([]Proposal, error) {
	var out []Proposal
	for _, w := range strings.Split(s, ",") {
		if strings.TrimSpace(w) == "" {
			continue
		}
		p, err := ParseProposal(w, esp)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: empty list %q", ErrProposal, s)
	}
	return out, nil
}

// String renders the proposal in strongSwan's notation.
func (p Proposal) String() string {
	var w []string
	switch p.Encr {
	case ikecrypto.EncrAESGCM16:
		w = append(w, fmt.Sprintf("aes%dgcm16", p.KeyBits))
	case ikecrypto.EncrAESCBC:
		w = append(w, fmt.Sprintf("aes%d", p.KeyBits))
	default:
		w = append(w, p.Encr.String())
	}
	switch p.Integ {
	case ikecrypto.IntegNone:
	case ikecrypto.IntegHMACSHA256128:
		w = append(w, "sha256")
	case ikecrypto.IntegHMACSHA384192:
		w = append(w, "sha384")
	case ikecrypto.IntegHMACSHA512256:
		w = append(w, "sha512")
	default:
		w = append(w, p.Integ.String())
	}
	if p.PRF != 0 && (p.Integ == ikecrypto.IntegNone || !samePRFHash(p.PRF, p.Integ)) {
		switch p.PRF {
		case ikecrypto.PRFHMACSHA256:
			w = append(w, "prfsha256")
		case ikecrypto.PRFHMACSHA384:
			w = append(w, "prfsha384")
		case ikecrypto.PRFHMACSHA512:
			w = append(w, "prfsha512")
		default:
			w = append(w, p.PRF.String())
		}
	}
	switch p.DH {
	case ikecrypto.GroupNone:
	case ikecrypto.GroupMODP2048:
		w = append(w, "modp2048")
	case ikecrypto.GroupECP256:
		w = append(w, "ecp256")
	case ikecrypto.GroupCurve25519:
		w = append(w, "x25519")
	default:
		w = append(w, p.DH.String())
	}
	return strings.Join(w, "-")
}

func samePRFHash(prf ikecrypto.PRFID, integ ikecrypto.IntegID) bool {
	return prf == ikecrypto.PRFHMACSHA256 && integ == ikecrypto.IntegHMACSHA256128 ||
		prf == ikecrypto.PRFHMACSHA384 && integ == ikecrypto.IntegHMACSHA384192 ||
		prf == ikecrypto.PRFHMACSHA512 && integ == ikecrypto.IntegHMACSHA512256
}

// transforms returns the proposal's transforms in the order RFC 7296
// section 3.3 lists them; ESP proposals carry an explicit ESN transform
// (NO_EXT_SEQ), as strongSwan expects.
func (p Proposal) transforms(esp bool) []ikev2.Transform {
	ts := []ikev2.Transform{ikev2.EncrTransform(ikev2.EncrID(p.Encr), uint16(p.KeyBits))}
	if !esp {
		ts = append(ts, ikev2.PRFTransform(ikev2.PRFID(p.PRF)))
	}
	if p.Integ != ikecrypto.IntegNone {
		ts = append(ts, ikev2.IntegTransform(ikev2.IntegID(p.Integ)))
	}
	if p.DH != ikecrypto.GroupNone {
		ts = append(ts, ikev2.DHTransform(ikev2.DHGroup(p.DH)))
	}
	if esp {
		ts = append(ts, ikev2.ESNTransform(ikev2.ESNNone))
	}
	return ts
}

// saPayload offers ps, numbered from 1, each with spi.
func saPayload(ps []Proposal, proto ikev2.Protocol, spi []byte) *ikev2.SA {
	sa := &ikev2.SA{}
	for i, p := range ps {
		sa.Proposals = append(sa.Proposals, ikev2.Proposal{
			Number: uint8(i + 1), Protocol: proto, SPI: spi, Transforms: p.transforms(proto == ikev2.ProtocolESP),
		})
	}
	return sa
}

// offers reports whether the peer's proposal pr contains every transform of
// ours (RFC 7296 section 3.3.6: the responder picks one transform of each
// type among the alternatives the initiator lists). A transform type the
// peer lists that ours lacks refuses it, except a DH list holding NONE
// when ours has no PFS group, and the ESN type, where only NO_EXT_SEQ (or
// no ESN transform) is acceptable.
func offers(pr *ikev2.Proposal, ours Proposal, esp bool) bool {
	has := func(t ikev2.TransformType, id uint16, bits int) bool {
		for _, tr := range pr.Transforms {
			if tr.Type != t || tr.ID != id {
				continue
			}
			kl, ok := tr.KeyLength()
			if bits != 0 && (!ok || int(kl) != bits) {
				continue
			}
			if bits == 0 && ok {
				continue
			}
			return true
		}
		return false
	}
	count := func(t ikev2.TransformType) int { return len(pr.ByType(t)) }
	if !has(ikev2.TransformEncr, uint16(ours.Encr), ours.KeyBits) {
		return false
	}
	if ours.Integ != ikecrypto.IntegNone {
		if !has(ikev2.TransformInteg, uint16(ours.Integ), 0) {
			return false
		}
	} else if count(ikev2.TransformInteg) > 0 && !has(ikev2.TransformInteg, 0, 0) {
		return false
	}
	if !esp && !has(ikev2.TransformPRF, uint16(ours.PRF), 0) {
		return false
	}
	if ours.DH != ikecrypto.GroupNone {
		if !has(ikev2.TransformDH, uint16(ours.DH), 0) {
			return false
		}
	} else if count(ikev2.TransformDH) > 0 && !has(ikev2.TransformDH, 0, 0) {
		return false
	}
	if esp && count(ikev2.TransformESN) > 0 && !has(ikev2.TransformESN, uint16(ikev2.ESNNone), 0) {
		return false
	}
	for _, tr := range pr.Transforms {
		switch tr.Type {
		case ikev2.TransformEncr, ikev2.TransformPRF, ikev2.TransformInteg, ikev2.TransformDH, ikev2.TransformESN:
		default:
			return false // a transform type we cannot do, all of whose kind are required
		}
	}
	return true
}

// choose picks, as a responder, the first of the peer's proposals (their
// order of preference) that offers one of ours, and returns our proposal
// and the peer's proposal it matched.
func choose(theirs *ikev2.SA, ours []Proposal, proto ikev2.Protocol) (Proposal, *ikev2.Proposal, bool) {
	for i := range theirs.Proposals {
		pr := &theirs.Proposals[i]
		if pr.Protocol != proto {
			continue
		}
		for _, p := range ours {
			if offers(pr, p, proto == ikev2.ProtocolESP) {
				return p, pr, true
			}
		}
	}
	return Proposal{}, nil, false
}

// accepted returns the proposal a responder sent back, checked to be
// exactly one of ours (one transform of each type, as we offered it).
func accepted(sa *ikev2.SA, ours []Proposal, proto ikev2.Protocol) (Proposal, *ikev2.Proposal, error) {
	if sa == nil || len(sa.Proposals) != 1 {
		return Proposal{}, nil, fmt.Errorf("%w: the answer holds no single proposal", ErrProposal)
	}
	pr := &sa.Proposals[0]
	if pr.Protocol != proto {
		return Proposal{}, nil, fmt.Errorf("%w: answered protocol %s, offered %s", ErrProposal, pr.Protocol, proto)
	}
	for _, t := range []ikev2.TransformType{ikev2.TransformEncr, ikev2.TransformPRF, ikev2.TransformInteg, ikev2.TransformDH, ikev2.TransformESN} {
		if len(pr.ByType(t)) > 1 {
			return Proposal{}, nil, fmt.Errorf("%w: the answer holds %d %s transforms", ErrProposal, len(pr.ByType(t)), t)
		}
	}
	if int(pr.Number) < 1 || int(pr.Number) > len(ours) {
		return Proposal{}, nil, fmt.Errorf("%w: the answer names proposal %d of %d", ErrProposal, pr.Number, len(ours))
	}
	p := ours[pr.Number-1]
	if !offers(pr, p, proto == ikev2.ProtocolESP) || len(pr.Transforms) != len(p.transforms(proto == ikev2.ProtocolESP)) &&
		!(proto == ikev2.ProtocolESP && len(pr.ByType(ikev2.TransformESN)) == 0) {
		return Proposal{}, nil, fmt.Errorf("%w: the answer %s is not proposal %d (%s) as offered", ErrProposal, pr, pr.Number, p)
	}
	return p, pr, nil
}
