package binding_test

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/binding"
)

func full() binding.Binding {
	return binding.Binding{
		Home:      ip("10.1.0.10"),
		Lower:     ip("10.2.0.1"),
		CareOf:    ip("192.0.2.7"),
		HA:        ip("10.1.0.1"),
		ID:        0xdeadbeef_01020304,
		Expiry:    at(600).Add(123456789 * time.Nanosecond),
		Lifetime:  600 * time.Second,
		Key:       [binding.KeyLen]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		HasKey:    true,
		Confirmed: true,
		SPI:       0x1000,
		Flags:     0b1001_0010,
		Value:     42,
	}
}

func TestPutInvalid(t *testing.T) {
	tests := []struct {
		name   string
		change func(*binding.Binding)
	}{
		{"no home", func(b *binding.Binding) { b.Home = netip.Addr{} }},
		{"IPv6 home", func(b *binding.Binding) { b.Home = ip("2001:db8::1") }},
		{"IPv4-mapped home", func(b *binding.Binding) { b.Home = ip("::ffff:10.1.0.10") }},
		{"IPv6 lower", func(b *binding.Binding) { b.Lower = ip("2001:db8::2") }},
		{"IPv6 care-of", func(b *binding.Binding) { b.CareOf = ip("2001:db8::3") }},
		{"IPv6 home agent", func(b *binding.Binding) { b.HA = ip("2001:db8::4") }},
		{"zero expiry", func(b *binding.Binding) { b.Expiry = time.Time{} }},
		{"expiry after 2262", func(b *binding.Binding) { b.Expiry = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"expiry before 1678", func(b *binding.Binding) { b.Expiry = time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"negative lifetime", func(b *binding.Binding) { b.Lifetime = -time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tb binding.Table
			old := full()
			old.Home = ip("10.1.0.99")
			mustPut(t, &tb, old)
			b := full()
			tt.change(&b)
			prev, replaced, err := tb.Put(b)
			if !errors.Is(err, binding.ErrInvalid) {
				t.Fatalf("Put: err = %v, want ErrInvalid", err)
			}
			if replaced || prev != (binding.Binding{}) {
				t.Errorf("Put reported replacing %v", prev)
			}
			if tb.Len() != 1 {
				t.Errorf("Len = %d after a failed Put, want 1", tb.Len())
			}
			check(t, &tb)
		})
	}
}

func TestPutGetRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		change func(*binding.Binding)
		want   func(*binding.Binding)
	}{
		{name: "every field"},
		{
			name:   "no session key",
			change: func(b *binding.Binding) { b.HasKey = false },
			want:   func(b *binding.Binding) { b.HasKey, b.Key = false, [binding.KeyLen]byte{} },
		},
		{
			name:   "unknown addresses stay unknown",
			change: func(b *binding.Binding) { b.Lower, b.CareOf, b.HA = netip.Addr{}, netip.Addr{}, netip.Addr{} },
		},
		{
			name:   "0.0.0.0 is not unknown",
			change: func(b *binding.Binding) { b.Lower, b.CareOf, b.HA = ip("0.0.0.0"), ip("0.0.0.0"), ip("0.0.0.0") },
		},
		{
			name: "broadcast addresses and extreme values",
			change: func(b *binding.Binding) {
				b.Home, b.Lower, b.ID, b.SPI, b.Flags, b.Value = ip("255.255.255.255"), ip("255.255.255.254"), ^uint64(0), ^uint32(0), 0xff, ^uint32(0)
			},
		},
		{
			name:   "unconfirmed, zero lifetime, local time zone",
			change: func(b *binding.Binding) { b.Confirmed, b.Lifetime, b.Expiry = false, 0, b.Expiry.Local() },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := full()
			if tt.change != nil {
				tt.change(&in)
			}
			want := in
			if tt.want != nil {
				tt.want(&want)
			}
			var tb binding.Table
			if _, replaced, err := tb.Put(in); err != nil || replaced {
				t.Fatalf("Put = replaced %v, %v; want a new binding", replaced, err)
			}
			got, ok := tb.Get(in.Home)
			if !ok {
				t.Fatalf("Get(%v) found nothing", in.Home)
			}
			if !same(got, want) {
				t.Errorf("Get(%v)\n got %+v\nwant %+v", in.Home, got, want)
			}
			for _, read := range []func() (binding.Binding, bool){tb.Next, func() (binding.Binding, bool) { return tb.Delete(in.Home) }} {
				if got, ok := read(); !ok || !same(got, want) {
					t.Errorf("read back %+v, %v; want %+v", got, ok, want)
				}
			}
		})
	}
}

