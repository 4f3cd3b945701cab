package binding

import (
	"net/netip"
	"slices"
	"time"
)

// Table holds at most one binding per home address, ordered for expiry. The
// zero value is an empty table ready for use. See the package documentation
// for the cost of each operation; a Table is not safe for concurrent use.
type Table struct {
	index map[uint32]int32 // home address -> position in recs
	recs  []record         // dense: every element holds a binding
	heap  []item           // min-heap by (exp, home); recs[i].pos points into it
	peak  int              // most entries index has held since it was made
}

// record is a binding in compact form. It holds no pointers, so the garbage
// collector does not scan the array, and its expiry lives in its heap item.
type record struct {
	home, lower, careOf, ha uint32
	id                      uint64
	lifetime                int64
	key                     [KeyLen]byte
	spi                     uint32
	value                   uint32
	pos                     int32 // index of this record's item in heap
	flags                   uint8
	bits                    uint8
}

// Bits of record.bits.
const (
	hasLower uint8 = 1 << iota
	hasCareOf
	hasHA
	hasKey
	confirmed
)

// minShrink is the capacity below which the backing arrays are not shrunk.
const minShrink = 1024

// New returns an empty table with room for sizeHint bindings before it grows.
func New(sizeHint int) *Table {
	sizeHint = max(sizeHint, 0)
	return &Table{
		index: make(map[uint32]int32, sizeHint),
		recs:  make([]record, 0, sizeHint),
		heap:  make([]item, 0, sizeHint),
	}
}

// Len returns the number of bindings.
func (t *Table) Len() int { return len(t.recs) }

// Put adds b, or replaces the binding for b.Home. It returns the binding it
// replaced, if any. Put fails, leaving the table unchanged, when b is invalid
// (see Binding).
func (t *Table) Put(b Binding) (prev Binding, replaced bool, err error) {
	exp, err := b.validate()
	if err != nil {
		return Binding{}, false, err
	}
	r := encode(b)
	if i, ok := t.index[r.home]; ok {
		old := &t.recs[i]
		prev = t.decode(old)
		r.pos = old.pos
		*old = r
		t.heap[r.pos].exp = exp
		t.fix(int(r.pos))
		return prev, true, nil
	}
	if t.index == nil {
		t.index = make(map[uint32]int32)
	}
	slot := int32(len(t.recs))
	r.pos = int32(len(t.heap))
	t.recs = append(t.recs, r)
	t.heap = append(t.heap, item{exp: exp, home: r.home, slot: slot})
	t.index[r.home] = slot
	t.peak = max(t.peak, len(t.index))
	t.up(int(r.pos))
	return Binding{}, false, nil
}

// Get returns the binding for home.
func (t *Table) Get(home netip.Addr) (Binding, bool) {
	if !home.Is4() {
		return Binding{}, false
	}
	i, ok := t.index[addrBits(home)]
	if !ok {
		return Binding{}, false
	}
	return t.decode(&t.recs[i]), true
}

// Delete removes the binding for home and returns it.
func (t *Table) Delete(home netip.Addr) (Binding, bool) {
	if !home.Is4() {
		return Binding{}, false
	}
	i, ok := t.index[addrBits(home)]
	if !ok {
		return Binding{}, false
	}
	b := t.decode(&t.recs[i])
	t.remove(i)
	return b, true
}

// Next returns the binding that expires first, without removing it. A daemon
// arms its expiry timer for Next's Expiry.
func (t *Table) Next() (Binding, bool) {
	if len(t.heap) == 0 {
		return Binding{}, false
	}
	return t.decode(&t.recs[t.heap[0].slot]), true
}

// PopExpired removes and returns the binding that expires first, if it has
// expired at now: that is, if its Expiry is not after now.
func (t *Table) PopExpired(now time.Time) (Binding, bool) {
	if len(t.heap) == 0 || t.heap[0].exp > now.UnixNano() {
		return Binding{}, false
	}
	slot := t.heap[0].slot
	b := t.decode(&t.recs[slot])
	t.remove(slot)
	return b, true
}

