package nlkernel

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

var _ kernel.Kernel = (*Kernel)(nil)

// Kernel is the netlink implementation of kernel.Kernel. It works in the
// network namespace of the thread that called New. It is safe for concurrent
// use.
type Kernel struct {
	mu     sync.Mutex
	h      *netlink.Handle
	ns     netns.NsHandle
	driver kernel.TunnelDriver
	opts   Options
	log    *slog.Logger

	owned   map[string]kernel.Entry // entries this Kernel made or adopted, by Key
	sysctls map[string]stateSysctl  // owned sysctls: the value set and the one found
	left    leftovers               // state file entries of an earlier run not yet dealt with
	changes uint64                  // kernel writes made
	// dirty reports that what the state file records (persisted entries,
	// sysctls, leftovers) changed since it was last handed to the writer.
	dirty bool
	// delta holds the persisted entries changed since the last snapshot
	// handed to the writer, by Key: the entry now, or nil when gone.
	delta  map[string]kernel.Entry
	writer *stateWriter // nil without a state file
	closed bool

	arps    map[string]*arpClient // open ARP clients, by device name
	dialARP func(*net.Interface) (arpConn, error)
}

// New returns a Kernel for the network namespace of the calling OS thread,
// making tunnels with driver (which may be nil when no tunnels are needed;
// Close closes it). It reads the state file, if any, for Sync to clean up.
func New(driver kernel.TunnelDriver, opts Options) (*Kernel, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	left, err := loadState(opts.StateFile)
	if err != nil {
		return nil, err
	}
	ns, h, err := currentNS()
	if err != nil {
		return nil, err
	}
	k := &Kernel{
		h:       h,
		ns:      ns,
		driver:  driver,
		opts:    opts,
		log:     opts.Logger,
		owned:   make(map[string]kernel.Entry),
		sysctls: make(map[string]stateSysctl),
		left:    left,
		delta:   make(map[string]kernel.Entry),
		arps:    make(map[string]*arpClient),
		dialARP: dialARP,
	}
	if opts.StateFile != "" {
		k.writer = newStateWriter(opts.StateFile, k.log, stateWriteInterval, left.entries)
	}
	if !left.empty() {
		k.log.Info("kernel state of an earlier run found; Sync removes what is not wanted",
			"file", opts.StateFile, "entries", len(left.entries), "sysctls", len(left.sysctls))
	}
	return k, nil
}

// Name implements kernel.Kernel: the tunnel driver's name, or "netlink"
// without a driver.
func (k *Kernel) Name() string {
	if k.driver == nil {
		return "netlink"
	}
	return k.driver.Name()
}

// Changes returns how many writes to the kernel (netlink requests, sysctl
// writes, tunnel driver calls) the Kernel has made. An Ensure of entries
// already present as given makes none.
func (k *Kernel) Changes() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.changes
}

// Ensure implements kernel.Kernel. It trusts its own record: an entry it has
// made as given is not checked again (Sync rereads the kernel).
func (k *Kernel) Ensure(entries ...kernel.Entry) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return kernel.ErrClosed
	}
	want, err := k.prepare(entries)
	if err != nil {
		return err
	}
	defer k.save()
	for _, e := range want {
		if cur, ok := k.owned[e.Key()]; ok && kernel.Equal(cur, e) {
			continue
		}
		if err := k.apply(e, nil); err != nil {
			return err
		}
	}
	return nil
}

// Remove implements kernel.Kernel. Routes and rules are deleted when they
// carry the Kernel's protocol, tunnels when they carry its prefix, and
// proxy, neighbour and sysctl entries when this Kernel or the run recorded
// in the state file made them; anything else is left alone.
func (k *Kernel) Remove(entries ...kernel.Entry) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return kernel.ErrClosed
	}
	gone, err := k.prepare(entries)
	if err != nil {
		return err
	}
	defer k.save()
	var errs []error
	for i := len(gone) - 1; i >= 0; i-- {
		if err := k.remove(gone[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Sync implements kernel.Kernel. It rereads the kernel: owned entries that
// are missing or changed are made again, and routes and rules with the
// Kernel's protocol, ipip and TUN links with its tunnel prefix, and the
// state file's entries are removed unless listed.
func (k *Kernel) Sync(entries []kernel.Entry) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return kernel.ErrClosed
	}
	want, err := k.prepare(entries)
	if err != nil {
		return err
	}
	snap, err := k.snapshot()
	if err != nil {
		return err
	}
	defer k.save()
	wanted := make(map[string]bool, len(want))
	for _, e := range want {
		wanted[e.Key()] = true
	}
	errs := []error{k.removeStale(snap, wanted)}
	for _, e := range want {
		if snap.present(k, e) {
			k.adopt(e)
			continue
		}
		if err := k.apply(e, snap); err != nil {
			errs = append(errs, err)
			break
		}
	}
	return errors.Join(errs...)
}

// Entries implements kernel.Kernel.
func (k *Kernel) Entries() []kernel.Entry {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]kernel.Entry, 0, len(k.owned))
	for _, e := range k.owned {
		out = append(out, e)
	}
	sortEntries(out)
	return out
}

