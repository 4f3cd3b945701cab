package ike

import (
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/esp"
)

// TestEstablish brings up an IKE SA and its child SA with each proposal
// family and checks what both sides installed.
func TestEstablish(t *testing.T) {
	for _, tc := range []struct {
		ike, esp string
		encap    bool
	}{
		{"aes128gcm16-prfsha256-x25519", "aes128gcm16", true},
		{"aes128-sha256-modp2048", "aes128-sha256", false},
		{"aes256gcm16-prfsha384-ecp256", "aes256gcm16", false},
	} {
		t.Run(tc.ike, func(t *testing.T) {
			mn, ha, _ := pair(t, func(mc, hc *Config) {
				for _, c := range []*Config{mc, hc} {
					c.IKEProposals = []Proposal{MustParseProposal(tc.ike, false)}
					c.ESPProposals = []Proposal{MustParseProposal(tc.esp, true)}
				}
				mc.ForceEncap = tc.encap
			})
			info, err := mn.e.Initiate(ctx(t), "ha")
			if err != nil {
				t.Fatal(err)
			}
			if info.State != StateEstablished || !info.Initiator || info.Proposal != tc.ike || len(info.Children) != 1 {
				t.Fatalf("initiator's SA: %+v", info)
			}
			if info.Encap != tc.encap {
				t.Errorf("encap %v, want %v", info.Encap, tc.encap)
			}
			r := ha.only()
			if r.SPIi != info.SPIi || r.SPIr != info.SPIr || r.Initiator || r.State != StateEstablished || r.Peer != "mn" {
				t.Fatalf("responder's SA %+v, initiator's %+v", r, info)
			}
			if r.NATRemote != tc.encap {
				t.Errorf("responder sees a NAT before the initiator: %v, want %v", r.NATRemote, tc.encap)
			}
			c := info.Children[0]
			if c.Proposal != tc.esp || c.Mode != ModeTunnel || r.Children[0].OutSPI != c.InSPI || r.Children[0].InSPI != c.OutSPI {
				t.Fatalf("children: initiator %+v, responder %+v", c, r.Children[0])
			}
			// The responder narrowed its /24s to the initiator's hosts.
			if got := r.Children[0].LocalTS; len(got) != 1 || got[0] != sel("10.2.0.1/32") {
				t.Errorf("responder's local selectors %v", got)
			}
			checkChildPair(t, mn, ha, c.InSPI)
			checkChildPair(t, ha, mn, c.OutSPI)
			in, out, pols := mn.esp.snapshot()
			if len(in) != 1 || len(out) != 1 || len(pols) != 2 {
				t.Fatalf("initiator installed %d in, %d out, %d policies", len(in), len(out), len(pols))
			}
			wantPort := uint16(0)
			if tc.encap {
				wantPort = esp.EncapPort
			}
			if in[0].Local.Port() != wantPort || in[0].Remote.Port() != wantPort {
				t.Errorf("inbound SA ports %s %s, want %d", in[0].Local, in[0].Remote, wantPort)
			}
			for _, p := range pols {
				if p.Direction == esp.Outbound && (p.Selector.Src.String() != "10.1.0.1/32" || p.Selector.Dst.String() != "10.2.0.1/32") {
					t.Errorf("outbound policy %v", p.Selector)
				}
			}
		})
	}
}
