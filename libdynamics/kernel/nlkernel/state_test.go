package nlkernel

import (
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

func TestStateFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	entries := []kernel.Entry{
		kernel.ProxyARP{IP: netip.MustParseAddr("10.1.0.10"), Dev: "eth0"},
		kernel.Neighbor{IP: netip.MustParseAddr("10.2.0.10"), Dev: "eth1", HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 0x10}},
		kernel.Route{Dst: netip.MustParsePrefix("10.1.0.10/32"), Dev: "dyn1"}, // carries its own mark: not recorded
	}
	sysctls := []stateSysctl{{Name: "net/ipv4/ip_forward", Value: "1", Original: "0"}}
	if err := saveState(path, entries, sysctls); err != nil {
		t.Fatal(err)
	}
	l, err := loadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := kernel.Render(mapValues(l.entries)), kernel.Render(entries[:2]); got != want {
		t.Errorf("loaded entries:\n%s\nwant:\n%s", got, want)
	}
	if got := l.sysctls["net/ipv4/ip_forward"]; got != sysctls[0] {
		t.Errorf("loaded sysctl %+v, want %+v", got, sysctls[0])
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*"))
	if len(matches) != 0 {
		t.Errorf("temporary files left: %q", matches)
	}

	if err := saveState(path, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("an empty state left the file: %v", err)
	}
	if l, err := loadState(path); err != nil || !l.empty() {
		t.Errorf("missing file: %v, %v; want empty", l, err)
	}
}

func TestStateFileRejected(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"truncated": `{"version":1,"proxy":[{"ip":"10.1.0.10"`,
		"version":   `{"version":9}`,
		"invalid":   `{"version":1,"proxy":[{"ip":"10.1.0.10","dev":""}]}`,
		"lladdr":    `{"version":1,"neighbors":[{"ip":"10.1.0.10","dev":"eth0","lladdr":"zz"}]}`,
		"sysctl":    `{"version":1,"sysctls":[{"name":"../etc","value":"1","original":"0"}]}`,
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadState(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: loadState = %v, want an error naming the file", name, err)
		}
		if _, err := New(nil, Options{StateFile: path}); err == nil {
			t.Errorf("%s: New accepted the state file", name)
		}
	}
}

func mapValues(m map[string]kernel.Entry) []kernel.Entry {
	var out []kernel.Entry
	for _, e := range m {
		out = append(out, e)
	}
	return out
}

// TestStateFileWrittenOnChange: the state file is rewritten when what it
// records changes (neighbour and proxy entries, sysctls), and left alone
// when a change touches only routes, rules and tunnels, which carry the
// Kernel's marks in the kernel: a move's routes cost no file write.
func TestStateFileWrittenOnChange(t *testing.T) {
	h := newHost(t)
	path := filepath.Join(t.TempDir(), "dynfad.state")
	k := newKernel(t, h.ns, newTunDriver(h.ns), Options{StateFile: path})
	stat := func() os.FileInfo {
		t.Helper()
		k.flushState()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	step := func(what string, rewrites bool, fn func() error) {
		t.Helper()
		before := stat()
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if again := !os.SameFile(before, stat()); again != rewrites {
			t.Errorf("%s: state file rewritten %v, want %v", what, again, rewrites)
		}
	}
	if err := k.Ensure(neigh, fwd); err != nil {
		t.Fatal(err)
	}
	step("a tunnel, its table's route, a host route and a rule", false, func() error { return k.Ensure(tun1, host1, reverse, revRule) })
	step("the same entries again", false, func() error { return k.Ensure(neigh, fwd, tun1, host1) })
	step("a rule and a route removed", false, func() error { return k.Remove(revRule, reverse) })
	step("a proxy entry", true, func() error { return k.Ensure(proxy) })
	step("a neighbour replaced", true, func() error {
		return k.Ensure(kernel.Neighbor{IP: visitor, Dev: "eth0", HWAddr: net.HardwareAddr{0x02, 0, 0, 0, 0, 0x21}})
	})
	step("a sysctl", true, func() error { return k.Ensure(proxyARP) })
	step("the tunnel removed", false, func() error { return k.Remove(tun1) })
	step("the proxy entry removed", true, func() error { return k.Remove(proxy) })

	k.flushState()
	l, err := loadState(path)
	if err != nil {
		t.Fatal(err)
	}
	want := kernel.Render([]kernel.Entry{kernel.Neighbor{IP: visitor, Dev: "eth0", HWAddr: net.HardwareAddr{0x02, 0, 0, 0, 0, 0x21}}})
	if got := kernel.Render(mapValues(l.entries)); got != want {
		t.Errorf("state file entries:\n%s\nwant:\n%s", got, want)
	}
	if _, ok := l.sysctls[fwd.Name]; !ok || len(l.sysctls) != 2 {
		t.Errorf("state file sysctls %v, want ip_forward and proxy_arp", l.sysctls)
	}
}

// TestStateWriter: the writer records the latest snapshot handed to it
// (an earlier one not yet written is replaced), flush waits for it, and an
// empty snapshot removes the file.
func TestStateWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	w := newStateWriter(path, slog.New(slog.DiscardHandler))
	defer w.close()
	var last kernel.Entry
	for i := range 50 {
		last = kernel.Neighbor{IP: netip.AddrFrom4([4]byte{10, 2, 0, byte(i + 1)}), Dev: "eth1", HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, byte(i)}}
		w.put(stateSnapshot{entries: []kernel.Entry{last}})
	}
	w.flush()
	l, err := loadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := kernel.Render(mapValues(l.entries)); got != kernel.Render([]kernel.Entry{last}) {
		t.Errorf("state file after 50 snapshots:\n%s\nwant the last:\n%s", got, kernel.Render([]kernel.Entry{last}))
	}
	w.put(stateSnapshot{})
	w.flush()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("an empty snapshot left the file: %v", err)
	}
}
