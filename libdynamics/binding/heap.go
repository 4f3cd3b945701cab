package binding

import "cmp"

// item is a heap element: a binding's expiry in nanoseconds since the Unix
// epoch, its home address (to break ties in a fixed order) and its slot in
// Table.recs.
type item struct {
	exp  int64
	home uint32
	slot int32
}

func (t *Table) less(i, j int) bool { return compareItems(t.heap[i], t.heap[j]) < 0 }

func (t *Table) swap(i, j int) {
	h := t.heap
	h[i], h[j] = h[j], h[i]
	t.recs[h[i].slot].pos = int32(i)
	t.recs[h[j].slot].pos = int32(j)
}

// up moves item i towards the root until its parent is not greater.
func (t *Table) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.less(i, p) {
			return
		}
		t.swap(i, p)
		i = p
	}
}

// down moves item i towards the leaves until no child is smaller, and reports
// whether it moved.
func (t *Table) down(i int) bool {
	start, n := i, len(t.heap)
	for {
		c := 2*i + 1
		if c >= n || c < 0 {
			break
		}
		if r := c + 1; r < n && t.less(r, c) {
			c = r
		}
		if !t.less(c, i) {
			break
		}
		t.swap(i, c)
		i = c
	}
	return i > start
}

// fix restores the heap after item i changed.
func (t *Table) fix(i int) {
	if !t.down(i) {
		t.up(i)
	}
}

// heapRemove removes item i from the heap; the caller removes its record.
func (t *Table) heapRemove(i int) {
	last := len(t.heap) - 1
	if i != last {
		t.swap(i, last)
	}
	t.heap = t.heap[:last]
	if i != last {
		t.fix(i)
	}
}

// compareItems orders heap items by expiry, then home address.
func compareItems(a, b item) int {
	if c := cmp.Compare(a.exp, b.exp); c != 0 {
		return c
	}
	return cmp.Compare(a.home, b.home)
}
