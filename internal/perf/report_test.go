package perf

import (
	"bytes"
	"strings"
	"testing"
)

// TestTargets checks how a figure is judged against its targets: a value
// bound, a ratio bound, both together, and a ratio target without a
// baseline (never met).
func TestTargets(t *testing.T) {
	fig := func(v float64) Figure { return Figure{Key: "k", Name: "n", Value: v, Unit: "/s"} }
	tests := []struct {
		name string
		f    Figure
		want bool
	}{
		{"at least, met", fig(100).WithTargets(AtLeast(100)), true},
		{"at least, not met", fig(99).WithTargets(AtLeast(100)), false},
		{"at most, met", fig(5).WithTargets(AtMost(5)), true},
		{"at most, not met", fig(5.1).WithTargets(AtMost(5)), false},
		{"ratio, met", fig(60).WithBaseline("echo", 100).WithTargets(RatioAtLeast(0.5)), true},
		{"ratio, not met", fig(40).WithBaseline("echo", 100).WithTargets(RatioAtLeast(0.5)), false},
		{"ratio without baseline", fig(40).WithTargets(RatioAtLeast(0.5)), false},
		{"both, one not met", fig(120000).WithBaseline("echo", 300000).WithTargets(AtLeast(100000), RatioAtLeast(0.5)), false},
		{"both met", fig(160000).WithBaseline("echo", 300000).WithTargets(AtLeast(100000), RatioAtLeast(0.5)), true},
	}
	for _, tt := range tests {
		if tt.f.Met == nil || *tt.f.Met != tt.want {
			t.Errorf("%s: met %v, want %v", tt.name, tt.f.Met, tt.want)
		}
	}
	if f := fig(1); f.Met != nil {
		t.Error("a figure without targets has a verdict")
	}
	if f := fig(50).WithBaseline("echo", 200); f.Ratio != 0.25 {
		t.Errorf("ratio %v, want 0.25", f.Ratio)
	}
}

// TestReportRoundTrip writes a report as JSON and as a table: the JSON
// reads back the same, and the table shows the machine, every figure with
// its baseline, ratio, target and verdict, the notes and what was skipped.
func TestReportRoundTrip(t *testing.T) {
	r := &Report{Machine: ThisMachine(), Command: "dynbench -quick"}
	r.Add(Figure{Section: SectionRegistration, Key: "registration.rereg", Name: "re-registrations", Value: 90000, Unit: "/s",
		Note: "a note"}.WithBaseline("echo", 200000).WithTargets(AtLeast(100000), RatioAtLeast(0.5)))
	r.Add(Figure{Section: SectionTables, Key: "tables.1M.bytes", Name: "memory per binding at 1M", Value: 116, Unit: "B"}.
		WithTargets(AtMost(200)))
	r.Skip(SectionHandoff, "needs root")
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(&js)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Figures) != 2 || back.Machine != r.Machine || len(back.Skipped) != 1 {
		t.Fatalf("read back %+v", back)
	}
	f, ok := back.Figure("registration.rereg")
	if !ok || f.Value != 90000 || *f.Baseline != 200000 || f.Ratio != 0.45 || *f.Met || len(f.Targets) != 2 {
		t.Errorf("figure read back %+v", f)
	}
	var tb bytes.Buffer
	if err := r.WriteTable(&tb); err != nil {
		t.Fatal(err)
	}
	out := tb.String()
	for _, s := range []string{r.Machine.CPU, r.Machine.Kernel, r.Machine.GoVersion, "dynbench -quick",
		"re-registrations", "90000 /s", "200000 /s (echo)", "0.45", ">= 100000 /s; >= 0.5 x baseline", " no",
		"memory per binding at 1M", "<= 200 B", "yes", "registration.rereg: a note", "handoff: needs root"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
	if _, err := ReadReport(strings.NewReader(`{"figures": 3}`)); err == nil {
		t.Error("ReadReport took a broken report")
	}
}
