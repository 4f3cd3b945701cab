package tunnel_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/binding"
	"github.com/dynamics-go/dynamics/libdynamics/tunnel"
)

const linger = 30 * time.Second

// TestLingerReuse: a tunnel released with a linger stays idle, and the next
// Acquire of its endpoints within the linger takes it back as it is: same
// ID and name, not created, so the caller keeps the device.
func TestLingerReuse(t *testing.T) {
	clock := binding.NewManualClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	var tb tunnel.Table
	down1, _, _ := tb.Acquire(gfa, fa1)
	down2, _, _ := tb.Acquire(gfa, fa2)

	// The mobile moves from fa1 to fa2 and back, three times over.
	for range 3 {
		clock.Advance(time.Second)
		tun, removed, err := tb.ReleaseLinger(down1.ID, clock.Now().Add(linger))
		if err != nil || removed || tun.Refs != 0 || !tun.Idle.Equal(clock.Now().Add(linger)) {
			t.Fatalf("ReleaseLinger(fa1) = %+v, %v, %v; want idle until %v", tun, removed, err, clock.Now().Add(linger))
		}
		if tb.Len() != 2 || tb.IdleLen() != 1 {
			t.Fatalf("Len %d, IdleLen %d; want 2 and 1", tb.Len(), tb.IdleLen())
		}
		checkIndexes(t, &tb)
		clock.Advance(time.Second)
		if got := tb.Expire(clock.Now()); len(got) != 0 {
			t.Fatalf("Expire within the linger = %+v", got)
		}
		back, created, err := tb.Acquire(gfa, fa1)
		if err != nil || created || back.ID != down1.ID || back.Name != down1.Name || back.Refs != 1 || !back.Idle.IsZero() {
			t.Fatalf("Acquire of the idle tunnel = %+v, %v, %v; want %s back in use, not created", back, created, err, down1.Name)
		}
		if tb.IdleLen() != 0 {
			t.Fatalf("IdleLen %d after taking the tunnel back", tb.IdleLen())
		}
		if _, ok := tb.NextExpiry(); ok {
			t.Fatal("NextExpiry reports an idle tunnel after it was taken back")
		}
	}
	if got := names(tb.List()); !slices.Equal(got, []string{down1.Name, down2.Name}) {
		t.Errorf("List = %v", got)
	}
}

// TestLingerExpire: idle tunnels are forgotten, and returned for their
// devices to go, once their linger has passed, earliest deadline first in
// NextExpiry; a tunnel still shared never becomes idle.
func TestLingerExpire(t *testing.T) {
	clock := binding.NewManualClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	var tb tunnel.Table
	a, _, _ := tb.Acquire(gfa, fa1)
	b, _, _ := tb.Acquire(gfa, fa2)
	c, _, _ := tb.Acquire(gfa, ha)
	if _, _, err := tb.Acquire(gfa, ha); err != nil { // two users
		t.Fatal(err)
	}

	if _, removed, err := tb.ReleaseLinger(c.ID, clock.Now().Add(linger)); err != nil || removed {
		t.Fatalf("ReleaseLinger of a shared tunnel = %v, %v", removed, err)
	}
	if tun, _ := tb.ByID(c.ID); tun.Refs != 1 || !tun.Idle.IsZero() || tb.IdleLen() != 0 {
		t.Fatalf("shared tunnel after one release: %+v, IdleLen %d", tun, tb.IdleLen())
	}
	tb.ReleaseLinger(b.ID, clock.Now().Add(2*linger))
	tb.ReleaseLinger(a.ID, clock.Now().Add(linger))
	if next, ok := tb.NextExpiry(); !ok || !next.Equal(clock.Now().Add(linger)) {
		t.Fatalf("NextExpiry = %v, %v; want %v", next, ok, clock.Now().Add(linger))
	}

	clock.Advance(linger - time.Nanosecond)
	if got := tb.Expire(clock.Now()); len(got) != 0 {
		t.Fatalf("Expire before the end = %+v", got)
	}
	clock.Advance(time.Nanosecond)
	got := tb.Expire(clock.Now())
	if len(got) != 1 || got[0].ID != a.ID || got[0].Refs != 0 {
		t.Fatalf("Expire at the end of the first linger = %+v, want %s", got, a.Name)
	}
	if _, ok := tb.ByID(a.ID); ok {
		t.Error("an expired tunnel is still held")
	}
	if _, created, _ := tb.Acquire(gfa, fa1); !created {
		t.Error("Acquire after the linger ended did not create a new tunnel")
	}
	clock.Advance(linger)
	if got := tb.Expire(clock.Now()); len(got) != 1 || got[0].ID != b.ID {
		t.Fatalf("Expire at the end of the second linger = %+v, want %s", got, b.Name)
	}
	if _, ok := tb.NextExpiry(); ok || tb.IdleLen() != 0 {
		t.Errorf("idle tunnels left: %d", tb.IdleLen())
	}
	checkIndexes(t, &tb)
}

// TestLingerErrors: no linger (a zero until) removes the tunnel as
// ReleaseID does; an idle tunnel has no reference to release; Destroy
// forgets an idle tunnel, and Expire then does not return it.
func TestLingerErrors(t *testing.T) {
	clock := binding.NewManualClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	var tb tunnel.Table
	if _, _, err := tb.ReleaseLinger(1, clock.Now()); !errors.Is(err, tunnel.ErrUnknown) {
		t.Errorf("ReleaseLinger on an empty table = %v, want ErrUnknown", err)
	}
	a, _, _ := tb.Acquire(gfa, fa1)
	if tun, removed, err := tb.ReleaseLinger(a.ID, time.Time{}); err != nil || !removed || tun.Refs != 0 {
		t.Fatalf("ReleaseLinger without a linger = %+v, %v, %v; want removed", tun, removed, err)
	}
	if tb.Len() != 0 {
		t.Fatalf("Len %d after the last release without linger", tb.Len())
	}

	b, _, _ := tb.Acquire(gfa, fa2)
	tb.ReleaseLinger(b.ID, clock.Now().Add(linger))
	for name, release := range map[string]func() error{
		"ReleaseID":     func() error { _, _, err := tb.ReleaseID(b.ID); return err },
		"Release":       func() error { _, _, err := tb.Release(gfa, fa2); return err },
		"ReleaseLinger": func() error { _, _, err := tb.ReleaseLinger(b.ID, clock.Now().Add(linger)); return err },
	} {
		if err := release(); !errors.Is(err, tunnel.ErrUnknown) {
			t.Errorf("%s of an idle tunnel = %v, want ErrUnknown", name, err)
		}
	}
	if tun, ok := tb.Destroy(b.ID); !ok || tun.Refs != 0 || tun.Idle.IsZero() {
		t.Fatalf("Destroy of an idle tunnel = %+v, %v", tun, ok)
	}
	clock.Advance(2 * linger)
	if got := tb.Expire(clock.Now()); len(got) != 0 || tb.IdleLen() != 0 {
		t.Errorf("Expire after Destroy = %+v, IdleLen %d", got, tb.IdleLen())
	}
}

func names(list []tunnel.Tunnel) []string {
	var out []string
	for _, tun := range list {
		out = append(out, tun.Name)
	}
	return out
}
