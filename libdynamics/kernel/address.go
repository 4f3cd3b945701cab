package kernel

import (
	"fmt"
	"net/netip"
	"strings"
)

// Address is an IPv4 address with its prefix length configured on a device,
// as `ip addr add` makes it: a mobile node's co-located care-of address on
// the foreign link. Prefix keeps the host bits (10.4.0.10/24); the kernel
// adds the connected route of the prefix with the address.
//
// Addresses are ensured after tunnels (an address may live on a tunnel
// device) and before neighbours, proxy entries and routes, so a route may
// name the address as its preferred source. Removing an address removes the
// routes that prefer it as their source, as the Linux kernel does.
type Address struct {
	Prefix netip.Prefix
	Dev    string
}

// Kind implements Entry.
func (Address) Kind() Kind { return KindAddress }

// Key implements Entry: an address is identified by the address and its
// device, so ensuring it again with another prefix length replaces it.
func (a Address) Key() string { return fmt.Sprintf("addr %s dev %s", a.Prefix.Addr(), a.Dev) }

func (a Address) String() string { return fmt.Sprintf("ip addr replace %s dev %s", a.Prefix, a.Dev) }

// Validate reports whether the address can be configured.
func (a Address) Validate() error {
	switch {
	case !a.Prefix.IsValid() || !a.Prefix.Addr().Is4():
		return fmt.Errorf("%w: address needs an IPv4 address with a prefix length", ErrInvalid)
	case a.Prefix.Bits() == 0:
		return fmt.Errorf("%w: address %s has prefix length 0", ErrInvalid, a.Prefix)
	case a.Prefix.Addr().IsUnspecified() || a.Prefix.Addr().IsMulticast() || a.Prefix.Addr().IsLoopback():
		return fmt.Errorf("%w: address %s cannot be configured on an interface", ErrInvalid, a.Prefix)
	case a.Dev == "" || strings.ContainsAny(a.Dev, "/ \t"):
		return fmt.Errorf("%w: address %s needs a device", ErrInvalid, a.Prefix)
	}
	return nil
}
