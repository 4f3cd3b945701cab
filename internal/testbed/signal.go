package testbed

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// bedSet tracks the beds not yet closed, for CloseAll.
type bedSet struct {
	mu   sync.Mutex
	beds map[*Bed]struct{}
}

var openBeds = &bedSet{beds: map[*Bed]struct{}{}}

func (s *bedSet) add(b *Bed) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.beds[b] = struct{}{}
}

func (s *bedSet) remove(b *Bed) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.beds, b)
}

func (s *bedSet) list() []*Bed {
	s.mu.Lock()
	defer s.mu.Unlock()
	var l []*Bed
	for b := range s.beds {
		l = append(l, b)
	}
	return l
}

// CloseAll closes every bed of this program that is still open.
func CloseAll() error {
	var errs []error
	for _, b := range openBeds.list() {
		errs = append(errs, b.Close())
	}
	return errors.Join(errs...)
}

// CloseOnSignal makes SIGINT, SIGTERM or SIGHUP close every open bed and
// exit with status 130, for programs such as test binaries that have no
// other way to clean up when interrupted. stop undoes it.
func CloseOnSignal() (stop func()) {
	c := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		select {
		case sig := <-c:
			fmt.Fprintf(os.Stderr, "testbed: %v: removing the testbeds\n", sig)
			if err := CloseAll(); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
			os.Exit(130)
		case <-done:
		}
	}()
	return func() { signal.Stop(c); close(done) }
}
