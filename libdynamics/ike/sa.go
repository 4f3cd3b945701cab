package ike

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/ike/mobikex"
	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
	"github.com/dynamics-go/dynamics/libdynamics/ikev2/ikecrypto"
)

// ikeSA is one IKE SA, owned by the engine's loop.
type ikeSA struct {
	e     *Engine
	peer  *Peer
	state SAState
	// initiator: this side is the IKE SA's original initiator (RFC 7296
	// section 2.2; after an IKE rekey, the one that rekeyed), and sets the
	// I flag.
	initiator  bool
	spiI, spiR ikev2.SPI
	sock       *sock
	remote     netip.AddrPort
	// natt: IKE runs on the NAT-T socket (port 4500).
	natt bool
	// natLocal and natRemote: a NAT was detected in front of this side or
	// the peer (or faked by ForceEncap).
	natLocal, natRemote bool
	peerNATD            bool // the peer sent NAT detection payloads
	// version is the mobility version negotiated in IKE_AUTH (0 none, 1
	// MOBIKE, 2 MOBIKE-X); it only ever goes down afterwards.
	version mobikex.Version
	// offered are the versions this side offered (initiator).
	offered   []mobikex.Version
	peerAddrs []netip.Addr
	// peerID is the identity the peer authenticated with: MOBIKE-X
	// selector sets only reach SAs of the same identity.
	peerID *ikev2.ID
	// localAlts and remoteAlts are the addresses added to the IKE SA
	// with ADD_SA_ADDRESS (MOBIKE-X), this side's and the peer's,
	// besides the ones in use.
	localAlts, remoteAlts []altAddr

	suite  ikecrypto.Suite
	prop   Proposal
	keys   *ikecrypto.IKEKeys
	out    ikecrypto.Cipher
	in     ikecrypto.Cipher
	ni, nr []byte
	dh     *ikecrypto.DH
	// initReq and initResp are the IKE_SA_INIT messages as sent, for the
	// AUTH payloads.
	initReq, initResp []byte
	cookie            []byte
	hashes            []ikecrypto.HashAlgorithm // the peer's SIGNATURE_HASH_ALGORITHMS

	// Our requests: one outstanding (window size 1), the rest queued.
	nextID  uint32
	pending *request
	queue   []*task
	// The peer's requests: the next ID expected and the response to the
	// last one, for retransmissions.
	peerNext   uint32
	lastResp   []byte
	lastRespOK bool

	children []*childSA
	// child is the first child SA being negotiated in IKE_AUTH, or nil.
	child *childSA

	created     time.Time
	established time.Time
	lastHeard   time.Time
	deadline    time.Time // half-open timeout
	keepaliveAt time.Time
	rekeyAt     time.Time
	// rr is a MOBIKE return routability check in progress (responder).
	rr *rrCheck
	// waiters get the result of Initiate.
	waiters []func(result)
	// retries counts IKE_SA_INIT retries (COOKIE, INVALID_KE_PAYLOAD).
	retries int
	// closeErr is why the SA closed.
	closeErr error
	// rekeyedTo is the IKE SA that replaced this one.
	rekeyedTo *ikeSA
}

// result ends an operation waiting on the loop.
type result struct {
	info SAInfo
	err  error
}

// request is an exchange this side started.
type request struct {
	exch    ikev2.ExchangeType
	id      uint32
	raw     []byte
	sock    *sock
	to      netip.AddrPort
	tries   int
	wait    time.Duration
	next    time.Time
	onReply func(p packet, inner []ikev2.Payload)
	// onFail, when set, is told when the request gets no answer or the
	// SA closes before it does.
	onFail func(err error)
	// soft: no answer fails only the request (a MOBIKE probe or return
	// routability check over a path that may not work); otherwise the
	// peer is declared dead and the IKE SA closed.
	soft bool
}

// task is a request waiting for the window.
type task struct {
	name  string
	start func() error
	// fail, when set, is told when the SA closes before the task starts
	// or start fails.
	fail func(error)
}

