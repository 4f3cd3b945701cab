package mn

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/api"
	"github.com/dynamics-go/dynamics/libdynamics/config"
	"github.com/dynamics-go/dynamics/libdynamics/daemon"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
)

// Config is the mobile node's configuration file, dynmnd.conf
// (docs/CONFIGURATION.md). ParseConfig and LoadConfig fill it and apply the
// defaults; a Config built by hand should start from DefaultConfig.
type Config struct {
	// Home is the home address, configured on Interface as a /32 by the
	// operator.
	Home netip.Addr `dyn:"MNHomeIPAddress,required"`
	// HA is the home agent.
	HA netip.Addr `dyn:"HAIPAddress,required"`
	// HomeNet is the home network; an advertisement of it means home.
	HomeNet netip.Prefix `dyn:"HomeNetPrefix,required"`
	// HomeGateway is the default router on the home link; without it no
	// default route is installed at home.
	HomeGateway netip.Addr `dyn:"HomeGateway"`

	// SPI, Algorithm, SharedSecret and Replay make the Mobile-Home
	// security association shared with the home agent.
	SPI          uint32    `dyn:"SPI,required"`
	Algorithm    algorithm `dyn:"Algorithm,default=hmac-md5"`
	SharedSecret []byte    `dyn:"SharedSecret,required"`
	Replay       replay    `dyn:"Replay,default=timestamp"`

	// Lifetime is the registration lifetime asked for (at most 65535 s,
	// which is infinite); a foreign agent's advertised limit lowers it.
	Lifetime time.Duration `dyn:"Lifetime,default=600"`
	// TunnelingMode is how the mobile's own traffic leaves it when away.
	TunnelingMode TunnelingMode `dyn:"TunnelingMode,default=full"`
	// RetryInterval is the first retransmission interval of a request;
	// it doubles with each retransmission up to MaxRetryInterval.
	RetryInterval    time.Duration `dyn:"RetryInterval,default=1"`
	MaxRetryInterval time.Duration `dyn:"MaxRetryInterval,default=8"`
	// MaxRetryCount is how many retransmissions (or denials) a
	// registration survives before the mobile gives up on its agent.
	MaxRetryCount int `dyn:"MaxRetryCount,default=5"`
	// SolicitInterval is the time between agent solicitations while no
	// agent is heard.
	SolicitInterval time.Duration `dyn:"SolicitInterval,default=1"`
	// Interface is the interface the mobile roams with.
	Interface string `dyn:"Interface,required"`
	// StartDisconnected starts the node Disconnected: it neither
	// solicits nor registers until Connect.
	StartDisconnected bool `dyn:"StartDisconnected,default=no"`

	TunnelMode     daemon.TunnelMode `dyn:"TunnelMode,default=auto"`
	TunnelPrefix   string            `dyn:"TunnelPrefix,default=dynmn"`
	StateFile      string            `dyn:"StateFile,default=/run/dynamics/dynmnd.state"`
	SyslogFacility string            `dyn:"SyslogFacility,default=local0"`

	// AdminSocket is the control API's admin socket (mode 0600, every
	// call); MonitorSocket its read-only monitor socket (mode 0666). An
	// empty value ("") turns the socket off.
	AdminSocket   string `dyn:"AdminSocket,default=/run/dynamics/mn.sock"`
	MonitorSocket string `dyn:"MonitorSocket,default=/run/dynamics/mn-monitor.sock"`

	// Colocated lists the co-located care-of addresses tried, in order,
	// when no agent is heard.
	Colocated []Colocated `dyn:"COLOCATED"`

	// Config is the signalling protection (IPsec labels and the IPSEC
	// section, docs/CONFIGURATION.md): with IPSEC entries (the home
	// agent's) the registrations with the home agent travel in ESP.
	secure.Config
	// IPsecInterfaces lists further interfaces (IPSEC_INTERFACES, one
	// name per line) whose IPv4 address is offered to the SAs' peers
	// (ADD_SA_ADDRESS) while the interface is up, and withdrawn
	// (REMOVE_SA_ADDRESS) when it goes down or loses the address.
	IPsecInterfaces []IPsecInterface `dyn:"IPSEC_INTERFACES"`
}

// IPsecInterface is one entry of the IPSEC_INTERFACES section: an
// interface name.
type IPsecInterface struct {
	Name string `dyn:"0"`
	Line int    `dyn:",line"`
}

// maxIfaceName is the longest interface name Linux takes (IFNAMSIZ less
// the terminating NUL).
const maxIfaceName = 15

// ipsecInterfaceNames returns the names of the IPSEC_INTERFACES entries.
func (c Config) ipsecInterfaceNames() []string {
	names := make([]string, len(c.IPsecInterfaces))
	for i, e := range c.IPsecInterfaces {
		names[i] = e.Name
	}
	return names
}