func TestPutReplace(t *testing.T) {
	var tb binding.Table
	a := full()
	b := full()
	b.Home = ip("10.1.0.11")
	b.Expiry = at(300)
	mustPut(t, &tb, a)
	mustPut(t, &tb, b)

	moved := a
	moved.CareOf, moved.Lower, moved.ID, moved.Expiry = ip("192.0.2.99"), ip("10.3.0.1"), a.ID+1, at(100)
	moved.HasKey, moved.Key = false, [binding.KeyLen]byte{}
	prev, replaced, err := tb.Put(moved)
	if err != nil || !replaced {
		t.Fatalf("Put = replaced %v, %v; want a replacement", replaced, err)
	}
	if !same(prev, a) {
		t.Errorf("Put returned previous %+v, want %+v", prev, a)
	}
	if tb.Len() != 2 {
		t.Errorf("Len = %d, want 2", tb.Len())
	}
	if got, _ := tb.Get(a.Home); !same(got, moved) {
		t.Errorf("Get after replace = %+v, want %+v", got, moved)
	}
	if next, _ := tb.Next(); next.Home != a.Home {
		t.Errorf("Next = %v; the replacement moved its expiry first", next.Home)
	}
	moved.Expiry = at(900)
	mustPut(t, &tb, moved)
	if next, _ := tb.Next(); next.Home != b.Home {
		t.Errorf("Next = %v; the replacement moved its expiry last", next.Home)
	}
	check(t, &tb)
}

func TestGetDeleteMissing(t *testing.T) {
	var tb binding.Table
	mustPut(t, &tb, full())
	for _, home := range []string{"10.1.0.11", "0.0.0.0", "2001:db8::1", "::ffff:10.1.0.10"} {
		if b, ok := tb.Get(ip(home)); ok {
			t.Errorf("Get(%s) = %v, want nothing", home, b.Home)
		}
		if b, ok := tb.Delete(ip(home)); ok {
			t.Errorf("Delete(%s) = %v, want nothing", home, b.Home)
		}
	}
	if _, ok := tb.Get(netip.Addr{}); ok {
		t.Error("Get of the zero address found a binding")
	}
	if tb.Len() != 1 {
		t.Errorf("Len = %d, want 1", tb.Len())
	}
}

func TestDelete(t *testing.T) {
	var tb binding.Table
	for i, home := range []string{"10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4"} {
		b := full()
		b.Home, b.Expiry = ip(home), at(10*(4-i))
		mustPut(t, &tb, b)
	}
	for _, tc := range []struct {
		home string
		ok   bool
		left []string
	}{
		{"10.1.0.2", true, []string{"10.1.0.1", "10.1.0.3", "10.1.0.4"}},
		{"10.1.0.2", false, []string{"10.1.0.1", "10.1.0.3", "10.1.0.4"}},
		{"10.1.0.4", true, []string{"10.1.0.1", "10.1.0.3"}}, // the first to expire
		{"10.1.0.1", true, []string{"10.1.0.3"}},
		{"10.1.0.3", true, []string{}},
		{"10.1.0.3", false, []string{}},
	} {
		b, ok := tb.Delete(ip(tc.home))
		if ok != tc.ok || (ok && b.Home != ip(tc.home)) {
			t.Fatalf("Delete(%s) = %v, %v; want ok %v", tc.home, b.Home, ok, tc.ok)
		}
		if got := homes(tb.List()); !slices.Equal(got, tc.left) {
			t.Fatalf("after Delete(%s): List = %v, want %v", tc.home, got, tc.left)
		}
		if _, ok := tb.Get(ip(tc.home)); ok {
			t.Fatalf("Get(%s) found a deleted binding", tc.home)
		}
		check(t, &tb)
	}
	if _, ok := tb.Next(); ok {
		t.Error("Next on an emptied table found a binding")
	}
}

