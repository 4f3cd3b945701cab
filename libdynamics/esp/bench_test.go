package esp

import (
	"fmt"
	"testing"
)

// BenchmarkSeal and BenchmarkOpen measure one packet of each size through
// each algorithm, in place as the data path does it.
func BenchmarkSeal(b *testing.B) {
	for _, alg := range []Algorithm{AESGCM16, AESCBCHMACSHA256} {
		for _, size := range []int{64, 512, 1400} {
			b.Run(fmt.Sprintf("%s/%d", alg, size), func(b *testing.B) {
				keys := gcmKey
				if alg == AESCBCHMACSHA256 {
					keys = cbcKey
				}
				s, _ := mustPair(b, 0x1000, ModeTunnel, alg, keys)
				payload := make([]byte, size)
				buf := make([]byte, 0, size+128)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					var err error
					if buf, err = s.Seal(buf[:0], payload, 4); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, alg := range []Algorithm{AESGCM16, AESCBCHMACSHA256} {
		for _, size := range []int{64, 512, 1400} {
			b.Run(fmt.Sprintf("%s/%d", alg, size), func(b *testing.B) {
				keys := gcmKey
				if alg == AESCBCHMACSHA256 {
					keys = cbcKey
				}
				s, o := mustPair(b, 0x1000, ModeTunnel, alg, keys)
				// Seal b.N packets ahead, so each Open passes the
				// replay window as a fresh packet would.
				pkts := make([][]byte, 0, 1024)
				for range cap(pkts) {
					p, err := s.Seal(nil, make([]byte, size), 4)
					if err != nil {
						b.Fatal(err)
					}
					pkts = append(pkts, p)
				}
				scratch := make([]byte, len(pkts[0]))
				b.SetBytes(int64(size))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if i == len(pkts) {
						// Out of fresh packets: reseal with higher
						// sequence numbers.
						b.StopTimer()
						for j := range pkts {
							pkts[j], _ = s.Seal(pkts[j][:0], make([]byte, size), 4)
						}
						i = 0
						b.StartTimer()
					}
					copy(scratch, pkts[i])
					i++
					if _, _, err := o.Open(scratch); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
