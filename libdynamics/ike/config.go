package ike

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// Mode is a child SA's encapsulation mode.
type Mode uint8

// Modes. Tunnel is the default; transport is asked for with
// USE_TRANSPORT_MODE (RFC 7296 section 1.3.1).
const (
	ModeTunnel Mode = iota
	ModeTransport
)

// String returns "tunnel" or "transport".
func (m Mode) String() string {
	if m == ModeTransport {
		return "transport"
	}
	return "tunnel"
}

// Default timing.
const (
	// DefaultRetransmit is the wait before the first retransmission of a
	// request; each later one waits twice as long (RFC 7296 section 2.1).
	DefaultRetransmit = 2 * time.Second
	// DefaultRetransmitTries is how many times a request is retransmitted
	// before the peer is declared dead and the IKE SA removed.
	DefaultRetransmitTries = 5
	// DefaultKeepalive is the NAT keepalive interval (RFC 3948 section 4).
	DefaultKeepalive = 20 * time.Second
	// DefaultHalfOpenTimeout is how long a responder keeps an IKE SA
	// whose IKE_AUTH does not come.
	DefaultHalfOpenTimeout = 30 * time.Second
	// DefaultCookieThreshold is the number of half-open IKE SAs from which
	// the responder asks for a COOKIE (RFC 7296 section 2.6).
	DefaultCookieThreshold = 64
)

// Config is what the engine negotiates with: who it is, how it proves it,
// what it offers, and the peers it talks to.
type Config struct {
	// LocalID is this side's identity (see ParseIdentity); empty uses the
	// certificate's subject, or the local address.
	LocalID string
	// PSK is the pre-shared key of peers that do not set their own.
	PSK []byte
	// Certificate is this side's certificate chain, leaf first, in DER;
	// with PrivateKey (RSA or ECDSA) it authenticates with RFC 7427
	// digital signatures instead of the PSK.
	Certificate [][]byte
	PrivateKey  crypto.Signer
	// Roots verify the peers' certificates; nil trusts nobody's.
	Roots *x509.CertPool
	// IKEProposals and ESPProposals are offered (and accepted) in order;
	// empty takes DefaultIKEProposals and DefaultESPProposals.
	IKEProposals []Proposal
	ESPProposals []Proposal
	// MOBIKE announces and accepts MOBIKE (RFC 4555).
	MOBIKE bool
	// MOBIKEX, with MOBIKE, also speaks MOBIKE-X (version 2,
	// draft-mglt-ipsec-mm-mobikex-00): it is offered in IKE_AUTH and
	// chosen when the peer offers it.
	MOBIKEX bool
	// RequireMOBIKEX offers version 2 as critical: a responder that does
	// not speak it answers MOBIKE_UNSUPPORTED_VERSION and the IKE SA has
	// no mobility (an RFC 4555 peer cannot read the flag and answers
	// MOBIKE: the SA keeps version 1, with a warning).
	RequireMOBIKEX bool
	// ForceEncap makes the peer believe this side is behind a NAT, so that
	// IKE floats to port 4500 and ESP is encapsulated in UDP (RFC 3948)
	// even without a NAT, as the userspace ESP path needs.
	ForceEncap bool
	// NoNATs, with MOBIKE, sends NO_NATS_ALLOWED in address updates: the
	// peer refuses the update if a NAT changed the addresses.
	NoNATs bool
	// Peers are the peers this side initiates to or accepts.
	Peers []Peer

	// Retransmit and RetransmitTries time requests (zero: defaults).
	Retransmit      time.Duration
	RetransmitTries int
	// Keepalive is the NAT keepalive interval while this side is behind a
	// NAT (zero: DefaultKeepalive; negative: none).
	Keepalive time.Duration
	// Liveness, when positive, checks the peer with an empty
	// INFORMATIONAL request after that long without hearing from it.
	Liveness time.Duration
	// IKELifetime and ChildLifetime, when positive, rekey the IKE SA and
	// child SAs this side initiated after that long.
	IKELifetime   time.Duration
	ChildLifetime time.Duration
	// HalfOpenTimeout and CookieThreshold protect a responder (zero:
	// defaults; a negative threshold always asks for a cookie).
	HalfOpenTimeout time.Duration
	CookieThreshold int
}

// Peer is one peer: how to reach and recognise it and the child SA to
// build with it.
type Peer struct {
	// Name names the peer in logs and in Engine.Initiate.
	Name string
	// RemoteID is the identity the peer must prove; empty accepts any
	// identity the PSK or certificate proves (one such peer at most).
	RemoteID string
	// Address is where the initiator sends IKE_SA_INIT (port 500 if
	// zero); unused by a responder.
	Address netip.AddrPort
	// PSK overrides Config.PSK for this peer.
	PSK []byte
	// LocalTS and RemoteTS are the child SA's traffic selectors, this
	// side's and the peer's; empty means this side's and the peer's IKE
	// address (transport mode) or everything (tunnel mode).
	LocalTS, RemoteTS []Selector
	// Mode is the child SA's mode.
	Mode Mode
	// Addresses are where the peer may put its SAs' addresses with
	// MOBIKE-X (UPDATE_SA_ADDRESSES, ADD_SA_ADDRESS); an address outside
	// them is DOES_NOT_FIT_SPD. Empty: anywhere.
	Addresses []netip.Prefix
}

