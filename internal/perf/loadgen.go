package perf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"golang.org/x/net/ipv4"
)

// LoadOptions configure one run of the load generator.
type LoadOptions struct {
	Fleet *Fleet
	// Conn is the generator's UDP socket; a *net.UDPConn is read and
	// written in batches (recvmmsg, sendmmsg), anything else one datagram
	// at a time.
	Conn net.PacketConn
	// Target is where requests go: the home agent's port 434, or the echo
	// server.
	Target netip.AddrPort
	// Window is how many requests may be outstanding (default 256, at most
	// one per mobile).
	Window int
	// Batch is how many datagrams one system call moves (default 64).
	Batch int
	// Lifetime is the registration lifetime asked for (default 600 s).
	Lifetime uint16
	// Echo says the target sends each request back unchanged: the
	// generator checks the echoed request's authenticator and
	// identification as it would a reply's.
	Echo bool
	// Timeout is how long a request may go unanswered before it counts as
	// lost and its mobile may send again (default 1 s).
	Timeout time.Duration
	// Once sends one request per mobile and stops: each mobile's first
	// registration when the home agent has no binding yet. Otherwise the
	// run sends for Duration, round robin over the mobiles.
	Once     bool
	Duration time.Duration
}

func (o LoadOptions) withDefaults() LoadOptions {
	if o.Window <= 0 {
		o.Window = 256
	}
	o.Window = min(o.Window, o.Fleet.Len())
	if o.Batch <= 0 {
		o.Batch = 64
	}
	o.Batch = min(o.Batch, o.Window)
	if o.Lifetime == 0 {
		o.Lifetime = 600
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	return o
}

// LoadResult is what a run measured.
type LoadResult struct {
	Sent     uint64 // requests sent
	Accepted uint64 // answered with a valid reply accepting the registration (or a valid echo)
	Errors   uint64 // answered with anything else: see ErrorKinds
	Lost     uint64 // not answered within the timeout
	// ErrorKinds counts errors by kind: "malformed", "unknown home",
	// "authenticator", "denied <code>", "identification".
	ErrorKinds map[string]uint64
	FirstError string
	Elapsed    time.Duration
	// Rate is accepted requests per second of Elapsed.
	Rate float64
	// P50 and P99 are the round trips of accepted requests.
	P50, P99 time.Duration

	rtts []time.Duration // every accepted request's, sorted
}

// Combine adds up runs of the same kind (rounds of an alternation): the
// counts, the elapsed times, the rate over the whole, and the percentiles
// of all the round trips.
func Combine(rs ...LoadResult) LoadResult {
	var c LoadResult
	c.ErrorKinds = map[string]uint64{}
	for _, r := range rs {
		c.Sent += r.Sent
		c.Accepted += r.Accepted
		c.Errors += r.Errors
		c.Lost += r.Lost
		for k, v := range r.ErrorKinds {
			c.ErrorKinds[k] += v
		}
		if c.FirstError == "" {
			c.FirstError = r.FirstError
		}
		c.Elapsed += r.Elapsed
		c.rtts = append(c.rtts, r.rtts...)
	}
	if c.Elapsed > 0 {
		c.Rate = float64(c.Accepted) / c.Elapsed.Seconds()
	}
	c.P50, c.P99 = percentile(c.rtts, 0.50), percentile(c.rtts, 0.99)
	return c
}

// Alternate runs a and b in turns of Round each until each has run for
// its Duration, and returns each one's combined result. On a machine
// whose load changes while it runs (other work sharing the cores), both
// see the same load, so their ratio holds better than that of two runs one
// after the other.
func Alternate(ctx context.Context, a, b LoadOptions) (LoadResult, LoadResult, error) {
	rounds := max(int(a.Duration/Round), 1)
	ra, rb := make([]LoadResult, 0, rounds), make([]LoadResult, 0, rounds)
	for i := range rounds {
		for _, x := range []struct {
			o   LoadOptions
			out *[]LoadResult
		}{{a, &ra}, {b, &rb}} {
			o := x.o
			o.Duration = min(Round, a.Duration-time.Duration(i)*Round)
			if o.Duration <= 0 {
				continue
			}
			r, err := RunLoad(ctx, o)
			if err != nil {
				return Combine(ra...), Combine(rb...), err
			}
			*x.out = append(*x.out, r)
		}
	}
	return Combine(ra...), Combine(rb...), nil
}

// Round is the length of one turn of Alternate.
const Round = time.Second

// String summarises the result in one line.
func (r LoadResult) String() string {
	s := fmt.Sprintf("%d sent, %d accepted, %d errors, %d lost in %v: %.0f/s, p50 %v, p99 %v",
		r.Sent, r.Accepted, r.Errors, r.Lost, r.Elapsed.Round(time.Millisecond), r.Rate, r.P50, r.P99)
	if r.FirstError != "" {
		s += "; first error: " + r.FirstError
	}
	return s
}

// loadRun is the state of one run, shared by the sender and the receiver.
type loadRun struct {
	opts  LoadOptions
	start time.Time
	slots []loadSlot
	// credits holds one token per request that may be sent.
	credits chan struct{}
	// outstanding counts requests sent and not yet answered or lost.
	outstanding atomic.Int64

	sent, accepted, lost atomic.Uint64
	lastAt               atomic.Int64 // when the last accepted reply came, since the start

	mu         sync.Mutex // guards what follows, written by the receiver
	errs       map[string]uint64
	nerrs      uint64
	firstError string
	rtts       []time.Duration
}

// loadSlot is one mobile's outstanding request: its identification (0 when
// none) and when it was sent (nanoseconds since the start).
type loadSlot struct {
	id   atomic.Uint64
	sent atomic.Int64
}

// RunLoad runs the generator until ctx ends, every mobile has been
// registered once (Once) or Duration has passed, then waits up to Timeout
// for the requests still outstanding.
func RunLoad(ctx context.Context, opts LoadOptions) (LoadResult, error) {
	if opts.Fleet == nil || opts.Conn == nil || !opts.Target.IsValid() {
		return LoadResult{}, errors.New("load: fleet, socket and target are required")
	}
	if !opts.Once && opts.Duration <= 0 {
		return LoadResult{}, errors.New("load: no duration")
	}
	opts = opts.withDefaults()
	r := &loadRun{
		opts:    opts,
		slots:   make([]loadSlot, opts.Fleet.Len()),
		credits: make(chan struct{}, opts.Window),
		errs:    make(map[string]uint64),
	}
	for range opts.Window {
		r.credits <- struct{}{}
	}
	if opts.Once {
		r.rtts = make([]time.Duration, 0, opts.Fleet.Len())
	} else {
		r.rtts = make([]time.Duration, 0, 1<<16)
	}
	rw := newBatchConn(opts.Conn, opts.Batch)
	r.start = time.Now()

	recvDone := make(chan error, 1)
	stopRecv := make(chan struct{})
	go func() { recvDone <- r.receive(rw, stopRecv) }()
	sendErr := r.send(ctx, rw)

	// Wait for the stragglers, then stop the receiver.
	deadline := time.Now().Add(opts.Timeout)
	for r.outstanding.Load() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(r.start)
	close(stopRecv)
	_ = opts.Conn.SetReadDeadline(time.Now())
	recvErr := <-recvDone
	_ = opts.Conn.SetReadDeadline(time.Time{})
	r.lost.Add(uint64(max(r.outstanding.Load(), 0)))

	r.mu.Lock()
	defer r.mu.Unlock()
	res := LoadResult{
		Sent:       r.sent.Load(),
		Accepted:   r.accepted.Load(),
		Errors:     r.nerrs,
		Lost:       r.lost.Load(),
		ErrorKinds: r.errs,
		FirstError: r.firstError,
		Elapsed:    elapsed,
	}
	// The run ends with its last accepted reply, not with the wait for
	// lost ones.
	if last := r.lastReply(); last > 0 {
		res.Elapsed = last
	}
	if res.Elapsed > 0 {
		res.Rate = float64(res.Accepted) / res.Elapsed.Seconds()
	}
	res.P50, res.P99 = percentile(r.rtts, 0.50), percentile(r.rtts, 0.99)
	res.rtts = r.rtts
	return res, errors.Join(sendErr, recvErr)
}

// lastReply is when the last accepted reply arrived, since the start.
func (r *loadRun) lastReply() time.Duration { return time.Duration(r.lastAt.Load()) }

// send sends requests while credits allow.
func (r *loadRun) send(ctx context.Context, rw *batchConn) error {
	o := r.opts
	n := o.Fleet.Len()
	var end time.Time
	if !o.Once {
		end = r.start.Add(o.Duration)
	}
	next := 0      // the next mobile, round robin
	remaining := n // Once: mobiles not yet sent
	sweep := time.NewTicker(max(o.Timeout/4, time.Millisecond))
	defer sweep.Stop()
	bufs := make([][]byte, o.Batch)
	for i := range bufs {
		bufs[i] = make([]byte, 0, requestLen)
	}
	for {
		if o.Once && remaining == 0 {
			return nil
		}
		if !o.Once && !time.Now().Before(end) {
			return nil
		}
		// One credit, waiting; then as many more as there are, up to a batch.
		got := 0
		select {
		case <-ctx.Done():
			return nil
		case <-r.credits:
			got = 1
		case <-sweep.C:
			r.expire()
			continue
		}
	more:
		for got < o.Batch && (!o.Once || got < remaining) {
			select {
			case <-r.credits:
				got++
			default:
				break more
			}
		}
		k := 0
		now := time.Now()
		for tries := 0; k < got && tries < n; tries++ {
			i := next
			next = (next + 1) % n
			s := &r.slots[i]
			if s.id.Load() != 0 {
				continue // still waiting for its reply
			}
			id := mip.TimestampID(now)
			s.sent.Store(int64(now.Sub(r.start)))
			s.id.Store(id)
			bufs[k] = o.Fleet.AppendRequest(bufs[k][:0], i, o.Lifetime, id)
			k++
		}
		for ; got > k; got-- {
			r.credits <- struct{}{} // every mobile is busy
		}
		if k == 0 {
			continue
		}
		r.outstanding.Add(int64(k))
		if o.Once {
			remaining -= k
		}
		if err := rw.writeTo(bufs[:k], o.Target); err != nil {
			return fmt.Errorf("load: send: %w", err)
		}
		r.sent.Add(uint64(k))
	}
}

// expire counts the requests outstanding for longer than the timeout as
// lost and frees their mobiles and credits.
func (r *loadRun) expire() {
	cutoff := int64(time.Since(r.start) - r.opts.Timeout)
	for i := range r.slots {
		s := &r.slots[i]
		id := s.id.Load()
		if id == 0 || s.sent.Load() > cutoff {
			continue
		}
		if s.id.CompareAndSwap(id, 0) {
			r.finish()
			r.lost.Add(1)
		}
	}
}

// finish returns the credit of a request answered or lost.
func (r *loadRun) finish() {
	r.outstanding.Add(-1)
	r.credits <- struct{}{}
}

// receive reads and checks replies until stop is closed.
func (r *loadRun) receive(rw *batchConn, stop <-chan struct{}) error {
	for {
		msgs, err := rw.read()
		if err != nil {
			select {
			case <-stop:
				return nil
			default:
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return fmt.Errorf("load: receive: %w", err)
		}
		for _, b := range msgs {
			r.handle(b)
		}
	}
}

// handle checks one reply and accounts for it.
func (r *loadRun) handle(b []byte) {
	c, err := r.opts.Fleet.check(b, r.opts.Echo)
	if c.id == 0 && err == nil {
		err = fmt.Errorf("%w: 0", ErrID)
	}
	var s *loadSlot
	if err == nil || errors.Is(err, ErrDenied) || errors.Is(err, ErrAuth) {
		// The message names a mobile: it answers the mobile's outstanding
		// request only when it carries that request's identification.
		// Under timestamp protection the home agent echoes the whole
		// identification when it accepts, and at least the low 32 bits
		// (RFC 5944 section 5.7) when it denies.
		s = &r.slots[c.mobile]
		out := s.id.Load()
		matches := out != 0 && (c.id == out || (err != nil && mip.ReplyMatches(out, c.id)))
		if !matches {
			if err == nil {
				err = fmt.Errorf("%w: %016x from %s", ErrID, c.id, r.opts.Fleet.Home(c.mobile))
			}
			s = nil // a duplicate or stray: no request is answered
		} else if !s.id.CompareAndSwap(out, 0) {
			s = nil // the timeout took it meanwhile
		}
	}
	now := time.Since(r.start)
	if s != nil {
		rtt := now - time.Duration(s.sent.Load())
		r.finish()
		if err == nil {
			r.accepted.Add(1)
			r.lastAt.Store(int64(now))
			r.mu.Lock()
			r.rtts = append(r.rtts, rtt)
			r.mu.Unlock()
			return
		}
	}
	r.fail(err, c.code)
}

// fail counts an error by kind; code is the reply's, for denials.
func (r *loadRun) fail(err error, code mip.Code) {
	kind := "other"
	switch {
	case errors.Is(err, ErrMalformed):
		kind = "malformed"
	case errors.Is(err, ErrUnknownHome):
		kind = "unknown home"
	case errors.Is(err, ErrAuth):
		kind = "authenticator"
	case errors.Is(err, ErrDenied):
		kind = fmt.Sprintf("denied %d", uint8(code))
	case errors.Is(err, ErrID):
		kind = "identification"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nerrs++
	r.errs[kind]++
	if r.firstError == "" {
		r.firstError = err.Error()
	}
}

// percentile returns the p-quantile of d, sorting it.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	if !sort.SliceIsSorted(d, func(i, j int) bool { return d[i] < d[j] }) {
		slices.Sort(d)
	}
	i := int(p*float64(len(d))+0.5) - 1
	return d[min(max(i, 0), len(d)-1)]
}

// batchConn reads and writes datagrams in batches where the socket allows.
type batchConn struct {
	conn  net.PacketConn
	pc    *ipv4.PacketConn // nil: one datagram per call
	rmsgs []ipv4.Message
	wmsgs []ipv4.Message
	out   [][]byte
	buf   []byte
}

func newBatchConn(conn net.PacketConn, batch int) *batchConn {
	c := &batchConn{conn: conn, buf: make([]byte, 1<<16)}
	if _, ok := conn.(*net.UDPConn); ok && batch > 1 {
		c.pc = ipv4.NewPacketConn(conn)
		c.rmsgs = make([]ipv4.Message, batch)
		for i := range c.rmsgs {
			c.rmsgs[i].Buffers = [][]byte{make([]byte, 2048)}
		}
		c.wmsgs = make([]ipv4.Message, batch)
	}
	return c
}

// read returns the next datagrams; they stay valid until the next read.
func (c *batchConn) read() ([][]byte, error) {
	c.out = c.out[:0]
	if c.pc == nil {
		n, _, err := c.conn.ReadFrom(c.buf)
		if err != nil {
			return nil, err
		}
		return append(c.out, c.buf[:n]), nil
	}
	n, err := c.pc.ReadBatch(c.rmsgs, 0)
	if err != nil {
		return nil, err
	}
	for _, m := range c.rmsgs[:n] {
		c.out = append(c.out, m.Buffers[0][:m.N])
	}
	return c.out, nil
}

// writeTo sends every datagram of bs to dst.
func (c *batchConn) writeTo(bs [][]byte, dst netip.AddrPort) error {
	ua := net.UDPAddrFromAddrPort(dst)
	if c.pc == nil {
		for _, b := range bs {
			if _, err := c.conn.WriteTo(b, ua); err != nil {
				return err
			}
		}
		return nil
	}
	for len(bs) > 0 {
		ms := c.wmsgs[:min(len(bs), len(c.wmsgs))]
		for i := range ms {
			ms[i] = ipv4.Message{Buffers: [][]byte{bs[i]}, Addr: ua}
		}
		n, err := c.pc.WriteBatch(ms, 0)
		if err != nil {
			return err
		}
		bs = bs[n:]
	}
	return nil
}
