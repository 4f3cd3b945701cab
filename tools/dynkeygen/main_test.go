package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/sessionkey"
)

// runArgs runs the command in-process and returns its status and output.
func runArgs(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func perm(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// fingerprintLine returns the fingerprint dynkeygen printed.
func fingerprintLine(t *testing.T, stdout string) string {
	t.Helper()
	for _, l := range strings.Split(stdout, "\n") {
		if fp, ok := strings.CutPrefix(l, "fingerprint: "); ok {
			return fp
		}
	}
	t.Fatalf("no fingerprint in output %q", stdout)
	return ""
}

func TestGenerate(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "fa1")
	code, stdout, stderr := runArgs("-out", prefix, "-bits", "2048")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if m := perm(t, prefix+".key"); m != 0o600 {
		t.Errorf("%s.key mode %o, want 600", prefix, m)
	}
	if m := perm(t, prefix+".pub"); m != 0o644 {
		t.Errorf("%s.pub mode %o, want 644", prefix, m)
	}
	priv, err := sessionkey.LoadPrivateKey(prefix + ".key")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sessionkey.LoadPublicKey(prefix + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&priv.PublicKey) {
		t.Fatal("the public key file does not match the private key")
	}
	if n := pub.N.BitLen(); n != 2048 {
		t.Errorf("modulus of %d bits, want 2048", n)
	}
	// The pair works for what it is for.
	key, err := sessionkey.Generate(nil, []byte("ha-secret"))
	if err != nil {
		t.Fatal(err)
	}
	ct, err := sessionkey.WrapForFA(nil, pub, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := sessionkey.UnwrapForFA(priv, ct, nil); err != nil || got != key {
		t.Fatalf("unwrap with the generated pair: %v", err)
	}
	der, err := sessionkey.MarshalPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	if fp, want := fingerprintLine(t, stdout), "SHA256:"+hex.EncodeToString(sum[:]); fp != want {
		t.Errorf("printed fingerprint %q, want %q", fp, want)
	}

	// openssl, where present, is an independent oracle for the files and
	// the fingerprint.
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Log("openssl not installed; skipping the cross-check")
		return
	}
	if out, err := exec.Command("openssl", "pkey", "-in", prefix+".key", "-check", "-noout").CombinedOutput(); err != nil {
		t.Errorf("openssl pkey -check: %v: %s", err, out)
	}
	out, err := exec.Command("openssl", "pkey", "-pubin", "-in", prefix+".pub", "-outform", "DER").Output()
	if err != nil {
		t.Fatalf("openssl pkey -pubin: %v", err)
	}
	sum = sha256.Sum256(out)
	if fp, want := fingerprintLine(t, stdout), "SHA256:"+hex.EncodeToString(sum[:]); fp != want {
		t.Errorf("fingerprint %q, openssl's DER gives %q", fp, want)
	}
}

func TestRefusesOverwrite(t *testing.T) {
	dir := t.TempDir()
	for _, existing := range []string{"fa.key", "fa.pub"} {
		t.Run(existing, func(t *testing.T) {
			sub := filepath.Join(dir, strings.ReplaceAll(existing, ".", "-"))
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			prefix := filepath.Join(sub, "fa")
			if err := os.WriteFile(filepath.Join(sub, existing), []byte("keep me"), 0o644); err != nil {
				t.Fatal(err)
			}
			code, _, stderr := runArgs("-out", prefix, "-bits", "2048")
			if code != exitFail {
				t.Fatalf("exit %d, want %d", code, exitFail)
			}
			if !strings.Contains(stderr, existing) || !strings.Contains(stderr, "-force") {
				t.Errorf("stderr %q does not name %s and -force", stderr, existing)
			}
			entries, err := os.ReadDir(sub)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Errorf("directory holds %d entries, want only the existing file", len(entries))
			}
			if data, _ := os.ReadFile(filepath.Join(sub, existing)); string(data) != "keep me" {
				t.Errorf("%s was changed", existing)
			}
		})
	}
}

func TestForce(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "fa")
	if code, _, stderr := runArgs("-out", prefix, "-bits", "2048"); code != exitOK {
		t.Fatalf("first run: exit %d, stderr %q", code, stderr)
	}
	first, err := sessionkey.LoadPublicKey(prefix + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(prefix+".key", 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runArgs("-out", prefix, "-bits", "2048", "-force"); code != exitOK {
		t.Fatalf("-force: exit %d, stderr %q", code, stderr)
	}
	priv, err := sessionkey.LoadPrivateKey(prefix + ".key")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sessionkey.LoadPublicKey(prefix + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if pub.Equal(first) || !pub.Equal(&priv.PublicKey) {
		t.Error("-force did not write a new matching pair")
	}
	if m := perm(t, prefix+".key"); m != 0o600 {
		t.Errorf("replaced private key mode %o, want 600", m)
	}
}

func TestUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string // in stderr, or in stdout for exitOK
	}{
		{[]string{"-h"}, exitOK, "usage: dynkeygen"},
		{[]string{"-help"}, exitOK, "usage: dynkeygen"},
		{nil, exitUsage, "-out PREFIX is required"},
		{[]string{"-out", ""}, exitUsage, "-out PREFIX is required"},
		{[]string{"-out", filepath.Join(dir, "a"), "-bits", "1024"}, exitUsage, "-bits 1024"},
		{[]string{"-out", filepath.Join(dir, "a"), "-bits", "99999"}, exitUsage, "-bits 99999"},
		{[]string{"-out", filepath.Join(dir, "a"), "-bits", "many"}, exitUsage, "-bits"},
		{[]string{"-out", filepath.Join(dir, "a"), "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"-frobnicate"}, exitUsage, "-frobnicate"},
		{[]string{"-out", filepath.Join(dir, "no", "such", "dir", "fa"), "-bits", "2048"}, exitFail, filepath.Join(dir, "no", "such", "dir", "fa.key")},
	} {
		code, stdout, stderr := runArgs(tc.args...)
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d (stderr %q)", tc.args, code, tc.code, stderr)
			continue
		}
		got := stderr
		if tc.code == exitOK {
			got = stdout
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%q: output %q does not contain %q", tc.args, got, tc.want)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("usage errors left %d files behind", len(entries))
	}
}
