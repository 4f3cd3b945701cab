package kernel

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
)

var _ Kernel = (*Fake)(nil)

// ARP records one gratuitous ARP announcement made through a Fake.
type ARP struct {
	Dev string
	IP  netip.Addr
}

// Fake is an in-memory Kernel for unit and in-process system tests. It keeps
// the semantics of a real implementation: entries are validated with
// Validate, Ensure and Remove are idempotent and ordered by kind, Sync makes
// the owned set exactly what is listed, Close removes everything and
// restores the sysctls it changed, and deleting a tunnel takes the
// addresses, routes, neighbour and proxy entries on its device with it, and
// deleting an address the routes that prefer it as source, as the kernel
// does.
//
// Beyond the Kernel interface a Fake counts the changes it actually made
// (Changes, Ops), so a test can assert that a repeated Ensure changed
// nothing; fails on demand (FailOn, FailARP); records gratuitous ARPs (ARPs);
// and renders its state as `ip` commands (Render).
//
// A Fake made by NewFake with link names checks devices like a kernel: a
// route, neighbour or proxy entry, or a gratuitous ARP, must name one of
// those links or a tunnel present in the Fake, else it fails with
// ErrNoDevice. The zero Fake accepts any device name.
//
// A Fake is safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	links   map[string]bool       // declared links; nil accepts any device
	entries map[string]Entry      // present entries by Key
	sysctls map[string]string     // simulated /proc/sys values
	orig    map[string]sysctlOrig // values of changed sysctls before the change
	fail    map[Kind]error        // injected failures
	arpErr  error                 // injected GratuitousARP failure
	arps    []ARP                 // announcements made
	ops     []string              // changes made, in order
	closed  bool
}

// sysctlOrig is a sysctl's value before the Fake first changed it.
type sysctlOrig struct {
	value string
	set   bool // false: the sysctl had no value
}

// NewFake returns an empty Fake. With link names it rejects entries on any
// other device, except tunnels it holds.
func NewFake(links ...string) *Fake {
	f := &Fake{}
	if len(links) > 0 {
		f.links = make(map[string]bool, len(links))
		for _, l := range links {
			f.links[l] = true
		}
	}
	return f
}

// Name implements Kernel.
func (f *Fake) Name() string { return "fake" }

// Ensure implements Kernel. Every entry is validated before any change is
// made; the first failing change stops the call and is returned.
func (f *Fake) Ensure(entries ...Entry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	want, err := Prepare(entries)
	if err != nil {
		return err
	}
	for _, e := range want {
		if err := f.ensure(e); err != nil {
			return err
		}
	}
	return nil
}

// Remove implements Kernel. Entries are matched by Key; every entry is
// attempted and the failures are joined.
func (f *Fake) Remove(entries ...Entry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	gone, err := Prepare(entries)
	if err != nil {
		return err
	}
	return f.removeAll(gone)
}

// Sync implements Kernel: it removes every present entry whose Key is not
// listed, then ensures the listed ones.
func (f *Fake) Sync(entries []Entry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	want, err := Prepare(entries)
	if err != nil {
		return err
	}
	listed := make(map[string]bool, len(want))
	for _, e := range want {
		listed[e.Key()] = true
	}
	var stale []Entry
	for k, e := range f.entries {
		if !listed[k] {
			stale = append(stale, e)
		}
	}
	Sort(stale)
	errs := []error{f.removeAll(stale)}
	for _, e := range want {
		if err := f.ensure(e); err != nil {
			errs = append(errs, err)
			break
		}
	}
	return errors.Join(errs...)
}

// Entries implements Kernel.
func (f *Fake) Entries() []Entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sorted()
}

// GratuitousARP implements Kernel: it records the announcement.
func (f *Fake) GratuitousARP(dev string, ip netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	if dev == "" || !ip.Is4() {
		return fmt.Errorf("%w: gratuitous ARP needs a device and an IPv4 address", ErrInvalid)
	}
	if !f.hasDevice(dev) {
		return fmt.Errorf("kernel: fake: gratuitous ARP for %s on %s: %w", ip, dev, ErrNoDevice)
	}
	if f.arpErr != nil {
		return fmt.Errorf("kernel: fake: gratuitous ARP for %s on %s: %w", ip, dev, f.arpErr)
	}
	f.arps = append(f.arps, ARP{Dev: dev, IP: ip})
	return nil
}

// Close implements Kernel: it removes every entry, rules and routes first,
// and restores the sysctls. Entries whose removal fails stay, and the
// failures are returned; the Fake is closed all the same. Closing twice is
// not an error.
func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	return f.removeAll(f.sorted())
}

// Changes returns how many changes the Fake has made: entries added,
// replaced or deleted, and sysctls written or restored. An Ensure of entries
// already present as given adds nothing.
func (f *Fake) Changes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ops)
}

// Ops returns the changes made so far, in order, one per line as "add
// <entry>", "replace <entry>" or "del <entry>" with the entry's String.
func (f *Fake) Ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ops...)
}

