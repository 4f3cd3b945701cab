package binding_test

import (
	"sync"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/binding"
)

func TestManualClock(t *testing.T) {
	c := binding.NewManualClock(epoch)
	steps := []struct {
		name string
		do   func() time.Time
		want time.Time
	}{
		{"starts where told", c.Now, epoch},
		{"advance returns the new instant", func() time.Time { return c.Advance(90 * time.Second) }, at(90)},
		{"now follows advance", c.Now, at(90)},
		{"advance backwards", func() time.Time { return c.Advance(-30 * time.Second) }, at(60)},
		{"set", func() time.Time { c.Set(at(1000)); return c.Now() }, at(1000)},
	}
	for _, s := range steps {
		if got := s.do(); !got.Equal(s.want) {
			t.Fatalf("%s: got %v, want %v", s.name, got, s.want)
		}
	}
	var zero binding.ManualClock
	if !zero.Now().IsZero() {
		t.Errorf("zero ManualClock stands at %v, want the zero time", zero.Now())
	}
}

// TestManualClockConcurrent lets the race detector see a test goroutine
// advancing the clock while another reads it, as in the daemons' tests.
func TestManualClockConcurrent(t *testing.T) {
	c := binding.NewManualClock(epoch)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range 1000 {
			c.Advance(time.Second)
		}
	}()
	go func() {
		defer wg.Done()
		last := epoch
		for range 1000 {
			now := c.Now()
			if now.Before(last) {
				t.Errorf("clock went back from %v to %v", last, now)
				return
			}
			last = now
		}
	}()
	wg.Wait()
	if got := c.Now(); !got.Equal(at(1000)) {
		t.Errorf("after 1000 advances of 1s: %v, want %v", got, at(1000))
	}
}

func TestSystemClock(t *testing.T) {
	before := time.Now()
	got := binding.SystemClock{}.Now()
	after := time.Now()
	if got.Before(before) || got.After(after) {
		t.Errorf("SystemClock.Now = %v, not between %v and %v", got, before, after)
	}
}

// TestClockDrivesExpiry is the pattern the daemons follow: expiry instants
// come from the clock, and Expire is called with the clock's instant.
func TestClockDrivesExpiry(t *testing.T) {
	clock := binding.NewManualClock(epoch)
	var tb binding.Table
	b := full()
	b.Lifetime = 30 * time.Second
	b.Expiry = clock.Now().Add(b.Lifetime)
	mustPut(t, &tb, b)
	if got := tb.Expire(clock.Advance(29 * time.Second)); len(got) != 0 {
		t.Fatalf("expired %v a second early", homes(got))
	}
	if got := tb.Expire(clock.Advance(time.Second)); len(got) != 1 || got[0].Home != b.Home {
		t.Fatalf("Expire at the lifetime's end = %v, want %v", homes(got), b.Home)
	}
}
