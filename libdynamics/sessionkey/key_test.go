package sessionkey

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
)

// Golden values computed independently with md5sum(1):
//
//	printf 'ha-secret\x00\x01...\x0fha-secret' | md5sum
//	printf 'mn-secret\x01\x23\x45\x67\x89\xab\xcd\xefmn-secret' | md5sum
const (
	goldenKeyHex  = "50e8d6aa35736055837026e3b587ee81"
	goldenMaskHex = "850ef80b3affd5b1411bef7ddac55f35"
	goldenID      = uint64(0x0123456789abcdef)
)

var goldenRandom = []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

func mustHex16(t *testing.T, s string) [Len]byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != Len {
		t.Fatalf("bad hex %q", s)
	}
	return [Len]byte(b)
}

func TestGenerateGolden(t *testing.T) {
	k, err := Generate(bytes.NewReader(goldenRandom), []byte("ha-secret"))
	if err != nil {
		t.Fatal(err)
	}
	if want := mustHex16(t, goldenKeyHex); k != Key(want) {
		t.Fatalf("Generate = %x, want %s", [Len]byte(k), goldenKeyHex)
	}
}

func TestGenerateReadsSixteenOctets(t *testing.T) {
	r := bytes.NewReader(append(append([]byte{}, goldenRandom...), 0xff))
	if _, err := Generate(r, []byte("ha-secret")); err != nil {
		t.Fatal(err)
	}
	if r.Len() != 1 {
		t.Fatalf("Generate left %d octets unread, want 1", r.Len())
	}
}

func TestGenerateDefaultRandom(t *testing.T) {
	secret := []byte("ha-secret")
	seen := map[Key]bool{}
	for range 64 {
		k, err := Generate(nil, secret)
		if err != nil {
			t.Fatal(err)
		}
		if seen[k] {
			t.Fatal("Generate repeated a key")
		}
		seen[k] = true
	}
}

func TestGenerateErrors(t *testing.T) {
	if _, err := Generate(bytes.NewReader(goldenRandom), nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty secret: err = %v, want ErrInvalid", err)
	}
	short := bytes.NewReader(goldenRandom[:15])
	if _, err := Generate(short, []byte("s")); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short random source: err = %v, want io.ErrUnexpectedEOF", err)
	}
	boom := errors.New("entropy exhausted")
	if _, err := Generate(iotest.ErrReader(boom), []byte("s")); !errors.Is(err, boom) {
		t.Errorf("failing random source: err = %v, want %v", err, boom)
	}
}

func TestForMobileGolden(t *testing.T) {
	key := Key(mustHex16(t, goldenKeyHex))
	mask := mustHex16(t, goldenMaskHex)
	var want [Len]byte
	for i := range want {
		want[i] = key[i] ^ mask[i]
	}
	if got := ForMobile(key, []byte("mn-secret"), goldenID); got != want {
		t.Fatalf("ForMobile = %x, want %x", got, want)
	}
}

func TestMobileRoundTrip(t *testing.T) {
	secret := []byte("mn-secret")
	for _, id := range []uint64{0, 1, goldenID, ^uint64(0)} {
		key, err := Generate(nil, []byte("ha-secret"))
		if err != nil {
			t.Fatal(err)
		}
		masked := ForMobile(key, secret, id)
		if masked == [Len]byte(key) {
			t.Errorf("id %#x: masked key equals the key", id)
		}
		if got := FromMobile(masked, secret, id); got != key {
			t.Errorf("id %#x: FromMobile did not recover the key", id)
		}
		if got := FromMobile(masked, []byte("mn-secreT"), id); got == key {
			t.Errorf("id %#x: a wrong secret recovered the key", id)
		}
		if got := FromMobile(masked, secret, id^1); got == key {
			t.Errorf("id %#x: a wrong identification recovered the key", id)
		}
	}
}

func TestKeyDoesNotPrint(t *testing.T) {
	k := Key(mustHex16(t, goldenKeyHex))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q"} {
		if s := fmt.Sprintf(verb, k); bytes.Contains([]byte(s), []byte("50e8d6")) ||
			bytes.Contains([]byte(s), []byte("50E8D6")) || bytes.Contains([]byte(s), []byte("80 232")) {
			t.Errorf("Sprintf(%s) = %q reveals the key", verb, s)
		}
	}
}
