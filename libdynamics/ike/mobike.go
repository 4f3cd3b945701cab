package ike

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
	"github.com/dynamics-go/dynamics/libdynamics/ikev2/ikecrypto"
)

// rrCheck is a return routability check (RFC 4555 section 3.7) the
// responder runs before moving the child SAs to the address an update came
// from.
type rrCheck struct {
	cookie []byte
	sock   *sock
	to     netip.AddrPort
}

// moveTask moves the IKE SA and its child SAs to the local address local
// (RFC 4555 section 3.5, initiator): a path probe (an empty INFORMATIONAL)
// from the new address, then UPDATE_SA_ADDRESSES with NAT detection and
// COOKIE2 from it. The SAs move when the update is answered.
func (sa *ikeSA) moveTask(local netip.Addr, done func(error)) *task {
	return &task{name: "MOBIKE update", fail: done, start: func() error {
		e := sa.e
		switch {
		case !sa.mobility():
			return ErrNoMOBIKE
		case !sa.initiator:
			return fmt.Errorf("%w: only the original initiator moves the SA (RFC 4555 section 3.1)", ErrNoMOBIKE)
		}
		s := e.sockFor(local, sa.natt)
		if s == nil {
			return fmt.Errorf("%w: %s (NAT-T %v)", ErrNoSocket, local, sa.natt)
		}
		fail := func(err error) {
			sa.logger().Warn("MOBIKE update failed", "local", local, "err", err)
			if done != nil {
				done(err)
			}
		}
		// Path probe from the new address.
		return sa.sendRequestVia(ikev2.ExchangeInformational, nil, s, sa.remote, true, func(packet, []ikev2.Payload) {
			sa.queue = append([]*task{{name: "MOBIKE update", fail: done, start: func() error {
				return sa.sendUpdate(s, done, fail)
			}}}, sa.queue...)
		}, fail)
	}}
}

// sendUpdate sends UPDATE_SA_ADDRESSES from s.
func (sa *ikeSA) sendUpdate(s *sock, done, fail func(error)) error {
	e := sa.e
	cookie, err := ikecrypto.NewCookie2()
	if err != nil {
		return err
	}
	ps := []ikev2.Payload{ikev2.NewNotify(ikev2.NotifyUpdateSAAddresses, nil)}
	ps = append(ps, sa.natdPayloads(sa.spiI, sa.spiR, s.local, sa.remote)...)
	ps = append(ps, ikev2.NewNotify(ikev2.NotifyCookie2, cookie))
	if e.cfg.NoNATs {
		ps = append(ps, ikev2.NewNotify(ikev2.NotifyNoNATsAllowed, noNATsData(s.local, sa.remote)))
	}
	ps = append(ps, sa.addressPayloads(s.local.Addr())...)
	return sa.sendRequestVia(ikev2.ExchangeInformational, ps, s, sa.remote, true, func(p packet, rs []ikev2.Payload) {
		if n := errorNotify(rs); n != nil {
			fail(notifyErr(n))
			return
		}
		c := ikev2.FindNotify(rs, ikev2.NotifyCookie2)
		if c == nil {
			fail(fmt.Errorf("%w: the update's answer lacks COOKIE2", ErrRefused))
			return
		}
		if err := ikecrypto.CheckCookie2(cookie, c.Data); err != nil {
			fail(fmt.Errorf("%w: %v", ErrRefused, err))
			return
		}
		old := sa.sock.local
		sa.sock = s
		sa.remote = p.from
		sa.detectNAT(rs, sa.spiI, sa.spiR, p.from, s.local)
		sa.moveChildren()
		sa.logger().Info("IKE SA moved", "from", old, "to", s.local)
		if done != nil {
			done(nil)
		}
	}, fail)
}

// addressPayloads lists this side's other addresses for the peer (RFC 4555
// section 3.6): ADDITIONAL_IP4/6_ADDRESS for every socket address but the
// one in use, or NO_ADDITIONAL_ADDRESSES.
func (sa *ikeSA) addressPayloads(current netip.Addr) []ikev2.Payload {
	var ps []ikev2.Payload
	seen := map[netip.Addr]bool{current: true}
	for _, s := range sa.e.socks {
		a := s.local.Addr()
		if s.done || seen[a] {
			continue
		}
		seen[a] = true
		ps = append(ps, ikev2.AdditionalAddress(a))
	}
	if len(ps) == 0 {
		return []ikev2.Payload{ikev2.NewNotify(ikev2.NotifyNoAdditionalAddresses, nil)}
	}
	return ps
}

