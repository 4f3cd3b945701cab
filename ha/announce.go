package ha

import (
	"container/heap"
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/logging"
)

// announce starts the gratuitous ARPs that tell the home link the mobile
// node's home address is now at the home agent (RFC 5944 section 4.6): one
// now and the rest GratuitousARPInterval apart.
func (a *Agent) announce(home netip.Addr, now time.Time) {
	a.cancelARPs(home)
	a.gratuitousARP(home)
	if GratuitousARPs > 1 {
		a.arps.add(home, GratuitousARPs-1, now.Add(GratuitousARPInterval))
	}
}

// runARPs sends the gratuitous ARPs that are due, each job's at most once
// per call.
func (a *Agent) runARPs(now time.Time) {
	for _, home := range a.arps.due(now) {
		a.gratuitousARP(home)
	}
}

// cancelARPs forgets the gratuitous ARPs still to send for home.
func (a *Agent) cancelARPs(home netip.Addr) { a.arps.cancel(home) }

func (a *Agent) gratuitousARP(home netip.Addr) {
	if err := a.kern.GratuitousARP(a.cfg.HomeInterface, home); err != nil {
		a.log.Warn("gratuitous ARP failed", logging.KeyHome, home, logging.KeyIface, a.cfg.HomeInterface, logging.KeyErr, err)
	}
}

// arpQueue holds the gratuitous ARPs still to send, one job per home
// address, ordered by when the next one is due, so that the loop's
// deadline and each run cost O(log n) however many mobiles have just
// registered. A cancelled job stays in the heap until it comes up and is
// then dropped: live maps each home address to the generation of its one
// live job. The zero value is empty.
type arpQueue struct {
	jobs arpHeap
	live map[netip.Addr]uint64
	gen  uint64
	out  []netip.Addr
}

// arpJob is the gratuitous ARPs still to send for one home address.
type arpJob struct {
	home netip.Addr
	left int
	next time.Time
	gen  uint64
}

// add schedules left ARPs for home, the first at next, replacing any
// still scheduled.
func (q *arpQueue) add(home netip.Addr, left int, next time.Time) {
	if q.live == nil {
		q.live = make(map[netip.Addr]uint64)
	}
	q.gen++
	q.live[home] = q.gen
	heap.Push(&q.jobs, arpJob{home: home, left: left, next: next, gen: q.gen})
}

// cancel drops home's job.
func (q *arpQueue) cancel(home netip.Addr) { delete(q.live, home) }

// next is when the earliest job falls due (possibly a cancelled one, which
// costs an early wake-up and nothing else).
func (q *arpQueue) next() (time.Time, bool) {
	if len(q.jobs) == 0 {
		return time.Time{}, false
	}
	return q.jobs[0].next, true
}

// due returns the home addresses whose next ARP is due at now, once each,
// and reschedules their jobs GratuitousARPInterval later while ARPs are
// left. The slice is reused by the next call.
func (q *arpQueue) due(now time.Time) []netip.Addr {
	q.out = q.out[:0]
	var again []arpJob
	for len(q.jobs) > 0 && !now.Before(q.jobs[0].next) {
		j := heap.Pop(&q.jobs).(arpJob)
		if q.live[j.home] != j.gen {
			continue // cancelled or replaced
		}
		q.out = append(q.out, j.home)
		j.left--
		j.next = j.next.Add(GratuitousARPInterval)
		if j.left > 0 {
			again = append(again, j)
		} else {
			delete(q.live, j.home)
		}
	}
	for _, j := range again {
		heap.Push(&q.jobs, j)
	}
	if len(q.jobs) == 0 && len(q.live) == 0 {
		q.jobs = nil // release the storage of a burst
	}
	return q.out
}

// arpHeap is a min-heap of jobs by due time (container/heap).
type arpHeap []arpJob

func (h arpHeap) Len() int           { return len(h) }
func (h arpHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h arpHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *arpHeap) Push(x any)        { *h = append(*h, x.(arpJob)) }
func (h *arpHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	*h = old[:len(old)-1]
	return j
}
