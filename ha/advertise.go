package ha

import (
	"net"
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/discovery"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
)

// advertisement returns the agent's next Agent Advertisement for the home
// link: code 16 (the home agent is no router for ordinary traffic), the
// home agent's address, never a default router, with the H flag, the
// longest registration lifetime granted and the home network's prefix
// length, so that a mobile node hearing it knows it is at home.
func (a *Agent) advertisement() *discovery.Advertisement {
	lifetime := uint16(min((a.cfg.AgentAdvLifetime+time.Second-1)/time.Second, 0xffff))
	return &discovery.Advertisement{
		Code:     discovery.CodeMobilityOnly,
		Lifetime: max(lifetime, 1),
		Routers:  []discovery.RouterAddress{{Addr: a.cfg.HAIPAddress, Preference: discovery.NotDefaultRouter}},
		Extensions: []discovery.Extension{
			&discovery.MobilityAgent{
				Sequence:             a.seq,
				RegistrationLifetime: a.maxLif,
				Flags:                discovery.FlagHomeAgent,
			},
			&discovery.PrefixLengths{Lengths: []uint8{uint8(a.cfg.HomeNetPrefix.Bits())}},
		},
	}
}

// advertise sends an advertisement with IP TTL 1 from the home agent's
// address to 224.0.0.1, as RFC 5944 section 2.3.1 requires of every agent
// advertisement: at the all-systems group address when hw is nil, else at
// hw, the soliciting host's hardware address, so that only it hears the
// answer to its solicitation.
func (a *Agent) advertise(hw net.HardwareAddr) {
	dst := link.AllSystemsAddr
	adv := a.advertisement()
	icmp, err := adv.Marshal()
	if err != nil {
		a.log.Error("cannot build advertisement", logging.KeyErr, err)
		return
	}
	if hw == nil {
		hw = link.AllSystems
	}
	pkt := link.AppendIPv4(nil, a.cfg.HAIPAddress, dst, link.ProtoICMP, 1, icmp)
	if err := a.link.WriteFrame(pkt, hw); err != nil {
		a.log.Warn("sending advertisement failed", logging.KeyIface, a.cfg.HomeInterface, logging.KeyErr, err)
		return
	}
	a.log.Debug("advertisement sent", logging.KeyIface, a.cfg.HomeInterface, "seq", a.seq, "to", dst)
	a.stats.Advertisements++
	a.seq = discovery.NextSequence(a.seq)
}

// handleSolicitation answers an Agent Solicitation at once, to the
// soliciting host, unless it answered one less than minSolicitedGap ago.
func (a *Agent) handleSolicitation(src netip.Addr, hw net.HardwareAddr) {
	now := a.clock.Now()
	if !a.lastSolAdv.IsZero() && now.Sub(a.lastSolAdv) < minSolicitedGap {
		a.log.Debug("solicitation not answered: answered one just before", logging.KeyIface, a.cfg.HomeInterface, "from", src)
		return
	}
	a.lastSolAdv = now
	a.stats.Solicitations++
	a.advertise(hw)
}
