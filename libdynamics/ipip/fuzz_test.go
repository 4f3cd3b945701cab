package ipip

import (
	"bytes"
	"testing"
)

// FuzzDecapsulate checks that Decapsulate never panics, that what it accepts
// survives Encapsulate then Decapsulate unchanged, and that the outer
// datagram Encapsulate builds is one Decapsulate accepts.
func FuzzDecapsulate(f *testing.F) {
	for _, inner := range [][]byte{echo(0x10, true), echo(0, false), bigEcho()} {
		outer, err := Encapsulate(nil, inner, outerA, outerB, 64)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(outer)
	}
	f.Fuzz(func(t *testing.T, outer []byte) {
		inner, src, dst, err := Decapsulate(outer)
		if err != nil {
			if inner != nil {
				t.Fatalf("error %v with %d inner bytes", err, len(inner))
			}
			return
		}
		again, err := Encapsulate(nil, inner, src, dst, outer[8])
		if err != nil {
			t.Fatalf("Encapsulate of accepted inner datagram: %v", err)
		}
		inner2, src2, dst2, err := Decapsulate(again)
		if err != nil {
			t.Fatalf("Decapsulate of re-encapsulated datagram: %v", err)
		}
		if src2 != src || dst2 != dst || !bytes.Equal(inner2, inner) {
			t.Fatalf("round trip changed %s > %s % x into %s > %s % x", src, dst, inner, src2, dst2, inner2)
		}
		if again[1] != inner[1] || again[6]&0x40 != inner[6]&0x40 {
			t.Fatalf("TOS or DF not copied: outer % x inner % x", again[:8], inner[:8])
		}
	})
}
