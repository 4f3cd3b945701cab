package esp

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// TestReplayWindow walks the cases of RFC 4303 section 3.4.3 with a window
// of 64.
func TestReplayWindow(t *testing.T) {
	w := newReplayWindow(64)
	steps := []struct {
		seq  uint32
		want error
	}{
		{0, ErrSequence}, // never sent
		{1, nil},         // in order
		{2, nil},
		{2, ErrReplay}, // duplicate
		{5, nil},       // a gap: 3 and 4 may still come
		{4, nil},       // out of order within the window
		{3, nil},
		{3, ErrReplay},
		{100, nil},      // the window jumps: right edge 100, covers 37..100
		{36, ErrTooOld}, // left of the window
		{37, nil},       // the left edge itself
		{37, ErrReplay},
		{99, nil},
		{5, ErrTooOld},   // accepted once, long ago
		{164, nil},       // right edge 164, covers 101..164
		{100, ErrTooOld}, // 164-100 = 64: just outside
		{101, nil},
		{1 << 31, nil}, // a jump far past every word of the ring
		{164, ErrTooOld},
		{1<<31 - 63, nil},
		{1<<31 - 64, ErrTooOld},
		{^uint32(0), nil}, // the last sequence number there is
		{^uint32(0), ErrReplay},
		{^uint32(0) - 1, nil},
	}
	for i, s := range steps {
		err := w.check(s.seq)
		if err == nil {
			err = w.accept(s.seq)
		}
		if !errors.Is(err, s.want) || (s.want == nil) != (err == nil) {
			t.Fatalf("step %d: sequence %d: %v, want %v", i, s.seq, err, s.want)
		}
	}
}

// TestReplayWindowCheckDoesNotMove: check alone never changes the window, so
// a packet failing its ICV afterwards leaves no trace.
func TestReplayWindowCheckDoesNotMove(t *testing.T) {
	w := newReplayWindow(32)
	if err := w.accept(10); err != nil {
		t.Fatal(err)
	}
	for _, s := range []uint32{11, 1000, 9} {
		if err := w.check(s); err != nil {
			t.Fatalf("check %d: %v", s, err)
		}
	}
	if w.top != 10 {
		t.Errorf("top %d after checks, want 10", w.top)
	}
	for _, s := range []uint32{11, 9, 1000} {
		if err := w.accept(s); err != nil {
			t.Errorf("accept %d: %v", s, err)
		}
	}
	if err := w.accept(11); !errors.Is(err, ErrTooOld) {
		t.Errorf("accept 11 after 1000: %v", err)
	}
}

// reference is the replay window as RFC 4303 Appendix A defines it, kept
// naively: the set of every sequence number accepted.
type reference struct {
	size uint32
	top  uint32
	seen map[uint32]bool
}

func (r *reference) accept(seq uint32) bool {
	if seq == 0 || r.seen[seq] || (seq <= r.top && r.top-seq >= r.size) {
		return false
	}
	r.seen[seq] = true
	r.top = max(r.top, seq)
	return true
}

// TestReplayWindowModel drives the window and the reference with random
// sequences, mostly near the right edge, sometimes far ahead or behind, and
// requires the same verdict every time.
func TestReplayWindowModel(t *testing.T) {
	for _, size := range []int{1, 2, 31, 32, 63, 64, 65, 100, 128, 1000, MaxReplayWindow} {
		rng := rand.New(rand.NewPCG(uint64(size), 4303))
		w := newReplayWindow(size)
		ref := &reference{size: uint32(size), seen: map[uint32]bool{}}
		var next uint32 = 1
		for i := range 20000 {
			var seq uint32
			switch r := rng.IntN(100); {
			case r < 50: // in order
				seq = next
				next++
			case r < 80: // reordered within about twice the window
				seq = next - uint32(rng.IntN(2*size+2))
			case r < 90: // a duplicate of something recent
				seq = next - 1 - uint32(rng.IntN(4))
			case r < 99: // a jump ahead
				seq = next + uint32(rng.IntN(5*size+200))
				next = seq + 1
			default: // anywhere
				seq = rng.Uint32()
				if seq >= next {
					next = seq + 1
				}
			}
			want := ref.accept(seq)
			err := w.check(seq)
			if err == nil {
				err = w.accept(seq)
			}
			if (err == nil) != want {
				t.Fatalf("window %d, step %d: sequence %d (top %d): got %v, reference accepts: %v", size, i, seq, ref.top, err, want)
			}
			if w.top != ref.top {
				t.Fatalf("window %d, step %d: top %d, reference %d", size, i, w.top, ref.top)
			}
		}
	}
}
