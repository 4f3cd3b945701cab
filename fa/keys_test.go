package fa

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/sessionkey"
)

// TestLoadKeys reads the key pair dynkeygen writes, and refuses a public
// key of another pair or a missing file with an error naming the label and
// the file.
func TestLoadKeys(t *testing.T) {
	dir := t.TempDir()
	k, other := agentKey(t, coa), agentKey(t, gfaAddr)
	priv, pub, otherPub := filepath.Join(dir, "fa.key"), filepath.Join(dir, "fa.pub"), filepath.Join(dir, "other.pub")
	for _, err := range []error{
		sessionkey.WritePrivateKey(priv, k, false),
		sessionkey.WritePublicKey(pub, &k.PublicKey, false),
		sessionkey.WritePublicKey(otherPub, &other.PublicKey, false),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	c := DefaultConfig()
	c.PrivateKeyFile, c.PublicKeyFile = priv, pub
	got, err := LoadKeys(c)
	if err != nil || !got.Equal(k) {
		t.Fatalf("LoadKeys: %v", err)
	}

	c.PublicKeyFile = otherPub
	if _, err := LoadKeys(c); !errors.Is(err, ErrKeyMismatch) || !strings.Contains(err.Error(), otherPub) {
		t.Errorf("another pair's public key: %v", err)
	}
	c.PublicKeyFile = filepath.Join(dir, "missing.pub")
	if _, err := LoadKeys(c); !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "PublicKeyFile: ") ||
		!strings.Contains(err.Error(), "missing.pub") {
		t.Errorf("missing file: %v", err)
	}
	c.PrivateKeyFile = pub // a public key where the private one belongs
	c.PublicKeyFile = pub
	if _, err := LoadKeys(c); err == nil || !strings.HasPrefix(err.Error(), "PrivateKeyFile: ") {
		t.Errorf("public key as private key: %v", err)
	}
	if got, err := LoadKeys(DefaultConfig()); got != nil || err != nil {
		t.Errorf("flat agent without key files: %v, %v", got, err)
	}
}
