package discovery

import "testing"

func TestNextSequence(t *testing.T) {
	for _, tt := range []struct{ in, want uint16 }{
		{0, 1}, {254, 255}, {255, 256}, {0xfffe, 0xffff}, {0xffff, 256},
	} {
		if got := NextSequence(tt.in); got != tt.want {
			t.Errorf("NextSequence(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestRebootedNeverWhileCounting(t *testing.T) {
	// An agent counting from 0 through two rollovers never looks rebooted,
	// and never reuses 0-255 after the first pass.
	seq := uint16(0)
	for i := range 2*0x10000 + 10 {
		next := NextSequence(seq)
		if Rebooted(seq, next) {
			t.Fatalf("advertisement %d: Rebooted(%d, %d) = true while counting", i, seq, next)
		}
		if i >= 0xffff && next < 256 {
			t.Fatalf("advertisement %d: sequence %d below 256 after rollover", i, next)
		}
		seq = next
	}
}

func TestRebooted(t *testing.T) {
	for _, tt := range []struct {
		prev, cur uint16
		want      bool
	}{
		{300, 0, true},       // restarted
		{0xffff, 3, true},    // restarted instead of rolling over to 256
		{10, 2, true},        // restarted again soon after a restart
		{255, 0, true},       // restarted just before leaving 0-255
		{3, 9, false},        // advertisements lost
		{0xffff, 256, false}, // rollover
		{300, 280, false},    // reordered, not below 256
		{5, 5, false},        // repeated
	} {
		if got := Rebooted(tt.prev, tt.cur); got != tt.want {
			t.Errorf("Rebooted(%d, %d) = %v, want %v", tt.prev, tt.cur, got, tt.want)
		}
	}
}
