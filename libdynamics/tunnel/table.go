package tunnel

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Table holds the tunnels of one daemon, one per endpoint pair. The zero
// value is an empty table naming its devices with DefaultPrefix; New chooses
// another prefix. A Table is not safe for concurrent use.
type Table struct {
	prefix string
	maxID  ID
	last   ID // the last ID handed out
	byEnds map[Endpoints]*Tunnel
	byID   map[ID]*Tunnel
	idle   map[ID]*Tunnel // tunnels without users, lingering (ReleaseLinger)
}

// New returns an empty table whose device names start with prefix. The
// prefix must be printable ASCII without '/', ':', '%' or spaces, and shorter
// than MaxNameLen. The IDs available are those whose names fit in MaxNameLen
// bytes: every uint32 for prefixes of up to 5 bytes such as "dyn", but only
// 1 to 9 for a 14-byte prefix.
func New(prefix string) (*Table, error) {
	maxID, err := checkPrefix(prefix)
	if err != nil {
		return nil, err
	}
	return &Table{prefix: prefix, maxID: maxID}, nil
}

func (t *Table) init() {
	if t.prefix == "" {
		t.prefix = DefaultPrefix
		t.maxID, _ = checkPrefix(DefaultPrefix)
	}
	if t.byID == nil {
		t.byEnds = make(map[Endpoints]*Tunnel)
		t.byID = make(map[ID]*Tunnel)
		t.idle = make(map[ID]*Tunnel)
	}
}

// Prefix returns the device name prefix.
func (t *Table) Prefix() string {
	if t.prefix == "" {
		return DefaultPrefix
	}
	return t.prefix
}

// Len returns the number of tunnels.
func (t *Table) Len() int { return len(t.byID) }

// Acquire takes a reference to the tunnel from local to remote, creating it
// if it does not exist. It returns the tunnel and whether it was created, in
// which case the caller makes the device. An idle tunnel (ReleaseLinger) of
// those endpoints is taken back: it is not created, its device being still
// there. It fails, changing nothing, for
// endpoints that are not distinct IPv4 addresses with a specified remote, or
// when no ID is left (ErrExhausted).
func (t *Table) Acquire(local, remote netip.Addr) (tun Tunnel, created bool, err error) {
	e := Endpoints{Local: local, Remote: remote}
	if err := e.validate(); err != nil {
		return Tunnel{}, false, err
	}
	t.init()
	if p, ok := t.byEnds[e]; ok {
		p.Refs++
		if p.Refs == 1 {
			delete(t.idle, p.ID)
			p.Idle = time.Time{}
		}
		return *p, false, nil
	}
	if t.last >= t.maxID {
		return Tunnel{}, false, fmt.Errorf("%w: tunnel %v: all %d IDs for prefix %q used", ErrExhausted, e, t.maxID, t.prefix)
	}
	t.last++
	p := &Tunnel{ID: t.last, Name: name(t.prefix, t.last), Endpoints: e, Refs: 1}
	t.byEnds[e] = p
	t.byID[p.ID] = p
	return *p, true, nil
}

// Release drops a reference to the tunnel from local to remote. It returns
// the tunnel with its remaining reference count and whether that was the
// last reference, in which case the table has forgotten the tunnel and the
// caller removes the device. Releasing a tunnel the table does not hold, or
// an idle one (no reference left to drop), is ErrUnknown.
func (t *Table) Release(local, remote netip.Addr) (tun Tunnel, removed bool, err error) {
	e := Endpoints{Local: local, Remote: remote}
	p, ok := t.byEnds[e]
	if !ok {
		return Tunnel{}, false, fmt.Errorf("%w: release of tunnel %v", ErrUnknown, e)
	}
	return t.release(p)
}

// ReleaseID is Release for the tunnel with the given ID.
func (t *Table) ReleaseID(id ID) (tun Tunnel, removed bool, err error) {
	p, ok := t.byID[id]
	if !ok {
		return Tunnel{}, false, fmt.Errorf("%w: release of tunnel ID %d", ErrUnknown, id)
	}
	return t.release(p)
}

func (t *Table) release(p *Tunnel) (Tunnel, bool, error) {
	if p.Refs == 0 {
		return Tunnel{}, false, fmt.Errorf("%w: release of idle tunnel %s", ErrUnknown, p.Name)
	}
	p.Refs--
	if p.Refs > 0 {
		return *p, false, nil
	}
	t.forget(p)
	return *p, true, nil
}

// Destroy forgets the tunnel with the given ID whatever its reference count
// (an idle one too), as the control API's destroy_tunnel asks, and returns
// it as it was. Later releases of it by its former users report ErrUnknown.
func (t *Table) Destroy(id ID) (Tunnel, bool) {
	p, ok := t.byID[id]
	if !ok {
		return Tunnel{}, false
	}
	tun := *p
	t.forget(p)
	return tun, true
}

func (t *Table) forget(p *Tunnel) {
	delete(t.byEnds, p.Endpoints)
	delete(t.byID, p.ID)
	delete(t.idle, p.ID)
}

// Get returns the tunnel from local to remote.
func (t *Table) Get(local, remote netip.Addr) (Tunnel, bool) {
	p, ok := t.byEnds[Endpoints{Local: local, Remote: remote}]
	if !ok {
		return Tunnel{}, false
	}
	return *p, true
}

// ByID returns the tunnel with the given ID.
func (t *Table) ByID(id ID) (Tunnel, bool) {
	p, ok := t.byID[id]
	if !ok {
		return Tunnel{}, false
	}
	return *p, true
}

// ByName returns the tunnel whose device is called name.
func (t *Table) ByName(name string) (Tunnel, bool) {
	digits, ok := strings.CutPrefix(name, t.Prefix())
	if !ok || digits == "" || digits[0] == '0' {
		return Tunnel{}, false
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil {
		return Tunnel{}, false
	}
	return t.ByID(ID(n))
}

// List returns every tunnel, idle ones included, sorted by ID.
func (t *Table) List() []Tunnel {
	out := make([]Tunnel, 0, len(t.byID))
	for _, p := range t.byID {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b Tunnel) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
