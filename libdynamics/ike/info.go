package ike

import (
	"fmt"
	"net/netip"

	"github.com/dynamics-go/dynamics/libdynamics/ike/mobikex"
	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// answerInformational answers an INFORMATIONAL request (RFC 7296 section
// 1.4): deletes, liveness checks (empty), and the MOBIKE notifications of
// RFC 4555.
func (sa *ikeSA) answerInformational(p packet, ps []ikev2.Payload) ([]ikev2.Payload, func()) {
	var resp []ikev2.Payload
	var after []func()
	var ourDeleted []uint32
	var mx *mxResponder
	if sa.version >= mobikex.VersionMOBIKEX {
		mx = &mxResponder{sa: sa, p: p}
	}
	var rest []ikev2.Payload // the payloads that are not MOBIKE-X's
	for _, q := range ps {
		if mx != nil && mx.feed(q) {
			continue
		}
		rest = append(rest, q)
		switch q := q.(type) {
		case *ikev2.Delete:
			switch q.Protocol {
			case ikev2.ProtocolIKE:
				sa.logger().Info("IKE SA deleted by the peer")
				after = append(after, func() { sa.close(nil) })
			case ikev2.ProtocolESP:
				for _, spi := range q.SPIs {
					c := sa.childByOut(spi)
					if c == nil {
						continue
					}
					// Answer with our inbound SPI of the pair, unless
					// we deleted it ourselves already (a collision).
					ourDeleted = append(ourDeleted, c.inSPI)
					sa.removeChild(c)
				}
			}
		case *ikev2.Notify:
			switch q.NotifyType {
			case ikev2.NotifyAuthenticationFailed:
				if sa.state != StateEstablished || sa.initiator {
					break
				}
				after = append(after, func() { sa.close(ErrAuthFailed) })
			case ikev2.NotifyCookie2:
				// A return routability check or address update: echo
				// the cookie (RFC 4555 section 3.5).
				resp = append(resp, ikev2.NewNotify(ikev2.NotifyCookie2, q.Data))
			case ikev2.NotifyMOBIKEUnsupportedVersion:
				sa.lowerVersion(q)
			}
		}
	}
	if len(ourDeleted) > 0 {
		resp = append(resp, &ikev2.Delete{Protocol: ikev2.ProtocolESP, SPIs: ourDeleted})
	}
	if mx != nil {
		fin := mx.end(rest)
		resp = append(resp, mx.resp...)
		after = append(after, fin)
	}
	if sa.mobility() {
		sa.readAddresses(rest)
		if ikev2.FindNotify(rest, ikev2.NotifyUpdateSAAddresses) != nil {
			r, a, err := sa.answerUpdate(p, rest)
			if err != nil {
				return []ikev2.Payload{ikev2.NewNotify(ikev2.NotifyUnexpectedNATDetected, nil)}, nil
			}
			resp = append(resp, r...)
			if a != nil {
				after = append(after, a)
			}
		}
	}
	return resp, func() {
		for _, f := range after {
			f()
		}
	}
}

// readAddresses records the peer's ADDITIONAL_IP4/6_ADDRESS list, or its
// absence (NO_ADDITIONAL_ADDRESSES) (RFC 4555 section 3.6).
func (sa *ikeSA) readAddresses(ps []ikev2.Payload) {
	var addrs []netip.Addr
	seen := false
	for _, q := range ps {
		n, ok := q.(*ikev2.Notify)
		if !ok {
			continue
		}
		switch n.NotifyType {
		case ikev2.NotifyAdditionalIP4Address, ikev2.NotifyAdditionalIP6Address:
			if a, ok := n.Addr(); ok {
				addrs = append(addrs, a)
			}
			seen = true
		case ikev2.NotifyNoAdditionalAddresses:
			seen = true
		}
	}
	if seen {
		sa.peerAddrs = addrs
	}
}

// deleteTask deletes the IKE SA (with its child SAs) on both sides.
func (sa *ikeSA) deleteTask(done func(error)) *task {
	return &task{name: "delete IKE SA", fail: done, start: func() error {
		sa.state = StateClosing
		finish := func(err error) {
			sa.close(nil)
			if done != nil {
				done(nil)
			}
		}
		return sa.sendRequest(ikev2.ExchangeInformational, []ikev2.Payload{&ikev2.Delete{Protocol: ikev2.ProtocolIKE}},
			func(packet, []ikev2.Payload) { finish(nil) }, finish)
	}}
}

// deleteChildTask deletes one child SA on both sides (RFC 7296 section
// 1.4.1).
func (sa *ikeSA) deleteChildTask(c *childSA, done func(error)) *task {
	return &task{name: "delete child SA", fail: done, start: func() error {
		if sa.childByIn(c.inSPI) != c {
			if done != nil {
				done(nil)
			}
			return nil
		}
		return sa.sendRequest(ikev2.ExchangeInformational, []ikev2.Payload{&ikev2.Delete{Protocol: ikev2.ProtocolESP, SPIs: []uint32{c.inSPI}}},
			func(packet, []ikev2.Payload) {
				sa.removeChild(c)
				if done != nil {
					done(nil)
				}
			}, done)
	}}
}

// deleteSPITask deletes, on the peer's side only, a child SA this side
// refused after the peer made it.
func (sa *ikeSA) deleteSPITask(inSPI uint32) *task {
	return &task{name: "delete refused child SA", start: func() error {
		return sa.sendRequest(ikev2.ExchangeInformational, []ikev2.Payload{&ikev2.Delete{Protocol: ikev2.ProtocolESP, SPIs: []uint32{inSPI}}},
			func(packet, []ikev2.Payload) {}, nil)
	}}
}

// livenessTask checks that the peer is alive with an empty INFORMATIONAL
// request (RFC 7296 section 1.4); no answer closes the SA.
func (sa *ikeSA) livenessTask(done func(error)) *task {
	return &task{name: "liveness check", fail: done, start: func() error {
		return sa.sendRequest(ikev2.ExchangeInformational, nil, func(packet, []ikev2.Payload) {
			if done != nil {
				done(nil)
			}
		}, done)
	}}
}

// info returns the SA's public view.
func (sa *ikeSA) info() SAInfo {
	i := SAInfo{
		State: sa.state, Initiator: sa.initiator, SPIi: sa.spiI, SPIr: sa.spiR, LocalSPI: sa.ourSPI(),
		Remote: sa.remote, Encap: sa.natt, NATLocal: sa.natLocal, NATRemote: sa.natRemote, MOBIKE: sa.mobility(), MOBIKEVersion: uint8(sa.version),
		PeerAddresses: append([]netip.Addr(nil), sa.peerAddrs...), Established: sa.established,
		Addresses: bestFirst(sa.remoteAlts),
	}
	if sa.sock != nil {
		i.Local = sa.sock.local
	}
	if sa.peer != nil {
		i.Peer = sa.peer.Name
	}
	if sa.keys != nil {
		i.Proposal = sa.prop.String()
	}
	for _, c := range sa.children {
		i.Children = append(i.Children, c.info())
	}
	return i
}

func (c *childSA) info() ChildInfo {
	return ChildInfo{
		InSPI: c.inSPI, OutSPI: c.outSPI, ReqID: c.reqid, Mode: c.mode, Proposal: c.prop.String(),
		LocalTS: append([]Selector(nil), c.localTS...), RemoteTS: append([]Selector(nil), c.remoteTS...),
		State: c.state, Installed: c.created, Local: c.local, Remote: c.remote, PeerAddresses: bestFirst(c.remoteAlts),
	}
}

// String renders the SA in one line for logs and the tool.
func (i SAInfo) String() string {
	return fmt.Sprintf("%s %s %s_i %s_r %s === %s %s children=%d", i.Peer, i.State, i.SPIi, i.SPIr, i.Local, i.Remote, i.Proposal, len(i.Children))
}
