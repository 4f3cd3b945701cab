package binding_test

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/binding"
)

// model is the obvious implementation of a binding table, against which the
// real one is compared.
type model map[netip.Addr]binding.Binding

func (m model) sorted() []binding.Binding {
	out := make([]binding.Binding, 0, len(m))
	for _, b := range m {
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b binding.Binding) int {
		if c := a.Expiry.Compare(b.Expiry); c != 0 {
			return c
		}
		return a.Home.Compare(b.Home)
	})
	return out
}

func (m model) expire(now time.Time) []binding.Binding {
	var out []binding.Binding
	for _, b := range m.sorted() {
		if b.Expiry.After(now) {
			break
		}
		out = append(out, b)
		delete(m, b.Home)
	}
	return out
}

// randomBinding draws from a small address pool and a narrow time window so
// that replacements and expiry ties are common.
func randomBinding(r *rand.Rand, pool int) binding.Binding {
	a := func() netip.Addr { return netip.AddrFrom4([4]byte{10, 1, byte(r.IntN(pool) >> 8), byte(r.IntN(pool))}) }
	b := binding.Binding{
		Home:      netip.AddrFrom4([4]byte{10, 0, 0, byte(r.IntN(pool))}),
		Expiry:    at(r.IntN(200)).Add(time.Duration(r.IntN(3)) * time.Millisecond),
		Lifetime:  time.Duration(r.IntN(1000)) * time.Second,
		ID:        r.Uint64(),
		Confirmed: r.IntN(2) == 0,
		SPI:       r.Uint32(),
		Flags:     uint8(r.Uint32()),
		Value:     r.Uint32(),
	}
	if r.IntN(4) != 0 {
		b.Lower, b.CareOf, b.HA = a(), a(), a()
	}
	if r.IntN(2) == 0 {
		b.HasKey = true
		for i := range b.Key {
			b.Key[i] = byte(r.Uint32())
		}
	}
	return b
}

func sameList(a, b []binding.Binding) bool { return slices.EqualFunc(a, b, same) }

func TestModel(t *testing.T) {
	for seed := range uint64(8) {
		r := rand.New(rand.NewPCG(seed, 0x5eed))
		pool := 4 + r.IntN(200)
		var tb binding.Table
		m := model{}
		now := at(0)
		for step := range 20000 {
			switch op := r.IntN(100); {
			case op < 45:
				b := randomBinding(r, pool)
				prev, replaced, err := tb.Put(b)
				want, had := m[b.Home]
				if err != nil || replaced != had || (had && !same(prev, want)) {
					t.Fatalf("seed %d step %d: Put(%v) = %+v, %v, %v; want %+v, %v", seed, step, b.Home, prev, replaced, err, want, had)
				}
				m[b.Home] = b
			case op < 65:
				h := randomBinding(r, pool).Home
				got, ok := tb.Get(h)
				want, had := m[h]
				if ok != had || (ok && !same(got, want)) {
					t.Fatalf("seed %d step %d: Get(%v) = %+v, %v; want %+v, %v", seed, step, h, got, ok, want, had)
				}
			case op < 80:
				h := randomBinding(r, pool).Home
				got, ok := tb.Delete(h)
				want, had := m[h]
				if ok != had || (ok && !same(got, want)) {
					t.Fatalf("seed %d step %d: Delete(%v) = %+v, %v; want %+v, %v", seed, step, h, got, ok, want, had)
				}
				delete(m, h)
			case op < 90:
				now = now.Add(time.Duration(r.IntN(4000)) * time.Millisecond)
				if got, want := tb.Expire(now), m.expire(now); !sameList(got, want) {
					t.Fatalf("seed %d step %d: Expire(%v) = %v, want %v", seed, step, now, homes(got), homes(want))
				}
			case op < 95:
				got, ok := tb.Next()
				all := m.sorted()
				if ok != (len(all) > 0) || (ok && !same(got, all[0])) {
					t.Fatalf("seed %d step %d: Next = %v, %v; want the first of %v", seed, step, got.Home, ok, homes(all))
				}
			default:
				want := m.sorted()
				slices.SortFunc(want, func(a, b binding.Binding) int { return a.Home.Compare(b.Home) })
				if got := tb.List(); !sameList(got, want) {
					t.Fatalf("seed %d step %d: List = %v, want %v", seed, step, homes(got), homes(want))
				}
			}
			if tb.Len() != len(m) {
				t.Fatalf("seed %d step %d: Len = %d, want %d", seed, step, tb.Len(), len(m))
			}
			if step%97 == 0 {
				check(t, &tb)
			}
		}
		// Drain: everything leaves in (expiry, home) order.
		want := m.sorted()
		var got []binding.Binding
		for {
			b, ok := tb.PopExpired(at(1 << 20))
			if !ok {
				break
			}
			got = append(got, b)
		}
		if !sameList(got, want) {
			t.Fatalf("seed %d: drained %v, want %v", seed, homes(got), homes(want))
		}
	}
}
