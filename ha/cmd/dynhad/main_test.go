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
	if code := run([]string{"--version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "dynhad (Dynamics in Go) ") {
		t.Errorf("exit %d, output %q", code, out.String())
	}
}

// A configuration error names file, line and label and exits with 2.
func TestConfigError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dynhad.conf")
	text := "HAIPAddress 10.1.0.1\nHomeNetPrefix 10.1.0.0/24\nHomeInterface eth0\nMaxLifetime forever\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"-c", path}, &out, &errb)
	if want := path + ":4: MaxLifetime: "; code != 2 || !strings.HasPrefix(errb.String(), want) {
		t.Errorf("exit %d, stderr %q; want 2 and %q...", code, errb.String(), want)
	}
}

func TestBadFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--bogus"}, &out, &errb); code != 2 {
		t.Errorf("exit %d for an unknown flag", code)
	}
	if code := run([]string{"-c", filepath.Join(t.TempDir(), "missing.conf")}, &out, &errb); code == 0 {
		t.Error("a missing configuration file exited 0")
	}
}

// A bad IPSEC entry is a configuration error naming its line.
func TestIPsecConfigError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dynhad.conf")
	text := "HAIPAddress 10.1.0.1\nHomeNetPrefix 10.1.0.0/24\nHomeInterface eth0\n" +
		"IPSEC_BEGIN\n10.0.1.2 - key1\n10.0.1.2 - key2\nIPSEC_END\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"-c", path}, &out, &errb)
	if want := path + ":6: IPSEC: "; code != 2 || !strings.HasPrefix(errb.String(), want) {
		t.Errorf("exit %d, stderr %q; want 2 and %q...", code, errb.String(), want)
	}
}
