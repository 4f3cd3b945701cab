package tunnel_test

import (
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/tunnel"
)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

var (
	ha   = ip("10.1.0.1")
	gfa  = ip("10.0.0.2")
	fa1  = ip("10.2.0.1")
	fa2  = ip("10.3.0.1")
	coa6 = ip("2001:db8::7")
)

func TestNewPrefix(t *testing.T) {
	tests := []struct {
		prefix string
		ok     bool
	}{
		{"dyn", true},
		{"t", true},
		{"mip-ha.", true},
		{"abcdefghijklmn", true},
		{"", false},
		{"abcdefghijklmno", false},
		{"dyn/", false},
		{"dyn:", false},
		{"dyn ", false},
		{"dyn%d", false},
		{"dyn\x00", false},
		{"dyné", false},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			tb, err := tunnel.New(tt.prefix)
			if !tt.ok {
				if !errors.Is(err, tunnel.ErrInvalid) {
					t.Fatalf("New(%q) = %v, want ErrInvalid", tt.prefix, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%q): %v", tt.prefix, err)
			}
			if tb.Prefix() != tt.prefix {
				t.Errorf("Prefix = %q, want %q", tb.Prefix(), tt.prefix)
			}
			tun, _, err := tb.Acquire(ha, fa1)
			if err != nil {
				t.Fatalf("Acquire: %v", err)
			}
			if tun.Name != tt.prefix+"1" {
				t.Errorf("first tunnel named %q, want %q", tun.Name, tt.prefix+"1")
			}
		})
	}
}

func TestZeroTable(t *testing.T) {
	var tb tunnel.Table
	if tb.Prefix() != tunnel.DefaultPrefix || tb.Len() != 0 || len(tb.List()) != 0 {
		t.Fatalf("zero table: prefix %q, Len %d, List %v", tb.Prefix(), tb.Len(), tb.List())
	}
	if _, ok := tb.ByID(1); ok {
		t.Error("ByID found a tunnel in the zero table")
	}
	if _, ok := tb.ByName("dyn1"); ok {
		t.Error("ByName found a tunnel in the zero table")
	}
	if _, ok := tb.Destroy(1); ok {
		t.Error("Destroy found a tunnel in the zero table")
	}
	if _, _, err := tb.Release(ha, fa1); !errors.Is(err, tunnel.ErrUnknown) {
		t.Errorf("Release on the zero table = %v, want ErrUnknown", err)
	}
	tun, created, err := tb.Acquire(ha, fa1)
	if err != nil || !created || tun.Name != "dyn1" {
		t.Fatalf("Acquire on the zero table = %+v, %v, %v; want new dyn1", tun, created, err)
	}
}

// TestAcquireAnyLocal: an unspecified local address lets the kernel choose
// the outer source.
func TestAcquireAnyLocal(t *testing.T) {
	var tb tunnel.Table
	if _, created, err := tb.Acquire(ip("0.0.0.0"), fa1); err != nil || !created {
		t.Errorf("Acquire from 0.0.0.0 = %v, %v; want a new tunnel", created, err)
	}
}

func TestAcquireInvalid(t *testing.T) {
	tests := []struct {
		name          string
		local, remote netip.Addr
	}{
		{"no local", netip.Addr{}, fa1},
		{"no remote", ha, netip.Addr{}},
		{"IPv6 remote", ha, coa6},
		{"IPv4-mapped local", ip("::ffff:10.1.0.1"), fa1},
		{"unspecified remote", ha, ip("0.0.0.0")},
		{"loop", ha, ha},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tb tunnel.Table
			if _, _, err := tb.Acquire(tt.local, tt.remote); !errors.Is(err, tunnel.ErrInvalid) {
				t.Fatalf("Acquire(%v, %v) = %v, want ErrInvalid", tt.local, tt.remote, err)
			}
			if tb.Len() != 0 {
				t.Errorf("Len = %d after a failed Acquire", tb.Len())
			}
		})
	}
}

