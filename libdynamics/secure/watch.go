package secure

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/dynamics-go/dynamics/libdynamics/esp"
)

// snapshot is what Check, Requires and Ready read without a lock. It is
// replaced whole whenever a policy comes or goes.
type snapshot struct {
	// entries are the configured peers (IPSEC), fixed.
	entries []netip.Prefix
	// inbound are the source prefixes of the inbound transport-mode
	// policies: where protected peers send from now.
	inbound []netip.Prefix
	// outbound are the destination prefixes of the outbound policies:
	// where a datagram leaves inside ESP.
	outbound []netip.Prefix
	// device is the userspace data path's TUN device index: what arrives
	// there came out of an SA. 0 with XFRM.
	device int
	// kernel: the kernel enforces inbound policies (XFRM), so what it
	// delivers from a source an inbound policy covers was protected.
	kernel bool
}

func within(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// required reports whether signalling with a must be protected.
func (s *snapshot) required(a netip.Addr) bool {
	a = a.Unmap()
	return within(s.entries, a) || within(s.inbound, a)
}

// protected reports whether a datagram from src that arrived on ifindex
// came out of an SA.
func (s *snapshot) protected(src netip.Addr, ifindex int) bool {
	if s.kernel {
		return within(s.inbound, src.Unmap())
	}
	return s.device != 0 && ifindex == s.device
}

// ready reports whether a datagram to dst may leave: it needs no
// protection or an outbound policy takes it.
func (s *snapshot) ready(dst netip.Addr) bool {
	dst = dst.Unmap()
	return !s.required(dst) || within(s.outbound, dst)
}

// verdict judges one received datagram.
func (s *snapshot) verdict(src netip.Addr, ifindex int) Verdict {
	return Verdict{Required: s.required(src), Protected: s.protected(src, ifindex)}
}

// watch is the esp.Kernel the engine installs through: it passes every
// call on and, after each policy change that succeeded, publishes a new
// snapshot and calls changed (outside its lock).
type watch struct {
	esp.Kernel
	snap    *atomic.Pointer[snapshot]
	changed func()

	mu       sync.Mutex
	inbound  map[esp.PolicyKey]netip.Prefix
	outbound map[esp.PolicyKey]netip.Prefix
}

// watchMux is a watch over an esp.Userspace: the engine gives the data
// path its Muxes through AddMux and RemoveMux, which must reach it.
type watchMux struct {
	*watch
	muxer interface {
		AddMux(*esp.Mux) error
		RemoveMux(*esp.Mux)
	}
}

func (w watchMux) AddMux(m *esp.Mux) error { return w.muxer.AddMux(m) }
func (w watchMux) RemoveMux(m *esp.Mux)    { w.muxer.RemoveMux(m) }

// newWatch wraps k; snap must hold the first snapshot (entries, device).
func newWatch(k esp.Kernel, snap *atomic.Pointer[snapshot], changed func()) esp.Kernel {
	w := &watch{Kernel: k, snap: snap, changed: changed,
		inbound: make(map[esp.PolicyKey]netip.Prefix), outbound: make(map[esp.PolicyKey]netip.Prefix)}
	if mu, ok := k.(interface {
		AddMux(*esp.Mux) error
		RemoveMux(*esp.Mux)
	}); ok {
		return watchMux{watch: w, muxer: mu}
	}
	return w
}

// AddPolicy implements esp.Kernel.
func (w *watch) AddPolicy(p esp.Policy) error {
	if err := w.Kernel.AddPolicy(p); err != nil {
		return err
	}
	w.record(p)
	return nil
}

// UpdatePolicy implements esp.Kernel.
func (w *watch) UpdatePolicy(p esp.Policy) error {
	if err := w.Kernel.UpdatePolicy(p); err != nil {
		return err
	}
	w.record(p)
	return nil
}

// DeletePolicy implements esp.Kernel.
func (w *watch) DeletePolicy(k esp.PolicyKey) error {
	if err := w.Kernel.DeletePolicy(k); err != nil {
		return err
	}
	w.mu.Lock()
	delete(w.inbound, k)
	delete(w.outbound, k)
	w.publish()
	w.mu.Unlock()
	w.notify()
	return nil
}

// Close implements esp.Kernel: the policies go with the data path.
func (w *watch) Close() error {
	err := w.Kernel.Close()
	w.mu.Lock()
	clear(w.inbound)
	clear(w.outbound)
	w.publish()
	w.mu.Unlock()
	return err
}

func (w *watch) record(p esp.Policy) {
	w.mu.Lock()
	k := p.Key()
	delete(w.inbound, k)
	delete(w.outbound, k)
	switch {
	case p.Direction == esp.Outbound:
		w.outbound[k] = p.Selector.Dst
	case p.Direction == esp.Inbound && p.Mode == esp.ModeTransport:
		w.inbound[k] = p.Selector.Src
	}
	w.publish()
	w.mu.Unlock()
	w.notify()
}

func (w *watch) notify() {
	if w.changed != nil {
		w.changed()
	}
}

// publish replaces the snapshot; called with mu held.
func (w *watch) publish() {
	old := w.snap.Load()
	s := &snapshot{entries: old.entries, device: old.device, kernel: old.kernel}
	for _, p := range w.inbound {
		s.inbound = append(s.inbound, p)
	}
	for _, p := range w.outbound {
		s.outbound = append(s.outbound, p)
	}
	w.snap.Store(s)
}
