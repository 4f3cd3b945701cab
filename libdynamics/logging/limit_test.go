package logging

import (
	"testing"
	"time"
)

// One line per gap; the lines in between are counted and reported with
// the next line written.
func TestLimit(t *testing.T) {
	l := Limit{Gap: time.Second}
	t0 := time.Unix(1000, 0)
	for _, step := range []struct {
		at         time.Duration
		ok         bool
		suppressed uint64
	}{
		{0, true, 0},
		{100 * time.Millisecond, false, 0},
		{999 * time.Millisecond, false, 0},
		{time.Second, true, 2},
		{1500 * time.Millisecond, false, 0},
		{5 * time.Second, true, 1},
		{7 * time.Second, true, 0},
	} {
		ok, n := l.Allow(t0.Add(step.at))
		if ok != step.ok || n != step.suppressed {
			t.Errorf("at %v: Allow = %t, %d; want %t, %d", step.at, ok, n, step.ok, step.suppressed)
		}
	}
}
