//go:build linux

package ipip

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

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
