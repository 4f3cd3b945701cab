// Package queue is the bounded FIFO with a read deadline that the suite's
// in-memory connections are built on: the test network (internal/memnet),
// the link hub (libdynamics/link) and the IKE view of the port-4500 socket
// (libdynamics/esp). Pop behaves as a socket read does: it blocks until a
// value, the close, or the read deadline, which may be moved while a Pop
// waits.
package queue

import (
	"net"
	"os"
	"sync"
	"time"
)

// Queue is a bounded FIFO of T with a read deadline. The zero value is not
// usable; make one with New. Its methods are safe for concurrent use.
type Queue[T any] struct {
	ch     chan T
	closed chan struct{}
	once   sync.Once

	mu       sync.Mutex
	deadline time.Time
	wake     chan struct{} // closed and replaced when the deadline changes
}

// New returns an empty queue holding at most n values.
func New[T any](n int) *Queue[T] {
	return &Queue[T]{ch: make(chan T, n), closed: make(chan struct{}), wake: make(chan struct{})}
}

// Push adds v without blocking. It reports false, dropping v, when the
// queue is full or closed, as a full receive buffer loses a datagram.
func (q *Queue[T]) Push(v T) bool {
	select {
	case <-q.closed:
		return false
	default:
	}
	select {
	case q.ch <- v:
		return true
	default:
		return false
	}
}

// Pop returns the oldest value, waiting for one. It returns net.ErrClosed
// once the queue is closed and os.ErrDeadlineExceeded once the read
// deadline has passed.
func (q *Queue[T]) Pop() (T, error) {
	var zero T
	for {
		select {
		case <-q.closed:
			return zero, net.ErrClosed
		default:
		}
		q.mu.Lock()
		dl, wake := q.deadline, q.wake
		q.mu.Unlock()
		var expired <-chan time.Time
		var timer *time.Timer
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return zero, os.ErrDeadlineExceeded
			}
			timer = time.NewTimer(d)
			expired = timer.C
		}
		var (
			v   T
			got bool
			err error
		)
		select {
		case v = <-q.ch:
			got = true
		case <-q.closed:
			err = net.ErrClosed
		case <-expired:
			err = os.ErrDeadlineExceeded
		case <-wake: // the deadline moved: look again
		}
		if timer != nil {
			timer.Stop()
		}
		if got {
			return v, nil
		}
		if err != nil {
			return zero, err
		}
	}
}

// SetDeadline sets the read deadline (the zero time: none) and wakes a
// waiting Pop to apply it.
func (q *Queue[T]) SetDeadline(t time.Time) {
	q.mu.Lock()
	q.deadline = t
	close(q.wake)
	q.wake = make(chan struct{})
	q.mu.Unlock()
}

// Close ends the queue: Push drops and Pop returns net.ErrClosed from then
// on. It reports whether this call closed it.
func (q *Queue[T]) Close() bool {
	first := false
	q.once.Do(func() { close(q.closed); first = true })
	return first
}

// Closed is closed when the queue is.
func (q *Queue[T]) Closed() <-chan struct{} { return q.closed }
