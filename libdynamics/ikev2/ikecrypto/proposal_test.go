package ikecrypto

import (
	"errors"
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

func ikeProposal(n uint8, ts ...ikev2.Transform) ikev2.Proposal {
	return ikev2.Proposal{Number: n, Protocol: ikev2.ProtocolIKE, Transforms: ts}
}

func espProposal(n uint8, ts ...ikev2.Transform) ikev2.Proposal {
	return ikev2.Proposal{Number: n, Protocol: ikev2.ProtocolESP, SPI: []byte{0xc0, 0xff, 0xee, byte(n)}, Transforms: ts}
}

var (
	encr      = ikev2.EncrTransform
	prf       = ikev2.PRFTransform
	integ     = ikev2.IntegTransform
	dh        = ikev2.DHTransform
	esnTr     = ikev2.ESNTransform
	noESN     = esnTr(ikev2.ESNNone)
	prf256    = prf(PRFHMACSHA256)
	sha256128 = integ(IntegHMACSHA256128)
)

// transformsString renders a proposal's transforms for comparison.
func transformsString(p ikev2.Proposal) string {
	s := ""
	for _, t := range p.Transforms {
		s += t.String() + ","
	}
	return s
}

func TestSelectIKE(t *testing.T) {
	ours := DefaultIKEProposals()
	withAttr := encr(EncrAESGCM16, 128)
	withAttr.Attributes = append(withAttr.Attributes, ikev2.Attribute{Type: 99, TV: true, Value: []byte{0, 1}})
	cases := []struct {
		name      string
		peer      []ikev2.Proposal
		want      Suite
		wantNum   uint8
		wantReply string
	}{
		{
			name: "strongSwan aes128-sha256-modp2048, aes128gcm16-prfsha256-x25519",
			peer: []ikev2.Proposal{
				ikeProposal(1, encr(EncrAESCBC, 128), sha256128, prf256, dh(GroupMODP2048)),
				ikeProposal(2, encr(EncrAESGCM16, 128), prf256, dh(GroupCurve25519)),
			},
			want:    Suite{EncrAESCBC, 128, IntegHMACSHA256128, PRFHMACSHA256, GroupMODP2048},
			wantNum: 1, wantReply: "ENCR_AES_CBC/128,PRF_HMAC_SHA2_256,AUTH_HMAC_SHA2_256_128,MODP_2048,",
		},
		{
			name: "the peer's order wins over ours",
			peer: []ikev2.Proposal{
				ikeProposal(1, encr(EncrAESGCM16, 128), prf256, dh(GroupECP256), dh(GroupCurve25519)),
			},
			want:    Suite{EncrAESGCM16, 128, IntegNone, PRFHMACSHA256, GroupECP256},
			wantNum: 1, wantReply: "ENCR_AES_GCM_16/128,PRF_HMAC_SHA2_256,ECP_256,",
		},
		{
			name: "AEAD with INTEG NONE spelled out",
			peer: []ikev2.Proposal{
				ikeProposal(1, encr(EncrAESGCM16, 256), integ(IntegNone), prf256, dh(GroupCurve25519)),
			},
			want:    Suite{EncrAESGCM16, 256, IntegNone, PRFHMACSHA256, GroupCurve25519},
			wantNum: 1, wantReply: "ENCR_AES_GCM_16/256,PRF_HMAC_SHA2_256,CURVE_25519,",
		},
		{
			name: "weak transforms skipped within a proposal",
			peer: []ikev2.Proposal{
				ikeProposal(1, encr(ikev2.Encr3DES, 0), encr(EncrAESCBC, 256),
					integ(ikev2.IntegHMACSHA1_96), sha256128,
					prf(ikev2.PRFHMACSHA1), prf256,
					dh(ikev2.DHMODP1024), dh(GroupMODP2048)),
			},
			want:    Suite{EncrAESCBC, 256, IntegHMACSHA256128, PRFHMACSHA256, GroupMODP2048},
			wantNum: 1, wantReply: "ENCR_AES_CBC/256,PRF_HMAC_SHA2_256,AUTH_HMAC_SHA2_256_128,MODP_2048,",
		},
		{
			name: "a transform with an unknown attribute is skipped",
			peer: []ikev2.Proposal{
				ikeProposal(1, withAttr, encr(EncrAESGCM16, 256), prf256, dh(GroupCurve25519)),
			},
			want:    Suite{EncrAESGCM16, 256, IntegNone, PRFHMACSHA256, GroupCurve25519},
			wantNum: 1, wantReply: "ENCR_AES_GCM_16/256,PRF_HMAC_SHA2_256,CURVE_25519,",
		},
		{
			name: "a proposal with an unknown transform type is rejected, the next taken",
			peer: []ikev2.Proposal{
				ikeProposal(1, encr(EncrAESGCM16, 128), prf256, dh(GroupCurve25519), ikev2.Transform{Type: ikev2.TransformAdditionalKE1, ID: 35}),
				ikeProposal(2, encr(EncrAESGCM16, 128), prf256, dh(GroupCurve25519)),
			},
			want:    Suite{EncrAESGCM16, 128, IntegNone, PRFHMACSHA256, GroupCurve25519},
			wantNum: 2, wantReply: "ENCR_AES_GCM_16/128,PRF_HMAC_SHA2_256,CURVE_25519,",
		},
	}
	for _, tc := range cases {
		reply, suite, err := SelectIKE(ours, &ikev2.SA{Proposals: tc.peer}, GroupNone)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if suite != tc.want {
			t.Errorf("%s: suite %v, want %v", tc.name, suite, tc.want)
		}
		if reply.Number != tc.wantNum || reply.Protocol != ikev2.ProtocolIKE || len(reply.SPI) != 0 || transformsString(reply) != tc.wantReply {
			t.Errorf("%s: reply %v, want #%d %s", tc.name, &reply, tc.wantNum, tc.wantReply)
		}
		if err := suite.Validate(); err != nil {
			t.Errorf("%s: selected suite invalid: %v", tc.name, err)
		}
	}

	refused := map[string][]ikev2.Proposal{
		"weak only":                           {ikeProposal(1, encr(ikev2.Encr3DES, 0), integ(ikev2.IntegHMACSHA1_96), prf(ikev2.PRFHMACSHA1), dh(ikev2.DHMODP1024))},
		"a key length we do not offer":        {ikeProposal(1, encr(EncrAESGCM16, 192), prf256, dh(GroupCurve25519))},
		"AES without a key length":            {ikeProposal(1, encr(EncrAESGCM16, 0), prf256, dh(GroupCurve25519))},
		"GCM with a real integrity algorithm": {ikeProposal(1, encr(EncrAESGCM16, 128), sha256128, prf256, dh(GroupCurve25519))},
		"CBC without integrity":               {ikeProposal(1, encr(EncrAESCBC, 128), prf256, dh(GroupMODP2048))},
		"no PRF":                              {ikeProposal(1, encr(EncrAESGCM16, 128), dh(GroupCurve25519))},
		"no D-H":                              {ikeProposal(1, encr(EncrAESGCM16, 128), prf256)},
		"D-H NONE":                            {ikeProposal(1, encr(EncrAESGCM16, 128), prf256, dh(GroupNone))},
		"CBC with MODP-2048 mixed with the GCM groups": {ikeProposal(1, encr(EncrAESCBC, 128), sha256128, prf256, dh(GroupCurve25519))},
		"ESP proposals only":                           {espProposal(1, encr(EncrAESGCM16, 128), noESN)},
		"an ESN transform in IKE":                      {ikeProposal(1, encr(EncrAESGCM16, 128), prf256, dh(GroupCurve25519), noESN)},
	}
	for name, peer := range refused {
		if _, _, err := SelectIKE(ours, &ikev2.SA{Proposals: peer}, GroupNone); !errors.Is(err, ErrNoProposal) {
			t.Errorf("%s: %v, want ErrNoProposal", name, err)
		}
	}
	if _, _, err := SelectIKE(ours, nil, GroupNone); !errors.Is(err, ErrNoProposal) {
		t.Errorf("no SA payload: %v, want ErrNoProposal", err)
	}

	// The group of the peer's KE payload is preferred when acceptable; a
	// group we do not accept does not change the choice.
	peer := &ikev2.SA{Proposals: []ikev2.Proposal{
		ikeProposal(1, encr(EncrAESGCM16, 128), prf256, dh(ikev2.DHMODP1024), dh(GroupECP256), dh(GroupCurve25519)),
	}}
	for ke, want := range map[Group]Group{
		GroupNone:        GroupECP256,
		GroupCurve25519:  GroupCurve25519,
		GroupECP256:      GroupECP256,
		ikev2.DHMODP1024: GroupECP256,
		GroupMODP2048:    GroupECP256,
	} {
		reply, s, err := SelectIKE(ours, peer, ke)
		if err != nil || s.Group != want || len(reply.ByType(ikev2.TransformDH)) != 1 || Group(reply.ByType(ikev2.TransformDH)[0].ID) != want {
			t.Errorf("KE of %v: group %v (%v), want %v", ke, s.Group, err, want)
		}
	}
}

func TestSelectESP(t *testing.T) {
	strongswan := &ikev2.SA{Proposals: []ikev2.Proposal{
		espProposal(1, encr(EncrAESGCM16, 128), noESN),
		espProposal(2, encr(EncrAESCBC, 128), sha256128, noESN),
	}}
	reply, c, err := SelectESP(DefaultESPProposals(), strongswan, false)
	if err != nil {
		t.Fatal(err)
	}
	if c != (ChildSuite{Encr: EncrAESGCM16, KeyBits: 128}) || reply.Number != 1 || len(reply.SPI) != 0 ||
		transformsString(reply) != "ENCR_AES_GCM_16/128,NO_EXT_SEQ," {
		t.Errorf("strongSwan's ESP: %v, %v", c, &reply)
	}

	pfsPeer := &ikev2.SA{Proposals: []ikev2.Proposal{espProposal(1, encr(EncrAESCBC, 256), sha256128, dh(GroupCurve25519), noESN)}}
	// In IKE_AUTH there is no KE payload: the D-H transform does not apply.
	reply, c, err = SelectESP(DefaultESPProposals(), pfsPeer, false)
	if err != nil || c.Group != GroupNone || transformsString(reply) != "ENCR_AES_CBC/256,AUTH_HMAC_SHA2_256_128,NO_EXT_SEQ," {
		t.Errorf("PFS proposal in IKE_AUTH: %v, %v, %v", c, &reply, err)
	}
	// In CREATE_CHILD_SA it needs a group of ours.
	if _, _, err := SelectESP(DefaultESPProposals(), pfsPeer, true); !errors.Is(err, ErrNoProposal) {
		t.Errorf("PFS asked, none configured: %v, want ErrNoProposal", err)
	}
	reply, c, err = SelectESP(DefaultESPProposals(GroupECP256, GroupCurve25519), pfsPeer, true)
	if err != nil || c != (ChildSuite{Encr: EncrAESCBC, KeyBits: 256, Integ: IntegHMACSHA256128, Group: GroupCurve25519}) ||
		transformsString(reply) != "ENCR_AES_CBC/256,AUTH_HMAC_SHA2_256_128,CURVE_25519,NO_EXT_SEQ," {
		t.Errorf("PFS with x25519: %v, %v, %v", c, &reply, err)
	}
	// We want PFS, the peer offers none.
	if _, _, err := SelectESP(DefaultESPProposals(GroupCurve25519), strongswan, true); !errors.Is(err, ErrNoProposal) {
		t.Errorf("PFS required, peer without: %v, want ErrNoProposal", err)
	}
	// The peer offers a group or NONE and we have no PFS: NONE.
	orNone := &ikev2.SA{Proposals: []ikev2.Proposal{espProposal(1, encr(EncrAESGCM16, 256), dh(GroupCurve25519), dh(GroupNone), noESN)}}
	if _, c, err := SelectESP(DefaultESPProposals(), orNone, true); err != nil || c.Group != GroupNone {
		t.Errorf("group or NONE: %v, %v", c, err)
	}
	// Without an ESN transform: taken as NO_EXT_SEQ.
	noESNPeer := &ikev2.SA{Proposals: []ikev2.Proposal{espProposal(3, encr(EncrAESGCM16, 256))}}
	if reply, c, err := SelectESP(DefaultESPProposals(), noESNPeer, false); err != nil || c.ESN || reply.Number != 3 || transformsString(reply) != "ENCR_AES_GCM_16/256," {
		t.Errorf("no ESN transform: %v, %v, %v", c, &reply, err)
	}
	for name, peer := range map[string]ikev2.Proposal{
		"extended sequence numbers only": espProposal(1, encr(EncrAESGCM16, 128), esnTr(ikev2.ESNExtended)),
		"a PRF in ESP":                   espProposal(1, encr(EncrAESGCM16, 128), prf256, noESN),
		"AH":                             {Number: 1, Protocol: ikev2.ProtocolAH, SPI: []byte{1, 2, 3, 4}, Transforms: []ikev2.Transform{sha256128, noESN}},
		"null encryption":                espProposal(1, encr(ikev2.EncrNull, 0), sha256128, noESN),
	} {
		if _, _, err := SelectESP(DefaultESPProposals(), &ikev2.SA{Proposals: []ikev2.Proposal{peer}}, false); !errors.Is(err, ErrNoProposal) {
			t.Errorf("%s: %v, want ErrNoProposal", name, err)
		}
	}
}

// TestAcceptedRoundTrip has a responder with the default proposals answer
// an initiator with the default proposals, and the initiator check the
// answer: both must agree on the suite.
func TestAcceptedRoundTrip(t *testing.T) {
	ours := DefaultIKEProposals()
	reply, rs, err := SelectIKE(DefaultIKEProposals(), &ikev2.SA{Proposals: ours}, GroupCurve25519)
	if err != nil {
		t.Fatal(err)
	}
	got, is, err := AcceptedIKE(ours, &ikev2.SA{Proposals: []ikev2.Proposal{reply}})
	if err != nil || is != rs || got.Number != reply.Number {
		t.Fatalf("initiator reads %v (%v), responder chose %v", is, err, rs)
	}
	if rs != (Suite{EncrAESGCM16, 256, IntegNone, PRFHMACSHA256, GroupCurve25519}) {
		t.Errorf("defaults agree on %v, want the first default", rs)
	}

	espOurs := DefaultESPProposals()
	for i := range espOurs {
		espOurs[i].SPI = []byte{1, 2, 3, 4}
	}
	ereply, ecs, err := SelectESP(DefaultESPProposals(), &ikev2.SA{Proposals: espOurs}, false)
	if err != nil {
		t.Fatal(err)
	}
	ereply.SPI = []byte{5, 6, 7, 8}
	gotE, eis, err := AcceptedESP(espOurs, &ikev2.SA{Proposals: []ikev2.Proposal{ereply}}, false)
	if err != nil || eis != ecs || string(gotE.SPI) != string([]byte{5, 6, 7, 8}) {
		t.Fatalf("initiator reads %v (%v), responder chose %v", eis, err, ecs)
	}

	bad := map[string][]ikev2.Proposal{
		"two proposals":             {reply, reply},
		"none":                      nil,
		"a number we did not use":   {ikeProposal(3, encr(EncrAESGCM16, 256), prf256, dh(GroupCurve25519))},
		"a transform not offered":   {ikeProposal(1, encr(EncrAESGCM16, 192), prf256, dh(GroupCurve25519))},
		"from the other proposal":   {ikeProposal(1, encr(EncrAESCBC, 128), sha256128, prf256, dh(GroupMODP2048))},
		"two ciphers":               {ikeProposal(1, encr(EncrAESGCM16, 256), encr(EncrAESGCM16, 128), prf256, dh(GroupCurve25519))},
		"two groups":                {ikeProposal(1, encr(EncrAESGCM16, 256), prf256, dh(GroupCurve25519), dh(GroupECP256))},
		"no group":                  {ikeProposal(1, encr(EncrAESGCM16, 256), prf256)},
		"an ESP proposal":           {espProposal(1, encr(EncrAESGCM16, 256), noESN)},
		"an integrity with an AEAD": {ikeProposal(1, encr(EncrAESGCM16, 256), sha256128, prf256, dh(GroupCurve25519))},
	}
	for name, ps := range bad {
		if _, _, err := AcceptedIKE(ours, &ikev2.SA{Proposals: ps}); !errors.Is(err, ErrNoProposal) {
			t.Errorf("%s: %v, want ErrNoProposal", name, err)
		}
	}
	if _, _, err := AcceptedIKE(ours, nil); !errors.Is(err, ErrNoProposal) {
		t.Errorf("no SA payload: %v, want ErrNoProposal", err)
	}
	// INTEG NONE spelled out with an AEAD is fine.
	spelled := ikeProposal(1, encr(EncrAESGCM16, 128), integ(IntegNone), prf256, dh(GroupECP256))
	if _, s, err := AcceptedIKE(ours, &ikev2.SA{Proposals: []ikev2.Proposal{spelled}}); err != nil || s.Group != GroupECP256 {
		t.Errorf("INTEG NONE in the answer: %v, %v", s, err)
	}
	// A child SA answer that adds extended sequence numbers we did not offer.
	if _, _, err := AcceptedESP(espOurs, &ikev2.SA{Proposals: []ikev2.Proposal{espProposal(1, encr(EncrAESGCM16, 256), esnTr(ikev2.ESNExtended))}}, false); !errors.Is(err, ErrNoProposal) {
		t.Errorf("ESN not offered: %v, want ErrNoProposal", err)
	}
}
