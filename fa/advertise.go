package fa

import (
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/discovery"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
)

// advertisement builds the Agent Advertisement for visitor link i (RFC 5944
// section 2.1) with the given sequence number. In a hierarchy the care-of
// address is the highest agent's and the FA Path extension follows.
func (a *Agent) advertisement(i int, seq uint16) *discovery.Advertisement {
	l := a.links[i]
	flags := discovery.FlagForeignAgent | discovery.FlagRevocation
	if a.cfg.ReverseTunnel {
		flags |= discovery.FlagReverseTunnel
	}
	if a.cfg.RegistrationRequired {
		flags |= discovery.FlagRegistrationRequired
	}
	if a.visitors.Len() >= a.cfg.MaxVisitors {
		flags |= discovery.FlagBusy
	}
	exts := []discovery.Extension{
		&discovery.MobilityAgent{
			Sequence:             seq,
			RegistrationLifetime: a.maxLifetime(),
			Flags:                flags,
			CareOfAddresses:      []netip.Addr{a.advCoA},
		},
		&discovery.PrefixLengths{Lengths: []uint8{uint8(l.Addr.Bits())}},
	}
	if a.cfg.Hierarchy() {
		exts = append(exts, &discovery.FAPath{Addrs: a.faPath()})
	}
	return &discovery.Advertisement{
		// The agent forwards ordinary traffic too (it turns ip_forward
		// on), so it advertises itself as a router.
		Code:       discovery.CodeRouter,
		Lifetime:   a.advLifetime(),
		Routers:    []discovery.RouterAddress{{Addr: l.Addr.Addr()}},
		Extensions: exts,
	}
}

// faPath is the FA Path of the agent's advertisements: its own address,
// its upper agent's and the highest agent's; the highest agent lists only
// itself.
func (a *Agent) faPath() []netip.Addr {
	path := []netip.Addr{a.careOf}
	if a.cfg.UpperFAIPAddress.IsValid() {
		path = append(path, a.cfg.UpperFAIPAddress)
	}
	if a.cfg.HighestFAIPAddress != a.careOf {
		path = append(path, a.cfg.HighestFAIPAddress)
	}
	return path
}

// advLifetime is AgentAdvLifetime in whole seconds, rounded up.
func (a *Agent) advLifetime() uint16 {
	d := a.cfg.AgentAdvLifetime
	if d <= 0 {
		d = 3 * a.cfg.AgentAdvInterval
	}
	s := (d + time.Second - 1) / time.Second
	return uint16(min(max(s, 1), 0xffff))
}

// advertise sends an advertisement on visitor link i to 224.0.0.1 with IP
// TTL 1, and counts the sequence number on.
func (a *Agent) advertise(i int) {
	l := a.links[i]
	b, err := a.advertisement(i, a.seq[i]).Marshal()
	if err != nil {
		a.log.Error("cannot build advertisement", logging.KeyIface, l.Conn.Info().Name, logging.KeyErr, err)
		return
	}
	pkt := link.AppendIPv4(nil, l.Addr.Addr(), link.AllSystemsAddr, link.ProtoICMP, 1, b)
	if err := l.Conn.WriteFrame(pkt, link.AllSystems); err != nil {
		a.log.Warn("sending advertisement failed", logging.KeyIface, l.Conn.Info().Name, logging.KeyErr, err)
		return
	}
	a.seq[i] = discovery.NextSequence(a.seq[i])
	a.stats.Advertisements++
}
