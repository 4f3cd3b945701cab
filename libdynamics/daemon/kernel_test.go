package daemon

import (
	"errors"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/internal/netnstest"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/kernel/nlkernel"
)

// TestOpenKernelPicksDataPath checks that auto mode chooses the data path the
// kernel supports and that forcing netlink without ipip fails clearly.
func TestOpenKernelPicksDataPath(t *testing.T) {
	ns := netnstest.New(t, "okn")
	hasIPIP := true
	if err := ns.Do(func() error { hasIPIP = nlkernel.ProbeIPIP() == nil; return nil }); err != nil {
		t.Fatal(err)
	}
	var k kernel.Kernel
	err := ns.Do(func() (err error) {
		k, err = OpenKernel(KernelOptions{Mode: TunnelAuto, TunnelPrefix: "dyntest"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "userspace"
	if hasIPIP {
		want = "netlink"
	}
	if k.Name() != want {
		t.Errorf("auto mode chose %q, want %q", k.Name(), want)
	}
	if err := ns.Do(k.Close); err != nil {
		t.Fatal(err)
	}
	if hasIPIP {
		return
	}
	err = ns.Do(func() error {
		_, err := OpenKernel(KernelOptions{Mode: TunnelNetlink, TunnelPrefix: "dyntest"})
		return err
	})
	if !errors.Is(err, kernel.ErrUnsupported) || !strings.Contains(err.Error(), "ipip") {
		t.Fatalf("TunnelMode netlink without ipip: %v", err)
	}
}