func sortSAs(s []*ikeSA) {
	slices.SortFunc(s, func(a, b *ikeSA) int {
		x, y := a.ourSPI(), b.ourSPI()
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
}

// ourSPI is this side's SPI of the SA.
func (sa *ikeSA) ourSPI() ikev2.SPI {
	if sa.initiator {
		return sa.spiI
	}
	return sa.spiR
}

// theirSPI is the peer's SPI (zero until known).
func (sa *ikeSA) theirSPI() ikev2.SPI {
	if sa.initiator {
		return sa.spiR
	}
	return sa.spiI
}

// logger returns the engine's logger with the SA's identity.
func (sa *ikeSA) logger() *slog.Logger {
	name := ""
	if sa.peer != nil {
		name = sa.peer.Name
	}
	return sa.e.log.With("peer", name, "spi_i", sa.spiI, "spi_r", sa.spiR, "remote", sa.remote)
}

// header returns the header of a message of the SA.
func (sa *ikeSA) header(exch ikev2.ExchangeType, response bool, id uint32) ikev2.Header {
	var f ikev2.Flags
	if sa.initiator {
		f |= ikev2.FlagInitiator
	}
	if response {
		f |= ikev2.FlagResponse
	}
	return ikev2.Header{SPIi: sa.spiI, SPIr: sa.spiR, Exchange: exch, Flags: f, MessageID: id}
}

// seal builds an encrypted message: the header, and an SK payload holding
// ps (RFC 7296 section 3.14).
func (sa *ikeSA) seal(exch ikev2.ExchangeType, response bool, id uint32, ps []ikev2.Payload) ([]byte, error) {
	first, inner, err := ikev2.MarshalPayloads(ps)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		first = ikev2.PayloadNone
	}
	sk := &ikev2.SK{NextPayload: first, Data: make([]byte, sa.out.SealedLen(len(inner)))}
	m := &ikev2.Message{Header: sa.header(exch, response, id), Payloads: []ikev2.Payload{sk}}
	b, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	adLen := len(b) - len(sk.Data)
	body, err := sa.out.Seal(b[:adLen], inner)
	if err != nil {
		return nil, err
	}
	if len(body) != len(sk.Data) {
		return nil, fmt.Errorf("ike: sealed %d octets, expected %d", len(body), len(sk.Data))
	}
	copy(b[adLen:], body)
	return b, nil
}

// open checks and decrypts the SK payload of a received message and
// returns its inner payloads.
func (sa *ikeSA) open(p packet) ([]ikev2.Payload, error) {
	if sa.in == nil {
		return nil, errors.New("ike: no keys yet")
	}
	ps := p.msg.Payloads
	if len(ps) == 0 {
		return nil, errors.New("ike: no SK payload")
	}
	sk, ok := ps[len(ps)-1].(*ikev2.SK)
	if !ok {
		return nil, errors.New("ike: the last payload is not SK")
	}
	ad := p.raw[:len(p.raw)-len(sk.Data)]
	plain, err := sa.in.Open(ad, sk.Data)
	if err != nil {
		return nil, err
	}
	inner, err := ikev2.ParsePayloads(sk.NextPayload, plain)
	if err != nil {
		return nil, err
	}
	// Payloads before SK are outside the protection and ignored.
	return inner, nil
}

// enqueue queues a request; it starts when the window is free.
func (sa *ikeSA) enqueue(t *task) {
	sa.queue = append(sa.queue, t)
	sa.kick()
}

// kick starts the next queued request if none is outstanding.
func (sa *ikeSA) kick() {
	for sa.pending == nil && len(sa.queue) > 0 && (sa.state == StateEstablished) {
		t := sa.queue[0]
		sa.queue = sa.queue[1:]
		if err := t.start(); err != nil {
			sa.logger().Warn("IKE request not started", "request", t.name, "err", err)
			if t.fail != nil {
				t.fail(err)
			}
		}
	}
}

// sendRequest seals and sends a request of the SA and waits for the reply.
func (sa *ikeSA) sendRequest(exch ikev2.ExchangeType, ps []ikev2.Payload, onReply func(packet, []ikev2.Payload), onFail func(error)) error {
	return sa.sendRequestVia(exch, ps, sa.sock, sa.remote, false, onReply, onFail)
}

// sendRequestVia sends a request through s to to (MOBIKE sends from a new
// address before the SA has moved).
func (sa *ikeSA) sendRequestVia(exch ikev2.ExchangeType, ps []ikev2.Payload, s *sock, to netip.AddrPort, soft bool, onReply func(packet, []ikev2.Payload), onFail func(error)) error {
	if sa.pending != nil {
		return ErrBusy
	}
	id := sa.nextID
	b, err := sa.seal(exch, false, id, ps)
	if err != nil {
		return err
	}
	sa.nextID++
	if sa.e.tap != nil {
		sa.e.tap(true, sa.header(exch, false, id), ps)
	}
	sa.startRequest(&request{exch: exch, id: id, raw: b, sock: s, to: to, soft: soft, onReply: onReply, onFail: onFail})
	sa.logger().Debug("IKE request sent", "exchange", exch, "id", id, "payloads", ikev2.Summary(ps), "to", to)
	return nil
}

// startRequest sends r and arms its retransmission.
func (sa *ikeSA) startRequest(r *request) {
	r.wait = sa.e.cfg.Retransmit
	r.next = sa.e.clock.Now().Add(r.wait)
	sa.pending = r
	sa.e.send(r.sock, r.raw, r.to)
}

// handleResponse matches a response to the outstanding request.
func (sa *ikeSA) handleResponse(p packet) {
	r := sa.pending
	h := &p.msg.Header
	if r == nil || h.MessageID != r.id || h.Exchange != r.exch {
		sa.e.stats.OutOfWindow++
		sa.logger().Debug("IKE response not expected", "msg", p.msg.String())
		return
	}
	var inner []ikev2.Payload
	if h.Exchange == ikev2.ExchangeIKESAInit {
		inner = p.msg.Payloads
	} else {
		var err error
		if inner, err = sa.open(p); err != nil {
			sa.e.stats.Integrity++
			sa.logger().Debug("IKE response dropped", "msg", p.msg.String(), "err", err)
			return
		}
	}
	sa.lastHeard = sa.e.clock.Now()
	sa.pending = nil
	if sa.e.tap != nil {
		sa.e.tap(false, *h, inner)
	}
	sa.logger().Debug("IKE response received", "exchange", h.Exchange, "id", h.MessageID, "payloads", ikev2.Summary(inner), "from", p.from)
	r.onReply(p, inner)
	sa.kick()
}

// handleRequest answers a request of the peer: a new one in order, or the
// last one again from the cache.
func (sa *ikeSA) handleRequest(p packet) {
	h := &p.msg.Header
	if sa.state == StateClosed {
		return
	}
	switch {
	case h.MessageID+1 == sa.peerNext && sa.lastRespOK:
		// A retransmission: check it is genuine, then resend the
		// response unchanged (RFC 7296 section 2.1).
		if _, err := sa.open(p); err != nil {
			sa.e.stats.Integrity++
			return
		}
		sa.e.stats.CachedResponses++
		sa.logger().Debug("IKE request retransmitted, answered from the cache", "exchange", h.Exchange, "id", h.MessageID)
		sa.e.send(p.sock, sa.lastResp, p.from)
		return
	case h.MessageID != sa.peerNext:
		sa.e.stats.OutOfWindow++
		sa.logger().Debug("IKE request outside the window", "exchange", h.Exchange, "id", h.MessageID, "expected", sa.peerNext)
		return
	}
	inner, err := sa.open(p)
	if err != nil {
		sa.e.stats.Integrity++
		sa.logger().Debug("IKE request dropped", "msg", p.msg.String(), "err", err)
		return
	}
	sa.lastHeard = sa.e.clock.Now()
	if sa.e.tap != nil {
		sa.e.tap(false, *h, inner)
	}
	sa.logger().Debug("IKE request received", "exchange", h.Exchange, "id", h.MessageID, "payloads", ikev2.Summary(inner), "from", p.from)
	var resp []ikev2.Payload
	var after func()
	switch h.Exchange {
	case ikev2.ExchangeIKEAuth:
		resp, after = sa.answerAuth(p, inner)
	case ikev2.ExchangeCreateChildSA:
		resp, after = sa.answerCreateChild(p, inner)
	case ikev2.ExchangeInformational:
		resp, after = sa.answerInformational(p, inner)
	default:
		// An exchange we do not know: answer nothing but keep the
		// window moving would break the peer; RFC 7296 section 2.21.2
		// answers a known-SA request we cannot handle with
		// INVALID_SYNTAX only when it is malformed. Drop it.
		sa.logger().Debug("IKE request of an unknown exchange dropped", "exchange", h.Exchange)
		return
	}
	b, err := sa.seal(h.Exchange, true, h.MessageID, resp)
	if err != nil {
		sa.logger().Warn("IKE response not built", "exchange", h.Exchange, "err", err)
		return
	}
	if sa.e.tap != nil {
		sa.e.tap(true, sa.header(h.Exchange, true, h.MessageID), resp)
	}
	sa.peerNext = h.MessageID + 1
	sa.lastResp, sa.lastRespOK = b, true
	sa.e.send(p.sock, b, p.from)
	sa.logger().Debug("IKE response sent", "exchange", h.Exchange, "id", h.MessageID, "payloads", ikev2.Summary(resp), "to", p.from)
	if after != nil {
		after()
	}
	sa.kick()
}

// runDue runs the SA's timers.
func (sa *ikeSA) runDue(now time.Time) {
	if sa.state == StateClosed {
		return
	}
	if r := sa.pending; r != nil && !now.Before(r.next) {
		if r.tries >= sa.e.cfg.RetransmitTries {
			sa.pending = nil
			err := fmt.Errorf("%w: %s request %d unanswered after %d retransmissions", ErrPeerDead, r.exch, r.id, r.tries)
			if r.soft {
				if r.onFail != nil {
					r.onFail(err)
				}
				sa.kick()
				return
			}
			sa.logger().Warn("IKE SA peer dead", "exchange", r.exch, "id", r.id, "tries", r.tries)
			sa.pending = r // close tells it
			sa.close(err)
			return
		}
		r.tries++
		r.wait *= 2
		r.next = now.Add(r.wait)
		sa.e.stats.Retransmits++
		sa.logger().Debug("IKE request retransmitted", "exchange", r.exch, "id", r.id, "try", r.tries)
		sa.e.send(r.sock, r.raw, r.to)
	}
	if !sa.deadline.IsZero() && !now.Before(sa.deadline) && sa.state != StateEstablished {
		sa.logger().Info("IKE SA half-open too long, removed", "state", sa.state)
		sa.close(fmt.Errorf("%w: %s for %v", ErrPeerDead, sa.state, sa.e.cfg.HalfOpenTimeout))
		return
	}
	if sa.state != StateEstablished {
		return
	}
	if !sa.keepaliveAt.IsZero() && !now.Before(sa.keepaliveAt) {
		sa.sendKeepalive()
		sa.keepaliveAt = now.Add(sa.e.cfg.Keepalive)
	}
	if sa.e.cfg.Liveness > 0 && sa.pending == nil && len(sa.queue) == 0 && !now.Before(sa.lastHeard.Add(sa.e.cfg.Liveness)) {
		sa.lastHeard = now
		sa.enqueue(sa.livenessTask(nil))
	}
	if !sa.rekeyAt.IsZero() && !now.Before(sa.rekeyAt) {
		sa.rekeyAt = time.Time{}
		sa.enqueue(sa.rekeyIKETask(nil))
	}
	for _, c := range sa.children {
		if !c.rekeyAt.IsZero() && !now.Before(c.rekeyAt) && c.state == ChildInstalled {
			c.rekeyAt = time.Time{}
			sa.enqueue(sa.rekeyChildTask(c, nil))
		}
	}
}

// nextDeadline is the earliest instant runDue has work for the SA.
func (sa *ikeSA) nextDeadline() (time.Time, bool) {
	var next time.Time
	ok := false
	consider := func(t time.Time) {
		if !t.IsZero() && (!ok || t.Before(next)) {
			next, ok = t, true
		}
	}
	if sa.state == StateClosed {
		return next, false
	}
	if sa.pending != nil {
		consider(sa.pending.next)
	}
	if sa.state != StateEstablished {
		consider(sa.deadline)
		return next, ok
	}
	consider(sa.keepaliveAt)
	if sa.e.cfg.Liveness > 0 {
		consider(sa.lastHeard.Add(sa.e.cfg.Liveness))
	}
	consider(sa.rekeyAt)
	for _, c := range sa.children {
		if c.state == ChildInstalled {
			consider(c.rekeyAt)
		}
	}
	return next, ok
}

// sendKeepalive sends a NAT keepalive (RFC 3948 section 2.3).
func (sa *ikeSA) sendKeepalive() {
	if sa.sock == nil || sa.sock.mux == nil {
		return
	}
	if err := sa.sock.mux.SendKeepalive(sa.remote); err != nil {
		sa.logger().Debug("NAT keepalive not sent", "err", err)
	}
}

// close ends the SA: its child SAs are removed, waiters told, and it is
// forgotten.
func (sa *ikeSA) close(err error) {
	if sa.state == StateClosed {
		return
	}
	for _, c := range sa.children {
		sa.e.uninstall(c)
	}
	sa.children = nil
	sa.state = StateClosed
	sa.closeErr = err
	delete(sa.e.sas, sa.ourSPI())
	for k, v := range sa.e.halfOpen {
		if v == sa {
			delete(sa.e.halfOpen, k)
		}
	}
	if sa.pending != nil && sa.pending.onFail != nil {
		f := sa.pending.onFail
		sa.pending = nil
		f(fmt.Errorf("%w: %w", ErrClosed, err))
	}
	sa.pending = nil
	queue := sa.queue
	sa.queue = nil
	for _, t := range queue {
		if t.fail != nil {
			t.fail(fmt.Errorf("%w: %w", ErrClosed, err))
		}
	}
	sa.finish(err)
	sa.logger().Info("IKE SA closed", "reason", errString(err))
}

func errString(err error) string {
	if err == nil {
		return "deleted"
	}
	return err.Error()
}

// finish tells the Initiate waiters how the SA ended (err nil: it is
// established).
func (sa *ikeSA) finish(err error) {
	info := sa.info()
	if err == nil && sa.state == StateClosed {
		err = ErrClosed
	}
	for _, w := range sa.waiters {
		w(result{info: info, err: err})
	}
	sa.waiters = nil
}
