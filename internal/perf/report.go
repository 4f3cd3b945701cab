package perf

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Sections of a benchmark run, in the order they run.
const (
	SectionRegistration = "registration"
	SectionHandoff      = "handoff"
	SectionDataPath     = "datapath"
	SectionTables       = "tables"
)

// Sections lists every section in the order a run takes them.
var Sections = []string{SectionRegistration, SectionProtected, SectionHandoff, SectionDataPath, SectionTables}

// Target is what a figure should reach: the value (or, with OnRatio, the
// ratio to its baseline) at least Min when Min is set, at most Max when Max
// is set.
type Target struct {
	Min     *float64 `json:"min,omitempty"`
	Max     *float64 `json:"max,omitempty"`
	OnRatio bool     `json:"on_ratio,omitempty"`
}

// AtLeast is the target value >= v; AtMost, value <= v; RatioAtLeast,
// value / baseline >= v.
func AtLeast(v float64) Target      { return Target{Min: &v} }
func AtMost(v float64) Target       { return Target{Max: &v} }
func RatioAtLeast(v float64) Target { return Target{Min: &v, OnRatio: true} }

// met reports whether f meets t.
func (t Target) met(f Figure) bool {
	v := f.Value
	if t.OnRatio {
		if f.Baseline == nil {
			return false
		}
		v = f.Ratio
	}
	if t.Min != nil && !(v >= *t.Min) {
		return false
	}
	if t.Max != nil && !(v <= *t.Max) {
		return false
	}
	return true
}

// format writes t for the table, with unit the figure's unit.
func (t Target) format(unit string) string {
	var parts []string
	u := unit
	if t.OnRatio {
		u = "x baseline"
	}
	if t.Min != nil {
		parts = append(parts, ">= "+num(*t.Min)+" "+u)
	}
	if t.Max != nil {
		parts = append(parts, "<= "+num(*t.Max)+" "+u)
	}
	return strings.Join(parts, ", ")
}

// Figure is one measured figure with its baseline, the ratio between them
// and the targets it should meet.
type Figure struct {
	// Section is the section that measured it (SectionRegistration, ...).
	Section string `json:"section"`
	// Key names the figure for scripts: "registration.rereg.rate".
	Key string `json:"key"`
	// Name says what it is, for the table.
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Baseline is the same measurement without the thing measured (an
	// echo server instead of the home agent, plain veth instead of the
	// tunnel), taken in the same run; nil when the figure has none.
	Baseline     *float64 `json:"baseline,omitempty"`
	BaselineName string   `json:"baseline_name,omitempty"`
	// Ratio is Value / Baseline.
	Ratio   float64  `json:"ratio,omitempty"`
	Targets []Target `json:"targets,omitempty"`
	// Met reports whether every target is met; nil when there is none.
	Met *bool `json:"met,omitempty"`
	// Note says how the figure was taken or what limits it.
	Note string `json:"note,omitempty"`
}

// WithBaseline sets the baseline and the ratio.
func (f Figure) WithBaseline(name string, v float64) Figure {
	f.Baseline, f.BaselineName = &v, name
	if v != 0 {
		f.Ratio = f.Value / v
	}
	return f
}

// WithTargets sets the targets and whether they are met.
func (f Figure) WithTargets(ts ...Target) Figure {
	f.Targets = ts
	met := true
	for _, t := range ts {
		met = met && t.met(f)
	}
	f.Met = &met
	return f
}

// Skip records a section (or part of one) that did not run, and why.
type Skip struct {
	Section string `json:"section"`
	Reason  string `json:"reason"`
}

// Report is the outcome of one run: the machine, the command, the figures.
type Report struct {
	Machine  Machine       `json:"machine"`
	Command  string        `json:"command"`
	Quick    bool          `json:"quick,omitempty"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	Figures  []Figure      `json:"figures"`
	Skipped  []Skip        `json:"skipped,omitempty"`
}

// Add appends figures.
func (r *Report) Add(fs ...Figure) { r.Figures = append(r.Figures, fs...) }

// Skip records a section that did not run.
func (r *Report) Skip(section, format string, args ...any) {
	r.Skipped = append(r.Skipped, Skip{Section: section, Reason: fmt.Sprintf(format, args...)})
}

// Figure returns the figure with the given key.
func (r *Report) Figure(key string) (Figure, bool) {
	for _, f := range r.Figures {
		if f.Key == key {
			return f, true
		}
	}
	return Figure{}, false
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteJSONFile writes the report to path, creating its directory.
func (r *Report) WriteJSONFile(path string) error {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := r.WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadReport parses a report written by WriteJSON.
func ReadReport(rd io.Reader) (*Report, error) {
	var r Report
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("benchmark report: %w", err)
	}
	return &r, nil
}

// WriteTable writes the machine, the figures as a table (figure, value,
// baseline, ratio, target, met?) with their notes, and the sections
// skipped.
func (r *Report) WriteTable(w io.Writer) error {
	m := r.Machine
	fmt.Fprintf(w, "machine: %s, %d cores (GOMAXPROCS %d), Linux %s, %s %s/%s, load average %s at the start\n",
		m.CPU, m.Cores, m.GOMAXPROCS, m.Kernel, m.GoVersion, m.OS, m.Arch, m.Load)
	if r.Command != "" {
		fmt.Fprintf(w, "command: %s\n", r.Command)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\tbaseline\tratio\ttarget\tmet?")
	section := ""
	var notes []string
	for _, f := range r.Figures {
		if f.Section != section {
			section = f.Section
			fmt.Fprintf(tw, "[%s]\t\t\t\t\t\n", section)
		}
		base, ratio := "-", "-"
		if f.Baseline != nil {
			base = num(*f.Baseline) + " " + f.Unit
			if f.BaselineName != "" {
				base += " (" + f.BaselineName + ")"
			}
			ratio = strconv.FormatFloat(f.Ratio, 'f', 2, 64)
		}
		var ts []string
		for _, t := range f.Targets {
			ts = append(ts, t.format(f.Unit))
		}
		target, met := "-", "-"
		if len(ts) > 0 {
			target = strings.Join(ts, "; ")
		}
		if f.Met != nil {
			met = "no"
			if *f.Met {
				met = "yes"
			}
		}
		fmt.Fprintf(tw, "  %s\t%s %s\t%s\t%s\t%s\t%s\n", f.Name, num(f.Value), f.Unit, base, ratio, target, met)
		if f.Note != "" {
			notes = append(notes, f.Key+": "+f.Note)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\nnotes:")
		for _, n := range notes {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintln(w, "\nskipped:")
		for _, s := range r.Skipped {
			fmt.Fprintf(w, "  %s: %s\n", s.Section, s.Reason)
		}
	}
	return nil
}

// num formats a figure's value: integers without decimals, small values
// with three significant digits.
func num(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'f', -1, 64)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case math.Abs(v) >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}