// ErrConfig is wrapped by configuration errors.
var ErrConfig = errors.New("ike: bad configuration")

// withDefaults returns c with zero fields at their defaults, checked.
func (c Config) withDefaults() (Config, error) {
	if len(c.IKEProposals) == 0 {
		c.IKEProposals = DefaultIKEProposals
	}
	if len(c.ESPProposals) == 0 {
		c.ESPProposals = DefaultESPProposals
	}
	if c.Retransmit <= 0 {
		c.Retransmit = DefaultRetransmit
	}
	if c.RetransmitTries <= 0 {
		c.RetransmitTries = DefaultRetransmitTries
	}
	if c.Keepalive == 0 {
		c.Keepalive = DefaultKeepalive
	}
	if c.HalfOpenTimeout <= 0 {
		c.HalfOpenTimeout = DefaultHalfOpenTimeout
	}
	if c.CookieThreshold == 0 {
		c.CookieThreshold = DefaultCookieThreshold
	}
	if (c.PrivateKey == nil) != (len(c.Certificate) == 0) {
		return c, fmt.Errorf("%w: a certificate needs its private key and the other way round", ErrConfig)
	}
	if _, err := ParseIdentity(c.LocalID); c.LocalID != "" && err != nil {
		return c, err
	}
	if c.MOBIKEX && !c.MOBIKE {
		return c, fmt.Errorf("%w: MOBIKE-X extends MOBIKE: set MOBIKE too", ErrConfig)
	}
	if c.RequireMOBIKEX && !c.MOBIKEX {
		return c, fmt.Errorf("%w: RequireMOBIKEX without MOBIKEX", ErrConfig)
	}
	names := map[string]bool{}
	wild := 0
	for i, p := range c.Peers {
		if p.Name == "" {
			return c, fmt.Errorf("%w: peer %d has no name", ErrConfig, i+1)
		}
		if names[p.Name] {
			return c, fmt.Errorf("%w: two peers named %q", ErrConfig, p.Name)
		}
		names[p.Name] = true
		if p.RemoteID == "" {
			wild++
		} else if _, err := ParseIdentity(p.RemoteID); err != nil {
			return c, fmt.Errorf("peer %q: %w", p.Name, err)
		}
		if len(p.PSK) == 0 && len(c.PSK) == 0 && c.PrivateKey == nil {
			return c, fmt.Errorf("%w: peer %q: no pre-shared key and no certificate", ErrConfig, p.Name)
		}
		for _, s := range append(append([]Selector{}, p.LocalTS...), p.RemoteTS...) {
			if !s.Valid() {
				return c, fmt.Errorf("%w: peer %q: bad traffic selector %v", ErrConfig, p.Name, s)
			}
		}
		for _, a := range p.Addresses {
			if !a.IsValid() {
				return c, fmt.Errorf("%w: peer %q: bad address prefix %v", ErrConfig, p.Name, a)
			}
		}
		if p.Address.IsValid() && p.Address.Port() == 0 {
			c.Peers[i].Address = netip.AddrPortFrom(p.Address.Addr(), 500)
		}
	}
	if wild > 1 {
		return c, fmt.Errorf("%w: %d peers accept any identity, at most one may", ErrConfig, wild)
	}
	return c, nil
}

// ParseIdentity turns an identity as written in a configuration into an ID
// payload's type and data, as strongSwan does: an IPv4 or IPv6 address is
// ID_IPV4_ADDR or ID_IPV6_ADDR; "user@domain" is ID_RFC822_ADDR; "@name"
// (the '@' dropped) and any other name are ID_FQDN; "keyid:hex" is
// ID_KEY_ID.
func ParseIdentity(s string) (*ikev2.ID, error) {
	switch {
	case s == "":
		return nil, fmt.Errorf("%w: empty identity", ErrConfig)
	case strings.HasPrefix(s, "keyid:"):
		var b []byte
		if _, err := fmt.Sscanf(s[len("keyid:"):], "%x", &b); err != nil || len(b) == 0 {
			return nil, fmt.Errorf("%w: identity %q: bad key id", ErrConfig, s)
		}
		return &ikev2.ID{IDType: ikev2.IDKeyID, Data: b}, nil
	case strings.HasPrefix(s, "@"):
		if len(s) == 1 {
			return nil, fmt.Errorf("%w: identity %q: empty name", ErrConfig, s)
		}
		return &ikev2.ID{IDType: ikev2.IDFQDN, Data: []byte(s[1:])}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return ikev2.AddrID(false, a), nil
	}
	if strings.Contains(s, "@") {
		return &ikev2.ID{IDType: ikev2.IDRFC822Addr, Data: []byte(s)}, nil
	}
	return &ikev2.ID{IDType: ikev2.IDFQDN, Data: []byte(s)}, nil
}

// sameID reports whether an ID payload names the identity want.
func sameID(got *ikev2.ID, want *ikev2.ID) bool {
	return got != nil && want != nil && got.IDType == want.IDType && string(got.Data) == string(want.Data)
}
