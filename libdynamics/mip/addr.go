package mip

import (
	"fmt"
	"net/netip"
)

// addrLen is the length of an IPv4 address on the wire.
const addrLen = 4

// appendAddr appends a as four octets. An IPv4-mapped IPv6 address is
// accepted as its IPv4 address; anything else that is not IPv4 is an error
// naming field.
func appendAddr(b []byte, field string, a netip.Addr) ([]byte, error) {
	a = a.Unmap()
	if !a.Is4() {
		return nil, fmt.Errorf("%s %v: not an IPv4 address: %w", field, a, ErrInvalid)
	}
	a4 := a.As4()
	return append(b, a4[:]...), nil
}

// addrAt reads the IPv4 address at b[off:off+4]; the caller has checked the
// length.
func addrAt(b []byte, off int) netip.Addr {
	return netip.AddrFrom4([4]byte(b[off : off+addrLen]))
}
