package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dynamics-go/dynamics/internal/perf"
)

// bench is one run of the tool.
type bench struct {
	opts   options
	argv   []string
	log    *slog.Logger
	stdout io.Writer
	stderr io.Writer
	rep    perf.Report
	failed bool
}

// run runs the sections asked for and returns the report and whether any
// section failed.
func (b *bench) run(ctx context.Context) (*perf.Report, bool) {
	b.rep = perf.Report{
		Machine: perf.ThisMachine(),
		Command: commandLine(b.argv),
		Quick:   b.opts.quick,
		Started: time.Now().UTC().Truncate(time.Second),
	}
	start := time.Now()
	for _, s := range perf.Sections {
		if !slices.Contains(b.opts.only, s) || ctx.Err() != nil {
			continue
		}
		b.log.Info("section", "name", s)
		switch s {
		case perf.SectionRegistration:
			b.registration(ctx)
		case perf.SectionProtected:
			b.protected(ctx)
		case perf.SectionHandoff:
			b.roaming(ctx)
		case perf.SectionDataPath:
			b.datapath(ctx)
		case perf.SectionTables:
			b.tables(ctx)
		}
	}
	if b.opts.plotPath != "" && !slices.Contains(b.opts.only, perf.SectionHandoff) && ctx.Err() == nil {
		b.roaming(ctx)
	}
	if ctx.Err() != nil {
		b.fail("run", ctx.Err())
	}
	b.rep.Duration = time.Since(start).Round(time.Millisecond)
	return &b.rep, b.failed
}

// fail records a section that failed.
func (b *bench) fail(section string, err error) {
	b.failed = true
	b.rep.Skip(section, "failed: %v", err)
	fmt.Fprintf(b.stderr, "dynbench: %s: %v\n", section, err)
}

// binDir is the directory of the daemons: -bin, else dynbench's own.
func (b *bench) binDir() string {
	if b.opts.binDir != "" {
		return b.opts.binDir
	}
	if exe, err := os.Executable(); err == nil {
		return filepath.Dir(exe)
	}
	return "."
}

// binary returns the path of a daemon binary.
func (b *bench) binary(name string) string { return filepath.Join(b.binDir(), name) }

// needsNetns reports whether the namespace parts may run, recording a skip
// of what when they may not.
func (b *bench) needsNetns(section, what string) bool {
	switch {
	case !b.opts.netns:
		b.rep.Skip(section, "%s: not run (-netns=false)", what)
		return false
	case os.Geteuid() != 0:
		b.rep.Skip(section, "%s: %v (run as root: sudo make bench)", what, perf.ErrNotRoot)
		return false
	}
	return true
}

func (b *bench) regOptions() perf.RegistrationOptions {
	return perf.RegistrationOptions{
		Mobiles: b.opts.mobiles, CareOfs: b.opts.careOfs, Duration: b.opts.duration,
		Window: b.opts.window, Batch: b.opts.batch, Log: b.log,
	}
}

func (b *bench) registration(ctx context.Context) {
	figs, err := perf.RegistrationInProcess(ctx, b.regOptions())
	if err != nil {
		b.fail(perf.SectionRegistration, fmt.Errorf("in process: %w", err))
	}
	b.rep.Add(figs...)
	if !b.needsNetns(perf.SectionRegistration, "dynhad in a network namespace") {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		b.fail(perf.SectionRegistration, err)
		return
	}
	figs, err = perf.RegistrationDaemon(ctx, perf.DaemonOptions{
		RegistrationOptions: b.regOptions(),
		DynHAD:              b.binary("dynhad"),
		EchoCommand:         []string{exe},
		WorkDir:             b.opts.keep,
		Debug:               b.opts.debug,
		DeployedMobiles:     b.opts.deployed,
	})
	if err != nil {
		b.fail(perf.SectionRegistration, fmt.Errorf("dynhad: %w", err))
	}
	b.rep.Add(figs...)
}

// datapath runs perf.DataPath: TCP from the correspondent to the mobile
// through the tunnel against the same veths without it.
func (b *bench) datapath(ctx context.Context) {
	if !b.needsNetns(perf.SectionDataPath, "TCP through the tunnel") {
		return
	}
	var d time.Duration
	if b.opts.quick {
		d = time.Second
	}
	res, err := perf.DataPath(ctx, perf.DataPathOptions{Duration: d, Logger: b.log})
	if err != nil {
		b.fail(perf.SectionDataPath, err)
		return
	}
	b.rep.Add(perf.Figure{
		Section: perf.SectionDataPath, Key: "datapath.tcp", Name: "TCP cn -> mobile through the tunnel (" + res.Mode + ")",
		Value: round1(res.TunnelMbps), Unit: "Mbit/s", Note: res.Notes,
	}.WithBaseline("plain veth", round1(res.VethMbps)).WithTargets(perf.RatioAtLeast(0.5)))
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func (b *bench) tables(ctx context.Context) {
	var sizes []int
	if b.opts.quick {
		sizes = []int{1000, 10_000}
	}
	figs, err := perf.Tables(ctx, perf.TablesOptions{Sizes: sizes})
	if err != nil {
		b.fail(perf.SectionTables, err)
	}
	b.rep.Add(figs...)
}

// commandLine is the command as typed, the program as its base name.
func commandLine(argv []string) string {
	if len(argv) == 0 {
		return ""
	}
	parts := append([]string{filepath.Base(argv[0])}, argv[1:]...)
	return strings.Join(parts, " ")
}
