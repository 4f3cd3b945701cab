package ike

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/daemon"
	"github.com/dynamics-go/dynamics/libdynamics/esp"
	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
	"github.com/dynamics-go/dynamics/libdynamics/ikev2/ikecrypto"
)

// Clock tells the current instant; binding.ManualClock is one for tests.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Socket is one local UDP socket of the engine, bound to one address (not
// the unspecified one: NAT detection hashes the address) and port.
type Socket struct {
	// Conn carries IKE messages without any non-ESP marker: a plain UDP
	// socket (port 500), or the IKE view of Mux.
	Conn net.PacketConn
	// Mux, when set, is the port-4500 socket shared with ESP whose IKE
	// view Conn is (RFC 3948): IKE floats to it when a NAT is detected
	// or encapsulation forced, keepalives leave through it, and the child
	// SAs negotiated over it are UDP-encapsulated.
	Mux *esp.Mux
}

// Options are what an Engine runs with.
type Options struct {
	Config Config
	// Sockets are the engine's sockets: for each local address one on
	// port 500 and one NAT-T socket (a Mux) on port 4500.
	Sockets []Socket
	// ESP is where child SAs and their policies are installed; nil
	// negotiates them without installing anything. When it sends ESP
	// through the engine's Muxes (an esp.Userspace: it has AddMux and
	// RemoveMux), the engine gives it the Mux of every socket it gets, in
	// New and AddSocket, and takes back the Mux of a socket RemoveSocket
	// removes, so each child SA's ESP leaves from its IKE SA's address.
	ESP esp.Kernel
	// Clock, Logger and Rand default to the system's, slog.Default() and
	// crypto/rand (SPIs, nonces, cookies).
	Clock  Clock
	Logger *slog.Logger
	Rand   io.Reader
	// KeyLog, when set, receives one line per IKE SA with its SPIs and SK_e
	// and SK_a keys in the format of Wireshark's IKEv2 decryption table
	// (ikev2_decryption_table), so captures can be decrypted.
	KeyLog io.Writer
}

// Errors of the engine's operations.
var (
	ErrStopped      = errors.New("ike: engine stopped")
	ErrNoPeer       = errors.New("ike: no such peer")
	ErrNoSA         = errors.New("ike: no such IKE SA")
	ErrNoChild      = errors.New("ike: no such child SA")
	ErrNoSocket     = errors.New("ike: no socket for the address")
	ErrBusy         = errors.New("ike: an exchange of that kind is already running")
	ErrAuthFailed   = errors.New("ike: authentication failed")
	ErrNoProposal   = errors.New("ike: no proposal chosen")
	ErrTSUnaccepted = errors.New("ike: traffic selectors unacceptable")
	ErrPeerDead     = errors.New("ike: peer does not answer")
	ErrClosed       = errors.New("ike: IKE SA closed")
	ErrRefused      = errors.New("ike: refused by the peer")
	ErrNoMOBIKE     = errors.New("ike: MOBIKE not negotiated")
	ErrNAT          = errors.New("ike: unexpected NAT")
)

// Engine runs IKE SAs: one goroutine per socket reads and parses, and one
// loop owns every IKE SA, its timers and the ESP state.
type Engine struct {
	cfg    Config
	esp    esp.Kernel
	clock  Clock
	log    *slog.Logger
	rand   io.Reader
	keyLog io.Writer

	events  chan packet
	ops     *daemon.Ops[*State]
	stopped chan struct{}
	running sync.Once
	readers sync.WaitGroup
	ctx     context.Context

	// Owned by the loop.
	st       State
	socks    []*sock
	sas      map[ikev2.SPI]*ikeSA // by this side's SPI
	halfOpen map[initKey]*ikeSA   // responder SAs by the initiator's SPI and address
	inSPIs   map[uint32]*childSA  // child SAs by inbound ESP SPI
	cookies  *ikecrypto.Cookies
	nextReq  uint32 // ESP policy request ids
	setID    uint32 // MOBIKE-X selector set ids
	// tap, when set (tests), sees every IKE message's payloads in clear
	// as this engine sends or reads them.
	tap     func(out bool, h ikev2.Header, ps []ikev2.Payload)
	stats   Stats
	readErr chan error
}

// initKey finds a responder's IKE SA from a retransmitted IKE_SA_INIT.
type initKey struct {
	spi  ikev2.SPI
	from netip.AddrPort
}

// sock is one socket as the loop knows it.
type sock struct {
	conn  net.PacketConn
	mux   *esp.Mux
	local netip.AddrPort
	done  bool // removed (loop's view)
	// removed stops the socket's reader.
	removed atomic.Bool
}

