//go:build linux

package ipip

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dynamics-go/dynamics/internal/netnstest"
)

// TestThroughput measures iperf3 TCP throughput from A to B through the
// tunnel and over the plain routed veth between the same namespaces, in the
// same run, and prints both and their ratio. It takes about 15 seconds and
// the figures depend on the machine, so it only runs when asked:
//
//	sudo DYN_IPERF=1 go test -run TestThroughput -v ./libdynamics/ipip
func TestThroughput(t *testing.T) {
	if os.Getenv("DYN_IPERF") != "1" {
		t.Skip("skipped: set DYN_IPERF=1 to measure iperf3 TCP throughput through the tunnel against plain veth")
	}
	netnstest.RequireCommand(t, "iperf3", "throughput measurement")
	a, b := testbed(t, 0)
	_, out := b.ns.Start("iperf3", "-s", "--forceflush")
	waitFor(t, "iperf3 to listen", func() bool { return strings.Contains(out.String(), "listening") })

	measure := func(dst string) float64 {
		t.Helper()
		res := a.ns.Run("iperf3", "-c", dst, "-t", "5", "-O", "1", "-J")
		var r struct {
			End struct {
				SumReceived struct {
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
		}
		if err := json.Unmarshal([]byte(res), &r); err != nil || r.End.SumReceived.BitsPerSecond == 0 {
			t.Fatalf("iperf3 to %s: %v\n%s", dst, err, res)
		}
		return r.End.SumReceived.BitsPerSecond
	}
	plain := measure(outerB.String())
	tunnel := measure(innerB.String())
	s := a.drv.Stats()
	fmt.Printf("iperf3 TCP A->B: plain veth %.2f Gbit/s, userspace IP-in-IP tunnel %.2f Gbit/s, ratio %.3f\n",
		plain/1e9, tunnel/1e9, tunnel/plain)
	fmt.Printf("A driver: %+v\nB driver: %+v\n", s, b.drv.Stats())
}

// TestRawSocketRate measures the ceiling the raw socket sets on the data
// path: how many 1500-byte IP-in-IP datagrams per second one thread can send
// with sendmmsg from A to a raw socket in B on the same machine, with no TUN
// device, no TCP and no encapsulation work. On one machine the sending
// thread also carries B's receive processing (veth, IP input, raw socket
// delivery), which the kernel runs in the sender's softirq context.
//
//	sudo DYN_IPERF=1 go test -run TestRawSocketRate -v ./libdynamics/ipip
func TestRawSocketRate(t *testing.T) {
	if os.Getenv("DYN_IPERF") != "1" {
		t.Skip("skipped: set DYN_IPERF=1 to measure the raw socket's datagram rate")
	}
	nsA := netnstest.New(t, "a")
	nsB := netnstest.New(t, "b")
	netnstest.Veth(t, nsA, "va", nsB, "vb")
	nsA.Addr("va", outerA.String()+"/24")
	nsB.Addr("vb", outerB.String()+"/24")
	var sa, sb *rawSocket
	for _, s := range []struct {
		ns   *netnstest.NS
		sock **rawSocket
	}{{nsA, &sa}, {nsB, &sb}} {
		if err := s.ns.Do(func() (err error) { *s.sock, err = openRawSocket(); return err }); err != nil {
			t.Fatal(err)
		}
		defer (*s.sock).Close()
	}
	pkts := make([][]byte, batchSize)
	for i := range pkts {
		var err error
		if pkts[i], err = Encapsulate(nil, sizedEcho(1480, true), outerA, outerB, 64); err != nil {
			t.Fatal(err)
		}
	}
	var got atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		bufs := make([][]byte, batchSize)
		for i := range bufs {
			bufs[i] = make([]byte, 2048)
		}
		sizes := make([]int, batchSize)
		for {
			n, err := sb.ReadBatch(bufs, sizes)
			if err != nil {
				return
			}
			got.Add(int64(n))
		}
	}()
	const period = 3 * time.Second
	start := time.Now()
	sent := 0
	for time.Since(start) < period {
		n, err := sa.WriteBatch(pkts, outerB)
		if err != nil && !errors.Is(err, unix.ENOBUFS) {
			t.Fatal(err)
		}
		sent += n
	}
	elapsed := time.Since(start).Seconds()
	time.Sleep(100 * time.Millisecond)
	sb.Close()
	<-done
	rate := float64(got.Load()) / elapsed
	fmt.Printf("raw socket: sent %.0f, received %.0f datagrams/s of 1500 bytes: %.2f Gbit/s of TCP payload at MSS 1440\n",
		float64(sent)/elapsed, rate, rate*1440*8/1e9)
	if got.Load() == 0 {
		t.Errorf("nothing received")
	}
}
