package binding

import "fmt"

// Check reports the first broken invariant of the table's storage: the map,
// the record array and the heap must describe the same bindings, and the heap
// must be ordered.
func (t *Table) Check() error {
	if len(t.index) != len(t.recs) || len(t.heap) != len(t.recs) {
		return fmt.Errorf("sizes: index %d, records %d, heap %d", len(t.index), len(t.recs), len(t.heap))
	}
	for i := range t.recs {
		r := &t.recs[i]
		if j, ok := t.index[r.home]; !ok || int(j) != i {
			return fmt.Errorf("record %d (%v): index says %d, %v", i, bitsAddr(r.home), j, ok)
		}
		if r.pos < 0 || int(r.pos) >= len(t.heap) {
			return fmt.Errorf("record %d: heap position %d out of range", i, r.pos)
		}
		if it := t.heap[r.pos]; int(it.slot) != i || it.home != r.home {
			return fmt.Errorf("record %d: heap item %d points at slot %d home %v", i, r.pos, it.slot, bitsAddr(it.home))
		}
	}
	for i := 1; i < len(t.heap); i++ {
		if p := (i - 1) / 2; compareItems(t.heap[p], t.heap[i]) > 0 {
			return fmt.Errorf("heap order broken between %d and its parent %d", i, p)
		}
	}
	return nil
}
