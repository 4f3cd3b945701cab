package logging

import "time"

// Limit spaces out a repeated log line, such as one per dropped datagram:
// at most one line per Gap, the lines in between counted. It is not safe
// for concurrent use; an agent keeps one per kind of line in its loop.
type Limit struct {
	Gap        time.Duration
	next       time.Time
	suppressed uint64
}

// Allow reports whether a line may be written at now and, when it may,
// how many were suppressed since the last one written (the line carries
// that number).
func (l *Limit) Allow(now time.Time) (ok bool, suppressed uint64) {
	if now.Before(l.next) {
		l.suppressed++
		return false, 0
	}
	suppressed, l.suppressed = l.suppressed, 0
	l.next = now.Add(l.Gap)
	return true, suppressed
}
