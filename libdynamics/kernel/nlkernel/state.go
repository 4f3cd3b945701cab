package nlkernel

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

// stateVersion is the layout of the state file.
const stateVersion = 1

// state is the state file: what the Kernel changed that carries no mark in
// the kernel. It is rewritten whole (to a temporary file renamed over the
// old one, not synced to disk) after every such change.
type state struct {
	Version   int             `json:"version"`
	Proxies   []stateProxy    `json:"proxy,omitempty"`
	Neighbors []stateNeighbor `json:"neighbors,omitempty"`
	Addresses []stateAddress  `json:"addresses,omitempty"`
	Sysctls   []stateSysctl   `json:"sysctls,omitempty"`
}

type stateProxy struct {
	IP  netip.Addr `json:"ip"`
	Dev string     `json:"dev"`
}

type stateNeighbor struct {
	IP     netip.Addr `json:"ip"`
	Dev    string     `json:"dev"`
	HWAddr string     `json:"lladdr"`
}

// stateAddress is an address with its prefix length, host bits kept.
type stateAddress struct {
	Prefix netip.Prefix `json:"prefix"`
	Dev    string       `json:"dev"`
}

// stateSysctl is a sysctl set to Value whose value before was Original.
type stateSysctl struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Original string `json:"original"`
}

// leftovers are the entries of a state file, by Key, and the original values
// of its sysctls, by name.
type leftovers struct {
	entries map[string]kernel.Entry
	sysctls map[string]stateSysctl
}

func (l *leftovers) empty() bool { return len(l.entries) == 0 && len(l.sysctls) == 0 }

// loadState reads the state file at path; a missing file is empty.
func loadState(path string) (leftovers, error) {
	l := leftovers{entries: map[string]kernel.Entry{}, sysctls: map[string]stateSysctl{}}
	if path == "" {
		return l, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return l, fmt.Errorf("nlkernel: state file %s: %w", path, err)
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return l, fmt.Errorf("nlkernel: state file %s: %w (remove it once its entries are cleaned up by hand)", path, err)
	}
	if s.Version != stateVersion {
		return l, fmt.Errorf("nlkernel: state file %s: version %d, want %d", path, s.Version, stateVersion)
	}
	add := func(e kernel.Entry) error {
		if err := kernel.Validate(e); err != nil {
			return fmt.Errorf("nlkernel: state file %s: %w", path, err)
		}
		l.entries[e.Key()] = e
		return nil
	}
	for _, p := range s.Proxies {
		if err := add(kernel.ProxyARP{IP: p.IP, Dev: p.Dev}); err != nil {
			return l, err
		}
	}
	for _, n := range s.Neighbors {
		hw, err := net.ParseMAC(n.HWAddr)
		if err != nil {
			return l, fmt.Errorf("nlkernel: state file %s: neighbour %s: %w", path, n.IP, err)
		}
		if err := add(kernel.Neighbor{IP: n.IP, Dev: n.Dev, HWAddr: hw}); err != nil {
			return l, err
		}
	}
	for _, a := range s.Addresses {
		if err := add(kernel.Address{Prefix: a.Prefix, Dev: a.Dev}); err != nil {
			return l, err
		}
	}
	for _, sc := range s.Sysctls {
		if err := kernel.Validate(kernel.Sysctl{Name: sc.Name, Value: sc.Value}); err != nil {
			return l, fmt.Errorf("nlkernel: state file %s: %w", path, err)
		}
		l.sysctls[sc.Name] = sc
	}
	return l, nil
}

// saveState writes the proxy and neighbour entries among entries, and the
// sysctls, to path; with none it removes the file.
func saveState(path string, entries []kernel.Entry, sysctls []stateSysctl) error {
	if path == "" {
		return nil
	}
	s := state{Version: stateVersion}
	for _, e := range entries {
		switch v := e.(type) {
		case kernel.ProxyARP:
			s.Proxies = append(s.Proxies, stateProxy{IP: v.IP, Dev: v.Dev})
		case kernel.Neighbor:
			s.Neighbors = append(s.Neighbors, stateNeighbor{IP: v.IP, Dev: v.Dev, HWAddr: v.HWAddr.String()})
		case kernel.Address:
			s.Addresses = append(s.Addresses, stateAddress{Prefix: v.Prefix, Dev: v.Dev})
		}
	}
	s.Sysctls = append(s.Sysctls, sysctls...)
	sort.Slice(s.Sysctls, func(i, j int) bool { return s.Sysctls[i].Name < s.Sysctls[j].Name })
	if len(s.Proxies)+len(s.Neighbors)+len(s.Addresses)+len(s.Sysctls) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("nlkernel: state file: %w", err)
		}
		return nil
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("nlkernel: state file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("nlkernel: state file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, there is nothing to remove
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("nlkernel: state file: %w", err)
	}
	// Not synced to disk: what the file records is kernel state, which
	// dies with a reboot, and a daemon that crashes loses nothing it wrote.
	// A sync costs milliseconds on a disk, and a mobile's move changes a
	// neighbour entry at each end.
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("nlkernel: state file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("nlkernel: state file: %w", err)
	}
	return nil
}
