package main

import (
	"context"
	"fmt"

	"github.com/dynamics-go/dynamics/internal/perf"
)

// protected runs perf.RegistrationProtected: re-registrations at dynhad
// through userspace ESP against the same ones in clear.
func (b *bench) protected(ctx context.Context) {
	if !b.needsNetns(perf.SectionProtected, "dynhad with signalling protection") {
		return
	}
	figs, err := perf.RegistrationProtected(ctx, perf.DaemonOptions{
		RegistrationOptions: b.regOptions(),
		DynHAD:              b.binary("dynhad"),
		WorkDir:             b.opts.keep,
		Debug:               b.opts.debug,
	})
	if err != nil {
		b.fail(perf.SectionProtected, fmt.Errorf("dynhad: %w", err))
	}
	b.rep.Add(figs...)
}
