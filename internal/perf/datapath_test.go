//go:build linux

package perf

import (
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestDPMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{5}, 5},
		{[]float64{9, 1, 5}, 5},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		in := append([]float64(nil), tc.in...)
		if got := dpMedian(tc.in); got != tc.want {
			t.Errorf("dpMedian(%v) = %v, want %v", tc.in, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Errorf("dpMedian reordered its argument: %v", tc.in)
			}
		}
	}
}

func TestDPIperfDuration(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{
		0: time.Second, 200 * time.Millisecond: time.Second, time.Second: time.Second,
		1500 * time.Millisecond: 2 * time.Second, 5 * time.Second: 5 * time.Second,
	} {
		if got := dpIperfDuration(in); got != want {
			t.Errorf("dpIperfDuration(%s) = %s, want %s", in, got, want)
		}
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root to create network namespaces (run `sudo make test`)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipped: needs iproute2's ip")
	}
}

// dpLeftovers returns this process's data path namespaces.
func dpLeftovers(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], dpPrefix()) {
			left = append(left, f[0])
		}
	}
	return left
}

func checkResult(t *testing.T, r DataPathResult) {
	t.Helper()
	if r.Mode != "userspace" && r.Mode != "netlink" {
		t.Errorf("mode %q", r.Mode)
	}
	if r.TunnelMbps <= 0 || r.VethMbps <= 0 {
		t.Errorf("throughput: tunnel %v, veth %v Mbit/s", r.TunnelMbps, r.VethMbps)
	}
	if math.Abs(r.Ratio-r.TunnelMbps/r.VethMbps) > 1e-9 {
		t.Errorf("ratio %v, want %v / %v", r.Ratio, r.TunnelMbps, r.VethMbps)
	}
	for _, want := range []string{"tunnel", "veth", "MTU 1500", r.Mode} {
		if !strings.Contains(r.Notes, want) {
			t.Errorf("notes lack %q: %s", want, r.Notes)
		}
	}
}

// TestDataPath runs the measurement briefly with each traffic generator
// and checks that it reports both paths and leaves nothing behind. The
// figures themselves depend on the machine and are not checked.
func TestDataPath(t *testing.T) {
	requireRoot(t)
	t.Run("go", func(t *testing.T) {
		r, err := dataPath(context.Background(), DataPathOptions{Duration: 300 * time.Millisecond, Streams: 2}, false)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", r)
		checkResult(t, r)
		if !strings.Contains(r.Notes, "Go TCP") || !strings.Contains(r.Notes, "2 TCP stream(s)") {
			t.Errorf("notes: %s", r.Notes)
		}
		if left := dpLeftovers(t); len(left) > 0 {
			t.Errorf("namespaces left: %v", left)
		}
	})
	t.Run("iperf3", func(t *testing.T) {
		if _, err := exec.LookPath("iperf3"); err != nil {
			t.Skip("skipped: needs iperf3; .ci/run installs it")
		}
		r, err := DataPath(context.Background(), DataPathOptions{Duration: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", r)
		checkResult(t, r)
		if !strings.Contains(r.Notes, "iperf3") {
			t.Errorf("notes: %s", r.Notes)
		}
		if left := dpLeftovers(t); len(left) > 0 {
			t.Errorf("namespaces left: %v", left)
		}
	})
}

// TestDataPathCancel: a cancelled measurement stops, says why, and still
// removes its namespaces.
func TestDataPathCancel(t *testing.T) {
	requireRoot(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1500*time.Millisecond, cancel)
	start := time.Now()
	_, err := dataPath(ctx, DataPathOptions{Duration: 10 * time.Second}, false)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("took %s to stop", d)
	}
	if left := dpLeftovers(t); len(left) > 0 {
		t.Errorf("namespaces left: %v", left)
	}
}

func TestDataPathNotRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("skipped: runs as root")
	}
	if _, err := DataPath(context.Background(), DataPathOptions{}); !errors.Is(err, ErrNotRoot) {
		t.Errorf("err = %v, want ErrNotRoot", err)
	}
}
