package nlkernel

import (
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
