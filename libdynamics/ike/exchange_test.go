package ike

import (
	"net/netip"
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/esp"
	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
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

// TestInvalidKE: the responder wants another Diffie-Hellman group than the
// initiator's first guess; the initiator retries with it.
func TestInvalidKE(t *testing.T) {
	mn, ha, n := pair(t, func(mc, hc *Config) {
		mc.IKEProposals = []Proposal{MustParseProposal("aes128gcm16-prfsha256-x25519", false), MustParseProposal("aes128-sha256-modp2048", false)}
		hc.IKEProposals = []Proposal{MustParseProposal("aes128-sha256-modp2048", false)}
	})
	var inits []int
	n.Drop = func(from, to netip.AddrPort, b []byte) bool {
		if m, err := ikev2.Parse(b); err == nil && m.Exchange == ikev2.ExchangeIKESAInit && !m.IsResponse() {
			ke, _ := ikev2.Find(m.Payloads, ikev2.PayloadKE).(*ikev2.KE)
			inits = append(inits, int(ke.Group))
		}
		return false
	}
	info, err := mn.e.Initiate(ctx(t), "ha")
	if err != nil {
		t.Fatal(err)
	}
	if info.Proposal != "aes128-sha256-modp2048" {
		t.Errorf("proposal %s", info.Proposal)
	}
	if len(inits) != 2 || inits[0] != 31 || inits[1] != 14 {
		t.Errorf("IKE_SA_INIT key exchange groups %v, want [31 14]", inits)
	}
	if got := ha.only(); got.SPIi != info.SPIi {
		t.Errorf("responder SA %v", got)
	}
}

// TestCookie: a responder past its half-open threshold asks for a COOKIE
// before keeping state, and the initiator comes back with it.
func TestCookie(t *testing.T) {
	mn, ha, n := pair(t, func(mc, hc *Config) { hc.CookieThreshold = -1 })
	var cookies int
	n.Drop = func(from, to netip.AddrPort, b []byte) bool {
		if m, err := ikev2.Parse(b); err == nil && m.Exchange == ikev2.ExchangeIKESAInit && m.IsResponse() && ikev2.FindNotify(m.Payloads, ikev2.NotifyCookie) != nil {
			if m.SPIr != 0 {
				t.Errorf("COOKIE answer with responder SPI %s", m.SPIr)
			}
			cookies++
		}
		return false
	}
	if _, err := mn.e.Initiate(ctx(t), "ha"); err != nil {
		t.Fatal(err)
	}
	if cookies != 1 || ha.stats().CookiesSent != 1 {
		t.Errorf("COOKIE answers %d, counted %d, want 1", cookies, ha.stats().CookiesSent)
	}
	ha.only()
}

// TestWrongPSK: the responder cannot authenticate the initiator; IKE_AUTH
// fails with AUTHENTICATION_FAILED and neither side installs anything.
func TestWrongPSK(t *testing.T) {
	mn, ha, _ := pair(t, func(mc, hc *Config) { hc.PSK = []byte("another pre-shared key entirely") })
	_, err := mn.e.Initiate(ctx(t), "ha")
	errIs(t, err, ErrAuthFailed, "Initiate")
	for _, nd := range []*node{mn, ha} {
		if s := nd.sas(); len(s) != 0 {
			t.Errorf("%s keeps IKE SAs: %v", nd.name, s)
		}
		in, out, pols := nd.esp.snapshot()
		if len(in)+len(out)+len(pols) != 0 {
			t.Errorf("%s installed %v %v %v", nd.name, in, out, pols)
		}
		if nd.stats().AuthFailures != 1 {
			t.Errorf("%s counted %d authentication failures", nd.name, nd.stats().AuthFailures)
		}
	}
}

// TestWrongIdentity: the initiator asks for a responder identity the
// responder does not have.
func TestWrongIdentity(t *testing.T) {
	mn, _, _ := pair(t, func(mc, hc *Config) { mc.Peers[0].RemoteID = "other@example.org" })
	_, err := mn.e.Initiate(ctx(t), "ha")
	errIs(t, err, ErrAuthFailed, "Initiate")
}

// TestNoProposal: nothing in common.
func TestNoProposal(t *testing.T) {
	mn, ha, _ := pair(t, func(mc, hc *Config) {
		mc.IKEProposals = []Proposal{MustParseProposal("aes128gcm16-prfsha256-x25519", false)}
		hc.IKEProposals = []Proposal{MustParseProposal("aes256-sha384-ecp256", false)}
	})
	_, err := mn.e.Initiate(ctx(t), "ha")
	errIs(t, err, ErrNoProposal, "Initiate")
	if len(ha.sas()) != 0 {
		t.Error("the responder kept state for a refused IKE_SA_INIT")
	}
}

// TestChildRefused: the IKE SA comes up but the child's selectors are
// outside what the responder allows (TS_UNACCEPTABLE).
func TestChildRefused(t *testing.T) {
	mn, ha, _ := pair(t, func(mc, hc *Config) { mc.Peers[0].RemoteTS = []Selector{sel("10.9.0.0/16")} })
	info, err := mn.e.Initiate(ctx(t), "ha")
	errIs(t, err, ErrTSUnaccepted, "Initiate")
	if info.State != StateEstablished || len(info.Children) != 0 {
		t.Errorf("SA %+v", info)
	}
	if r := ha.only(); len(r.Children) != 0 {
		t.Errorf("responder made a child: %+v", r)
	}
}

// TestTransportMode negotiates a transport-mode child between the IKE
// addresses.
func TestTransportMode(t *testing.T) {
	mn, ha, _ := pair(t, func(mc, hc *Config) {
		for _, c := range []*Config{mc, hc} {
			c.Peers[0].Mode = ModeTransport
			c.Peers[0].LocalTS, c.Peers[0].RemoteTS = nil, nil
		}
	})
	info, err := mn.e.Initiate(ctx(t), "ha")
	if err != nil {
		t.Fatal(err)
	}
	c := info.Children[0]
	if c.Mode != ModeTransport || c.LocalTS[0] != sel(mnAddr+"/32") || c.RemoteTS[0] != sel(haAddr+"/32") {
		t.Fatalf("child %+v", c)
	}
	checkChildPair(t, mn, ha, c.InSPI)
	in, _, _ := ha.esp.snapshot()
	if in[0].Mode != esp.ModeTransport {
		t.Errorf("responder installed %s", in[0].Mode)
	}
}

// TestTransportRefused: a responder configured for tunnel mode answers a
// transport-mode request with tunnel mode (it omits USE_TRANSPORT_MODE),
// which the initiator that insists on transport refuses.
func TestTransportRefused(t *testing.T) {
	mn, ha, _ := pair(t, func(mc, hc *Config) { mc.Peers[0].Mode = ModeTransport })
	_, err := mn.e.Initiate(ctx(t), "ha")
	errIs(t, err, ErrNoProposal, "Initiate")
	// The initiator deletes the tunnel-mode child the responder made.
	eventually(t, "the responder's child deleted", func() bool { return len(ha.only().Children) == 0 })
	if in, out, pols := ha.esp.snapshot(); len(in)+len(out)+len(pols) != 0 {
		t.Errorf("responder keeps %v %v %v", in, out, pols)
	}
}
