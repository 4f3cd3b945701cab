package testbed

import "slices"

// Roles name the hosts of the bed; NS maps them to namespace names.
const (
	CN     = "cn"  // correspondent host
	RT     = "rt"  // the router joining every network
	HA     = "ha"  // home agent, on the home link
	FA1    = "fa1" // foreign agent serving 10.2.0.0/24
	FA2    = "fa2" // foreign agent serving 10.3.0.0/24
	GFA    = "gfa" // highest foreign agent (hierarchical bed only)
	MN     = "mn"  // mobile node
	Switch = "sw"  // holds the bridges of the shared links
)

// Addresses of the bed (docs/ARCHITECTURE.md, "Addresses of the testbed").
const (
	CNAddr           = "198.51.100.10"
	CNGateway        = "198.51.100.1"
	HomePrefix       = "10.1.0.0/24"
	HomeAddr         = "10.1.0.10" // the mobile's home address
	HAAddr           = "10.1.0.1"
	HomeGateway      = "10.1.0.254" // rt on the home link
	FA1Addr          = "10.0.1.2"   // fa1 upstream: its care-of address
	FA1Upper         = "10.0.1.1"   // rt (flat) or gfa (hierarchical) toward fa1
	FA2Addr          = "10.0.2.2"
	FA2Upper         = "10.0.2.1"
	FA1VisitorAddr   = "10.2.0.1"
	FA1VisitorPrefix = "10.2.0.0/24"
	FA2VisitorAddr   = "10.3.0.1"
	FA2VisitorPrefix = "10.3.0.0/24"
	GFAAddr          = "10.0.0.2" // gfa upstream (hierarchical bed)
	GFAUpper         = "10.0.0.1" // rt toward gfa
	ColocatedAddr    = "10.4.0.10"
	ColocatedPrefix  = "10.4.0.0/24"
	ColocatedGateway = "10.4.0.1" // rt on the link without an agent
	// SecondAddr is the address of the mobile's second interface
	// (Options.SecondInterface) on the link without an agent: not
	// ColocatedAddr, which the mobile takes on its roaming interface.
	SecondAddr = "10.4.0.11"
)

// Interface names inside the hosts.
const (
	CNIface         = "eth0"
	HAIface         = "eth0" // the home link
	FAUpstreamIface = "eth0" // fa1, fa2 and gfa toward rt
	FAVisitorIface  = "eth1" // fa1 and fa2 toward their visitor link
	MNIface         = "eth0"
	MNSecondIface   = "eth1" // the mobile's second interface (Options.SecondInterface)
)

// Where the mobile can be attached (Bed.Move).
const (
	AtHome      = "home"
	AtFA1       = "fa1"
	AtFA2       = "fa2"
	AtColocated = "colocated" // the link without an agent, 10.4.0.0/24
)

// bridges maps a place of the mobile to the bridge in the switch namespace.
var bridges = map[string]string{
	AtHome:      "br-home",
	AtFA1:       "br-fa1",
	AtFA2:       "br-fa2",
	AtColocated: "br-nofa",
}

// mnPort is the mobile's veth end in the switch namespace; mnSecondPort
// that of its second interface.
const (
	mnPort       = "mn"
	mnSecondPort = "mn2"
)

// link is one point-to-point veth pair, or (bridge set) a host's interface
// plugged into a bridge of the switch through a port named bDev.
type link struct {
	a, aDev, b, bDev string
	bridge           string
}

// addr is an interface address.
type addr struct{ role, dev, cidr string }

// route is one route added with `ip route add`.
type route struct {
	role string
	args []string
}

// plan is everything New builds, in order.
type plan struct {
	roles     []string // hosts, then the switch
	forwarder []string // hosts with ip_forward=1
	links     []link
	addrs     []addr
	routes    []route
}

func via(role, dst, gw string) route { return route{role, []string{dst, "via", gw}} }

// planFor returns the plan of the bed opts describe: the flat or the
// hierarchical topology, with the mobile's second interface when asked.
func planFor(opts Options) plan {
	p := topology(opts.Hierarchical)
	if opts.SecondInterface {
		p = p.withSecondInterface()
	}
	return p
}

