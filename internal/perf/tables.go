package perf

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/binding"
)

// TablesOptions configure the table scale section.
type TablesOptions struct {
	// Sizes are the table sizes measured (default 10 thousand, 100
	// thousand and a million).
	Sizes []int
}

// DefaultTableSizes are the sizes of a full run.
var DefaultTableSizes = []int{10_000, 100_000, 1_000_000}

// Tables measures the binding table (libdynamics/binding) at each size, in
// this process: the live heap per binding once the table is built (from
// runtime.MemStats after a collection), and the mean cost of an insert
// (growing the table from empty to the size), a lookup (each binding once,
// in scattered order) and an expiry (every binding, popped in
// expiry-order batches of a thousandth of the table). The baseline is
// the plain structure a table replaces: a Go map from home address to
// binding.Binding, measured the same way; its expiry is a scan of the
// whole map for each batch, so it is measured on a sample of batches.
func Tables(ctx context.Context, opts TablesOptions) ([]Figure, error) {
	sizes := opts.Sizes
	if len(sizes) == 0 {
		sizes = DefaultTableSizes
	}
	var figs []Figure
	for _, n := range sizes {
		if err := ctx.Err(); err != nil {
			return figs, err
		}
		t, err := measureTable(n)
		if err != nil {
			return figs, err
		}
		m, err := measureMap(n)
		if err != nil {
			return figs, err
		}
		label := sizeLabel(n)
		key := "tables." + label + "."
		fig := func(k, name, unit string, v, base float64) Figure {
			return Figure{Section: SectionTables, Key: key + k, Name: name + " at " + label, Value: v, Unit: unit}.
				WithBaseline("map", base)
		}
		mem := fig("bytes", "memory per binding", "B", round(t.bytes), round(m.bytes))
		if n >= 1_000_000 {
			mem = mem.WithTargets(AtMost(200))
		}
		figs = append(figs, mem,
			fig("insert", "insert", "ns", round(t.insert), round(m.insert)),
			fig("lookup", "lookup", "ns", round(t.lookup), round(m.lookup)),
			fig("expiry", "expiry", "ns", round(t.expire), round(m.expire)),
		)
	}
	return figs, nil
}

// tableCost is what one structure cost at one size: live bytes per binding
// and nanoseconds per insert, lookup and expiry.
type tableCost struct {
	bytes, insert, lookup, expire float64
}

// tableBinding is binding i of a table of n: a distinct, scattered home
// address and an expiry between 1 and n seconds after epoch, also
// scattered; the fields a home agent fills.
func tableBinding(i, n int) binding.Binding {
	return binding.Binding{
		Home:      scatteredAddr(i),
		Lower:     netip.AddrFrom4([4]byte{10, 0, 1, 2}),
		CareOf:    netip.AddrFrom4([4]byte{10, 0, 1, 2}),
		HA:        netip.AddrFrom4([4]byte{10, 1, 0, 1}),
		ID:        uint64(i),
		Expiry:    tableEpoch.Add(time.Duration(1+(i*7919)%n) * time.Second),
		Lifetime:  600 * time.Second,
		Confirmed: true,
		SPI:       256,
		Value:     uint32(i),
	}
}

var tableEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// scatteredAddr returns the i-th of 2^32 distinct addresses, scattered.
func scatteredAddr(i int) netip.Addr { return numAddr(uint32(i) * 2654435761) }

// heapAlloc collects garbage and returns the live heap.
func heapAlloc() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func perOp(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / float64(max(n, 1)) }

// expiryBatches is how many batches a full expiry takes.
const expiryBatches = 1000

func measureTable(n int) (tableCost, error) {
	var c tableCost
	start := time.Now()
	tb := binding.New(0)
	for i := range n {
		if _, _, err := tb.Put(tableBinding(i, n)); err != nil {
			return c, fmt.Errorf("tables: %w", err)
		}
	}
	c.insert = perOp(time.Since(start), n)
	with := heapAlloc()

	start = time.Now()
	for i := range n {
		if _, ok := tb.Get(scatteredAddr((i * 7919) % n)); !ok {
			return c, fmt.Errorf("tables: binding %d of %d missing", i, n)
		}
	}
	c.lookup = perOp(time.Since(start), n)

	step := time.Duration(max(n/expiryBatches, 1)) * time.Second
	expired := 0
	start = time.Now()
	for now := tableEpoch; expired < n; {
		now = now.Add(step)
		expired += len(tb.Expire(now))
	}
	c.expire = perOp(time.Since(start), n)
	if tb.Len() != 0 {
		return c, fmt.Errorf("tables: %d bindings left after expiring all", tb.Len())
	}
	runtime.KeepAlive(tb) // and no further: the collection below frees it
	c.bytes = perBinding(with, heapAlloc(), n)
	return c, nil
}

// perBinding is the live heap a structure of n bindings took: the heap with
// it less the heap once it is dropped. Measured this way round, memory
// other work of the process frees meanwhile does not count against it.
func perBinding(with, without uint64, n int) float64 {
	return float64(int64(with)-int64(without)) / float64(n)
}

func measureMap(n int) (tableCost, error) {
	var c tableCost
	start := time.Now()
	m := make(map[netip.Addr]binding.Binding)
	for i := range n {
		b := tableBinding(i, n)
		m[b.Home] = b
	}
	c.insert = perOp(time.Since(start), n)
	with := heapAlloc()

	start = time.Now()
	found := 0
	for i := range n {
		if _, ok := m[scatteredAddr((i*7919)%n)]; ok {
			found++
		}
	}
	c.lookup = perOp(time.Since(start), n)

	// Expiry without an order: every batch scans the whole map. A sample
	// of the batches gives the cost per binding of a full expiry.
	step := time.Duration(max(n/expiryBatches, 1)) * time.Second
	batches := min(expiryBatches, n, 20)
	expired := 0
	now := tableEpoch
	start = time.Now()
	for range batches {
		now = now.Add(step)
		for h, b := range m {
			if !b.Expiry.After(now) {
				delete(m, h)
				expired++
			}
		}
	}
	perBatch := time.Since(start) / time.Duration(batches)
	total := perBatch * time.Duration(min(expiryBatches, n))
	c.expire = perOp(total, n)
	runtime.KeepAlive(m) // and no further: the collection below frees it
	c.bytes = perBinding(with, heapAlloc(), n)
	if found != n {
		return c, fmt.Errorf("tables: the map found %d of %d bindings", found, n)
	}
	return c, nil
}

// sizeLabel writes 10000 as "10k" and 1000000 as "1M".
func sizeLabel(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}