// Close implements kernel.Kernel: it removes every owned entry, restores
// owned sysctls, closes the tunnel driver and releases the netlink handle.
// Leftovers of an earlier run that no Sync removed stay in the state file.
func (k *Kernel) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil
	}
	var errs []error
	all := make([]kernel.Entry, 0, len(k.owned))
	for _, e := range k.owned {
		all = append(all, e)
	}
	sortEntries(all)
	for i := len(all) - 1; i >= 0; i-- {
		if err := k.remove(all[i]); err != nil {
			errs = append(errs, err)
		}
	}
	for dev := range k.arps {
		if err := k.closeARP(dev); err != nil {
			errs = append(errs, fmt.Errorf("nlkernel: close ARP client of %s: %w", dev, err))
		}
	}
	k.save()
	if k.writer != nil {
		k.writer.close()
	}
	if k.driver != nil {
		if err := k.driver.Close(); err != nil {
			errs = append(errs, fmt.Errorf("nlkernel: close tunnel driver: %w", err))
		}
	}
	k.closed = true
	k.h.Close()
	k.ns.Close()
	return errors.Join(errs...)
}

// prepare validates a batch (kernel.Prepare) and checks tunnel names carry
// the prefix by which a later run recognises them.
func (k *Kernel) prepare(entries []kernel.Entry) ([]kernel.Entry, error) {
	out, err := kernel.Prepare(entries)
	if err != nil {
		return nil, err
	}
	for _, e := range out {
		if t, ok := e.(kernel.Tunnel); ok && !strings.HasPrefix(t.Name, k.opts.TunnelPrefix) {
			return nil, fmt.Errorf("%w: tunnel %s: name must begin with %q", kernel.ErrInvalid, t.Name, k.opts.TunnelPrefix)
		}
	}
	return out, nil
}

// apply makes e present, replacing whatever has its Key. snap, when not nil,
// is the kernel's state read by Sync. k.mu is held.
func (k *Kernel) apply(e kernel.Entry, snap *snapshot) error {
	var err error
	switch v := e.(type) {
	case kernel.Sysctl:
		err = k.ensureSysctl(v)
	case kernel.Tunnel:
		err = k.ensureTunnel(v)
	case kernel.Address:
		err = k.ensureAddress(v)
	case kernel.Neighbor:
		err = k.ensureNeighbor(v)
	case kernel.ProxyARP:
		err = k.ensureProxy(v)
	case kernel.Route:
		err = k.ensureRoute(v)
	case kernel.Rule:
		err = k.ensureRule(v, snap)
	}
	if err != nil {
		return fmt.Errorf("nlkernel: ensure %s: %w", e, err)
	}
	k.adopt(e)
	return nil
}

// adopt records e as owned. k.mu is held.
func (k *Kernel) adopt(e kernel.Entry) {
	key := e.Key()
	if _, left := k.left.entries[key]; left || persisted(e) {
		k.dirty = true
		if persisted(e) {
			k.delta[key] = e
		}
	}
	k.owned[key] = e
	delete(k.left.entries, key)
}

// persisted reports whether the state file records entries of e's kind:
// those that carry no mark of their own in the kernel.
func persisted(e kernel.Entry) bool {
	switch e.(type) {
	case kernel.ProxyARP, kernel.Neighbor, kernel.Address:
		return true
	}
	return false
}

