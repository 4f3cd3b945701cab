package binding

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// KeyLen is the length in bytes of a session key: the 128-bit key the home
// agent generates for the agents on a registration path.
const KeyLen = 16

// ErrInvalid reports a binding the table cannot hold; errors returned by Put
// wrap it with the offending field.
var ErrInvalid = errors.New("binding: invalid binding")

// Binding is one mobility binding.
//
// Home must be an IPv4 address. Lower, CareOf and HA are IPv4 addresses or
// the zero netip.Addr when unknown; 0.0.0.0 is kept distinct from unknown.
type Binding struct {
	// Home is the mobile node's home address, the table's key.
	Home netip.Addr
	// Lower is the next hop down towards the mobile: the foreign agent
	// below this one, the care-of address, or the mobile itself.
	Lower netip.Addr
	// CareOf is the care-of address registered for the mobile.
	CareOf netip.Addr
	// HA is the mobile's home agent.
	HA netip.Addr
	// ID is the Identification of the registration that made the binding.
	ID uint64
	// Expiry is the instant the binding lapses. It must not be the zero
	// time and must lie between the years 1678 and 2262.
	Expiry time.Time
	// Lifetime is the registration lifetime granted; it must not be
	// negative.
	Lifetime time.Duration
	// Key is the session key, meaningful only when HasKey is set.
	Key [KeyLen]byte
	// HasKey reports whether the binding carries a session key.
	HasKey bool
	// Confirmed reports whether the registration was confirmed by a reply
	// from above (the home agent's own bindings are always confirmed).
	Confirmed bool
	// SPI is the security parameter index the registration was
	// authenticated with.
	SPI uint32
	// Flags is the registration request's flags byte (RFC 5944 section
	// 3.3: S B D M G r T x).
	Flags uint8
	// Value is the daemon's own per-binding value, for example the ID of
	// the tunnel the binding uses. The table does not interpret it.
	Value uint32
}

// validate reports whether b can be stored, and returns its expiry in
// nanoseconds since the Unix epoch.
func (b Binding) validate() (int64, error) {
	if !b.Home.Is4() {
		return 0, fmt.Errorf("%w: home address %v is not IPv4", ErrInvalid, b.Home)
	}
	for _, f := range [...]struct {
		name string
		addr netip.Addr
	}{{"lower", b.Lower}, {"care-of", b.CareOf}, {"home agent", b.HA}} {
		if f.addr.IsValid() && !f.addr.Is4() {
			return 0, fmt.Errorf("%w: home %v: %s address %v is not IPv4", ErrInvalid, b.Home, f.name, f.addr)
		}
	}
	if b.Expiry.IsZero() {
		return 0, fmt.Errorf("%w: home %v: no expiry", ErrInvalid, b.Home)
	}
	exp := b.Expiry.UnixNano()
	if !time.Unix(0, exp).Equal(b.Expiry) {
		return 0, fmt.Errorf("%w: home %v: expiry %v out of range", ErrInvalid, b.Home, b.Expiry)
	}
	if b.Lifetime < 0 {
		return 0, fmt.Errorf("%w: home %v: negative lifetime %v", ErrInvalid, b.Home, b.Lifetime)
	}
	return exp, nil
}
