package secure

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/dynamics-go/dynamics/libdynamics/config"
	"github.com/dynamics-go/dynamics/libdynamics/ike"
)

// ESP data paths, the values of IPsecESP.
const (
	// ESPAuto is XFRM where the kernel has ESP, else userspace.
	ESPAuto = "auto"
	// ESPXFRM installs the SAs in the kernel (package esp, XFRM).
	ESPXFRM = "xfrm"
	// ESPUserspace runs ESP in the daemon over a TUN device.
	ESPUserspace = "userspace"
)

// maxDeviceName is the longest Linux interface name (IFNAMSIZ less the NUL).
const maxDeviceName = 15

// ErrConfig is wrapped by every ConfigError.
var ErrConfig = errors.New("secure: bad IPsec configuration")

// ConfigError is one problem of an IPsec configuration: the label (or
// "IPSEC" for an entry of the section) and, for an entry, its line.
type ConfigError struct {
	Label string
	Line  int // the IPSEC entry's line; 0 for a label
	Msg   string
}

func (e *ConfigError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s line %d: %s", e.Label, e.Line, e.Msg)
	}
	return e.Label + ": " + e.Msg
}

// Unwrap returns ErrConfig.
func (e *ConfigError) Unwrap() error { return ErrConfig }

// In places e in a configuration file: an *config.Error with the file
// name, the entry's line or the label's.
func (e *ConfigError) In(f *config.File) *config.Error {
	if e.Line > 0 {
		return f.ErrorfAt(e.Line, e.Label, "%s", e.Msg)
	}
	return f.Errorf(e.Label, "%s", e.Msg)
}

// ValidateFile is Validate for a configuration decoded from f: every
// problem becomes a *config.Error naming the file and line, joined in line
// order, as config.Decode reports its own.
func (c Config) ValidateFile(f *config.File) error {
	err := c.Validate()
	if err == nil {
		return nil
	}
	var out []error
	for _, e := range configErrors(err) {
		out = append(out, e.In(f))
	}
	return errors.Join(out...)
}

// configErrors unpacks what Validate returns.
func configErrors(err error) []*ConfigError {
	var out []*ConfigError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, configErrors(e)...)
		}
		return out
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		out = append(out, ce)
	}
	return out
}

// Validate checks the configuration without opening anything but the
// PEM files it names. Every problem is a *ConfigError (several are
// joined, in the order of the labels, then of the entries): an unknown
// IPsecESP, a bad IPsecDevice or identity, a certificate without its key
// or a file that does not hold one, an entry whose peer has no key, an
// identity given twice, a prefix given twice, more than one prefix that
// leaves the identity open.
func (c Config) Validate() error {
	_, err := c.credentials()
	return err
}

// credentials validates c and returns what ike.Config needs of it.
func (c Config) credentials() (ike.Config, error) {
	var errs []error
	bad := func(label string, line int, format string, args ...any) {
		errs = append(errs, &ConfigError{Label: label, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	var ic ike.Config
	switch c.IPsecESP {
	case ESPAuto, ESPXFRM, ESPUserspace:
	default:
		bad("IPsecESP", 0, "%q is none of auto, xfrm, userspace", c.IPsecESP)
	}
	if c.IPsecDevice == "" || len(c.IPsecDevice) > maxDeviceName || strings.ContainsAny(c.IPsecDevice, "/ \t") {
		bad("IPsecDevice", 0, "%q is not an interface name (1 to %d characters, no '/' or space)", c.IPsecDevice, maxDeviceName)
	}
	if c.IPsecLocalID != "" {
		if _, err := ike.ParseIdentity(c.IPsecLocalID); err != nil {
			bad("IPsecLocalID", 0, "%v", err)
		}
		ic.LocalID = c.IPsecLocalID
	}
	ic.PSK = []byte(c.IPsecPSK)
	switch {
	case c.IPsecCertificate != "" && c.IPsecPrivateKey == "":
		bad("IPsecCertificate", 0, "needs IPsecPrivateKey, the certificate's key")
	case c.IPsecCertificate == "" && c.IPsecPrivateKey != "":
		bad("IPsecPrivateKey", 0, "needs IPsecCertificate, the key's certificate")
	case c.IPsecCertificate != "":
		chain, err := ReadCertificates(c.IPsecCertificate)
		if err != nil {
			bad("IPsecCertificate", 0, "%v", err)
		}
		key, err := ReadKey(c.IPsecPrivateKey)
		if err != nil {
			bad("IPsecPrivateKey", 0, "%v", err)
		}
		ic.Certificate, ic.PrivateKey = chain, key
		if c.IPsecCACertificate == "" {
			bad("IPsecCertificate", 0, "needs IPsecCACertificate, the authority that signs the peers' certificates")
		}
	}
	if c.IPsecCACertificate != "" {
		roots, err := ReadCertPool(c.IPsecCACertificate)
		if err != nil {
			bad("IPsecCACertificate", 0, "%v", err)
		}
		ic.Roots = roots
	}
	certs := c.IPsecCertificate != "" && c.IPsecPrivateKey != ""
	prefixes := map[netip.Prefix]int{}
	ids := map[string]int{}
	wild := 0
	for _, e := range c.Peers {
		p := e.Peer.Prefix()
		if !p.IsValid() {
			bad("IPSEC", e.Line, "no peer address")
			continue
		}
		if l, ok := prefixes[p]; ok {
			bad("IPSEC", e.Line, "peer %s is already on line %d", e.Peer, l)
		}
		prefixes[p] = e.Line
		id := e.identity()
		switch {
		case id == "" && wild != 0:
			bad("IPSEC", e.Line, "identity \"-\" on the prefix %s accepts any identity its key proves, and only one entry may (line %d does)", e.Peer, wild)
		case id == "":
			wild = e.Line
		default:
			if _, err := ike.ParseIdentity(id); err != nil {
				bad("IPSEC", e.Line, "identity %q: %v", id, err)
			} else if l, ok := ids[id]; ok {
				bad("IPSEC", e.Line, "identity %s is already on line %d", id, l)
			}
			ids[id] = e.Line
		}
		if e.key() == "" && c.IPsecPSK == "" && !certs {
			bad("IPSEC", e.Line, "no pre-shared key for %s: give one on the line or IPsecPSK, or IPsecCertificate", e.Peer)
		}
	}
	return ic, errors.Join(errs...)
}

// identity is the identity the entry's peer must prove: the one given, the
// peer's address for "-" on a single address, "" (any) for "-" on a
// prefix.
func (e PeerEntry) identity() string {
	if e.ID != "" && e.ID != "-" {
		return e.ID
	}
	if p := e.Peer.Prefix(); p.IsSingleIP() {
		return p.Addr().String()
	}
	return ""
}

// key is the entry's own pre-shared key, "" when it takes IPsecPSK.
func (e PeerEntry) key() string {
	if e.PSK == "-" {
		return ""
	}
	return e.PSK
}