// withSecondInterface adds the mobile's second interface: plugged into
// the bridge of the link without an agent, with SecondAddr/24 and so only
// that link's route, no default route through it.
func (p plan) withSecondInterface() plan {
	p.links = append(slices.Clone(p.links),
		link{a: MN, aDev: MNSecondIface, b: Switch, bDev: mnSecondPort, bridge: bridges[AtColocated]})
	p.addrs = append(slices.Clone(p.addrs), addr{MN, MNSecondIface, SecondAddr + "/24"})
	return p
}

// topology returns the plan of the flat or the hierarchical bed.
func topology(hier bool) plan {
	p := plan{
		roles:     []string{CN, RT, HA, FA1, FA2, MN, Switch},
		forwarder: []string{RT, HA, FA1, FA2},
		links: []link{
			{a: CN, aDev: CNIface, b: RT, bDev: "eth-cn"},
			{a: HA, aDev: HAIface, b: Switch, bDev: "ha", bridge: bridges[AtHome]},
			{a: RT, aDev: "eth-home", b: Switch, bDev: "rt-home", bridge: bridges[AtHome]},
			{a: RT, aDev: "eth-nofa", b: Switch, bDev: "rt-nofa", bridge: bridges[AtColocated]},
			{a: FA1, aDev: FAVisitorIface, b: Switch, bDev: "fa1", bridge: bridges[AtFA1]},
			{a: FA2, aDev: FAVisitorIface, b: Switch, bDev: "fa2", bridge: bridges[AtFA2]},
			{a: MN, aDev: MNIface, b: Switch, bDev: mnPort, bridge: bridges[AtHome]},
		},
		addrs: []addr{
			{CN, CNIface, CNAddr + "/24"},
			{RT, "eth-cn", CNGateway + "/24"},
			{RT, "eth-home", HomeGateway + "/24"},
			{RT, "eth-nofa", ColocatedGateway + "/24"},
			{HA, HAIface, HAAddr + "/24"},
			{FA1, FAUpstreamIface, FA1Addr + "/24"},
			{FA1, FAVisitorIface, FA1VisitorAddr + "/24"},
			{FA2, FAUpstreamIface, FA2Addr + "/24"},
			{FA2, FAVisitorIface, FA2VisitorAddr + "/24"},
			{MN, MNIface, HomeAddr + "/32"},
		},
		routes: []route{
			via(CN, "default", CNGateway),
			via(HA, "default", HomeGateway),
			via(FA1, "default", FA1Upper),
			via(FA2, "default", FA2Upper),
		},
	}
	if !hier {
		p.links = append(p.links,
			link{a: RT, aDev: "eth-fa1", b: FA1, bDev: FAUpstreamIface},
			link{a: RT, aDev: "eth-fa2", b: FA2, bDev: FAUpstreamIface},
		)
		p.addrs = append(p.addrs,
			addr{RT, "eth-fa1", FA1Upper + "/24"},
			addr{RT, "eth-fa2", FA2Upper + "/24"},
		)
		p.routes = append(p.routes,
			via(RT, FA1VisitorPrefix, FA1Addr),
			via(RT, FA2VisitorPrefix, FA2Addr),
		)
		return p
	}
	p.roles = []string{CN, RT, HA, GFA, FA1, FA2, MN, Switch}
	p.forwarder = append(p.forwarder, GFA)
	p.links = append(p.links,
		link{a: RT, aDev: "eth-gfa", b: GFA, bDev: FAUpstreamIface},
		link{a: GFA, aDev: "eth1", b: FA1, bDev: FAUpstreamIface},
		link{a: GFA, aDev: "eth2", b: FA2, bDev: FAUpstreamIface},
	)
	p.addrs = append(p.addrs,
		addr{RT, "eth-gfa", GFAUpper + "/24"},
		addr{GFA, FAUpstreamIface, GFAAddr + "/24"},
		addr{GFA, "eth1", FA1Upper + "/24"},
		addr{GFA, "eth2", FA2Upper + "/24"},
	)
	p.routes = append(p.routes,
		via(RT, "10.0.1.0/24", GFAAddr),
		via(RT, "10.0.2.0/24", GFAAddr),
		via(RT, FA1VisitorPrefix, GFAAddr),
		via(RT, FA2VisitorPrefix, GFAAddr),
		via(GFA, "default", GFAUpper),
		via(GFA, FA1VisitorPrefix, FA1Addr),
		via(GFA, FA2VisitorPrefix, FA2Addr),
	)
	return p
}
