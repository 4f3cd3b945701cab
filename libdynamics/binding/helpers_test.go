package binding_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/binding"
)

// epoch is an arbitrary fixed instant the tests count from.
var epoch = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return epoch.Add(time.Duration(sec) * time.Second) }

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// same reports whether two bindings are equal, comparing expiry instants
// rather than time.Time representations.
func same(a, b binding.Binding) bool {
	if !a.Expiry.Equal(b.Expiry) {
		return false
	}
	a.Expiry, b.Expiry = time.Time{}, time.Time{}
	return a == b
}

func mustPut(t testing.TB, tb *binding.Table, b binding.Binding) {
	t.Helper()
	if _, _, err := tb.Put(b); err != nil {
		t.Fatalf("Put(%v): %v", b.Home, err)
	}
}

func check(t testing.TB, tb *binding.Table) {
	t.Helper()
	if err := tb.Check(); err != nil {
		t.Fatalf("table inconsistent: %v", err)
	}
}

func homes(bs []binding.Binding) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Home.String()
	}
	return out
}
