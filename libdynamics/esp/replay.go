package esp

// replayWindow is the receiver's anti-replay window of RFC 4303 section
// 3.4.3 for 32-bit sequence numbers, kept as a ring of 64-bit words
// (RFC 6479) so that advancing it costs at most one word clear per 64
// sequence numbers.
//
// A sequence number s is accepted when it is not 0 and either above the
// highest sequence number accepted so far (top: the window's right edge
// moves to s) or within the window (top-s < size) and not received before.
// Anything at or left of top-size is too old. check runs before the ICV is
// verified, so forged packets cost no decryption when they cannot be
// accepted anyway; accept runs after, so only authentic packets move the
// window.
//
// A replayWindow is not safe for concurrent use: Inbound guards it.
type replayWindow struct {
	size uint32   // packets, 1..MaxReplayWindow
	top  uint32   // highest sequence number accepted, 0 before the first
	ring []uint64 // bit s%(64*len(ring)) is set when s was accepted
}

// newReplayWindow makes a window of size packets. The ring has one word more
// than the window spans, so the word holding top-size+1 is never the word
// being cleared for a new top.
func newReplayWindow(size int) *replayWindow {
	words := (size+63)/64 + 1
	return &replayWindow{size: uint32(size), ring: make([]uint64, words)}
}

// check reports whether seq would be accepted, without changing the window.
func (w *replayWindow) check(seq uint32) error {
	switch {
	case seq == 0:
		return ErrSequence
	case seq > w.top:
		return nil
	case w.top-seq >= w.size:
		return ErrTooOld
	case w.has(seq):
		return ErrReplay
	}
	return nil
}

// accept records seq as received, advancing the window if seq is above top.
// It checks again, so of two goroutines accepting the same number after both
// passed check only one succeeds.
func (w *replayWindow) accept(seq uint32) error {
	if err := w.check(seq); err != nil {
		return err
	}
	if seq > w.top {
		n := uint32(len(w.ring))
		from, to := w.top/64, seq/64
		if to-from > n {
			from = to - n
		}
		for i := from + 1; i <= to; i++ {
			w.ring[i%n] = 0
		}
		w.top = seq
	}
	w.ring[(seq/64)%uint32(len(w.ring))] |= 1 << (seq % 64)
	return nil
}

func (w *replayWindow) has(seq uint32) bool {
	return w.ring[(seq/64)%uint32(len(w.ring))]&(1<<(seq%64)) != 0
}
