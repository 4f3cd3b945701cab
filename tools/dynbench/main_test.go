package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/internal/perf"
)

// TestQuickInProcess runs dynbench -quick on its in-process sections
// (registration against the home agent as a library and the echo baseline,
// and the binding table's scale) and reads the JSON back: the machine is
// described, every figure is positive and the same figures are in the
// table. It asserts nothing about what a figure reaches.
func TestQuickInProcess(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"dynbench", "-quick", "-netns=false", "-only", "registration,tables", "-out", dir},
		&stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	f, err := os.Open(filepath.Join(dir, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := perf.ReadReport(f)
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Machine
	if m.CPU == "" || m.Cores < 1 || m.Kernel == "" || !strings.HasPrefix(m.GoVersion, "go") || !rep.Quick {
		t.Errorf("machine %+v, quick %v", m, rep.Quick)
	}
	want := []string{
		"registration.first.fake", "registration.rereg.inprocess", "registration.rereg.inprocess.p50",
		"registration.rereg.inprocess.p99", "tables.1k.bytes", "tables.1k.insert", "tables.1k.lookup",
		"tables.1k.expiry", "tables.10k.bytes", "tables.10k.expiry",
	}
	for _, key := range want {
		fig, ok := rep.Figure(key)
		if !ok {
			t.Errorf("no figure %s", key)
			continue
		}
		if !(fig.Value > 0) {
			t.Errorf("%s = %v, want a positive figure", key, fig.Value)
		}
		if fig.Baseline != nil && !(*fig.Baseline > 0 && fig.Ratio > 0) {
			t.Errorf("%s: baseline %v, ratio %v", key, *fig.Baseline, fig.Ratio)
		}
		if !strings.Contains(stdout.String(), fig.Name) {
			t.Errorf("the table lacks %q", fig.Name)
		}
	}
	// The namespace parts were left out, and say so.
	skipped := false
	for _, s := range rep.Skipped {
		skipped = skipped || (s.Section == perf.SectionRegistration && strings.Contains(s.Reason, "-netns=false"))
	}
	if !skipped {
		t.Errorf("skipped %+v, want the dynhad run named", rep.Skipped)
	}
	for _, s := range []string{"machine:", m.CPU, "figures written to"} {
		if !strings.Contains(stdout.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, stdout.String())
		}
	}
}

// TestFlags checks the command line: unknown sections and arguments are
// usage errors (exit 2), and -json defaults to bench.json under -out.
func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"-only", "registration,nope"}, {"extra"}, {"-quick=maybe"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), append([]string{"dynbench"}, args...), &out, &errOut); code != exitUsage {
			t.Errorf("dynbench %q: exit %d, want %d", args, code, exitUsage)
		}
	}
	o, err := parse([]string{"-out", "/tmp/x", "-only", "tables, handoff,tables"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.jsonPath != "/tmp/x/bench.json" || strings.Join(o.only, ",") != "tables,handoff" {
		t.Errorf("options %+v", o)
	}
}
