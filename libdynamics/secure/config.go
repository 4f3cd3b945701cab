package secure

import (
	"fmt"
	"net/netip"
)

// Config is the IPsec part of every daemon's configuration file; the
// daemons embed it in their Config, so its labels are theirs
// (docs/CONFIGURATION.md, "Signalling protection"). Without IPSEC entries
// nothing is protected and no IKE socket is opened.
type Config struct {
	// IPsecLocalID is this agent's IKE identity (see ike.ParseIdentity);
	// empty: its signalling address as ID_IPV4_ADDR.
	IPsecLocalID string `dyn:"IPsecLocalID"`
	// IPsecPSK is the pre-shared key of the peers whose entry has none.
	IPsecPSK string `dyn:"IPsecPSK"`
	// IPsecCertificate, IPsecPrivateKey and IPsecCACertificate are PEM
	// files: this agent's certificate chain and key, and the authority
	// that signs its peers' certificates; with them the agent
	// authenticates with signatures instead of the PSK.
	IPsecCertificate   string `dyn:"IPsecCertificate"`
	IPsecPrivateKey    string `dyn:"IPsecPrivateKey"`
	IPsecCACertificate string `dyn:"IPsecCACertificate"`
	// IPsecMOBIKEX offers MOBIKE-X; without it the SAs speak RFC 4555
	// MOBIKE only.
	IPsecMOBIKEX bool `dyn:"IPsecMOBIKEX,default=yes"`
	// IPsecESP picks the ESP data path: auto (XFRM where the kernel has
	// ESP, else userspace), xfrm or userspace.
	IPsecESP string `dyn:"IPsecESP,default=auto"`
	// IPsecDevice is the userspace data path's TUN device.
	IPsecDevice string `dyn:"IPsecDevice,default=dynesp0"`
	// IPsecKeyLog, when set, receives each IKE SA's keys in Wireshark's
	// ikev2_decryption_table format.
	IPsecKeyLog string `dyn:"IPsecKeyLog"`
	// Peers are the signalling peers whose messages must travel in ESP.
	Peers []PeerEntry `dyn:"IPSEC"`
}

// PeerEntry is one line of the IPSEC section:
//
//	# peer address or prefix   identity           pre-shared key
//	10.1.0.1                   ha.example.org     secret-ha
//	10.0.0.0/16                -                  -
//
// The identity "-" is the peer's address (a single address only); the key
// "-" or none takes IPsecPSK (or the certificates).
type PeerEntry struct {
	Peer PeerPrefix `dyn:"0"`
	ID   string     `dyn:"1,default=-"`
	PSK  string     `dyn:"2,default=-"`
	Line int        `dyn:",line"`
}

// Enabled reports whether any peer is configured.
func (c Config) Enabled() bool { return len(c.Peers) > 0 }

// PeerPrefix is an entry's peer: an IPv4 address (a /32) or prefix.
type PeerPrefix netip.Prefix

// UnmarshalText reads "10.1.0.1" or "10.0.0.0/16" (no host bits).
func (p *PeerPrefix) UnmarshalText(b []byte) error {
	s := string(b)
	if a, err := netip.ParseAddr(s); err == nil {
		if !a.Is4() {
			return fmt.Errorf("%q is not an IPv4 address", s)
		}
		*p = PeerPrefix(netip.PrefixFrom(a, 32))
		return nil
	}
	q, err := netip.ParsePrefix(s)
	if err != nil || !q.Addr().Is4() {
		return fmt.Errorf("%q is not an IPv4 address or prefix", s)
	}
	if q != q.Masked() {
		return fmt.Errorf("%q has host bits set", s)
	}
	*p = PeerPrefix(q)
	return nil
}

// Prefix returns the peer as a netip.Prefix.
func (p PeerPrefix) Prefix() netip.Prefix { return netip.Prefix(p) }

// String returns the address alone for a /32, else the prefix.
func (p PeerPrefix) String() string {
	q := netip.Prefix(p)
	if q.IsSingleIP() {
		return q.Addr().String()
	}
	return q.String()
}
