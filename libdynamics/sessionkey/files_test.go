package sessionkey

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestKeyFilesRoundTrip(t *testing.T) {
	a, _, _ := testKeys(t)
	// The modes are exact whatever the umask.
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := t.TempDir()
	privPath, pubPath := filepath.Join(dir, "fa.key"), filepath.Join(dir, "fa.pub")
	if err := WritePrivateKey(privPath, a, false); err != nil {
		t.Fatal(err)
	}
	if err := WritePublicKey(pubPath, &a.PublicKey, false); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, privPath); m != 0o600 {
		t.Errorf("private key file mode %o, want 600", m)
	}
	if m := mode(t, pubPath); m != 0o644 {
		t.Errorf("public key file mode %o, want 644", m)
	}
	priv, err := LoadPrivateKey(privPath)
	if err != nil {
		t.Fatal(err)
	}
	if !priv.Equal(a) {
		t.Error("LoadPrivateKey returned a different key")
	}
	pub, err := LoadPublicKey(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&a.PublicKey) {
		t.Error("LoadPublicKey returned a different key")
	}
	data, err := os.ReadFile(privPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "-----BEGIN PRIVATE KEY-----\n") {
		t.Errorf("private key file starts %q, want a PKCS#8 PEM block", data[:min(len(data), 32)])
	}
	data, err = os.ReadFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "-----BEGIN PUBLIC KEY-----\n") {
		t.Errorf("public key file starts %q, want a PKIX PEM block", data[:min(len(data), 32)])
	}
}

func TestKeyFilesPKCS1(t *testing.T) {
	a, _, _ := testKeys(t)
	dir := t.TempDir()
	privPath, pubPath := filepath.Join(dir, "fa.key"), filepath.Join(dir, "fa.pub")
	writePEM(t, privPath, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(a))
	writePEM(t, pubPath, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&a.PublicKey))
	if priv, err := LoadPrivateKey(privPath); err != nil || !priv.Equal(a) {
		t.Errorf("PKCS#1 private key: %v", err)
	}
	if pub, err := LoadPublicKey(pubPath); err != nil || !pub.Equal(&a.PublicKey) {
		t.Errorf("PKCS#1 public key: %v", err)
	}
}

func TestWriteRefusesOverwrite(t *testing.T) {
	a, b, _ := testKeys(t)
	dir := t.TempDir()
	privPath, pubPath := filepath.Join(dir, "fa.key"), filepath.Join(dir, "fa.pub")
	for _, p := range []string{privPath, pubPath} {
		if err := os.WriteFile(p, []byte("keep me"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	err := WritePrivateKey(privPath, a, false)
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), privPath) {
		t.Errorf("WritePrivateKey over a file: err = %v, want fs.ErrExist naming %s", err, privPath)
	}
	err = WritePublicKey(pubPath, &a.PublicKey, false)
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), pubPath) {
		t.Errorf("WritePublicKey over a file: err = %v, want fs.ErrExist naming %s", err, pubPath)
	}
	for _, p := range []string{privPath, pubPath} {
		if data, _ := os.ReadFile(p); string(data) != "keep me" {
			t.Errorf("%s was changed to %q", p, data)
		}
	}
	// A symbolic link is not followed either.
	target := filepath.Join(dir, "target")
	link := filepath.Join(dir, "link.key")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := WritePrivateKey(link, a, false); !errors.Is(err, fs.ErrExist) {
		t.Errorf("WritePrivateKey over a symlink: err = %v, want fs.ErrExist", err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("symlink target was created: %v", err)
	}

	// With overwrite the files are replaced, and the private key file
	// takes mode 0600 although the old file was 0644.
	if err := WritePrivateKey(privPath, b, true); err != nil {
		t.Fatal(err)
	}
	if err := WritePublicKey(pubPath, &b.PublicKey, true); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, privPath); m != 0o600 {
		t.Errorf("overwritten private key file mode %o, want 600", m)
	}
	if priv, err := LoadPrivateKey(privPath); err != nil || !priv.Equal(b) {
		t.Errorf("overwritten private key: %v", err)
	}
	if pub, err := LoadPublicKey(pubPath); err != nil || !pub.Equal(&b.PublicKey) {
		t.Errorf("overwritten public key: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want fa.key, fa.pub and link.key only", names)
	}
}

func TestWriteRefusesSmallKeys(t *testing.T) {
	_, _, small := testKeys(t)
	dir := t.TempDir()
	privPath, pubPath := filepath.Join(dir, "fa.key"), filepath.Join(dir, "fa.pub")
	if err := WritePrivateKey(privPath, small, false); !errors.Is(err, ErrKeySize) {
		t.Errorf("WritePrivateKey(1024 bits): err = %v, want ErrKeySize", err)
	}
	if err := WritePublicKey(pubPath, &small.PublicKey, false); !errors.Is(err, ErrKeySize) {
		t.Errorf("WritePublicKey(1024 bits): err = %v, want ErrKeySize", err)
	}
	if err := WritePrivateKey(privPath, nil, false); !errors.Is(err, ErrInvalid) {
		t.Errorf("WritePrivateKey(nil): err = %v, want ErrInvalid", err)
	}
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists after a refused write", p)
		}
	}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadErrors(t *testing.T) {
	a, _, small := testKeys(t)
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(a)
	if err != nil {
		t.Fatal(err)
	}
	smallPKCS8, err := x509.MarshalPKCS8PrivateKey(small)
	if err != nil {
		t.Fatal(err)
	}
	smallPKIX, err := x509.MarshalPKIXPublicKey(&small.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	goodPriv := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
	goodPub, err := MarshalPublicKey(&a.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: goodPub}))
	corrupt := pkcs8[:len(pkcs8)-20]

	type loader func(string) error
	loadPriv := func(p string) error { _, err := LoadPrivateKey(p); return err }
	loadPub := func(p string) error { _, err := LoadPublicKey(p); return err }
	for _, tc := range []struct {
		name string
		load loader
		path string
		want error
	}{
		{"missing private", loadPriv, filepath.Join(dir, "missing.key"), fs.ErrNotExist},
		{"missing public", loadPub, filepath.Join(dir, "missing.pub"), fs.ErrNotExist},
		{"empty", loadPriv, file("empty.key", ""), ErrKeyFormat},
		{"not PEM", loadPriv, file("garbage.key", "hello\x00\xff"), ErrKeyFormat},
		{"bad base64", loadPriv, file("b64.key", "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n"), ErrKeyFormat},
		{"truncated PEM", loadPriv, file("trunc.key", goodPriv[:len(goodPriv)/2]), ErrKeyFormat},
		{"corrupt DER", loadPriv, file("der.key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: corrupt}))), ErrKeyFormat},
		{"public as private", loadPriv, file("pub-as.key", pubPEM), ErrKeyFormat},
		{"private as public", loadPub, file("priv-as.pub", goodPriv), ErrKeyFormat},
		{"corrupt public", loadPub, file("der.pub", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: goodPub[:100]}))), ErrKeyFormat},
		{"encrypted PEM", loadPriv, file("enc.key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: pkcs8}))), ErrKeyFormat},
		{"small private", loadPriv, file("small.key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: smallPKCS8}))), ErrKeySize},
		{"small public", loadPub, file("small.pub", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: smallPKIX}))), ErrKeySize},
		{"huge file", loadPriv, file("huge.key", strings.Repeat("A", maxKeyFile+1)), ErrKeyFormat},
	} {
		err := tc.load(tc.path)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.path) {
			t.Errorf("%s: error %q does not name %s", tc.name, err, tc.path)
		}
	}
}