// Colocated is one entry of the COLOCATED section: a care-of address with
// its prefix length, to configure on the interface, and the gateway of
// that network, which must answer ARP for the entry to be used.
type Colocated struct {
	Addr    AddrPrefix `dyn:"0"`
	Gateway netip.Addr `dyn:"1"`
	Line    int        `dyn:",line"`
}

// AddrPrefix is an IPv4 address with a prefix length, host bits kept:
// "10.4.0.10/24".
type AddrPrefix netip.Prefix

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *AddrPrefix) UnmarshalText(b []byte) error {
	pfx, err := netip.ParsePrefix(string(b))
	if err != nil || !pfx.Addr().Is4() {
		return fmt.Errorf("not an IPv4 address with a prefix length (10.4.0.10/24)")
	}
	*p = AddrPrefix(pfx)
	return nil
}

// Prefix returns p as a netip.Prefix.
func (p AddrPrefix) Prefix() netip.Prefix { return netip.Prefix(p) }

func (p AddrPrefix) String() string { return netip.Prefix(p).String() }

// SA returns the Mobile-Home security association.
func (c Config) SA() mip.SecurityAssociation {
	return mip.SecurityAssociation{SPI: c.SPI, Alg: mip.Algorithm(c.Algorithm), Key: c.SharedSecret,
		Replay: mip.ReplayMode(c.Replay)}
}

// TunnelingMode is how a mobile away from home sends its own traffic.
type TunnelingMode uint8

// The tunneling modes.
const (
	// TunnelFull reverse-tunnels the mobile's traffic to the home agent
	// (RFC 3024): through a foreign agent that offers it (the T flag), or,
	// with a co-located care-of address, through the mobile's own tunnel.
	TunnelFull TunnelingMode = iota
	// TunnelTriangle sends the mobile's traffic directly, from its home
	// address, through the foreign agent or the co-located gateway; only
	// traffic to the mobile is tunnelled (by the home agent).
	TunnelTriangle
	// TunnelNone registers (so the home agent tunnels traffic to the
	// mobile, which a co-located mobile still decapsulates) but installs
	// no default route away from home: only the routes that reach the
	// agent, or the home agent from the co-located address. For
	// experiments in which the operator routes the mobile's traffic.
	TunnelNone
)

func (m TunnelingMode) String() string {
	switch m {
	case TunnelFull:
		return "full"
	case TunnelTriangle:
		return "triangle"
	case TunnelNone:
		return "none"
	}
	return fmt.Sprintf("TunnelingMode(%d)", uint8(m))
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *TunnelingMode) UnmarshalText(b []byte) error {
	for _, v := range []TunnelingMode{TunnelFull, TunnelTriangle, TunnelNone} {
		if strings.EqualFold(string(b), v.String()) {
			*m = v
			return nil
		}
	}
	return errors.New("not a tunneling mode (full, triangle or none)")
}

// algorithm decodes an authentication algorithm's configuration name.
type algorithm mip.Algorithm

func (a *algorithm) UnmarshalText(b []byte) error {
	alg, err := mip.ParseAlgorithm(string(b))
	if err != nil {
		return errors.New("not an algorithm (hmac-md5 or prefix-suffix)")
	}
	*a = algorithm(alg)
	return nil
}

// replay decodes a replay protection mode's configuration name.
type replay mip.ReplayMode

func (r *replay) UnmarshalText(b []byte) error {
	m, err := mip.ParseReplayMode(string(b))
	if err != nil {
		return errors.New("not a replay protection (timestamp or nonce)")
	}
	*r = replay(m)
	return nil
}

// DefaultConfig returns the defaults of an empty file, for callers that
// build a configuration by hand; the required labels are left empty.
func DefaultConfig() Config {
	return Config{
		Lifetime:         600 * time.Second,
		TunnelingMode:    TunnelFull,
		RetryInterval:    time.Second,
		MaxRetryInterval: 8 * time.Second,
		MaxRetryCount:    5,
		SolicitInterval:  time.Second,
		TunnelMode:       daemon.TunnelAuto,
		TunnelPrefix:     "dynmn",
		StateFile:        "/run/dynamics/dynmnd.state",
		SyslogFacility:   "local0",
		AdminSocket:      api.DefaultSocket("mn", true),
		MonitorSocket:    api.DefaultSocket("mn", false),
		Config:           secure.Config{IPsecMOBIKEX: true, IPsecESP: "auto", IPsecDevice: "dynesp0"},
	}
}

