package binding_test

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/binding"
)

// homeN returns the n-th of 2^32 distinct, scattered home addresses.
func homeN(n int) netip.Addr {
	v := uint32(n) * 2654435761 // odd multiplier: a bijection on uint32
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// TestScale checks that a table of 100 thousand bindings stays consistent
// through replacements and deletions and releases every binding exactly once,
// in expiry order.
func TestScale(t *testing.T) {
	const n = 100_000
	r := rand.New(rand.NewPCG(1, 2))
	tb := binding.New(0)
	want := make(map[netip.Addr]time.Time, n)
	for i := range n {
		b := binding.Binding{Home: homeN(i), Expiry: at(r.IntN(3600)), Value: uint32(i)}
		mustPut(t, tb, b)
		want[b.Home] = b.Expiry
	}
	check(t, tb)

	// Re-registrations move a third of the bindings in the heap.
	for i := 0; i < n; i += 3 {
		b := binding.Binding{Home: homeN(i), Expiry: at(r.IntN(3600)), Value: uint32(i) + 1}
		if _, replaced, err := tb.Put(b); err != nil || !replaced {
			t.Fatalf("Put(%v) = replaced %v, %v; want a replacement", b.Home, replaced, err)
		}
		want[b.Home] = b.Expiry
	}
	// Deregistrations remove a fifth.
	for i := 1; i < n; i += 5 {
		if _, ok := tb.Delete(homeN(i)); !ok {
			t.Fatalf("Delete(%v) found nothing", homeN(i))
		}
		delete(want, homeN(i))
	}
	check(t, tb)
	if tb.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", tb.Len(), len(want))
	}
	for i := 0; i < n; i += 7 {
		b, ok := tb.Get(homeN(i))
		exp, had := want[homeN(i)]
		if ok != had || (ok && !b.Expiry.Equal(exp)) {
			t.Fatalf("Get(%v) = %v, %v; want %v, %v", homeN(i), b.Expiry, ok, exp, had)
		}
		if ok && b.Value != uint32(i)+boolToUint32(i%3 == 0) {
			t.Fatalf("Get(%v).Value = %d, replacement lost", homeN(i), b.Value)
		}
	}

	// Expire in steps of a minute: each batch is in order, none early,
	// none late, none twice.
	var last binding.Binding
	for sec := 0; sec <= 3600; sec += 60 {
		now := at(sec)
		for _, b := range tb.Expire(now) {
			exp, ok := want[b.Home]
			switch {
			case !ok:
				t.Fatalf("Expire returned %v, which is not (or no longer) in the table", b.Home)
			case !exp.Equal(b.Expiry):
				t.Fatalf("Expire returned %v expiring at %v, want %v", b.Home, b.Expiry, exp)
			case b.Expiry.After(now):
				t.Fatalf("Expire(%v) returned %v early (%v)", now, b.Home, b.Expiry)
			case last.Expiry.After(b.Expiry) || (last.Expiry.Equal(b.Expiry) && last.Home.Compare(b.Home) >= 0):
				t.Fatalf("Expire order: %v@%v after %v@%v", b.Home, b.Expiry, last.Home, last.Expiry)
			}
			delete(want, b.Home)
			last = b
		}
		if next, ok := tb.Next(); ok && !next.Expiry.After(now) {
			t.Fatalf("after Expire(%v), Next %v expires at %v", now, next.Home, next.Expiry)
		}
		if sec == 1800 {
			check(t, tb)
		}
	}
	if tb.Len() != 0 || len(want) != 0 {
		t.Fatalf("after expiring everything: Len %d, %d never expired", tb.Len(), len(want))
	}
	check(t, tb)
	// The emptied table (whose storage has shrunk) is still usable.
	mustPut(t, tb, binding.Binding{Home: homeN(1), Expiry: at(1)})
	if b, ok := tb.Get(homeN(1)); !ok || b.Home != homeN(1) {
		t.Fatalf("Get after refill = %v, %v", b.Home, ok)
	}
	check(t, tb)
}

func boolToUint32(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}