// op is one step of a scripted scenario.
type op struct {
	do            string // acquire, release, releaseID, destroy
	local, remote netip.Addr
	id            tunnel.ID
	// Expectations.
	wantID   tunnel.ID
	wantFlag bool // created (acquire) or removed (release, destroy found)
	wantRefs int
	wantErr  error
}

func TestScenarios(t *testing.T) {
	tests := []struct {
		name  string
		ops   []op
		after []string // List afterwards, as "name refs"
	}{
		{
			name: "first acquire creates, later ones share",
			ops: []op{
				{do: "acquire", local: ha, remote: gfa, wantID: 1, wantFlag: true, wantRefs: 1},
				{do: "acquire", local: ha, remote: gfa, wantID: 1, wantRefs: 2},
				{do: "acquire", local: ha, remote: gfa, wantID: 1, wantRefs: 3},
			},
			after: []string{"dyn1 3"},
		},
		{
			name: "direction matters",
			ops: []op{
				{do: "acquire", local: ha, remote: gfa, wantID: 1, wantFlag: true, wantRefs: 1},
				{do: "acquire", local: gfa, remote: ha, wantID: 2, wantFlag: true, wantRefs: 1},
			},
			after: []string{"dyn1 1", "dyn2 1"},
		},
		{
			name: "last release removes",
			ops: []op{
				{do: "acquire", local: ha, remote: gfa, wantID: 1, wantFlag: true, wantRefs: 1},
				{do: "acquire", local: ha, remote: gfa, wantID: 1, wantRefs: 2},
				{do: "release", local: ha, remote: gfa, wantID: 1, wantRefs: 1},
				{do: "release", local: ha, remote: gfa, wantID: 1, wantFlag: true, wantRefs: 0},
				{do: "release", local: ha, remote: gfa, wantErr: tunnel.ErrUnknown},
			},
			after: []string{},
		},
		{
			name: "IDs are not reused",
			ops: []op{
				{do: "acquire", local: gfa, remote: fa1, wantID: 1, wantFlag: true, wantRefs: 1},
				{do: "acquire", local: gfa, remote: fa2, wantID: 2, wantFlag: true, wantRefs: 1},
				{do: "release", local: gfa, remote: fa2, wantID: 2, wantFlag: true},
				{do: "acquire", local: gfa, remote: fa2, wantID: 3, wantFlag: true, wantRefs: 1},
				{do: "releaseID", id: 1, wantID: 1, wantFlag: true},
				{do: "acquire", local: gfa, remote: fa1, wantID: 4, wantFlag: true, wantRefs: 1},
			},
			after: []string{"dyn3 1", "dyn4 1"},
		},
		{
			name: "release by ID",
			ops: []op{
				{do: "acquire", local: ha, remote: fa1, wantID: 1, wantFlag: true, wantRefs: 1},
				{do: "acquire", local: ha, remote: fa1, wantID: 1, wantRefs: 2},
				{do: "releaseID", id: 1, wantID: 1, wantRefs: 1},
				{do: "releaseID", id: 1, wantID: 1, wantFlag: true},
				{do: "releaseID", id: 1, wantErr: tunnel.ErrUnknown},
				{do: "releaseID", id: 0, wantErr: tunnel.ErrUnknown},
			},
			after: []string{},
		},
		{
			name: "release of endpoints never acquired",
			ops: []op{
				{do: "acquire", local: ha, remote: fa1, wantID: 1, wantFlag: true, wantRefs: 1},
				{do: "release", local: fa1, remote: ha, wantErr: tunnel.ErrUnknown},
				{do: "release", local: ha, remote: fa2, wantErr: tunnel.ErrUnknown},
				{do: "release", local: netip.Addr{}, remote: netip.Addr{}, wantErr: tunnel.ErrUnknown},
			},
			after: []string{"dyn1 1"},
		},
		{
			name: "destroy ignores the reference count",
			ops: []op{
				{do: "acquire", local: ha, remote: fa1, wantID: 1, wantFlag: true, wantRefs: 1},
				{do: "acquire", local: ha, remote: fa1, wantID: 1, wantRefs: 2},
				{do: "acquire", local: ha, remote: fa2, wantID: 2, wantFlag: true, wantRefs: 1},
				{do: "destroy", id: 1, wantID: 1, wantFlag: true, wantRefs: 2},
				{do: "destroy", id: 1},
				{do: "release", local: ha, remote: fa1, wantErr: tunnel.ErrUnknown},
				{do: "acquire", local: ha, remote: fa1, wantID: 3, wantFlag: true, wantRefs: 1},
			},
			after: []string{"dyn2 1", "dyn3 1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb, err := tunnel.New("dyn")
			if err != nil {
				t.Fatal(err)
			}
			for i, o := range tt.ops {
				var (
					tun  tunnel.Tunnel
					flag bool
					err  error
				)
				switch o.do {
				case "acquire":
					tun, flag, err = tb.Acquire(o.local, o.remote)
				case "release":
					tun, flag, err = tb.Release(o.local, o.remote)
				case "releaseID":
					tun, flag, err = tb.ReleaseID(o.id)
				case "destroy":
					tun, flag = tb.Destroy(o.id)
				}
				if !errors.Is(err, o.wantErr) || (err != nil) != (o.wantErr != nil) {
					t.Fatalf("step %d %s: err = %v, want %v", i, o.do, err, o.wantErr)
				}
				if tun.ID != o.wantID || flag != o.wantFlag || tun.Refs != o.wantRefs {
					t.Fatalf("step %d %s: got %+v flag %v; want ID %d flag %v refs %d", i, o.do, tun, flag, o.wantID, o.wantFlag, o.wantRefs)
				}
				if tun.Refs < 0 {
					t.Fatalf("step %d %s: negative reference count %d", i, o.do, tun.Refs)
				}
				checkIndexes(t, tb)
			}
			var got []string
			for _, tun := range tb.List() {
				got = append(got, tun.Name+" "+strconv.Itoa(tun.Refs))
			}
			if !slices.Equal(got, tt.after) {
				t.Errorf("List = %v, want %v", got, tt.after)
			}
		})
	}
}