// remove makes the entry with e's Key absent, as far as it is the Kernel's.
// k.mu is held.
func (k *Kernel) remove(e kernel.Entry) error {
	key := e.Key()
	cur, owned := k.owned[key]
	if !owned {
		cur = e
		if l, ok := k.left.entries[key]; ok {
			cur = l
		}
	}
	_, leftover := k.left.entries[key]
	var err error
	switch v := cur.(type) {
	case kernel.Sysctl:
		err = k.restoreSysctl(v.Name)
	case kernel.Tunnel:
		err = k.removeTunnel(v.Name, owned)
	case kernel.Address:
		if owned || leftover {
			err = k.removeAddress(v, owned)
		}
	case kernel.Neighbor:
		if owned || leftover {
			err = k.removeNeighbor(v, owned)
		}
	case kernel.ProxyARP:
		if owned || leftover {
			err = k.removeProxy(v)
		}
	case kernel.Route:
		err = k.removeRoute(v.Dst, v.Table)
	case kernel.Rule:
		err = k.removeRule(v, owned)
	}
	if err != nil {
		return fmt.Errorf("nlkernel: remove %s: %w", cur, err)
	}
	if (owned || leftover) && persisted(cur) {
		k.dirty = true
		k.delta[key] = nil
	}
	delete(k.owned, key)
	delete(k.left.entries, key)
	return nil
}

// forgetDevice drops the owned and leftover entries that the kernel deleted
// with device dev. k.mu is held.
func (k *Kernel) forgetDevice(dev string) {
	for _, m := range []map[string]kernel.Entry{k.owned, k.left.entries} {
		for key, e := range m {
			switch v := e.(type) {
			case kernel.Route:
				if v.Dev == dev {
					delete(m, key)
				}
			case kernel.ProxyARP:
				if v.Dev == dev {
					delete(m, key)
				}
			case kernel.Neighbor:
				if v.Dev == dev {
					delete(m, key)
				}
			case kernel.Address:
				if v.Dev == dev {
					delete(m, key)
				}
			}
			if _, kept := m[key]; !kept && persisted(e) {
				k.dirty = true
				k.delta[key] = nil
			}
		}
	}
}

// changed counts and logs one write to the kernel. k.mu is held.
func (k *Kernel) changed(op, what string) {
	k.changes++
	k.log.Debug("kernel "+op, "entry", what)
}

// save hands the state file writer what changed in what the file records:
// the persisted entries changed since the last call (k.delta) and the
// sysctls, a handful. The writer keeps its own copy of the entries and
// writes the file in the background, at most once per stateWriteInterval
// (stateWriter), so a change costs its caller neither a pass over every
// recorded entry nor the disk. Routes, rules and tunnels carry the
// Kernel's marks in the kernel and are not recorded, so changing them
// (most of what a move changes) writes nothing. k.mu is held.
func (k *Kernel) save() {
	if k.writer == nil || !k.dirty {
		clear(k.delta)
		return
	}
	sysctls := make([]stateSysctl, 0, len(k.sysctls)+len(k.left.sysctls))
	for _, s := range k.sysctls {
		sysctls = append(sysctls, s)
	}
	for name, s := range k.left.sysctls {
		if _, owned := k.sysctls[name]; !owned {
			sysctls = append(sysctls, s)
		}
	}
	k.writer.put(k.delta, sysctls)
	k.delta = make(map[string]kernel.Entry)
	k.dirty = false
}

// sortEntries sorts entries as kernel.Sort does, in ensure order by kind
// and then by Key, formatting each Key once rather than at every
// comparison.
func sortEntries(entries []kernel.Entry) {
	type keyed struct {
		kind int
		key  string
		e    kernel.Entry
	}
	ks := make([]keyed, len(entries))
	for i, e := range entries {
		ks[i] = keyed{kind: int(e.Kind()), key: e.Key(), e: e}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		if a.kind != b.kind {
			return a.kind - b.kind
		}
		return strings.Compare(a.key, b.key)
	})
	for i := range ks {
		entries[i] = ks[i].e
	}
}

// flushState waits until the state file records every change made so far.
func (k *Kernel) flushState() {
	if k.writer != nil {
		k.writer.flush()
	}
}

// link returns the link named dev; a missing one is kernel.ErrNoDevice.
func (k *Kernel) link(dev string) (netlink.Link, error) {
	l, err := k.h.LinkByName(dev)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("%s: %w", dev, kernel.ErrNoDevice)
		}
		return nil, fmt.Errorf("%s: %w", dev, err)
	}
	return l, nil
}

// index returns the interface index of dev.
func (k *Kernel) index(dev string) (int, error) {
	l, err := k.link(dev)
	if err != nil {
		return 0, err
	}
	return l.Attrs().Index, nil
}
