package nlkernel

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

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

// TestStateWriter: the writer applies the changes handed to it to its own
// copy of the entries, writes them sorted, coalesces a burst into a write
// per interval, and flush writes at once; with no entries left the file is
// removed.
func TestStateWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	leftover := kernel.ProxyARP{IP: netip.MustParseAddr("10.9.0.1"), Dev: "eth9"}
	// An interval far longer than the test: only flush makes a second write.
	w := newStateWriter(path, slog.New(slog.DiscardHandler), time.Hour, map[string]kernel.Entry{leftover.Key(): leftover})
	defer w.close()
	var want []kernel.Entry
	for i := range 300 {
		ip := netip.AddrFrom4([4]byte{10, 2, byte(i / 100), byte(i%100 + 1)})
		n := kernel.Neighbor{IP: ip, Dev: "eth1", HWAddr: net.HardwareAddr{2, 0, 0, 0, 1, byte(i)}}
		p := kernel.ProxyARP{IP: ip, Dev: "eth0"}
		w.put(map[string]kernel.Entry{n.Key(): n, p.Key(): p}, nil)
		switch {
		case i%3 == 0: // removed again
			w.put(map[string]kernel.Entry{n.Key(): nil, p.Key(): nil}, nil)
		case i%3 == 1: // replaced
			n.HWAddr = net.HardwareAddr{2, 0, 0, 0, 2, byte(i)}
			w.put(map[string]kernel.Entry{n.Key(): n}, nil)
			want = append(want, n, p)
		default:
			want = append(want, n, p)
		}
	}
	w.put(map[string]kernel.Entry{leftover.Key(): nil}, []stateSysctl{{Name: "net/ipv4/ip_forward", Value: "1", Original: "0"}})
	w.flush()
	w.mu.Lock()
	writes := w.writes
	w.mu.Unlock()
	if writes < 1 || writes > 2 {
		t.Errorf("%d writes for a burst of changes within one interval, want the first and the flushed one", writes)
	}

	// The file holds the entries in kernel.Sort's order.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got state
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	kernel.Sort(want)
	var wantState state
	wantState.Version = stateVersion
	for _, e := range want {
		switch v := e.(type) {
		case kernel.ProxyARP:
			wantState.Proxies = append(wantState.Proxies, stateProxy{IP: v.IP, Dev: v.Dev})
		case kernel.Neighbor:
			wantState.Neighbors = append(wantState.Neighbors, stateNeighbor{IP: v.IP, Dev: v.Dev, HWAddr: v.HWAddr.String()})
		}
	}
	wantState.Sysctls = []stateSysctl{{Name: "net/ipv4/ip_forward", Value: "1", Original: "0"}}
	if !reflect.DeepEqual(got, wantState) {
		t.Errorf("state file after 300 changes:\n%s\nwant:\n%+v", b, wantState)
	}

	del := map[string]kernel.Entry{}
	for _, e := range want {
		del[e.Key()] = nil
	}
	w.put(del, nil)
	w.flush()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("no entries left the file: %v", err)
	}
}

// TestSortEntries: sortEntries puts entries in kernel.Sort's order.
func TestSortEntries(t *testing.T) {
	var entries []kernel.Entry
	for i := range 40 {
		ip := netip.AddrFrom4([4]byte{10, 1, 0, byte(40 - i)})
		entries = append(entries,
			kernel.ProxyARP{IP: ip, Dev: "eth0"},
			kernel.Route{Dst: netip.PrefixFrom(ip, 32), Dev: "dyn1", Table: i % 3},
			kernel.Neighbor{IP: ip, Dev: "eth1", HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, byte(i)}},
			kernel.Address{Prefix: netip.PrefixFrom(ip, 24), Dev: "eth2"},
		)
	}
	entries = append(entries, kernel.Sysctl{Name: "net/ipv4/ip_forward", Value: "1"})
	want := slices.Clone(entries)
	kernel.Sort(want)
	sortEntries(entries)
	for i := range want {
		if !kernel.Equal(entries[i], want[i]) {
			t.Fatalf("entry %d is %s, want %s", i, entries[i], want[i])
		}
	}
}

// TestStateFileAfterManyChanges: after many changes through the Kernel,
// the state file records exactly the persisted entries it owns, sorted,
// and Close leaves none.
func TestStateFileAfterManyChanges(t *testing.T) {
	h := newHost(t)
	path := filepath.Join(t.TempDir(), "dynhad.state")
	k := newKernel(t, h.ns, nil, Options{StateFile: path, Logger: slog.New(slog.DiscardHandler)})
	var want []kernel.Entry
	for i := range 200 {
		ip := netip.AddrFrom4([4]byte{10, 1, 1 + byte(i/100), byte(i%100 + 10)})
		p := kernel.ProxyARP{IP: ip, Dev: "eth0"}
		n := kernel.Neighbor{IP: ip, Dev: "eth0", HWAddr: net.HardwareAddr{2, 0, 0, 0, 3, byte(i)}}
		if err := k.Ensure(p, n); err != nil {
			t.Fatal(err)
		}
		switch i % 4 {
		case 0:
			if err := k.Remove(p, n); err != nil {
				t.Fatal(err)
			}
		case 1:
			n.HWAddr = net.HardwareAddr{2, 0, 0, 0, 4, byte(i)}
			if err := k.Ensure(n); err != nil {
				t.Fatal(err)
			}
			want = append(want, p, n)
		default:
			want = append(want, p, n)
		}
	}
	k.flushState()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got state
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	kernel.Sort(want)
	// The file lists each kind in its own array, in kernel.Sort's order
	// (neighbours before proxy entries).
	var gotEntries []kernel.Entry
	for _, n := range got.Neighbors {
		hw, err := net.ParseMAC(n.HWAddr)
		if err != nil {
			t.Fatal(err)
		}
		gotEntries = append(gotEntries, kernel.Neighbor{IP: n.IP, Dev: n.Dev, HWAddr: hw})
	}
	for _, p := range got.Proxies {
		gotEntries = append(gotEntries, kernel.ProxyARP{IP: p.IP, Dev: p.Dev})
	}
	if len(gotEntries) != len(want) {
		t.Fatalf("state file records %d entries, want %d", len(gotEntries), len(want))
	}
	for i := range want {
		if !kernel.Equal(gotEntries[i], want[i]) {
			t.Fatalf("state file entry %d is %s, want %s", i, gotEntries[i], want[i])
		}
	}
	if n := len(proxies(t, h.ns)); n != len(want)/2 {
		t.Errorf("%d proxy entries in the kernel, want %d", n, len(want)/2)
	}

	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("Close left the state file: %v", err)
	}
	if got := proxies(t, h.ns); len(got) != 0 {
		t.Errorf("Close left proxy entries: %q", got)
	}
}
