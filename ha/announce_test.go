package ha

import (
	"net/netip"
	"testing"
	"time"
)

// TestARPQueue checks the queue of gratuitous ARPs with many mobiles:
// every job sends its ARPs GratuitousARPInterval apart and then ends, a
// cancelled job sends nothing more, and a job replaced by a new
// announcement starts over.
func TestARPQueue(t *testing.T) {
	const n = 1000
	var q arpQueue
	home := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}) }
	for i := range n {
		// Announced over one second, in order.
		q.add(home(i), GratuitousARPs-1, start.Add(time.Duration(i)*time.Millisecond+GratuitousARPInterval))
	}
	q.cancel(home(0))
	sent := map[netip.Addr][]time.Time{}
	replaced := home(n - 1)
	for now := start; now.Before(start.Add(10 * time.Second)); now = now.Add(10 * time.Millisecond) {
		if now.Equal(start.Add(500 * time.Millisecond)) {
			// Announced again before its first ARP from the queue.
			q.cancel(replaced)
			q.add(replaced, GratuitousARPs-1, now.Add(GratuitousARPInterval))
		}
		if next, ok := q.next(); ok && now.Before(next) {
			if got := q.due(now); len(got) != 0 {
				t.Fatalf("at %v, before the next deadline %v: %d due", now.Sub(start), next.Sub(start), len(got))
			}
			continue
		}
		seen := map[netip.Addr]bool{}
		for _, h := range q.due(now) {
			if seen[h] {
				t.Fatalf("at %v: %v due twice in one run", now.Sub(start), h)
			}
			seen[h] = true
			sent[h] = append(sent[h], now)
		}
	}
	if got := sent[home(0)]; len(got) != 0 {
		t.Errorf("cancelled job sent %d ARPs", len(got))
	}
	for i := 1; i < n; i++ {
		got := sent[home(i)]
		if len(got) != GratuitousARPs-1 {
			t.Fatalf("%v: %d ARPs from the queue, want %d", home(i), len(got), GratuitousARPs-1)
		}
		for k := 1; k < len(got); k++ {
			if d := got[k].Sub(got[k-1]); d < GratuitousARPInterval-10*time.Millisecond || d > GratuitousARPInterval+10*time.Millisecond {
				t.Fatalf("%v: ARPs %v apart", home(i), d)
			}
		}
	}
	if first := sent[replaced][0].Sub(start); first < 1500*time.Millisecond {
		t.Errorf("replaced job's first ARP at %v, want 1.5 s (one interval after the new announcement)", first)
	}
	if _, ok := q.next(); ok || len(q.live) != 0 {
		t.Errorf("queue not empty after every job ended: %d jobs, %d live", len(q.jobs), len(q.live))
	}
}
