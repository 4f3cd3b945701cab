package secure

import (
	"context"
	"net/netip"
)

// Verdict is what protection says of one received datagram.
type Verdict struct {
	// Required: the datagram's source is a peer whose signalling must
	// arrive inside ESP (a configured IPsec peer, or an address an SA
	// with such a peer uses now).
	Required bool
	// Protected: the datagram came out of an ESP child SA whose inbound
	// policy admits its source.
	Protected bool
}

// Drop reports whether the datagram must be dropped (and counted as
// discards.unprotected): protection was required and it came in clear.
func (v Verdict) Drop() bool { return v.Required && !v.Protected }

// Protector is what an agent asks of signalling protection. *Guard
// implements it; agents without IPsec configured use Off, and tests fakes.
type Protector interface {
	// Check judges a datagram from src that arrived on the interface with
	// index ifindex (0 when unknown).
	Check(src netip.Addr, ifindex int) Verdict
	// Requires reports whether signalling with addr must be protected:
	// addr is a configured IPsec peer (address or prefix) or an address
	// a protected peer's SA uses now. The home agent asks it of a
	// mobile's home address too.
	Requires(addr netip.Addr) bool
	// Ready reports whether a datagram to dst may be sent: dst needs no
	// protection, or an outbound ESP policy for it is in place. When it
	// is not, and this side brings up the SAs with dst, an IKE SA is
	// being (re)negotiated: the caller drops the datagram and retries
	// later, as after a lost datagram; it never sends it in clear.
	Ready(dst netip.Addr) bool
}

// Mover is what the mobile node asks of protection when its own addresses
// change. *Guard implements it.
type Mover interface {
	// MoveTo moves every SA this host has on old to new (MOBIKE-X
	// UPDATE_SA_ADDRESSES with OLD_IP/NEW_IP; RFC 4555 MOBIKE when the
	// peer only speaks that) and returns when the peer has answered, so
	// that a registration sent next travels inside ESP from new. With no
	// SA yet with a peer this host brings SAs up with, it brings them up
	// from new and returns when they are up.
	MoveTo(ctx context.Context, old, new netip.Addr) error
	// MoveAhead is MoveTo for a host that cannot hear the peer's answer
	// at new before the registration sent next has gone through (the
	// mobile node coming home: its home agent tunnels the home address
	// to the care-of address until the deregistration): this host's SAs
	// move to new as the request leaves, and MoveAhead returns then. The
	// exchange goes on in the background; a refusal moves the SAs back.
	MoveAhead(ctx context.Context, old, new netip.Addr) error
	// AddAddress offers addr (a second interface's) to the SAs' peers
	// (ADD_SA_ADDRESS); RemoveAddress withdraws it (REMOVE_SA_ADDRESS)
	// when its link goes.
	AddAddress(ctx context.Context, addr netip.Addr) error
	RemoveAddress(ctx context.Context, addr netip.Addr) error
}

// Off is the Protector of an agent without IPsec: nothing is required,
// everything may be sent.
type Off struct{}

// Check implements Protector: nothing is required.
func (Off) Check(netip.Addr, int) Verdict { return Verdict{} }

// Requires implements Protector: nothing is required.
func (Off) Requires(netip.Addr) bool { return false }

// Ready implements Protector: everything may be sent.
func (Off) Ready(netip.Addr) bool { return true }