// checkIndexes asserts that every listed tunnel is found by endpoints, ID
// and name, alike, with a positive reference count unless it is idle, and
// that List is sorted.
func checkIndexes(t *testing.T, tb *tunnel.Table) {
	t.Helper()
	list := tb.List()
	if len(list) != tb.Len() {
		t.Fatalf("List has %d tunnels, Len %d", len(list), tb.Len())
	}
	for i, tun := range list {
		if i > 0 && list[i-1].ID >= tun.ID {
			t.Fatalf("List not sorted by ID: %d before %d", list[i-1].ID, tun.ID)
		}
		if idle := !tun.Idle.IsZero(); (tun.Refs < 1) != idle || tun.Refs < 0 {
			t.Fatalf("tunnel %s held with %d references, idle until %v", tun.Name, tun.Refs, tun.Idle)
		}
		for how, find := range map[string]func() (tunnel.Tunnel, bool){
			"Get":    func() (tunnel.Tunnel, bool) { return tb.Get(tun.Local, tun.Remote) },
			"ByID":   func() (tunnel.Tunnel, bool) { return tb.ByID(tun.ID) },
			"ByName": func() (tunnel.Tunnel, bool) { return tb.ByName(tun.Name) },
		} {
			if got, ok := find(); !ok || got != tun {
				t.Fatalf("%s for %+v = %+v, %v", how, tun, got, ok)
			}
		}
	}
}

