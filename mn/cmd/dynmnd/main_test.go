package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "dynmnd (Dynamics in Go) ") {
		t.Errorf("exit %d, output %q", code, out.String())
	}
}

// A configuration error names file, line and label and exits with status 2.
func TestConfigError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dynmnd.conf")
	text := "MNHomeIPAddress 10.1.0.10\nHAIPAddress 10.1.0.1\nHomeNetPrefix 10.1.0.0/24\nInterface eth0\n" +
		"SPI 1000\nSharedSecret 0011\nTunnelingMode sideways\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"-c", path}, &out, &errb)
	if want := path + ":7: TunnelingMode: "; code != 2 || !strings.HasPrefix(errb.String(), want) {
		t.Errorf("exit %d, stderr %q; want 2 and %q...", code, errb.String(), want)
	}
}

// A required label missing is a configuration error too.
func TestConfigMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dynmnd.conf")
	if err := os.WriteFile(path, []byte("HAIPAddress 10.1.0.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"-c", path}, &out, &errb); code != 2 || !strings.Contains(errb.String(), path+": MNHomeIPAddress: ") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
}

func TestBadFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--bogus"}, &out, &errb); code != 2 {
		t.Errorf("exit %d for an unknown flag", code)
	}
}
