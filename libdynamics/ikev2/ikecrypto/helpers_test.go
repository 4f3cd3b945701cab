package ikecrypto

import (
	"encoding/hex"
	"strings"
	"testing"
)

// unhex decodes a hexadecimal string that may contain spaces and newlines,
// as test vectors are printed in RFCs.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex in test vector %q: %v", s, err)
	}
	return b
}

// repeat returns n copies of octet b.
func repeat(b byte, n int) []byte {
	return []byte(strings.Repeat(string([]byte{b}), n))
}
