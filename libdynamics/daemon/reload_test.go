package daemon

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/config"
)

// testConf has the shapes of the daemons' configurations: scalar labels,
// a list of strings and a section whose entries record their line.
type testConf struct {
	Addr     netip.Addr    `dyn:"Addr,required"`
	Iface    string        `dyn:"Iface,required"`
	Lifetime time.Duration `dyn:"Lifetime,default=600"`
	Facility string        `dyn:"Facility,default=local0"`
	Names    []string      `dyn:"NAMES"`
	Entries  []testEntry   `dyn:"ENTRIES"`
	scratch  int
}

type testEntry struct {
	Addr netip.Addr `dyn:"0"`
	Key  []byte     `dyn:"1"`
	Line int        `dyn:",line"`
}

func TestSplitChanges(t *testing.T) {
	running := testConf{
		Addr: netip.MustParseAddr("10.1.0.1"), Iface: "eth0", Lifetime: time.Minute,
		Entries: []testEntry{{netip.MustParseAddr("10.1.0.10"), []byte{1}, 7}},
		scratch: 1,
	}
	// Nothing but line numbers and nil against empty lists: no change.
	same := running
	same.Names = []string{}
	same.Entries = []testEntry{{netip.MustParseAddr("10.1.0.10"), []byte{1}, 9}}
	same.scratch = 2
	if c, r := SplitChanges(running, &same, "Addr"); c != nil || r != nil {
		t.Errorf("unchanged file: changed %q, restart %q", c, r)
	}

	next := running
	next.Addr = netip.MustParseAddr("10.9.0.1")
	next.Iface = "eth9"
	next.Lifetime = time.Hour
	next.Names = []string{"a"}
	next.Entries = []testEntry{{netip.MustParseAddr("10.1.0.10"), []byte{2}, 7}}
	changed, restart := SplitChanges(running, &next, "Iface", "Addr", "Facility")
	if want := []string{"Lifetime", "NAMES", "ENTRIES"}; !slices.Equal(changed, want) {
		t.Errorf("changed %q, want %q", changed, want)
	}
	if want := []string{"Addr", "Iface"}; !slices.Equal(restart, want) {
		t.Errorf("restart %q, want %q", restart, want)
	}
	if next.Addr != running.Addr || next.Iface != "eth0" || next.Lifetime != time.Hour || next.Entries[0].Key[0] != 2 {
		t.Errorf("next after the split: %+v", next)
	}
}

func TestReloadError(t *testing.T) {
	if err := (&ReloadError{}).Err(); err != nil {
		t.Errorf("empty ReloadError: %v", err)
	}
	e := &ReloadError{Restart: []string{"HAIPAddress", "HomeInterface"},
		Rejected: []error{errors.Join(errors.New("one"), errors.New("two"))}}
	if got, want := e.Err().Error(), "needs a restart: HAIPAddress, HomeInterface; one; two"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// Reload logs a file that does not load as one error line naming the file,
// line and label, and does not apply it; what apply returns comes back,
// and an error other than a *ReloadError is logged.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "test.conf")
	load := func() (testConf, error) {
		f, err := config.Load(path)
		if err != nil {
			return testConf{}, err
		}
		var c testConf
		return c, config.Decode(f, &c)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	var applied []testConf
	apply := func(_ context.Context, c testConf) error { applied = append(applied, c); return nil }

	write := func(text string) {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("Addr 10.1.0.1\nIface eth0\nLifetime forever\nBogus 1\n")
	if err := Reload(t.Context(), log, load, apply); err == nil {
		t.Fatal("a broken file reloaded")
	}
	if len(applied) != 0 {
		t.Fatalf("a broken file was applied: %+v", applied)
	}
	line := strings.TrimSpace(logs.String())
	want := `level=ERROR msg="reload failed, keeping the running configuration: ` + path + `:3: Lifetime: `
	if strings.Count(line, "\n") != 0 || !strings.Contains(line, want) || !strings.Contains(line, path+":4: Bogus") {
		t.Errorf("log %q, want one line holding %q and the second error", line, want)
	}

	logs.Reset()
	write("Addr 10.1.0.1\nIface eth0\nLifetime 30\n")
	if err := Reload(t.Context(), log, load, apply); err != nil {
		t.Fatal(err)
	}
	if len(applied) != 1 || applied[0].Lifetime != 30*time.Second || logs.Len() != 0 {
		t.Errorf("applied %+v, log %q", applied, logs.String())
	}

	partial := &ReloadError{Restart: []string{"Iface"}}
	if err := Reload(t.Context(), log, load, func(context.Context, testConf) error { return partial }); err != partial {
		t.Errorf("Reload returned %v", err)
	}
	if logs.Len() != 0 {
		t.Errorf("a partial reload, logged by the agent, was logged again: %q", logs.String())
	}
	stopped := errors.New("agent stopped")
	if err := Reload(t.Context(), log, load, func(context.Context, testConf) error { return stopped }); err != stopped {
		t.Errorf("Reload returned %v", err)
	}
	if !strings.Contains(logs.String(), `level=ERROR msg="reload failed" err="agent stopped"`) {
		t.Errorf("log %q", logs.String())
	}
}
