package testbed

import "path/filepath"

// IPsecDomain ends every IKE identity of the bed: ha.dynbed, fa1.dynbed,
// gfa.dynbed, mn.dynbed (ID_FQDN).
const IPsecDomain = "dynbed"

// IPsecID returns the IKE identity role's daemon announces (IPsecLocalID)
// and its peers expect: "<role>.dynbed".
func IPsecID(role string) string { return role + "." + IPsecDomain }

// IPsecHop is one signalling hop of the bed that WriteConfigs protects
// with IPsec when Options.IPsec is set: the initiator (the mobile, or a
// foreign agent toward its upstream agent) brings the IKE SA up with the
// responder (its home agent, or the agent above it); each names the other
// in its IPSEC section by the address below, with the pair's own
// pre-shared key.
type IPsecHop struct {
	Initiator, Responder string // roles
	// InitiatorAddr is how the responder names the initiator: a foreign
	// agent's upstream address, or the mobile's home address (its SA
	// moves with it, MOBIKE-X).
	InitiatorAddr string
	// ResponderAddr is the address the initiator sends its signalling to:
	// the home agent's, or the upper agent's on the initiator's link.
	ResponderAddr string
	// PSK is the pair's pre-shared key.
	PSK string
}

// IPsecHops returns the bed's protected hops, the mobile's first: on the
// flat bed mn-ha, fa1-ha and fa2-ha; on the hierarchical bed mn-ha,
// fa1-gfa, fa2-gfa and gfa-ha.
func (b *Bed) IPsecHops() []IPsecHop { return ipsecHops(b.opts.Hierarchical) }

func ipsecHops(hier bool) []IPsecHop {
	hop := func(init, resp, initAddr, respAddr string) IPsecHop {
		return IPsecHop{Initiator: init, Responder: resp, InitiatorAddr: initAddr, ResponderAddr: respAddr,
			PSK: "dynbed-psk-" + init + "-" + resp}
	}
	hops := []IPsecHop{hop(MN, HA, HomeAddr, HAAddr)}
	if !hier {
		return append(hops, hop(FA1, HA, FA1Addr, HAAddr), hop(FA2, HA, FA2Addr, HAAddr))
	}
	return append(hops,
		hop(FA1, GFA, FA1Addr, FA1Upper),
		hop(FA2, GFA, FA2Addr, FA2Upper),
		hop(GFA, HA, GFAAddr, HAAddr))
}

// KeyLogFile returns the file in dir where role's daemon logs its IKE SAs'
// keys (IPsecKeyLog), in Wireshark's ikev2_decryption_table format, so
// that captures of the bed can be decrypted.
func KeyLogFile(dir, role string) string { return filepath.Join(dir, role+"-ike.keys") }

// ipsec writes role's IPsec labels and IPSEC section: its identity, its
// key log in dir, and one entry per hop it takes part in.
func (w *confWriter) ipsec(b *Bed, dir, role string) {
	if !b.opts.IPsec {
		return
	}
	w.line("")
	w.line("# Registration signalling travels in ESP with these peers (IKEv2, MOBIKE-X).")
	w.label("IPsecLocalID", IPsecID(role))
	w.label("IPsecKeyLog", KeyLogFile(dir, role))
	w.line("")
	w.line("IPSEC_BEGIN")
	w.line("# peer  identity  pre-shared key")
	for _, h := range b.IPsecHops() {
		switch role {
		case h.Initiator:
			w.line("%s  %s  %s", h.ResponderAddr, IPsecID(h.Responder), h.PSK)
		case h.Responder:
			w.line("%s  %s  %s", h.InitiatorAddr, IPsecID(h.Initiator), h.PSK)
		}
	}
	w.line("IPSEC_END")
}
