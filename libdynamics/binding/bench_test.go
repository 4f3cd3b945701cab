package binding_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/binding"
)

var benchSizes = []int{10_000, 100_000, 1_000_000}

// batch is how many timed operations run between untimed restorations of the
// table's size, so that every operation sees a table of the nominal size.
const batch = 1024

// benchBinding returns binding i of a table of n: home address homeN(i),
// expiring k seconds after epoch where k runs through 0..n-1 in scattered
// order as i does (7919 is prime, so coprime with the sizes used).
func benchBinding(i, n int) binding.Binding {
	k := (i * 7919) % n
	return benchAt(i, k)
}

func benchAt(i, k int) binding.Binding {
	return binding.Binding{
		Home:      homeN(i),
		Lower:     ip("10.2.0.1"),
		CareOf:    ip("10.2.0.1"),
		HA:        ip("10.1.0.1"),
		ID:        uint64(i),
		Expiry:    at(k),
		Lifetime:  600 * time.Second,
		HasKey:    i%2 == 0,
		Key:       [binding.KeyLen]byte{byte(i), 1, 2, 3},
		Confirmed: true,
		SPI:       256,
		Value:     uint32(i),
	}
}

// fill returns a table of n bindings, grown from empty, and the live heap it
// takes per binding.
func fill(b *testing.B, n int) (*binding.Table, float64) {
	b.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tb := binding.New(0)
	for i := range n {
		mustPut(b, tb, benchBinding(i, n))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	return tb, float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
}

// forSizes runs run on a table of each size and reports, besides ns/op, the
// table's memory as the metric B/binding.
func forSizes(b *testing.B, run func(b *testing.B, tb *binding.Table, n int)) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", n), func(b *testing.B) {
			tb, perBinding := fill(b, n)
			b.ResetTimer()
			run(b, tb, n)
			b.ReportMetric(perBinding, "B/binding")
		})
	}
}

// BenchmarkInsert adds a binding for a home address never seen before to a
// table of n.
func BenchmarkInsert(b *testing.B) {
	forSizes(b, func(b *testing.B, tb *binding.Table, n int) {
		start := 0
		for i := 0; i < b.N; i++ {
			if _, _, err := tb.Put(benchBinding(n+i, n)); err != nil {
				b.Fatal(err)
			}
			if i%batch == batch-1 || i == b.N-1 {
				b.StopTimer()
				for k := start; k <= i; k++ {
					tb.Delete(homeN(n + k))
				}
				start = i + 1
				b.StartTimer()
			}
		}
	})
}

// BenchmarkReplace re-registers an existing binding with a new expiry.
func BenchmarkReplace(b *testing.B) {
	forSizes(b, func(b *testing.B, tb *binding.Table, n int) {
		for i := 0; i < b.N; i++ {
			if _, _, err := tb.Put(benchAt(i%n, (i*31)%n)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLookup finds a binding by home address in a table of n.
func BenchmarkLookup(b *testing.B) {
	forSizes(b, func(b *testing.B, tb *binding.Table, n int) {
		for i := 0; i < b.N; i++ {
			if _, ok := tb.Get(homeN((i * 7919) % n)); !ok {
				b.Fatal("binding missing")
			}
		}
	})
}

// BenchmarkDelete removes a binding from a table of n.
func BenchmarkDelete(b *testing.B) {
	forSizes(b, func(b *testing.B, tb *binding.Table, n int) {
		start := 0
		for i := 0; i < b.N; i++ {
			if _, ok := tb.Delete(homeN((i * 7919) % n)); !ok {
				b.Fatal("binding missing")
			}
			if i%batch == batch-1 || i == b.N-1 {
				b.StopTimer()
				for k := start; k <= i; k++ {
					mustPut(b, tb, benchBinding((k*7919)%n, n))
				}
				start = i + 1
				b.StartTimer()
			}
		}
	})
}

// BenchmarkExpire pops the one binding that has expired from a table of n.
// The table holds expiries k..k+n-1 seconds at the k-th operation.
func BenchmarkExpire(b *testing.B) {
	forSizes(b, func(b *testing.B, tb *binding.Table, n int) {
		popped := make([]binding.Binding, 0, batch)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			got := tb.Expire(at(i))
			if len(got) != 1 {
				b.Fatalf("Expire(+%ds) took %d bindings, want 1", i, len(got))
			}
			popped = append(popped, got[0])
			if len(popped) == batch || i == b.N-1 {
				b.StopTimer()
				for _, p := range popped {
					p.Expiry = p.Expiry.Add(time.Duration(n) * time.Second)
					mustPut(b, tb, p)
				}
				popped = popped[:0]
				b.StartTimer()
			}
		}
	})
}
