package ipip

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestFragmentReassembles(t *testing.T) {
	inner := make([]byte, 3000)
	for i := range inner {
		inner[i] = byte(i * 7)
	}
	inner[0] = 0x45
	binary.BigEndian.PutUint16(inner[2:], uint16(len(inner)))
	outer, err := Encapsulate(nil, inner, outerA, outerB, 64)
	if err != nil {
		t.Fatal(err)
	}
	for _, mtu := range []int{MinMTU, 576, 1500, 1501, len(outer) - 1} {
		frags, _ := fragment(nil, nil, outer, mtu)
		if len(frags) < 2 {
			t.Fatalf("mtu %d: %d fragments", mtu, len(frags))
		}
		var payload []byte
		for i, f := range frags {
			if len(f) > mtu {
				t.Errorf("mtu %d: fragment %d is %d bytes", mtu, i, len(f))
			}
			if checksum(f[:HeaderLen], 0) != 0 || int(binary.BigEndian.Uint16(f[2:4])) != len(f) {
				t.Errorf("mtu %d: fragment %d header % x", mtu, i, f[:HeaderLen])
			}
			field := binary.BigEndian.Uint16(f[6:8])
			if off := int(field&offsetMask) * 8; off != len(payload) {
				t.Errorf("mtu %d: fragment %d offset %d, want %d", mtu, i, off, len(payload))
			}
			if last := i == len(frags)-1; (field&flagMF != 0) == last {
				t.Errorf("mtu %d: fragment %d MF %v", mtu, i, !last)
			}
			if f[9] != Protocol || !bytes.Equal(f[12:20], outer[12:20]) || !bytes.Equal(f[4:6], outer[4:6]) {
				t.Errorf("mtu %d: fragment %d lost protocol, addresses or identification", mtu, i)
			}
			payload = append(payload, f[HeaderLen:]...)
		}
		if !bytes.Equal(payload, inner) {
			t.Errorf("mtu %d: reassembled payload differs", mtu)
		}
	}
}

func TestFragmentReusesBuffer(t *testing.T) {
	inner := make([]byte, 2000)
	inner[0] = 0x45
	binary.BigEndian.PutUint16(inner[2:], uint16(len(inner)))
	outer, _ := Encapsulate(nil, inner, outerA, outerB, 64)
	frags, buf := fragment(nil, nil, outer, 1500)
	if allocs := testing.AllocsPerRun(100, func() { frags, buf = fragment(frags[:0], buf, outer, 1500) }); allocs != 0 {
		t.Errorf("%v allocations per fragmentation with reused buffers", allocs)
	}
}