func TestExpire(t *testing.T) {
	// Expiries in seconds from epoch; 10.0.0.2 and 10.0.0.5 tie, as do
	// 10.0.0.6 and 10.0.0.1.
	expiries := map[string]int{
		"10.0.0.3": 30, "10.0.0.5": 10, "10.0.0.2": 10, "10.0.0.4": 20,
		"10.0.0.6": 40, "10.0.0.1": 40,
	}
	tests := []struct {
		name string
		now  []int      // successive Expire calls
		want [][]string // homes each returns
		next string     // Next afterwards, "" for none
	}{
		{"nothing yet", []int{9}, [][]string{nil}, "10.0.0.2"},
		{"boundary instant expires", []int{10}, [][]string{{"10.0.0.2", "10.0.0.5"}}, "10.0.0.4"},
		{"in expiry order", []int{35}, [][]string{{"10.0.0.2", "10.0.0.5", "10.0.0.4", "10.0.0.3"}}, "10.0.0.1"},
		{"step by step", []int{15, 15, 25, 100}, [][]string{{"10.0.0.2", "10.0.0.5"}, nil, {"10.0.0.4"}, {"10.0.0.3", "10.0.0.1", "10.0.0.6"}}, ""},
		{"clock going back expires nothing", []int{20, 5}, [][]string{{"10.0.0.2", "10.0.0.5", "10.0.0.4"}, nil}, "10.0.0.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := binding.New(len(expiries))
			for home, sec := range expiries {
				b := full()
				b.Home, b.Expiry = ip(home), at(sec)
				mustPut(t, tb, b)
			}
			total := len(expiries)
			for i, now := range tt.now {
				got := tb.Expire(at(now))
				if !slices.Equal(homes(got), tt.want[i]) {
					t.Fatalf("Expire(+%ds) = %v, want %v", now, homes(got), tt.want[i])
				}
				for _, b := range got {
					if b.Expiry.After(at(now)) {
						t.Errorf("Expire(+%ds) returned %v expiring at %v", now, b.Home, b.Expiry)
					}
					if _, ok := tb.Get(b.Home); ok {
						t.Errorf("expired %v is still in the table", b.Home)
					}
				}
				total -= len(got)
				if tb.Len() != total {
					t.Errorf("Len = %d, want %d", tb.Len(), total)
				}
				check(t, tb)
			}
			next, ok := tb.Next()
			if (tt.next != "") != ok || (ok && next.Home != ip(tt.next)) {
				t.Errorf("Next = %v, %v; want %q", next.Home, ok, tt.next)
			}
		})
	}
}

func TestPopExpired(t *testing.T) {
	var tb binding.Table
	if _, ok := tb.PopExpired(at(1 << 20)); ok {
		t.Fatal("PopExpired on an empty table found a binding")
	}
	for i, home := range []string{"10.0.0.1", "10.0.0.2"} {
		b := full()
		b.Home, b.Expiry = ip(home), at(10*(i+1))
		mustPut(t, &tb, b)
	}
	if b, ok := tb.PopExpired(at(9)); ok {
		t.Fatalf("PopExpired(+9s) = %v before anything expired", b.Home)
	}
	if b, ok := tb.PopExpired(at(30)); !ok || b.Home != ip("10.0.0.1") {
		t.Fatalf("PopExpired(+30s) = %v, %v; want 10.0.0.1", b.Home, ok)
	}
	if b, ok := tb.PopExpired(at(30)); !ok || b.Home != ip("10.0.0.2") {
		t.Fatalf("PopExpired(+30s) = %v, %v; want 10.0.0.2", b.Home, ok)
	}
	if tb.Len() != 0 {
		t.Errorf("Len = %d, want 0", tb.Len())
	}
}

func TestRangeList(t *testing.T) {
	var tb binding.Table
	if got := tb.List(); len(got) != 0 {
		t.Fatalf("List of the zero table = %v", homes(got))
	}
	in := []string{"10.1.0.200", "9.255.255.255", "10.1.0.3", "255.255.255.255", "0.0.0.0", "10.1.0.20"}
	for i, home := range in {
		b := full()
		b.Home, b.Expiry, b.Value = ip(home), at(100-i), uint32(i)
		mustPut(t, &tb, b)
	}
	want := []string{"0.0.0.0", "9.255.255.255", "10.1.0.3", "10.1.0.20", "10.1.0.200", "255.255.255.255"}
	if got := homes(tb.List()); !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	seen := map[string]uint32{}
	for b := range tb.Range {
		seen[b.Home.String()] = b.Value
	}
	for i, home := range in {
		if v, ok := seen[home]; !ok || v != uint32(i) {
			t.Errorf("Range gave %s value %d, %v; want %d", home, v, ok, i)
		}
	}
	if len(seen) != len(in) {
		t.Errorf("Range gave %d bindings, want %d", len(seen), len(in))
	}
	n := 0
	for range tb.Range {
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 {
		t.Errorf("Range did not stop when asked: %d calls", n)
	}
}

func TestNewNegativeHint(t *testing.T) {
	tb := binding.New(-5)
	mustPut(t, tb, full())
	if tb.Len() != 1 {
		t.Errorf("Len = %d, want 1", tb.Len())
	}
}