// packet is a parsed datagram handed to the loop.
type packet struct {
	msg  *ikev2.Message
	raw  []byte
	from netip.AddrPort
	sock *sock
	err  error // parse error
}

// Stats are the engine's counters.
type Stats struct {
	Received, Sent, Retransmits uint64
	// Malformed: datagrams that did not parse; Integrity: SK payloads
	// whose ICV failed; UnknownSPI: messages for no IKE SA of ours;
	// OutOfWindow: requests and responses with a message ID not expected.
	Malformed, Integrity, UnknownSPI, OutOfWindow uint64
	// CachedResponses: retransmitted requests answered from the cache.
	CachedResponses uint64
	// CookiesSent: IKE_SA_INIT requests answered with a COOKIE.
	CookiesSent uint64
	// AuthFailures: IKE_AUTH exchanges that failed authentication.
	AuthFailures uint64
	// Established: IKE SAs established; Children: child SAs installed.
	Established, Children uint64
}

// New checks the options and returns an engine ready to Run.
func New(opts Options) (*Engine, error) {
	cfg, err := opts.Config.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:      cfg,
		esp:      opts.ESP,
		clock:    opts.Clock,
		log:      opts.Logger,
		rand:     opts.Rand,
		keyLog:   opts.KeyLog,
		events:   make(chan packet, 256),
		stopped:  make(chan struct{}),
		sas:      make(map[ikev2.SPI]*ikeSA),
		halfOpen: make(map[initKey]*ikeSA),
		inSPIs:   make(map[uint32]*childSA),
		readErr:  make(chan error, 16),
	}
	e.st.e = e
	e.ops = daemon.NewOps[*State](e.stopped, ErrStopped)
	if e.clock == nil {
		e.clock = systemClock{}
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.rand == nil {
		e.rand = rand.Reader
	}
	if e.cookies, err = ikecrypto.NewCookies(); err != nil {
		return nil, err
	}
	for _, s := range opts.Sockets {
		sk, err := newSock(s)
		if err != nil {
			return nil, err
		}
		if err := e.addMux(sk); err != nil {
			return nil, err
		}
		e.socks = append(e.socks, sk)
	}
	return e, nil
}

// muxUser is an esp.Kernel whose data path sends and receives ESP through
// the engine's Muxes (esp.Userspace).
type muxUser interface {
	AddMux(*esp.Mux) error
	RemoveMux(*esp.Mux)
}

// addMux gives the ESP data path the Mux of a socket the engine gets; one
// it already has (the Mux it was built with) is fine.
func (e *Engine) addMux(s *sock) error {
	mu, ok := e.esp.(muxUser)
	if !ok || s.mux == nil {
		return nil
	}
	if err := mu.AddMux(s.mux); err != nil && !errors.Is(err, esp.ErrExists) {
		return fmt.Errorf("ike: ESP through the socket on %s: %w", s.local, err)
	}
	return nil
}

// removeMux takes back the Mux of a socket the engine stops using.
func (e *Engine) removeMux(s *sock) {
	if mu, ok := e.esp.(muxUser); ok && s.mux != nil {
		mu.RemoveMux(s.mux)
	}
}

func newSock(s Socket) (*sock, error) {
	if s.Conn == nil {
		return nil, fmt.Errorf("%w: a socket without a connection", ErrConfig)
	}
	ua, ok := s.Conn.LocalAddr().(*net.UDPAddr)
	if !ok {
		return nil, fmt.Errorf("%w: socket address %v is not UDP", ErrConfig, s.Conn.LocalAddr())
	}
	ap := ua.AddrPort()
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	if ap.Addr().IsUnspecified() || !ap.Addr().IsValid() {
		return nil, fmt.Errorf("%w: socket bound to %v: bind each socket to one address", ErrConfig, ap)
	}
	return &sock{conn: s.Conn, mux: s.Mux, local: ap}, nil
}

// Run serves until ctx ends or a socket fails. On return every child SA it
// installed has been removed. Run closes no socket; call it once.
func (e *Engine) Run(ctx context.Context) error {
	first := false
	e.running.Do(func() { first = true })
	if !first {
		return errors.New("ike: Run called twice")
	}
	defer close(e.stopped)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.ctx = ctx
	for _, s := range e.socks {
		e.startReader(s)
	}
	e.log.Info("IKE engine running", "sockets", len(e.socks), "peers", len(e.cfg.Peers), "esp", e.espName())
	err := e.loop(ctx)
	e.teardown()
	cancel()
	for _, s := range e.socks {
		_ = s.conn.SetReadDeadline(time.Unix(1, 0))
	}
	e.readers.Wait()
	return err
}

