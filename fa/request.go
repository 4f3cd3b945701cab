package fa

import (
	"net"
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// handle dispatches one event from a reader, once signalling protection
// has admitted it.
func (a *Agent) handle(ev event) {
	if !a.admit(ev) {
		return
	}
	switch ev.kind {
	case evRequest:
		a.handleRequest(ev)
	case evPoorRequest:
		d := a.downlink(ev)
		a.deny(d, ev.poor.home, ev.poor.ha, ev.poor.coa, ev.poor.id, mip.CodeFAPoorRequest, 0, "malformed request")
	case evSolicit:
		a.stats.Solicitations++
		a.log.Debug("agent solicitation", "src", ev.src.Addr(), logging.KeyIface, a.links[ev.link].Conn.Info().Name)
		a.advertise(ev.link)
	case evReply:
		a.handleReply(ev)
	case evRevocation:
		a.handleRevocation(ev)
	case evRevocationAck:
		a.handleRevocationAck(ev)
	}
}

// downlink is the way back to the sender of a frame, or of a request from
// a lower agent.
func (a *Agent) downlink(ev event) Downlink {
	if ev.link < 0 {
		return Downlink{Agent: ev.src, Addr: ev.src.Addr(), Port: ev.src.Port(), Local: a.localFor(ev.local), link: -1}
	}
	return Downlink{
		Iface:  a.links[ev.link].Conn.Info().Name,
		HWAddr: ev.hw,
		Addr:   ev.src.Addr(),
		Port:   ev.src.Port(),
		link:   ev.link,
	}
}

// localFor is the agent's address a lower agent reached it at: the
// datagram's destination when the socket tells it, else the socket's own
// address when bound to one, else the care-of address.
func (a *Agent) localFor(dst netip.Addr) netip.Addr {
	if unicast(dst) {
		return dst
	}
	if ua, ok := a.upstream.LocalAddr().(*net.UDPAddr); ok {
		if l := ua.AddrPort().Addr().Unmap(); unicast(l) {
			return l
		}
	}
	return a.careOf
}

// handleRequest applies the foreign agent's checks (RFC 5944 section
// 3.7.2.1, RFC 3024 section 3.3) to a request from a mobile or a lower
// agent and denies it, answers it as the switching agent of a local move,
// or relays it upward and records it as pending.
func (a *Agent) handleRequest(ev event) {
	req := ev.req
	a.stats.Requests++
	down := a.downlink(ev)
	a.log.Debug("registration request", logging.KeyHome, req.Home, logging.KeyHA, req.HomeAgent,
		logging.KeyCoA, req.CareOf, logging.KeyID, req.ID, logging.KeyIface, down.Iface,
		"flags", req.Flags.String(), "lifetime", req.Lifetime, "hwaddr", down.HWAddr.String(), "src", ev.src)
	if code, lifetime, why := a.check(req, down); code != mip.CodeAccepted {
		a.deny(down, req.Home, req.HomeAgent, req.CareOf, req.ID, code, lifetime, why)
		return
	}
	if a.cfg.Hierarchy() && a.answerLocally(req, down) {
		return
	}
	up := a.upward(req)
	payload, err := a.relayPayload(req, up)
	if err != nil {
		a.log.Error("cannot relay request", logging.KeyHome, req.Home, logging.KeyID, req.ID, logging.KeyErr, err)
		a.deny(down, req.Home, req.HomeAgent, req.CareOf, req.ID, mip.CodeFAUnspecified, 0, "relay failed")
		return
	}
	// A request held back by signalling protection is pending as one
	// lost on the way: the mobile's retry relays it again.
	a.addPending(req, down, up)
	if !a.ready(up, "registration request", req.Home) {
		return
	}
	if _, err := a.upstream.WriteTo(payload, net.UDPAddrFromAddrPort(netip.AddrPortFrom(up, 434))); err != nil {
		// The pending entry stays: its timeout answers the mobile.
		a.log.Warn("relaying request failed", logging.KeyHome, req.Home, logging.KeyHA, up, logging.KeyErr, err)
	}
	a.stats.Relayed++
	a.log.Info("registration request relayed", logging.KeyHome, req.Home, logging.KeyHA, req.HomeAgent,
		logging.KeyCoA, req.CareOf, logging.KeyID, req.ID, logging.KeyIface, down.Iface,
		"lifetime", req.Lifetime, "flags", req.Flags.String(), "from", down.String(), "to", up)
}

// check returns the code the agent denies req with, the lifetime to put in
// the denial, and why; CodeAccepted when the request may be relayed.
func (a *Agent) check(req *mip.Request, down Downlink) (mip.Code, uint16, string) {
	maxLife := a.maxLifetime()
	switch {
	case !unicast(req.Home):
		return mip.CodeFAPoorRequest, 0, "no usable home address (NAI registration is not supported)"
	case !unicast(req.HomeAgent):
		return mip.CodeFAPoorRequest, 0, "no usable home agent address (dynamic home agent discovery is not supported)"
	case !down.IsAgent() && len(down.HWAddr) != 6:
		return mip.CodeFAPoorRequest, 0, "sender has no Ethernet address"
	case !req.Flags.Has(mip.FlagDecapsulation) && req.CareOf != a.advCoA:
		return mip.CodeFAInvalidCareOf, 0, "care-of address is not the one advertised"
	case req.Flags&(mip.FlagMinimalEncapsulation|mip.FlagGRE) != 0:
		return mip.CodeFAEncapsulation, 0, "only IP-in-IP encapsulation is offered"
	case req.Flags.Has(mip.FlagReverseTunnel) && !a.cfg.ReverseTunnel:
		return mip.CodeFAReverseTunnel, 0, "reverse tunnelling is not offered"
	case req.Lifetime > maxLife:
		// RFC 5944 3.7.2.1: the denial carries the longest lifetime
		// the agent accepts.
		return mip.CodeFALifetimeTooLong, maxLife, "lifetime too long"
	case req.Lifetime != 0 && a.full(req.Home):
		return mip.CodeFAInsufficientResources, 0, "MaxVisitors reached"
	}
	return mip.CodeAccepted, 0, ""
}

// unicast reports whether addr can be a host's address.
func unicast(addr netip.Addr) bool {
	return addr.Is4() && !addr.IsUnspecified() && !addr.IsMulticast() && addr != link.LimitedBroadcastAddr
}

// maxLifetime is MaxLifetime in the wire's seconds.
func (a *Agent) maxLifetime() uint16 {
	s := a.cfg.MaxLifetime / time.Second
	if s >= time.Duration(mip.Infinite) {
		return mip.Infinite
	}
	return uint16(s)
}

// full reports whether a request from home would take the agent beyond
// MaxVisitors: home is neither a visitor nor pending, and visitors and
// mobiles with pending requests fill the list.
func (a *Agent) full(home netip.Addr) bool {
	if _, ok := a.visitors.Get(home); ok {
		return false
	}
	if _, ok := a.latest[home]; ok {
		return false
	}
	return a.load() >= a.cfg.MaxVisitors
}

// load counts the mobiles the agent serves or is registering.
func (a *Agent) load() int {
	n := a.visitors.Len()
	for home := range a.latest {
		if _, ok := a.visitors.Get(home); !ok {
			n++
		}
	}
	return n
}

// upward is where a request for this mobile is relayed: the upper foreign
// agent, or the home agent when there is none (a flat agent, the highest
// agent of a hierarchy).
func (a *Agent) upward(req *mip.Request) netip.Addr {
	if a.cfg.UpperFAIPAddress.IsValid() {
		return a.cfg.UpperFAIPAddress
	}
	return req.HomeAgent
}

// relayPayload is what the agent sends upward for req: the request as the
// mobile sent it up to and including the Mobile-Home authenticator (any
// extensions after it were meant for this agent), then in a hierarchy the
// FA Public Key extensions of the agents below and the agent's own; and,
// relaying to the home agent with which it shares a security association,
// the Revocation Support extension (RFC 3543) and the Foreign-Home
// authenticator.
func (a *Agent) relayPayload(req *mip.Request, up netip.Addr) ([]byte, error) {
	raw := req.Raw()
	end := len(raw)
	_, mh := req.Auth(mip.TypeMobileHome)
	if mh >= 0 {
		end = mip.RequestLen
		for i := 0; i <= mh; i++ {
			end += len(req.ExtensionBytes(i))
		}
	}
	out := append(make([]byte, 0, end+600), raw[:end]...)
	if a.cfg.Hierarchy() {
		if mh >= 0 {
			for i := mh + 1; i < len(req.Extensions); i++ {
				if mip.IsHierarchyExtension(req.Extensions[i]) {
					out = append(out, req.ExtensionBytes(i)...)
				}
			}
		}
		var err error
		if out, err = mip.AppendFAPublicKey(out, mip.FAPublicKey{Agent: a.careOf, DER: a.pubDER}); err != nil {
			return nil, err
		}
	}
	if up != req.HomeAgent {
		return out, nil
	}
	sa, ok := a.sas[up]
	if !ok {
		return out, nil
	}
	ts := mip.RevocationTimestamp(a.clock.Now())
	if int32(ts-a.lastRev) > 0 {
		a.lastRev = ts
	}
	rs := &mip.RevocationSupport{Timestamp: ts}
	out, _ = rs.AppendMarshal(out)
	return mip.AppendAuth(out, mip.TypeForeignHome, sa)
}

// addPending records a relayed request. A retransmission with the same
// identification keeps the first deadline.
func (a *Agent) addPending(req *mip.Request, down Downlink, up netip.Addr) {
	key := pendingKey{req.Home, uint32(req.ID)}
	p := &Pending{
		Home:     req.Home,
		ID:       req.ID,
		HA:       req.HomeAgent,
		CareOf:   req.CareOf,
		Flags:    req.Flags,
		Lifetime: req.Lifetime,
		Down:     down,
		Up:       up,
		Deadline: a.clock.Now().Add(a.cfg.PendingTimeout),
	}
	if old, ok := a.pending[key]; ok {
		p.Deadline = old.Deadline
	} else {
		a.pendingQ = append(a.pendingQ, pendingDeadline{key, p.Deadline})
	}
	a.pending[key] = p
	a.latest[req.Home] = key
}

// removePending forgets a pending request.
func (a *Agent) removePending(key pendingKey) {
	delete(a.pending, key)
	if a.latest[key.home] == key {
		delete(a.latest, key.home)
	}
}

// expirePending answers the requests whose reply did not come in time with
// code 78. A request superseded by a newer one from the same mobile is
// dropped silently: the mobile no longer waits for it.
func (a *Agent) expirePending(now time.Time) {
	n := 0
	for _, q := range a.pendingQ {
		if q.deadline.After(now) {
			break
		}
		n++
		p, ok := a.pending[q.key]
		if !ok || !p.Deadline.Equal(q.deadline) {
			continue
		}
		latest := a.latest[q.key.home] == q.key
		a.removePending(q.key)
		if latest {
			a.stats.Timeouts++
			a.deny(p.Down, p.Home, p.HA, p.CareOf, p.ID, mip.CodeFATimeout, 0, "no reply from "+p.Up.String())
		}
	}
	if n > 0 {
		a.pendingQ = a.pendingQ[n:]
		if len(a.pendingQ) == 0 {
			a.pendingQ = nil
		}
	}
}

// deny sends the mobile a Registration Reply with the agent's own code.
func (a *Agent) deny(d Downlink, home, ha, coa netip.Addr, id uint64, code mip.Code, lifetime uint16, why string) {
	a.stats.Denied[code]++
	a.log.Info("registration denied", logging.KeyHome, home, logging.KeyCoA, coa, logging.KeyHA, ha, logging.KeyID, id,
		logging.KeyCode, uint8(code), logging.KeyIface, d.Iface, "reason", why)
	r := &mip.Reply{Code: code, Lifetime: lifetime, Home: home, HomeAgent: ha, ID: id}
	b, err := r.Marshal()
	if err != nil {
		a.log.Error("cannot build denial", logging.KeyHome, home, logging.KeyErr, err)
		return
	}
	a.sendDown(d, home, b)
}

// sendDown sends a registration message down: to a lower agent over UDP
// (sendAgent), or to a mobile on its visitor link from the agent's address
// there and port 434, to the home address and the mobile's source port, by
// the mobile's hardware address, so the agent never ARPs for a home address
// on the foreign link.
func (a *Agent) sendDown(d Downlink, home netip.Addr, payload []byte) {
	if d.IsAgent() {
		if err := a.sendAgent(d, payload, "registration reply", home); err != nil {
			a.log.Warn("sending to lower agent failed", logging.KeyHome, home, logging.KeyFA, d.Agent.Addr(), logging.KeyErr, err)
		}
		return
	}
	l := a.links[d.link]
	dst := home
	if !unicast(dst) {
		dst = link.LimitedBroadcastAddr
	}
	hw := d.HWAddr
	if len(hw) == 0 {
		hw = link.Broadcast
	}
	port := d.Port
	if port == 0 {
		port = 434
	}
	if !a.readyFrame(dst, "registration reply", home) {
		return
	}
	pkt := link.AppendUDP(nil, netip.AddrPortFrom(l.Addr.Addr(), 434), netip.AddrPortFrom(dst, port), 64, payload)
	if err := l.Conn.WriteFrame(pkt, hw); err != nil {
		a.log.Warn("sending to mobile failed", logging.KeyHome, home, logging.KeyIface, d.Iface, logging.KeyErr, err)
	}
}

// sendAgent sends a registration message (what, about home) to the lower
// agent of d, from the address it sent to (d.Local) and port 434, so that
// it sees the message come from its upper agent. A message signalling
// protection holds back (ready) is not sent, and is no error.
func (a *Agent) sendAgent(d Downlink, payload []byte, what string, home netip.Addr) error {
	if !a.ready(d.Agent.Addr(), what, home) {
		return nil
	}
	if w, ok := a.upstream.(srcWriter); ok && d.Local.IsValid() {
		_, err := w.WriteToFrom(payload, d.Local, d.Agent)
		return err
	}
	_, err := a.upstream.WriteTo(payload, net.UDPAddrFromAddrPort(d.Agent))
	return err
}
