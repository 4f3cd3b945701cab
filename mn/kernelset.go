package mn

import (
	"errors"
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
)

// The policy routing of a co-located mobile's reverse tunnel: packets from
// the home address look up ReverseTunnelTable, whose default route enters
// the tunnel to the home agent.
const (
	ReverseTunnelTable    = 434
	ReverseTunnelPriority = 1000
)

// kernelRetry is how soon a failed kernel change is tried again.
const kernelRetry = time.Second

var defaultRoute = netip.PrefixFrom(netip.IPv4Unspecified(), 0)

func host(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, 32) }

// TunnelName returns the name of the co-located mobile's tunnel device.
func (c Config) TunnelName() string { return c.TunnelPrefix + "0" }

// want returns the kernel entries where the mobile is:
//
//   - at home: the home network on the interface and the default route
//     through HomeGateway, both from the home address;
//   - away from home (at a foreign agent, co-located, or probing a
//     co-located gateway): arp_ignore 2 on the interface, so the mobile
//     does not answer ARP for its home address;
//   - at a foreign agent: a permanent neighbour entry for the agent (learnt
//     from its advertisement, so the mobile never ARPs from its home
//     address away from home) and a host route to it; once registered, and
//     unless TunnelingMode is none, the default route through it from the
//     home address;
//   - co-located: the care-of address, arp_announce 2 on the interface (ARP
//     asks from the care-of address, never the home address), a host route
//     to the home agent through the gateway from the care-of address (the
//     registration and the tunnel's outer packets take it) and the tunnel to
//     the home agent, which also decapsulates what the home agent tunnels
//     to the mobile. Once registered: in full mode the rule sending packets
//     from the home address to ReverseTunnelTable, whose default route, like
//     the main table's, enters the tunnel; in triangle mode the default
//     route through the gateway from the home address;
//   - while probing a co-located gateway: that entry's address.
func (l *Loop) want() []kernel.Entry {
	iface, home := l.cfg.Interface, l.cfg.Home
	var e []kernel.Entry
	switch l.where {
	case atHome:
		e = append(e, kernel.Route{Dst: l.cfg.HomeNet, Dev: iface, Src: home})
		if l.cfg.HomeGateway.IsValid() {
			e = append(e, kernel.Route{Dst: defaultRoute, Dev: iface, Gw: l.cfg.HomeGateway, Src: home})
		}
	case atAgent:
		a := l.cur
		e = append(e,
			kernel.Neighbor{IP: a.addr, Dev: iface, HWAddr: a.hw},
			kernel.Route{Dst: host(a.addr), Dev: iface, Src: home})
		if l.reg.valid() && l.cfg.TunnelingMode != TunnelNone {
			e = append(e, kernel.Route{Dst: defaultRoute, Dev: iface, Gw: a.addr, Src: home})
		}
	case atColocated:
		c := l.cfg.Colocated[l.coloc]
		coa := c.Addr.Prefix().Addr()
		tun := l.cfg.TunnelName()
		e = append(e,
			kernel.Address{Prefix: c.Addr.Prefix(), Dev: iface},
			kernel.Sysctl{Name: "net/ipv4/conf/" + iface + "/arp_announce", Value: "2"},
			kernel.Route{Dst: host(l.cfg.HA), Dev: iface, Gw: c.Gateway, Src: coa},
			kernel.Tunnel{Name: tun, Local: coa, Remote: l.cfg.HA})
		if l.reg.valid() {
			switch l.cfg.TunnelingMode {
			case TunnelFull:
				e = append(e,
					kernel.Rule{Priority: ReverseTunnelPriority, Src: host(home), Table: ReverseTunnelTable},
					kernel.Route{Dst: defaultRoute, Dev: tun, Table: ReverseTunnelTable},
					kernel.Route{Dst: defaultRoute, Dev: tun, Src: home})
			case TunnelTriangle:
				e = append(e, kernel.Route{Dst: defaultRoute, Dev: iface, Gw: c.Gateway, Src: home})
			}
		}
	}
	probing := l.probe != nil && !l.probe.check
	if probing {
		c := l.cfg.Colocated[l.probe.entry]
		e = append(e,
			kernel.Address{Prefix: c.Addr.Prefix(), Dev: iface},
			kernel.Sysctl{Name: "net/ipv4/conf/" + iface + "/arp_announce", Value: "2"})
	}
	if l.where == atAgent || l.where == atColocated || probing {
		// Away from home the mobile must not answer ARP for its home
		// address (RFC 5944 section 4.6): arp_ignore 2 answers only
		// senders within the prefix of the address asked for, which
		// for a /32 is nobody.
		e = append(e, kernel.Sysctl{Name: "net/ipv4/conf/" + iface + "/arp_ignore", Value: "2"})
	}
	return e
}

// syncKernel ensures the wanted entries and removes those installed before
// and no longer wanted. A failure is logged and retried after kernelRetry.
//
// A tunnel no longer wanted (the co-located tunnel, once the mobile has
// moved to a foreign agent) stays while a request is outstanding: deleting
// a tunnel device takes the kernel, or the userspace data path, tens of
// milliseconds, during which the loop would not read the reply. The routes
// and rules into it go at once; the device goes at the first sync with no
// request outstanding.
func (l *Loop) syncKernel(now time.Time) {
	if !l.retryAt.IsZero() && now.Before(l.retryAt) {
		return
	}
	want := l.want()
	if l.retryAt.IsZero() && kernel.Render(want) == kernel.Render(l.installed) {
		return
	}
	keys := make(map[string]bool, len(want))
	for _, e := range want {
		keys[e.Key()] = true
	}
	var stale, kept []kernel.Entry
	for _, e := range l.installed {
		switch {
		case keys[e.Key()]:
		case e.Kind() == kernel.KindTunnel && l.pending != nil:
			kept = append(kept, e)
		default:
			stale = append(stale, e)
		}
	}
	err := l.n.k.Ensure(want...)
	if len(stale) > 0 {
		err = errors.Join(err, l.n.k.Remove(stale...))
	}
	if err != nil {
		// Logged once as an error while it repeats, at debug after.
		if msg := err.Error(); msg != l.kernelErr {
			l.kernelErr = msg
			l.log.Error("kernel change failed; retrying", "retry", kernelRetry, logging.KeyErr, err)
		} else {
			l.log.Debug("kernel change failed again", logging.KeyErr, err)
		}
		l.retryAt = now.Add(kernelRetry)
		l.installed = append(append(stale, kept...), want...)
		return
	}
	if l.kernelErr != "" {
		l.log.Info("kernel change succeeded after failing")
		l.kernelErr = ""
	}
	l.retryAt = time.Time{}
	l.installed = append(want, kept...)
}
