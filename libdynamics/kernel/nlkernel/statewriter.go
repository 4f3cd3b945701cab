package nlkernel

import (
	"log/slog"
	"sync"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

// stateWriteInterval is the least time between two writes of the state
// file by a Kernel's writer: a burst of changes (a home agent's first
// registrations after a restart) costs one write per interval, not one per
// change.
const stateWriteInterval = 50 * time.Millisecond

// stateWriter writes the state file in the background, so that the calls
// that change the kernel do not wait for the disk: a rename over the old
// file costs a filesystem such as ext4 a millisecond or more, often more
// than the netlink messages of the change itself.
//
// It keeps its own copy of the recorded entries, by Key, which the Kernel
// updates with what changed (put), so a change costs the Kernel nothing in
// proportion to the entries recorded. The writer sorts and writes them at
// most once per interval: the first change after a quiet interval is
// written at once, later ones when the interval since the last write is
// over.
//
// The file is written after the change it records, as before, up to an
// interval later: a daemon killed in between leaves an entry unrecorded,
// which a later run does not find. flush writes what is waiting at once and
// waits for it.
type stateWriter struct {
	path     string
	log      *slog.Logger
	interval time.Duration

	mu      sync.Mutex
	idle    *sync.Cond
	entries map[string]kernel.Entry // what the file is to record, by Key
	sysctls []stateSysctl
	pending bool // entries or sysctls changed since the last write began
	writing bool
	urgent  bool          // flush is waiting: no pause before the next write
	wake    chan struct{} // capacity 1: a write is waiting
	hurry   chan struct{} // capacity 1: flush is waiting
	stopped chan struct{}
	writes  int // files written or removed, for tests
}

// newStateWriter starts a writer whose file records entries (the state
// file's leftovers) until told otherwise; it does not write until put.
func newStateWriter(path string, log *slog.Logger, interval time.Duration, entries map[string]kernel.Entry) *stateWriter {
	w := &stateWriter{
		path:     path,
		log:      log,
		interval: interval,
		entries:  make(map[string]kernel.Entry, len(entries)),
		wake:     make(chan struct{}, 1),
		hurry:    make(chan struct{}, 1),
		stopped:  make(chan struct{}),
	}
	for key, e := range entries {
		w.entries[key] = e
	}
	w.idle = sync.NewCond(&w.mu)
	go w.run()
	return w
}

// put hands the writer what changed: delta's entries by Key (nil for one
// gone) and the sysctls, all of them. The writer keeps neither map nor
// slice.
func (w *stateWriter) put(delta map[string]kernel.Entry, sysctls []stateSysctl) {
	w.mu.Lock()
	for key, e := range delta {
		if e == nil {
			delete(w.entries, key)
		} else {
			w.entries[key] = e
		}
	}
	w.sysctls = append(w.sysctls[:0], sysctls...)
	w.pending = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run writes the state until close.
func (w *stateWriter) run() {
	defer close(w.stopped)
	var last time.Time
	for range w.wake {
		for {
			// A wake left by a put whose change the last write took
			// along finds nothing to write, and must not wait.
			if !w.isPending() {
				break
			}
			if wait := w.interval - time.Since(last); wait > 0 && !w.isUrgent() {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-w.hurry:
				}
				t.Stop()
			}
			w.mu.Lock()
			if !w.pending {
				w.idleLocked()
				w.mu.Unlock()
				break
			}
			entries := make([]kernel.Entry, 0, len(w.entries))
			for _, e := range w.entries {
				entries = append(entries, e)
			}
			sysctls := append([]stateSysctl(nil), w.sysctls...)
			w.pending = false
			w.writing = true
			w.mu.Unlock()
			last = time.Now()
			sortEntries(entries)
			if err := saveState(w.path, entries, sysctls); err != nil {
				// The next change writes the whole state again.
				w.log.Error("cannot record kernel state; leftovers of this run may need removing by hand", "err", err)
			}
			w.mu.Lock()
			w.writes++
			more := w.pending
			if !more {
				w.idleLocked()
			}
			w.mu.Unlock()
			if !more {
				break
			}
		}
	}
}

// idleLocked records that nothing waits to be written. w.mu is held.
func (w *stateWriter) idleLocked() {
	w.writing = false
	w.urgent = false
	w.idle.Broadcast()
}

func (w *stateWriter) isPending() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pending
}

func (w *stateWriter) isUrgent() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.urgent
}

// flush writes what is waiting without waiting for the interval, and
// waits until it is written.
func (w *stateWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.pending && !w.writing {
		return
	}
	w.urgent = true
	select {
	case w.hurry <- struct{}{}:
	default:
	}
	for w.pending || w.writing {
		w.idle.Wait()
	}
}

// close writes what is waiting and stops the writer.
func (w *stateWriter) close() {
	w.flush()
	close(w.wake)
	<-w.stopped
}