func (e *Engine) espName() string {
	if e.esp == nil {
		return "none"
	}
	return e.esp.Name()
}

// startReader reads s until the engine stops or s is removed. Each
// datagram is parsed here and handed to the loop.
func (e *Engine) startReader(s *sock) {
	e.readers.Go(func() {
		buf := make([]byte, 1<<16)
		for {
			n, addr, err := s.conn.ReadFrom(buf)
			if e.ctx.Err() != nil || s.removed.Load() {
				return
			}
			if err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					continue
				}
				if !errors.Is(err, net.ErrClosed) {
					select {
					case e.readErr <- fmt.Errorf("ike: socket %s: %w", s.local, err):
					default:
					}
				}
				return
			}
			ua, ok := addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			src := ua.AddrPort()
			src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
			raw := append([]byte(nil), buf[:n]...)
			m, perr := ikev2.Parse(raw)
			select {
			case e.events <- packet{msg: m, raw: raw, from: src, sock: s, err: perr}:
			case <-e.ctx.Done():
				return
			}
		}
	})
}

// loop is the engine's event loop.
func (e *Engine) loop(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		e.runDue()
		if next, ok := e.nextDeadline(); ok {
			timer.Reset(max(next.Sub(e.clock.Now()), time.Millisecond))
		} else {
			timer.Reset(time.Hour)
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-e.readErr:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case p := <-e.events:
			e.runDue()
			e.handlePacket(p)
		case o := <-e.ops.C():
			e.runDue()
			o.Call(&e.st)
			o.Done()
		case <-timer.C:
		}
	}
}

// Do runs fn in the engine's loop and waits for it; due timers run first,
// so a test that advanced a manual clock sees their effects. A nil fn only
// runs the timers.
func (e *Engine) Do(ctx context.Context, fn func(*State)) error { return e.ops.Do(ctx, fn) }

// teardown removes every child SA when the engine stops. IKE SAs are not
// deleted on the wire: the peer notices by liveness checks.
func (e *Engine) teardown() {
	for _, sa := range e.sasList() {
		for _, c := range sa.children {
			e.uninstall(c)
		}
		sa.children = nil
		sa.finish(ErrStopped)
	}
}

// runDue does what the clock made due: retransmissions, half-open
// timeouts, keepalives, liveness checks, rekeys.
func (e *Engine) runDue() {
	now := e.clock.Now()
	for _, sa := range e.sasList() {
		sa.runDue(now)
	}
}

// nextDeadline is the earliest instant runDue has work.
func (e *Engine) nextDeadline() (time.Time, bool) {
	var next time.Time
	ok := false
	for _, sa := range e.sas {
		if t, has := sa.nextDeadline(); has && (!ok || t.Before(next)) {
			next, ok = t, true
		}
	}
	return next, ok
}

// sasList returns the IKE SAs in a stable order (by SPI), so a loop over
// them may change the map.
func (e *Engine) sasList() []*ikeSA {
	out := make([]*ikeSA, 0, len(e.sas))
	for _, sa := range e.sas {
		out = append(out, sa)
	}
	sortSAs(out)
	return out
}

// handlePacket dispatches one datagram to its IKE SA.
func (e *Engine) handlePacket(p packet) {
	e.stats.Received++
	if p.err != nil {
		e.stats.Malformed++
		e.log.Debug("IKE message dropped", "from", p.from, "err", p.err)
		e.answerMalformed(p)
		return
	}
	h := &p.msg.Header
	if h.Exchange == ikev2.ExchangeIKESAInit && !h.IsResponse() {
		e.initRequest(p)
		return
	}
	ours, theirs := h.SPIi, h.SPIr
	if h.Flags.Initiator() {
		ours, theirs = h.SPIr, h.SPIi
	}
	sa := e.sas[ours]
	if sa == nil || sa.initiator == h.Flags.Initiator() || (sa.theirSPI() != 0 && sa.theirSPI() != theirs) {
		// An IKE_SA_INIT response names our SPI as SPIi and the
		// responder's new one.
		if sa != nil && h.Exchange == ikev2.ExchangeIKESAInit && h.IsResponse() && sa.state == StateInitSent && sa.initiator {
			sa.handleResponse(p)
			return
		}
		e.stats.UnknownSPI++
		e.log.Debug("IKE message for no IKE SA", "from", p.from, "msg", p.msg.String(), "spi_i", h.SPIi, "spi_r", h.SPIr)
		return
	}
	if h.IsResponse() {
		sa.handleResponse(p)
	} else {
		sa.handleRequest(p)
	}
}

