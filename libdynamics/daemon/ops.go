package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
)

// Ops carries operations into a daemon's event loop: a caller's function
// runs in the loop goroutine, which alone owns the daemon's state, and the
// caller waits until the loop says it is done. API calls, reloads and tests
// all enter the loop this way. S is what the function is given (the
// daemon's state view).
type Ops[S any] struct {
	ch         chan Op[S]
	stopped    <-chan struct{}
	errStopped error
}

// Op is one operation received by the loop.
type Op[S any] struct {
	fn   func(S)
	done chan struct{}
}

// NewOps returns the operation channel of a loop that closes stopped when it
// ends; Do then fails with errStopped.
func NewOps[S any](stopped <-chan struct{}, errStopped error) *Ops[S] {
	return &Ops[S]{ch: make(chan Op[S]), stopped: stopped, errStopped: errStopped}
}

// C is what the loop selects on.
func (o *Ops[S]) C() <-chan Op[S] { return o.ch }

// Do hands fn to the loop and waits until the loop has run it and called
// Done. It returns ctx's error if ctx ends first (the loop still runs fn if
// it has taken it) and errStopped once the loop has ended.
func (o *Ops[S]) Do(ctx context.Context, fn func(S)) error {
	op := Op[S]{fn: fn, done: make(chan struct{})}
	select {
	case o.ch <- op:
	case <-o.stopped:
		return o.errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-op.done:
		return nil
	case <-o.stopped:
		return o.errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Call runs the operation's function, if any, on s.
func (op Op[S]) Call(s S) {
	if op.fn != nil {
		op.fn(s)
	}
}

// Done tells the waiting caller the operation is finished.
func (op Op[S]) Done() { close(op.done) }

// ReadUDP reads datagrams from conn until ctx ends (nil) or the socket
// fails (an error naming what). Each datagram goes to handle with its
// source address, IPv4-mapped addresses unmapped; handle returns false to
// stop reading. A source that is not a UDP address is passed to unexpected.
// Read deadlines are not failures.
func ReadUDP(ctx context.Context, conn net.PacketConn, what string, handle func(b []byte, src netip.AddrPort) bool, unexpected func()) error {
	buf := make([]byte, 1<<16)
	for {
		n, addr, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return fmt.Errorf("%s: %w", what, err)
		}
		ua, ok := addr.(*net.UDPAddr)
		if !ok {
			unexpected()
			continue
		}
		src := ua.AddrPort()
		if !handle(buf[:n], netip.AddrPortFrom(src.Addr().Unmap(), src.Port())) {
			return nil
		}
	}
}
