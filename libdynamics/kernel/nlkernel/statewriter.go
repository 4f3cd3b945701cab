package nlkernel

import (
	"log/slog"
	"sync"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

// stateWriter writes the state file in the background, so that the calls
// that change the kernel do not wait for the disk: a rename over the old
// file costs a filesystem such as ext4 a millisecond or more, often more
// than the netlink messages of the change itself. It writes the latest
// snapshot only, so a burst of changes costs one write.
//
// The file is written after the change it records, as before, a little
// later: a daemon killed in between leaves an entry unrecorded, which a
// later run does not find. flush waits for the file to be written.
type stateWriter struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	idle    *sync.Cond
	next    *stateSnapshot // waiting to be written; nil for none
	writing bool
	wake    chan struct{} // capacity 1: a write is waiting
	stopped chan struct{}
}

// stateSnapshot is what the state file records at one moment.
type stateSnapshot struct {
	entries []kernel.Entry
	sysctls []stateSysctl
}

func newStateWriter(path string, log *slog.Logger) *stateWriter {
	w := &stateWriter{path: path, log: log, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	w.idle = sync.NewCond(&w.mu)
	go w.run()
	return w
}

// put hands the writer the latest snapshot, replacing one not yet written.
func (w *stateWriter) put(s stateSnapshot) {
	w.mu.Lock()
	w.next = &s
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run writes snapshots until close.
func (w *stateWriter) run() {
	defer close(w.stopped)
	for range w.wake {
		for {
			w.mu.Lock()
			s := w.next
			w.next = nil
			w.writing = s != nil
			if s == nil {
				w.idle.Broadcast()
				w.mu.Unlock()
				break
			}
			w.mu.Unlock()
			if err := saveState(w.path, s.entries, s.sysctls); err != nil {
				// The next change writes the whole state again.
				w.log.Error("cannot record kernel state; leftovers of this run may need removing by hand", "err", err)
			}
		}
	}
}

// flush waits until every snapshot handed over has been written.
func (w *stateWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.next != nil || w.writing {
		w.idle.Wait()
	}
}

// close writes what is waiting and stops the writer.
func (w *stateWriter) close() {
	w.flush()
	close(w.wake)
	<-w.stopped
}
