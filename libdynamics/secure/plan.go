package secure

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/ike"
)

// SignallingPort is Mobile IP's UDP port (RFC 5944 section 3.1): the
// traffic the child SAs carry.
const SignallingPort = 434

// protoUDP is UDP's IP protocol number.
const protoUDP = 17

// liveness is how long an IKE SA may stay silent before its peer is
// checked with an empty INFORMATIONAL (an unanswered check removes the SA,
// and this side brings it up again with the peers it initiates to).
const liveness = 30 * time.Second

// initiator is one peer this side brings SAs up with.
type initiator struct {
	// mu makes the attempts with the peer one at a time.
	mu   sync.Mutex
	addr netip.Addr
	name string // the ike.Peer's
	// nudge wakes the keeper: retry now.
	nudge chan struct{}
}

// poke asks the keeper to look now; it never blocks.
func (in *initiator) poke() {
	select {
	case in.nudge <- struct{}{}:
	default:
	}
}

// plan is what Open builds from the options: the engine's configuration,
// the peers to keep SAs up with, and the Initiate addresses no entry
// covers (left in clear; Open logs them).
type plan struct {
	ike        ike.Config
	initiators []*initiator
	uncovered  []netip.Addr
	entries    []netip.Prefix
}

// makePlan validates opts and turns every IPSEC entry into an ike.Peer
// with transport-mode child SAs whose selectors depend on the role:
//
//   - an entry this side initiates to (its address is in opts.Initiate):
//     local (the IKE SA's own address, UDP, any port), remote (the peer,
//     UDP, port 434); Address is the peer's port 500. The local selector
//     is left to the engine (the IKE address, narrowed to UDP by the
//     responder) so that an SA brought up again after a move names the
//     address the host has now.
//   - any other entry (this side responds): local (opts.Local and each
//     of opts.Addresses, UDP, port 434), remote (the entry's prefix, or anywhere for an entry inside
//     opts.Mobiles, UDP, any port).
//
// Peer.Addresses, where MOBIKE-X lets the peer move its SAs, is the
// entry's prefix, and anywhere for an entry inside opts.Mobiles.
func makePlan(opts Options, mode string) (plan, error) {
	var pl plan
	ic, err := opts.Config.credentials()
	if err != nil {
		return pl, err
	}
	if !opts.Local.Is4() {
		return pl, fmt.Errorf("%w: signalling address %v is not an IPv4 address", ErrConfig, opts.Local)
	}
	if ic.LocalID == "" {
		ic.LocalID = opts.Local.String()
	}
	ic.MOBIKE = true
	ic.MOBIKEX = opts.Config.IPsecMOBIKEX
	ic.ForceEncap = mode == ESPUserspace
	ic.Liveness = liveness

	// Each Initiate address goes to the most specific entry covering it,
	// which must be that single address.
	initFor := map[netip.Prefix]netip.Addr{}
	for _, a := range opts.Initiate {
		a = a.Unmap()
		best := -1
		for i, e := range opts.Config.Peers {
			p := e.Peer.Prefix()
			if p.Contains(a) && (best < 0 || p.Bits() > opts.Config.Peers[best].Peer.Prefix().Bits()) {
				best = i
			}
		}
		if best < 0 {
			pl.uncovered = append(pl.uncovered, a)
			continue
		}
		e := opts.Config.Peers[best]
		if !e.Peer.Prefix().IsSingleIP() {
			return pl, &ConfigError{Label: "IPSEC", Line: e.Line,
				Msg: fmt.Sprintf("this agent brings up the SAs with %s, which needs a line of its own (the single address) rather than the prefix %s", a, e.Peer)}
		}
		initFor[e.Peer.Prefix()] = a
	}
	local := []ike.Selector{hostSelector(opts.Local, SignallingPort)}
	for _, a := range opts.Addresses {
		a = a.Unmap()
		if !a.Is4() {
			return pl, fmt.Errorf("%w: signalling address %v is not an IPv4 address", ErrConfig, a)
		}
		if s := hostSelector(a, SignallingPort); !slices.Contains(local, s) {
			local = append(local, s)
		}
	}
	for _, e := range opts.Config.Peers {
		prefix := e.Peer.Prefix()
		p := ike.Peer{Name: e.Peer.String(), RemoteID: e.identity(), Mode: ike.ModeTransport}
		if k := e.key(); k != "" {
			p.PSK = []byte(k)
		}
		if a, ok := initFor[prefix]; ok {
			p.Address = netip.AddrPortFrom(a, 500)
			p.RemoteTS = []ike.Selector{hostSelector(a, SignallingPort)}
			p.Addresses = []netip.Prefix{prefix}
			pl.initiators = append(pl.initiators, &initiator{addr: a, name: p.Name, nudge: make(chan struct{}, 1)})
		} else {
			p.LocalTS = local
			// A mobile's SAs may move anywhere; another peer's stay in
			// its entry's prefix (MOBIKE-X refuses a move outside with
			// DOES_NOT_FIT_SPD).
			remote := prefix
			if isMobiles(opts.Mobiles, prefix) {
				remote = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
			} else {
				p.Addresses = []netip.Prefix{prefix}
			}
			s := ike.PrefixSelector(remote)
			s.Protocol = protoUDP
			p.RemoteTS = []ike.Selector{s}
		}
		ic.Peers = append(ic.Peers, p)
		pl.entries = append(pl.entries, prefix)
	}
	pl.ike = ic
	return pl, nil
}

// isMobiles reports whether the entry p lies inside the mobiles' prefix.
func isMobiles(mobiles, p netip.Prefix) bool {
	return mobiles.IsValid() && mobiles.Bits() <= p.Bits() && mobiles.Contains(p.Addr())
}

// hostSelector is one address, UDP, one port.
func hostSelector(a netip.Addr, port uint16) ike.Selector {
	return ike.Selector{Start: a, End: a, Protocol: protoUDP, StartPort: port, EndPort: port}
}