// FailOn makes every later change to an entry of kind k fail with err
// (wrapped with the entry), leaving the state as it was. A nil err clears
// the failure. Calls that need no change to such entries still succeed.
func (f *Fake) FailOn(k Kind, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.fail, k)
		return
	}
	if f.fail == nil {
		f.fail = make(map[Kind]error)
	}
	f.fail[k] = err
}

// FailARP makes every later GratuitousARP fail with err; nil clears it.
func (f *Fake) FailARP(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.arpErr = err
}

// ARPs returns the gratuitous ARP announcements made so far, in order.
func (f *Fake) ARPs() []ARP {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ARP(nil), f.arps...)
}

// SetSysctl sets a simulated /proc/sys value, as the system had it before the
// daemon started; it is not counted as a change. Close restores this value
// after a Sysctl entry changed it.
func (f *Fake) SetSysctl(name, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sysctls == nil {
		f.sysctls = make(map[string]string)
	}
	f.sysctls[name] = value
}

// Sysctl returns a simulated /proc/sys value and whether it is set.
func (f *Fake) Sysctl(name string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.sysctls[name]
	return v, ok
}

// Has reports whether e is present exactly as given.
func (f *Fake) Has(e Entry) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, ok := f.entries[e.Key()]
	return ok && Equal(cur, e)
}

// Render returns the present entries as the commands that would create them,
// one per line in ensure order (see Render).
func (f *Fake) Render() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Render(f.sorted())
}

// sorted returns the present entries in ensure order. f.mu is held.
func (f *Fake) sorted() []Entry {
	out := make([]Entry, 0, len(f.entries))
	for _, e := range f.entries {
		out = append(out, e)
	}
	Sort(out)
	return out
}

// removeAll removes entries in reverse ensure order, attempting each and
// joining the failures. f.mu is held.
func (f *Fake) removeAll(entries []Entry) error {
	var errs []error
	for i := len(entries) - 1; i >= 0; i-- {
		if err := f.remove(entries[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ensure makes e present. f.mu is held.
func (f *Fake) ensure(e Entry) error {
	cur, present := f.entries[e.Key()]
	if present && Equal(cur, e) {
		return nil
	}
	if err := f.fail[e.Kind()]; err != nil {
		return fmt.Errorf("kernel: fake: ensure %s: %w", e, err)
	}
	if dev := device(e); dev != "" && !f.hasDevice(dev) {
		return fmt.Errorf("kernel: fake: ensure %s: %s: %w", e, dev, ErrNoDevice)
	}
	if s, ok := e.(Sysctl); ok {
		if _, changed := f.orig[s.Name]; !changed {
			v, set := f.sysctls[s.Name]
			if f.orig == nil {
				f.orig = make(map[string]sysctlOrig)
			}
			f.orig[s.Name] = sysctlOrig{value: v, set: set}
		}
		if f.sysctls == nil {
			f.sysctls = make(map[string]string)
		}
		f.sysctls[s.Name] = s.Value
	}
	if f.entries == nil {
		f.entries = make(map[string]Entry)
	}
	f.entries[e.Key()] = e
	op := "add "
	if present {
		op = "replace "
	}
	f.ops = append(f.ops, op+e.String())
	return nil
}

// remove makes the entry with e's Key absent. f.mu is held.
func (f *Fake) remove(e Entry) error {
	cur, present := f.entries[e.Key()]
	if !present {
		return nil
	}
	if err := f.fail[e.Kind()]; err != nil {
		return fmt.Errorf("kernel: fake: remove %s: %w", cur, err)
	}
	f.drop(cur)
	if a, ok := cur.(Address); ok {
		f.dropRoutesFrom(a)
	}
	if t, ok := cur.(Tunnel); ok {
		// The kernel deletes what depends on a device with the device.
		var deps []Entry
		for _, d := range f.entries {
			if device(d) == t.Name {
				deps = append(deps, d)
			}
		}
		Sort(deps)
		for _, d := range deps {
			f.drop(d)
		}
	}
	return nil
}

// drop deletes a present entry and restores a sysctl. f.mu is held.
func (f *Fake) drop(e Entry) {
	delete(f.entries, e.Key())
	if s, ok := e.(Sysctl); ok {
		if o, changed := f.orig[s.Name]; changed {
			if o.set {
				f.sysctls[s.Name] = o.value
			} else {
				delete(f.sysctls, s.Name)
			}
			delete(f.orig, s.Name)
		}
	}
	f.ops = append(f.ops, "del "+e.String())
}

// hasDevice reports whether dev is a declared link or a present tunnel.
// f.mu is held.
func (f *Fake) hasDevice(dev string) bool {
	if f.links == nil || f.links[dev] {
		return true
	}
	_, ok := f.entries[Tunnel{Name: dev}.Key()]
	return ok
}

// device returns the device an entry lives on and dies with: none for
// tunnels, sysctls and rules (a rule's iif may name an absent device).
func device(e Entry) string {
	switch v := e.(type) {
	case Route:
		return v.Dev
	case ProxyARP:
		return v.Dev
	case Neighbor:
		return v.Dev
	case Address:
		return v.Dev
	}
	return ""
}
