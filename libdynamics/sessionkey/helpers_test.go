package sessionkey

import (
	"crypto/rand"
	"crypto/rsa"
	"sync"
	"testing"
)

// Test keys, generated once per test binary: two of MinBits and one too
// small to accept.
var (
	keysOnce             sync.Once
	keyA, keyB, keySmall *rsa.PrivateKey
	keysErr              error
)

func testKeys(t testing.TB) (a, b, small *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		if keyA, keysErr = rsa.GenerateKey(rand.Reader, MinBits); keysErr != nil {
			return
		}
		if keyB, keysErr = rsa.GenerateKey(rand.Reader, MinBits); keysErr != nil {
			return
		}
		keySmall, keysErr = rsa.GenerateKey(rand.Reader, 1024)
	})
	if keysErr != nil {
		t.Fatalf("generating test keys: %v", keysErr)
	}
	return keyA, keyB, keySmall
}
