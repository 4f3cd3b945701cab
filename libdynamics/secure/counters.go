package secure

import (
	"slices"
	"strings"

	"github.com/dynamics-go/dynamics/libdynamics/api"
)

// Counters returns the counters as the agents' get_status adds them:
//
//	ipsec.ike_sas, ipsec.child_sas   established IKE SAs and installed child SAs (now)
//	ipsec.ike_initiated              IKE SAs this agent set out to bring up
//	ipsec.ike_auth_failures          IKE_AUTH exchanges that failed authentication
//	ipsec.ike_retransmits            IKE requests retransmitted
//	ipsec.esp_in, ipsec.esp_out      datagrams opened and sealed by the userspace ESP path
//	ipsec.esp_drops                  datagrams the userspace ESP path dropped
func (s Stats) Counters() []api.Counter {
	return []api.Counter{
		{Name: "ipsec.ike_sas", Value: uint64(s.IKESAs)},
		{Name: "ipsec.child_sas", Value: uint64(s.Children)},
		{Name: "ipsec.ike_initiated", Value: s.IKEInitiated},
		{Name: "ipsec.ike_auth_failures", Value: s.IKE.AuthFailures},
		{Name: "ipsec.ike_retransmits", Value: s.IKE.Retransmits},
		{Name: "ipsec.esp_in", Value: s.ESP.PacketsIn},
		{Name: "ipsec.esp_out", Value: s.ESP.PacketsOut},
		{Name: "ipsec.esp_drops", Value: s.ESPDrops},
	}
}

// AppendCounters adds the IPsec counters of p, when it keeps any (a
// *Guard), to an agent's counters and keeps them sorted by name. Call it
// outside the agent's loop: it asks the IKE engine.
func AppendCounters(c []api.Counter, p Protector) []api.Counter {
	g, ok := p.(interface{ Stats() Stats })
	if !ok {
		return c
	}
	c = append(c, g.Stats().Counters()...)
	slices.SortFunc(c, func(x, y api.Counter) int { return strings.Compare(x.Name, y.Name) })
	return c
}