// LoadConfig reads and checks the configuration file at path.
func LoadConfig(path string) (Config, error) {
	f, err := config.Load(path)
	if err != nil {
		return Config{}, err
	}
	return DecodeConfig(f)
}

// ParseConfig reads and checks a configuration file from r; name is used
// in errors.
func ParseConfig(name string, r io.Reader) (Config, error) {
	f, err := config.Parse(name, r)
	if err != nil {
		return Config{}, err
	}
	return DecodeConfig(f)
}

// DecodeConfig decodes a parsed file and checks the values together. Every
// error is a *config.Error naming the file, line and label.
func DecodeConfig(f *config.File) (Config, error) {
	var c Config
	if err := config.Decode(f, &c); err != nil {
		return Config{}, err
	}
	var errs []error
	bad := func(label, format string, args ...any) { errs = append(errs, f.Errorf(label, format, args...)) }
	if !c.HomeNet.Contains(c.Home) {
		bad("MNHomeIPAddress", "%s is outside HomeNetPrefix %s", c.Home, c.HomeNet)
	}
	if c.Home == c.HA {
		bad("HAIPAddress", "%s is the home address", c.HA)
	}
	if c.HomeGateway.IsValid() && !c.HomeNet.Contains(c.HomeGateway) {
		bad("HomeGateway", "%s is outside HomeNetPrefix %s", c.HomeGateway, c.HomeNet)
	}
	if len(c.SharedSecret) == 0 {
		bad("SharedSecret", "empty key")
	}
	if c.Lifetime < time.Second || c.Lifetime > time.Duration(mip.Infinite)*time.Second {
		bad("Lifetime", "%s is outside 1s..65535s (65535 is infinite)", c.Lifetime)
	}
	if c.RetryInterval <= 0 {
		bad("RetryInterval", "must be positive")
	}
	if c.MaxRetryInterval < c.RetryInterval {
		bad("MaxRetryInterval", "%s is below RetryInterval %s", c.MaxRetryInterval, c.RetryInterval)
	}
	if c.MaxRetryCount < 0 {
		bad("MaxRetryCount", "must not be negative")
	}
	if c.SolicitInterval <= 0 {
		bad("SolicitInterval", "must be positive")
	}
	for _, e := range c.Colocated {
		p := e.Addr.Prefix()
		switch {
		case p.Bits() == 0 || p.Bits() > 30:
			errs = append(errs, f.ErrorfAt(e.Line, "COLOCATED", "%s: prefix length must be 1..30", p))
		case p.Addr() == p.Masked().Addr():
			errs = append(errs, f.ErrorfAt(e.Line, "COLOCATED", "%s is a network address, not a care-of address", p))
		case !p.Contains(e.Gateway):
			errs = append(errs, f.ErrorfAt(e.Line, "COLOCATED", "gateway %s is outside %s", e.Gateway, p.Masked()))
		case p.Addr() == e.Gateway:
			errs = append(errs, f.ErrorfAt(e.Line, "COLOCATED", "%s is its own gateway", p.Addr()))
		case c.HomeNet.Overlaps(p):
			errs = append(errs, f.ErrorfAt(e.Line, "COLOCATED", "%s overlaps the home network %s", p.Masked(), c.HomeNet))
		}
	}
	errs = append(errs, checkSockets(f, c.AdminSocket, c.MonitorSocket)...)
	errs = append(errs, checkIPsec(f, c)...)
	if err := c.Config.ValidateFile(f); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// checkIPsec checks the IPSEC_INTERFACES section against the rest: it
// needs IPSEC entries, and names each interface once, other than the
// roaming one.
func checkIPsec(f *config.File, c Config) []error {
	var errs []error
	if len(c.IPsecInterfaces) > 0 && !c.Config.Enabled() {
		errs = append(errs, f.ErrorfAt(c.IPsecInterfaces[0].Line, "IPSEC_INTERFACES",
			"needs IPSEC entries: the addresses are offered to the SAs with the home agent"))
	}
	seen := map[string]bool{}
	for _, e := range c.IPsecInterfaces {
		switch {
		case e.Name == "" || len(e.Name) > maxIfaceName || strings.ContainsAny(e.Name, "/ \t"):
			errs = append(errs, f.ErrorfAt(e.Line, "IPSEC_INTERFACES", "%q is not an interface name", e.Name))
		case e.Name == c.Interface:
			errs = append(errs, f.ErrorfAt(e.Line, "IPSEC_INTERFACES", "%s is the roaming Interface", e.Name))
		case seen[e.Name]:
			errs = append(errs, f.ErrorfAt(e.Line, "IPSEC_INTERFACES", "%s is listed twice", e.Name))
		}
		seen[e.Name] = true
	}
	return errs
}
