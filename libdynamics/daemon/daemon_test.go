package daemon

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/config"
)

func TestParseFlags(t *testing.T) {
	var out bytes.Buffer
	f, err := ParseFlags("dynhad", []string{"-c", "/tmp/x.conf", "--fg", "--debug"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if f.Config != "/tmp/x.conf" || !f.Foreground || !f.Debug || f.Version {
		t.Fatalf("parsed %+v", f)
	}
	f, err = ParseFlags("dynfad", nil, &out)
	if err != nil || f.Config != "/etc/dynamics/dynfad.conf" {
		t.Fatalf("default config: %+v %v", f, err)
	}
	if _, err := ParseFlags("dynmnd", []string{"--bogus"}, &out); err == nil {
		t.Fatal("unknown flag accepted")
	}
	if _, err := ParseFlags("dynmnd", []string{"extra"}, &out); err == nil {
		t.Fatal("stray argument accepted")
	}
	if _, err := ParseFlags("dynmnd", []string{"-h"}, &out); !errors.Is(err, ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	if !strings.Contains(out.String(), "usage: dynmnd") {
		t.Fatalf("usage not printed: %q", out.String())
	}
}

func TestExitCode(t *testing.T) {
	cfgErr := &config.Error{File: "dynhad.conf", Line: 3, Label: "HAIPAddress", Err: config.ErrInvalid}
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{flag.ErrHelp, 0},
		{fmt.Errorf("load: %w", cfgErr), 2},
		{errors.New("socket: permission denied"), 1},
	} {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestTunnelModeText(t *testing.T) {
	var m TunnelMode
	for _, s := range []string{"auto", "Netlink", "USERSPACE"} {
		if err := m.UnmarshalText([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if err := m.UnmarshalText([]byte("gre")); err == nil {
		t.Error("gre accepted as a tunnel mode")
	}
}
