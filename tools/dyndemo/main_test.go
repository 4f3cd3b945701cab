package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/testbed"
)

func TestParseRoute(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
		err  string
	}{
		{"home,fa1,fa2,home", []string{"home", "fa1", "fa2", "home"}, ""},
		{" home , colocated ", []string{"home", "colocated"}, ""},
		{"home", nil, "at least two"},
		{"fa1,home", nil, "starts at home"},
		{"home,fa1,fa1", nil, "twice in a row"},
		{"home,fa3", nil, `unknown stop "fa3"`},
	} {
		got, err := parseRoute(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseRoute(%q) error %v, want one containing %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("parseRoute(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-hier", "-dwell", "2.5", "-route", "home,colocated,home"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !o.hier || o.dwell != 2500*time.Millisecond || len(o.route) != 3 {
		t.Errorf("options %+v", o)
	}
	if o.ipsec {
		t.Error("IPsec without -ipsec")
	}
	if o, err := parseFlags([]string{"-ipsec"}, io.Discard); err != nil || !o.ipsec {
		t.Errorf("-ipsec: %+v, %v", o, err)
	}
	for _, args := range [][]string{{"-dwell", "0"}, {"extra"}, {"-route", "fa1"}} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}

// TestRunRefuses checks the plain refusals: a usage error, and (as root) a
// directory without the daemons. Nothing is built in either case.
func TestRunRefuses(t *testing.T) {
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"-dwell", "x"}, &out, &errOut); code != exitUsage {
		t.Errorf("bad -dwell: exit %d, want %d", code, exitUsage)
	}
	errOut.Reset()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dynhad"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	code := run(context.Background(), []string{"-bin", dir}, &out, &errOut)
	if code != exitFail {
		t.Errorf("exit %d, want %d", code, exitFail)
	}
	want := "daemon binary missing"
	if os.Geteuid() != 0 {
		want = "needs root"
	}
	if !strings.Contains(errOut.String(), want) || strings.Contains(errOut.String(), "dynhad,") {
		t.Errorf("stderr %q, want it to name %q (and not the present dynhad)", errOut.String(), want)
	}
}

// TestIPsecLines checks that the -ipsec banner names every protected hop
// of the bed with its two ends and where the IKE keys go.
func TestIPsecLines(t *testing.T) {
	hops := []testbed.IPsecHop{
		{Initiator: "mn", Responder: "ha", InitiatorAddr: testbed.HomeAddr, ResponderAddr: testbed.HAAddr},
		{Initiator: "fa1", Responder: "gfa", InitiatorAddr: testbed.FA1Addr, ResponderAddr: testbed.FA1Upper},
	}
	got := ipsecLines(hops, "/tmp/demo")
	for _, want := range []string{
		"mn   10.1.0.10       -> ha   10.1.0.1", "(mn.dynbed -> ha.dynbed)",
		"fa1  10.0.1.2        -> gfa  10.0.1.1", "/tmp/demo/*-ike.keys",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ipsecLines lacks %q:\n%s", want, got)
		}
	}
}
