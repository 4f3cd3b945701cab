package ikecrypto

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// Cookie lengths: RFC 7296 section 3.10.1 allows COOKIE data of 1 to 64
// octets; RFC 4555 section 3.5 requires COOKIE2 data of 8 to 64 octets.
const (
	CookieLen     = 1 + sha256.Size // the secret's version and the MAC
	MinCookie2Len = 8
	MaxCookie2Len = 64
	Cookie2Len    = 16 // the length NewCookie2 makes
)

// Cookies makes and checks the stateless COOKIE values of RFC 7296
// section 2.6 that a responder under load demands before it keeps state
// for an IKE_SA_INIT request:
//
//	Cookie = <VersionIDofSecret> | HMAC-SHA-256(<secret>, Ni | IPi | SPIi)
//
// The MAC keyed with the secret stands for the RFC's Hash(Ni | IPi | SPIi |
// <secret>). Rotate replaces the secret; cookies made with the previous one
// stay valid until the next rotation, so an initiator that got a cookie just
// before a rotation is not turned away. A Cookies is safe for concurrent
// use.
type Cookies struct {
	mu      sync.Mutex
	version byte
	secret  [sha256.Size]byte
	prev    [sha256.Size]byte
	hasPrev bool
}

// NewCookies returns a Cookies with a fresh random secret.
func NewCookies() (*Cookies, error) {
	c := &Cookies{}
	if _, err := rand.Read(c.secret[:]); err != nil {
		return nil, fmt.Errorf("ikecrypto: reading a cookie secret: %w", err)
	}
	return c, nil
}

// Rotate makes a new secret the current one and keeps the old one for
// checking.
func (c *Cookies) Rotate() error {
	var s [sha256.Size]byte
	if _, err := rand.Read(s[:]); err != nil {
		return fmt.Errorf("ikecrypto: reading a cookie secret: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prev, c.hasPrev = c.secret, true
	c.secret = s
	c.version++
	return nil
}

// Make returns the cookie for an IKE_SA_INIT request with nonce ni from
// address ip and initiator SPI spii.
func (c *Cookies) Make(ni []byte, ip netip.Addr, spii ikev2.SPI) []byte {
	c.mu.Lock()
	v, s := c.version, c.secret
	c.mu.Unlock()
	return cookie(v, s[:], ni, ip, spii)
}

// Check reports whether cookie is one this Cookies made, with its current
// or previous secret, for the same nonce, address and SPI.
func (c *Cookies) Check(cookieData, ni []byte, ip netip.Addr, spii ikev2.SPI) bool {
	if len(cookieData) != CookieLen {
		return false
	}
	c.mu.Lock()
	v, s, p, hasPrev := c.version, c.secret, c.prev, c.hasPrev
	c.mu.Unlock()
	switch {
	case cookieData[0] == v:
		return hmac.Equal(cookieData, cookie(v, s[:], ni, ip, spii))
	case hasPrev && cookieData[0] == v-1:
		return hmac.Equal(cookieData, cookie(v-1, p[:], ni, ip, spii))
	}
	return false
}

func cookie(version byte, secret, ni []byte, ip netip.Addr, spii ikev2.SPI) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(ni)
	m.Write(ip.Unmap().AsSlice())
	var spi [8]byte
	binary.BigEndian.PutUint64(spi[:], uint64(spii))
	m.Write(spi[:])
	out := make([]byte, 1, CookieLen)
	out[0] = version
	return m.Sum(out)
}

// NewCookie2 returns fresh random data for a COOKIE2 notification (RFC
// 4555 section 3.5), which a MOBIKE initiator puts in an INFORMATIONAL
// request for a return routability check or address update and expects
// back unchanged in the response.
func NewCookie2() ([]byte, error) {
	b := make([]byte, Cookie2Len)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("ikecrypto: reading COOKIE2 data: %w", err)
	}
	return b, nil
}

// CheckCookie2 checks the COOKIE2 data of a response against the data sent
// in the request: within the lengths RFC 4555 allows and equal, compared in
// constant time. A mismatch or a missing cookie is an error wrapping
// ErrAuthentication; a bad length one wrapping ErrMalformed.
func CheckCookie2(sent, received []byte) error {
	if n := len(received); n < MinCookie2Len || n > MaxCookie2Len {
		return fmt.Errorf("%w: COOKIE2 of %d octets, must be %d to %d", ErrMalformed, n, MinCookie2Len, MaxCookie2Len)
	}
	if len(sent) == 0 || !hmac.Equal(sent, received) {
		return fmt.Errorf("%w: COOKIE2 does not match the one sent", ErrAuthentication)
	}
	return nil
}