func TestLookups(t *testing.T) {
	tb, err := tunnel.New("mip")
	if err != nil {
		t.Fatal(err)
	}
	for _, remote := range []netip.Addr{fa1, fa2, gfa} {
		if _, _, err := tb.Acquire(ha, remote); err != nil {
			t.Fatal(err)
		}
	}
	want := tunnel.Tunnel{ID: 2, Name: "mip2", Endpoints: tunnel.Endpoints{Local: ha, Remote: fa2}, Refs: 1}
	tests := []struct {
		name string
		find func() (tunnel.Tunnel, bool)
		ok   bool
	}{
		{"Get", func() (tunnel.Tunnel, bool) { return tb.Get(ha, fa2) }, true},
		{"Get reversed", func() (tunnel.Tunnel, bool) { return tb.Get(fa2, ha) }, false},
		{"Get invalid", func() (tunnel.Tunnel, bool) { return tb.Get(netip.Addr{}, coa6) }, false},
		{"ByID", func() (tunnel.Tunnel, bool) { return tb.ByID(2) }, true},
		{"ByID 0", func() (tunnel.Tunnel, bool) { return tb.ByID(0) }, false},
		{"ByID unused", func() (tunnel.Tunnel, bool) { return tb.ByID(4) }, false},
		{"ByName", func() (tunnel.Tunnel, bool) { return tb.ByName("mip2") }, true},
		{"ByName other prefix", func() (tunnel.Tunnel, bool) { return tb.ByName("dyn2") }, false},
		{"ByName leading zero", func() (tunnel.Tunnel, bool) { return tb.ByName("mip02") }, false},
		{"ByName sign", func() (tunnel.Tunnel, bool) { return tb.ByName("mip+2") }, false},
		{"ByName bare prefix", func() (tunnel.Tunnel, bool) { return tb.ByName("mip") }, false},
		{"ByName overflow", func() (tunnel.Tunnel, bool) { return tb.ByName("mip4294967298") }, false},
		{"ByName empty", func() (tunnel.Tunnel, bool) { return tb.ByName("") }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.find()
			if ok != tt.ok || (ok && got != want) || (!ok && got != (tunnel.Tunnel{})) {
				t.Errorf("got %+v, %v; want ok %v", got, ok, tt.ok)
			}
		})
	}
}

func TestExhausted(t *testing.T) {
	tests := []struct {
		prefix string
		ids    int // IDs whose names fit in 15 bytes
	}{
		{"abcdefghijklmn", 9},
		{"abcdefghijklm", 99},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			tb, err := tunnel.New(tt.prefix)
			if err != nil {
				t.Fatal(err)
			}
			remote := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 9, 0, byte(i + 1)}) }
			for i := range tt.ids {
				tun, _, err := tb.Acquire(ha, remote(i))
				if err != nil {
					t.Fatalf("Acquire #%d: %v", i+1, err)
				}
				if len(tun.Name) > tunnel.MaxNameLen {
					t.Fatalf("name %q longer than %d bytes", tun.Name, tunnel.MaxNameLen)
				}
			}
			if _, _, err := tb.Acquire(ha, fa1); !errors.Is(err, tunnel.ErrExhausted) {
				t.Fatalf("Acquire #%d = %v, want ErrExhausted", tt.ids+1, err)
			}
			// Releasing frees no ID, but existing tunnels can still be shared.
			if _, _, err := tb.ReleaseID(1); err != nil {
				t.Fatal(err)
			}
			if _, _, err := tb.Acquire(ha, fa1); !errors.Is(err, tunnel.ErrExhausted) {
				t.Fatalf("Acquire after a release = %v, want ErrExhausted", err)
			}
			if tun, created, err := tb.Acquire(ha, remote(tt.ids-1)); err != nil || created || tun.Refs != 2 {
				t.Fatalf("sharing an existing tunnel = %+v, %v, %v", tun, created, err)
			}
			if tb.Len() != tt.ids-1 {
				t.Errorf("Len = %d, want %d", tb.Len(), tt.ids-1)
			}
		})
	}
}

func TestEndpointsString(t *testing.T) {
	if got := (tunnel.Endpoints{Local: ha, Remote: fa1}).String(); got != "10.1.0.1->10.2.0.1" {
		t.Errorf("String = %q", got)
	}
}
