package main

import (
	"context"

	"github.com/dynamics-go/dynamics/internal/perf"
)

func (b *bench) handoff(ctx context.Context) {
	b.rep.Skip(perf.SectionHandoff, "not in this build yet")
}

func (b *bench) datapath(ctx context.Context) {
	b.rep.Skip(perf.SectionDataPath, "not in this build: the userspace data path measurement (perf.DataPath) has not landed")
}

func (b *bench) plot(ctx context.Context) {
	b.rep.Skip("plot", "not in this build yet")
}