// noNATsData is the data of NO_NATS_ALLOWED (RFC 4555 section 4.2.2):
// source address, destination address, source port, destination port, as
// the sender sent the packet.
func noNATsData(src, dst netip.AddrPort) []byte {
	b := append(src.Addr().AsSlice(), dst.Addr().AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port())
}

// answerUpdate handles UPDATE_SA_ADDRESSES (responder, RFC 4555 section
// 3.5): the IKE SA follows the request's source at once; the child SAs
// follow once a return routability check to the new address succeeds. A
// NO_NATS_ALLOWED that the addresses contradict is an error
// (UNEXPECTED_NAT_DETECTED).
func (sa *ikeSA) answerUpdate(p packet, ps []ikev2.Payload) ([]ikev2.Payload, func(), error) {
	if sa.initiator {
		// Only the original initiator sends updates.
		return nil, nil, nil
	}
	if n := ikev2.FindNotify(ps, ikev2.NotifyNoNATsAllowed); n != nil {
		if !bytes.Equal(n.Data, noNATsData(p.from, p.sock.local)) {
			sa.logger().Warn("MOBIKE update refused: NO_NATS_ALLOWED but a NAT changed the addresses", "from", p.from)
			return nil, nil, ErrNAT
		}
	}
	sa.detectNAT(ps, sa.spiI, sa.spiR, p.from, p.sock.local)
	resp := sa.natdPayloads(sa.spiI, sa.spiR, p.sock.local, p.from)
	moved := p.from != sa.remote || p.sock != sa.sock
	old := sa.remote
	sa.sock, sa.remote = p.sock, p.from
	sa.natt = p.sock.mux != nil
	sa.logger().Info("IKE SA address update", "from", old, "to", p.from)
	if !moved {
		return resp, func() { sa.moveChildren() }, nil
	}
	to := p.from
	return resp, func() {
		sa.enqueue(sa.rrTask(p.sock, to, func() {
			if sa.remote != to {
				return // moved again meanwhile; that update runs its own check
			}
			sa.moveChildren()
		}))
	}, nil
}

// rrTask checks that the peer answers at its new address before the child
// SAs move there (RFC 4555 section 3.7): ok runs when it does.
func (sa *ikeSA) rrTask(s *sock, to netip.AddrPort, ok func()) *task {
	return &task{name: "return routability check", start: func() error {
		cookie, err := ikecrypto.NewCookie2()
		if err != nil {
			return err
		}
		sa.rr = &rrCheck{cookie: cookie, sock: s, to: to}
		return sa.sendRequestVia(ikev2.ExchangeInformational, []ikev2.Payload{ikev2.NewNotify(ikev2.NotifyCookie2, cookie)}, s, to, true,
			func(p packet, rs []ikev2.Payload) {
				sa.rr = nil
				c := ikev2.FindNotify(rs, ikev2.NotifyCookie2)
				if c == nil || ikecrypto.CheckCookie2(cookie, c.Data) != nil {
					sa.logger().Warn("return routability check failed: COOKIE2 not echoed", "to", to)
					return
				}
				ok()
			}, func(err error) {
				sa.rr = nil
				sa.logger().Warn("return routability check failed", "to", to, "err", err)
			})
	}}
}

// moveChildren updates every child SA to the IKE SA's addresses.
func (sa *ikeSA) moveChildren() {
	for _, c := range sa.children {
		c.local, c.remote = sa.sock.local.Addr(), sa.remote.Addr()
		if err := sa.e.update(c); err != nil {
			sa.logger().Warn("child SA not moved", "in_spi", fmt.Sprintf("%08x", c.inSPI), "err", err)
		}
	}
	if sa.natt && sa.natLocal && sa.e.cfg.Keepalive > 0 {
		sa.keepaliveAt = sa.e.clock.Now().Add(sa.e.cfg.Keepalive)
	}
}