// answerMalformed answers an IKE_SA_INIT request that failed to parse for
// a reason the RFC answers (an unsupported critical payload, a major
// version above 2) with the notification, unauthenticated and without
// state (RFC 7296 section 2.21.1). Everything else is dropped.
func (e *Engine) answerMalformed(p packet) {
	h, err := ikev2.ParseHeader(p.raw)
	if h == nil || h.IsResponse() || h.Exchange != ikev2.ExchangeIKESAInit || h.SPIr != 0 || h.SPIi == 0 {
		return
	}
	_ = err
	n := ikev2.ErrorNotify(p.err)
	if n == nil || n.NotifyType == ikev2.NotifyInvalidSyntax {
		return
	}
	m := &ikev2.Message{Header: ikev2.Header{SPIi: h.SPIi, Exchange: ikev2.ExchangeIKESAInit, Flags: ikev2.FlagResponse, MessageID: h.MessageID}, Payloads: []ikev2.Payload{n}}
	b, err := m.Marshal()
	if err == nil {
		e.send(p.sock, b, p.from)
	}
}

// send writes one datagram; failures are logged, as a lost datagram would
// be retransmitted anyway.
func (e *Engine) send(s *sock, b []byte, to netip.AddrPort) {
	if s == nil || s.done {
		e.log.Debug("IKE message not sent: no socket", "to", to)
		return
	}
	if _, err := s.conn.WriteTo(b, net.UDPAddrFromAddrPort(to)); err != nil {
		e.log.Debug("IKE message not sent", "from", s.local, "to", to, "err", err)
		return
	}
	e.stats.Sent++
}

// sockFor returns the socket bound to local on port 500 (natt false) or
// the NAT-T socket on local (natt true).
func (e *Engine) sockFor(local netip.Addr, natt bool) *sock {
	for _, s := range e.socks {
		if !s.done && s.local.Addr() == local && (s.mux != nil) == natt {
			return s
		}
	}
	return nil
}

// sockTo picks a local address to reach remote from: the socket whose
// address is in the same family, preferring one on the same /24 or /64,
// then the first.
func (e *Engine) sockTo(remote netip.Addr, natt bool) *sock {
	var first *sock
	for _, s := range e.socks {
		if s.done || (s.mux != nil) != natt || s.local.Addr().Is4() != remote.Is4() {
			continue
		}
		bits := 24
		if remote.Is6() {
			bits = 64
		}
		if p, err := remote.Prefix(bits); err == nil && p.Contains(s.local.Addr()) {
			return s
		}
		if first == nil {
			first = s
		}
	}
	return first
}

// randomBytes reads n random bytes.
func (e *Engine) randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(e.rand, b); err != nil {
		return nil, fmt.Errorf("ike: random: %w", err)
	}
	return b, nil
}

// newIKESPI returns an unused non-zero IKE SPI.
func (e *Engine) newIKESPI() (ikev2.SPI, error) {
	for {
		b, err := e.randomBytes(8)
		if err != nil {
			return 0, err
		}
		spi := ikev2.SPI(binary.BigEndian.Uint64(b))
		if spi != 0 && e.sas[spi] == nil {
			return spi, nil
		}
	}
}

// newESPSPI returns an unused inbound ESP SPI of at least esp.MinSPI.
func (e *Engine) newESPSPI() (uint32, error) {
	for {
		b, err := e.randomBytes(4)
		if err != nil {
			return 0, err
		}
		spi := binary.BigEndian.Uint32(b)
		if spi >= esp.MinSPI && e.inSPIs[spi] == nil {
			return spi, nil
		}
	}
}

// peerByName finds a configured peer.
func (e *Engine) peerByName(name string) *Peer {
	for i := range e.cfg.Peers {
		if e.cfg.Peers[i].Name == name {
			return &e.cfg.Peers[i]
		}
	}
	return nil
}

// peerByID finds the peer whose RemoteID is id, or the one accepting any
// identity.
func (e *Engine) peerByID(id *ikev2.ID) *Peer {
	var wild *Peer
	for i := range e.cfg.Peers {
		p := &e.cfg.Peers[i]
		if p.RemoteID == "" {
			wild = p
			continue
		}
		if want, err := ParseIdentity(p.RemoteID); err == nil && sameID(id, want) {
			return p
		}
	}
	return wild
}

// psk returns the pre-shared key for peer.
func (e *Engine) psk(p *Peer) []byte {
	if p != nil && len(p.PSK) > 0 {
		return p.PSK
	}
	return e.cfg.PSK
}
