package ikecrypto

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"net/netip"
	"testing"
)

func TestCookies(t *testing.T) {
	c, err := NewCookies()
	if err != nil {
		t.Fatal(err)
	}
	ni := bytes.Repeat([]byte{1}, 32)
	ip := netip.MustParseAddr("192.0.2.7")
	const spi = 0x1122334455667788
	ck := c.Make(ni, ip, spi)
	if len(ck) != CookieLen || len(ck) > 64 {
		t.Fatalf("cookie of %d octets", len(ck))
	}
	// The layout: version octet, then HMAC-SHA-256(secret, Ni | IPi | SPIi).
	m := hmac.New(sha256.New, c.secret[:])
	m.Write(ni)
	m.Write([]byte{192, 0, 2, 7})
	m.Write([]byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88})
	if ck[0] != c.version || !bytes.Equal(ck[1:], m.Sum(nil)) {
		t.Fatalf("cookie %x does not follow the documented layout", ck)
	}
	if !bytes.Equal(c.Make(ni, ip, spi), ck) {
		t.Fatal("the same request gets a different cookie: not stateless")
	}
	if !c.Check(ck, ni, ip, spi) {
		t.Fatal("Check refuses a fresh cookie")
	}
	if !c.Check(ck, ni, netip.MustParseAddr("::ffff:192.0.2.7"), spi) {
		t.Error("Check refuses the same address in IPv4-mapped form")
	}
	for name, ok := range map[string]bool{
		"other nonce":   c.Check(ck, bytes.Repeat([]byte{2}, 32), ip, spi),
		"other address": c.Check(ck, ni, netip.MustParseAddr("192.0.2.8"), spi),
		"other SPI":     c.Check(ck, ni, ip, spi+1),
		"truncated":     c.Check(ck[:CookieLen-1], ni, ip, spi),
		"empty":         c.Check(nil, ni, ip, spi),
		"flipped bit":   c.Check(append(append([]byte(nil), ck[:5]...), append([]byte{ck[5] ^ 1}, ck[6:]...)...), ni, ip, spi),
	} {
		if ok {
			t.Errorf("Check accepts a cookie with %s", name)
		}
	}
	// After one rotation the old cookie still passes, after two it does not.
	if err := c.Rotate(); err != nil {
		t.Fatal(err)
	}
	if !c.Check(ck, ni, ip, spi) {
		t.Error("a cookie of the previous secret is refused right after a rotation")
	}
	if fresh := c.Make(ni, ip, spi); bytes.Equal(fresh, ck) || !c.Check(fresh, ni, ip, spi) {
		t.Error("the new secret does not make a new, valid cookie")
	}
	c.Rotate()
	if c.Check(ck, ni, ip, spi) {
		t.Error("a cookie two secrets old is accepted")
	}
	other, _ := NewCookies()
	if other.Check(other.Make(ni, ip, spi), ni, ip, spi) != true || other.Check(c.Make(ni, ip, spi), ni, ip, spi) {
		t.Error("a cookie of another secret is accepted")
	}
}

func TestCookie2(t *testing.T) {
	a, err := NewCookie2()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewCookie2()
	if len(a) != Cookie2Len || len(a) < MinCookie2Len || len(a) > MaxCookie2Len || bytes.Equal(a, b) {
		t.Fatalf("COOKIE2 values %x and %x", a, b)
	}
	if err := CheckCookie2(a, append([]byte(nil), a...)); err != nil {
		t.Errorf("echoed COOKIE2 refused: %v", err)
	}
	if err := CheckCookie2(a, b); !errors.Is(err, ErrAuthentication) {
		t.Errorf("other COOKIE2: %v, want ErrAuthentication", err)
	}
	if err := CheckCookie2(nil, a); !errors.Is(err, ErrAuthentication) {
		t.Errorf("COOKIE2 where none was sent: %v, want ErrAuthentication", err)
	}
	for _, n := range []int{0, 7, 65} {
		if err := CheckCookie2(a, make([]byte, n)); !errors.Is(err, ErrMalformed) {
			t.Errorf("COOKIE2 of %d octets: %v, want ErrMalformed", n, err)
		}
	}
	long := bytes.Repeat([]byte{9}, 64)
	if err := CheckCookie2(long, long); err != nil {
		t.Errorf("COOKIE2 of 64 octets: %v", err)
	}
}
