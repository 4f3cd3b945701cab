package tunnel

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// ReleaseLinger drops a reference to the tunnel with the given ID as
// ReleaseID does, except that the last reference does not end the tunnel
// when until is set: the tunnel stays in the table idle, with Refs 0 and
// Idle until, its device kept by the caller. An Acquire of its endpoints
// before then takes it back without creating it; Expire forgets it once
// until has passed. With a zero until the last reference removes the
// tunnel, as ReleaseID does (removed is true and the caller removes the
// device). Releasing an idle tunnel, or one the table does not hold, is
// ErrUnknown.
//
// A daemon lets a tunnel linger when the same endpoints are likely to be
// wanted again soon, as when a mobile goes back and forth between two
// foreign agents: taking an idle tunnel back costs nothing, while deleting
// a device and making it again costs the kernel (or the userspace data
// path) milliseconds each.
func (t *Table) ReleaseLinger(id ID, until time.Time) (tun Tunnel, removed bool, err error) {
	p, ok := t.byID[id]
	if !ok {
		return Tunnel{}, false, fmt.Errorf("%w: release of tunnel ID %d", ErrUnknown, id)
	}
	if until.IsZero() || p.Refs != 1 {
		return t.release(p)
	}
	p.Refs = 0
	p.Idle = until
	t.idle[p.ID] = p
	return *p, false, nil
}

// Expire forgets the idle tunnels whose linger has ended (Idle not after
// now) and returns them sorted by ID, with Refs 0; the caller removes their
// devices. It takes O(i log i) for i idle tunnels.
func (t *Table) Expire(now time.Time) []Tunnel {
	var out []Tunnel
	for _, p := range t.idle {
		if !p.Idle.After(now) {
			out = append(out, *p)
		}
	}
	for _, tun := range out {
		t.forget(t.byID[tun.ID])
	}
	slices.SortFunc(out, func(a, b Tunnel) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// NextExpiry returns the earliest end of an idle tunnel's linger, and false
// when no tunnel is idle. It takes O(i) for i idle tunnels.
func (t *Table) NextExpiry() (time.Time, bool) {
	var next time.Time
	for _, p := range t.idle {
		if next.IsZero() || p.Idle.Before(next) {
			next = p.Idle
		}
	}
	return next, !next.IsZero()
}

// IdleLen returns the number of idle tunnels, which Len counts too.
func (t *Table) IdleLen() int { return len(t.idle) }
