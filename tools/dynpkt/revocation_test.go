package main

import (
	"strings"
	"testing"
)

// A revocation (RFC 3543), which mip.Parse reads, is refused rather than
// printed as an empty registration message.
func TestDecodeRevocationRefused(t *testing.T) {
	const revocation = "070080000a01000a0a0100010a000102eb8f2f40" + "2214000007d1" + "27b0fbb08d580ebd3b68d7fc7b374d55"
	code, out, errOut := dynpkt(t, "", "decode", revocation)
	if code != 1 || out != "" || !strings.Contains(errOut, "revocation") {
		t.Errorf("decode revocation = %d %q %q; want status 1 and an error naming it", code, out, errOut)
	}
}