// Expire removes every binding whose Expiry is not after now and returns
// them in order of expiry, or nil if none has expired.
func (t *Table) Expire(now time.Time) []Binding {
	var out []Binding
	for {
		b, ok := t.PopExpired(now)
		if !ok {
			return out
		}
		out = append(out, b)
	}
}

// Range calls yield for each binding, in no particular order, until yield
// returns false. Its signature makes it an iter.Seq[Binding], so it can be
// ranged over: for b := range t.Range { ... }. The table must not be changed
// during Range.
func (t *Table) Range(yield func(Binding) bool) {
	for i := range t.recs {
		if !yield(t.decode(&t.recs[i])) {
			return
		}
	}
}

// List returns every binding, sorted by home address.
func (t *Table) List() []Binding {
	out := make([]Binding, 0, len(t.recs))
	for b := range t.Range {
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b Binding) int { return a.Home.Compare(b.Home) })
	return out
}

// remove deletes the record in slot i, moving the last record into its place
// to keep the array dense.
func (t *Table) remove(i int32) {
	home := t.recs[i].home
	t.heapRemove(int(t.recs[i].pos))
	last := int32(len(t.recs) - 1)
	if i != last {
		t.recs[i] = t.recs[last]
		t.index[t.recs[i].home] = i
		t.heap[t.recs[i].pos].slot = i
	}
	t.recs = t.recs[:last]
	delete(t.index, home)
	t.shrink()
}

// shrink gives memory back after most bindings have gone: the arrays when
// they are less than a quarter full, the map (which never shrinks itself)
// when it holds less than a quarter of its peak. Each costs O(n) after at
// least 3n removals, so removal stays O(log n) amortised.
func (t *Table) shrink() {
	n := len(t.recs)
	if c := cap(t.recs); c > minShrink && n < c/4 {
		t.recs = append(make([]record, 0, 2*n), t.recs...)
	}
	if c := cap(t.heap); c > minShrink && n < c/4 {
		t.heap = append(make([]item, 0, 2*n), t.heap...)
	}
	if t.peak > minShrink && n < t.peak/4 {
		index := make(map[uint32]int32, n)
		for i := range t.recs {
			index[t.recs[i].home] = int32(i)
		}
		t.index, t.peak = index, n
	}
}

func encode(b Binding) record {
	r := record{
		home:     addrBits(b.Home),
		id:       b.ID,
		lifetime: int64(b.Lifetime),
		spi:      b.SPI,
		value:    b.Value,
		flags:    b.Flags,
	}
	if b.Lower.IsValid() {
		r.lower, r.bits = addrBits(b.Lower), r.bits|hasLower
	}
	if b.CareOf.IsValid() {
		r.careOf, r.bits = addrBits(b.CareOf), r.bits|hasCareOf
	}
	if b.HA.IsValid() {
		r.ha, r.bits = addrBits(b.HA), r.bits|hasHA
	}
	if b.HasKey {
		r.key, r.bits = b.Key, r.bits|hasKey
	}
	if b.Confirmed {
		r.bits |= confirmed
	}
	return r
}

func (t *Table) decode(r *record) Binding {
	b := Binding{
		Home:      bitsAddr(r.home),
		ID:        r.id,
		Expiry:    time.Unix(0, t.heap[r.pos].exp),
		Lifetime:  time.Duration(r.lifetime),
		HasKey:    r.bits&hasKey != 0,
		Confirmed: r.bits&confirmed != 0,
		SPI:       r.spi,
		Flags:     r.flags,
		Value:     r.value,
	}
	if r.bits&hasLower != 0 {
		b.Lower = bitsAddr(r.lower)
	}
	if r.bits&hasCareOf != 0 {
		b.CareOf = bitsAddr(r.careOf)
	}
	if r.bits&hasHA != 0 {
		b.HA = bitsAddr(r.ha)
	}
	if b.HasKey {
		b.Key = r.key
	}
	return b
}

// addrBits returns an IPv4 address as a big-endian uint32, so that integer
// order is address order.
func addrBits(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func bitsAddr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
