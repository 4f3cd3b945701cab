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
	if code := run([]string{"--version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "dynfad (Dynamics in Go) ") {
		t.Errorf("exit %d, output %q", code, out.String())
	}
}

// TestConfigError: a configuration error names file, line and label and
// exits with status 2.
func TestConfigError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dynfad.conf")
	text := "UpstreamInterface eth0\nMaxVisitors many\nINTERFACES_BEGIN\neth1\nINTERFACES_END\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"-c", path}, &out, &errb)
	if want := path + ":2: MaxVisitors: "; code != 2 || !strings.HasPrefix(errb.String(), want) {
		t.Errorf("exit %d, stderr %q; want 2 and %q...", code, errb.String(), want)
	}
}

func TestBadFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--bogus"}, &out, &errb); code != 2 {
		t.Errorf("exit %d for an unknown flag", code)
	}
}

// TestMissingKeyFile: an agent in a hierarchy whose key file is missing
// says which file, before it touches any interface.
func TestMissingKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dynfad.conf")
	key := filepath.Join(dir, "gfa.key")
	text := "UpstreamInterface eth0\nHighestFAIPAddress 10.0.0.2\nCareOfAddress 10.0.0.2\n" +
		"PrivateKeyFile " + key + "\nPublicKeyFile " + filepath.Join(dir, "gfa.pub") + "\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"-c", path, "--fg"}, &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), "PrivateKeyFile") || !strings.Contains(errb.String(), key) {
		t.Errorf("exit %d, stderr %q; want a failure naming PrivateKeyFile and %s", code, errb.String(), key)
	}
}

// A bad IPSEC entry is a configuration error naming its line.
func TestIPsecConfigError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dynfad.conf")
	text := "UpstreamInterface eth0\nINTERFACES_BEGIN\neth1\nINTERFACES_END\n" +
		"IPSEC_BEGIN\n10.1.0.1 - key1\n10.1.0.0/16 - key3\n10.1.0.1 - key2\nIPSEC_END\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"-c", path}, &out, &errb)
	if want := path + ":8: IPSEC: "; code != 2 || !strings.HasPrefix(errb.String(), want) {
		t.Errorf("exit %d, stderr %q; want 2 and %q...", code, errb.String(), want)
	}
}
