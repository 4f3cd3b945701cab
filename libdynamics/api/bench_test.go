package api

import (
	"testing"
)

// BenchmarkGetStatus measures a get_status round trip over the Unix
// socket: encode, write, serve, encode the status, read and decode.
func BenchmarkGetStatus(b *testing.B) {
	f := newFake()
	f.status.Counters = make([]Counter, 0, 40)
	for i := range 40 {
		f.status.Counters = append(f.status.Counters, Counter{Name: "denied." + string(rune('a'+i%26)), Value: uint64(i)})
	}
	c := dial(b, serve(b, f, true))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.GetStatus(0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseStatus measures decoding a status of 40 counters.
func BenchmarkParseStatus(b *testing.B) {
	s := goldenStatus
	for i := range 40 {
		s.Counters = append(s.Counters, Counter{Name: "requests.x" + string(rune('a'+i%26)), Value: uint64(i)})
	}
	data, err := MarshalStatus(s)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseStatus(data); err != nil {
			b.Fatal(err)
		}
	}
}
