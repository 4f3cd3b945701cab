package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/dynamics-go/dynamics/internal/perf"
)

// roaming runs the roaming route on the hierarchical testbed once, for the
// handoff section and for the plot, whichever are asked for.
func (b *bench) roaming(ctx context.Context) {
	figures := slices.Contains(b.opts.only, perf.SectionHandoff)
	if !figures && b.opts.plotPath == "" {
		return
	}
	section := perf.SectionHandoff
	if !figures {
		section = "plot"
	}
	if !b.needsNetns(section, "the hierarchical testbed") {
		return
	}
	opts := perf.HandoffOptions{BinDir: b.binDir(), Log: b.log}
	if b.opts.quick {
		opts.LocalMoves = 2
		opts.Dwell = time.Second
	}
	if b.opts.keep != "" {
		opts.LogDir = filepath.Join(b.opts.keep, "testbed")
	}
	res, err := perf.Handoff(ctx, opts)
	if err != nil {
		b.fail(section, err)
		return
	}
	if figures {
		b.rep.Add(res.Figures...)
	}
	if b.opts.plotPath == "" {
		return
	}
	if err := writePlot(b.opts.plotPath, res.Plot); err != nil {
		b.fail("plot", err)
		return
	}
	fmt.Fprintf(b.stdout, "plot written to %s\n", b.opts.plotPath)
}

func writePlot(path string, p perf.Plot) error {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := p.WriteSVG(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
