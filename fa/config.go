package fa

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/api"
	"github.com/dynamics-go/dynamics/libdynamics/config"
	"github.com/dynamics-go/dynamics/libdynamics/daemon"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
)

// Config is the foreign agent's configuration file, dynfad.conf
// (docs/CONFIGURATION.md). ParseConfig and LoadConfig fill it and apply the
// defaults; a Config built by hand should start from DefaultConfig.
type Config struct {
	// UpstreamInterface faces the home agents (and the upper foreign agent).
	UpstreamInterface string `dyn:"UpstreamInterface,required"`
	// CareOfAddress is advertised and ends the tunnels from home agents;
	// unset, the command takes the upstream interface's address.
	CareOfAddress netip.Addr `dyn:"CareOfAddress"`
	// AgentAdvInterval is the time between unsolicited advertisements on
	// each visitor interface; 0 sends only solicited ones.
	AgentAdvInterval time.Duration `dyn:"AgentAdvInterval,default=1"`
	// AgentAdvLifetime is the ICMP lifetime of the advertisements; unset,
	// three times AgentAdvInterval.
	AgentAdvLifetime time.Duration `dyn:"AgentAdvLifetime"`
	// MaxLifetime is the registration lifetime advertised; longer requests
	// are denied with code 69.
	MaxLifetime time.Duration `dyn:"MaxLifetime,default=600"`
	// MaxVisitors bounds the visitor list; a new mobile beyond it is
	// denied with code 66 and advertisements carry the B flag.
	MaxVisitors int `dyn:"MaxVisitors,default=1000"`
	// PendingTimeout is how long a relayed request waits for its reply
	// before the mobile is told 78 (registration timeout).
	PendingTimeout time.Duration `dyn:"PendingTimeout,default=7"`
	// ReverseTunnel offers reverse tunnelling (RFC 3024): the T flag.
	ReverseTunnel bool `dyn:"ReverseTunnel,default=yes"`
	// EnableFADecapsulation makes the agent the end of the home agent's
	// tunnel: it keeps a tunnel device per home agent with visitors.
	EnableFADecapsulation bool `dyn:"EnableFADecapsulation,default=yes"`
	// RegistrationRequired advertises the R flag: mobiles with a co-located
	// care-of address must register through this agent too.
	RegistrationRequired bool `dyn:"RegistrationRequired,default=no"`
	// UpperFAIPAddress and HighestFAIPAddress place the agent in a
	// hierarchy (docs/PROTOCOL.md): requests are relayed to the upper agent
	// (the home agent when there is none), and the highest agent's address
	// is advertised as the care-of address. The highest agent names itself
	// and has no upper agent.
	UpperFAIPAddress   netip.Addr `dyn:"UpperFAIPAddress"`
	HighestFAIPAddress netip.Addr `dyn:"HighestFAIPAddress"`
	// PrivateKeyFile and PublicKeyFile hold the agent's RSA key pair
	// (written by dynkeygen), required in a hierarchy: the public key goes
	// up in every relayed request, and the home agent or a switching agent
	// encrypts the session key with it.
	PrivateKeyFile string `dyn:"PrivateKeyFile"`
	PublicKeyFile  string `dyn:"PublicKeyFile"`
	// TunnelLinger is how long a tunnel to another foreign agent (the
	// upper agent, or a lower agent) stays after its last visitor left,
	// so that a mobile moving back takes it as it is; 0 removes it at
	// once. Tunnels to home agents go with their last visitor.
	TunnelLinger time.Duration `dyn:"TunnelLinger,default=60"`

	TunnelMode     daemon.TunnelMode `dyn:"TunnelMode,default=auto"`
	TunnelPrefix   string            `dyn:"TunnelPrefix,default=dynfa"`
	StateFile      string            `dyn:"StateFile,default=/run/dynamics/dynfad.state"`
	SyslogFacility string            `dyn:"SyslogFacility,default=local0"`

	// AdminSocket is the control API's admin socket (mode 0600, every
	// call); MonitorSocket its read-only monitor socket (mode 0666). An
	// empty value ("") turns the socket off.
	AdminSocket   string `dyn:"AdminSocket,default=/run/dynamics/fa.sock"`
	MonitorSocket string `dyn:"MonitorSocket,default=/run/dynamics/fa-monitor.sock"`

	// Interfaces are the visitor interfaces: advertisements go out on
	// them and mobiles register through them. An agent in a hierarchy may
	// have none and serve only the agents below it.
	Interfaces []string `dyn:"INTERFACES"`
	// Security holds the Foreign-Home security associations, one per home
	// agent address.
	Security []SecurityEntry `dyn:"SECURITY"`

	// Config holds the IPsec labels and the IPSEC section: the agents
	// (home agents, the upper agent, the agents below) whose registration
	// signalling with this one must travel in ESP (package secure).
	// Without IPSEC entries nothing is required.
	secure.Config
}

// SecurityEntry is one line of the SECURITY section: a home agent's
// address and the Foreign-Home security association shared with it.
type SecurityEntry struct {
	Peer netip.Addr `dyn:"0"`
	SPI  uint32     `dyn:"1"`
	Alg  algorithm  `dyn:"2"`
	Key  []byte     `dyn:"3"`
	Line int        `dyn:",line"`
}

// SA returns the entry's security association.
func (e SecurityEntry) SA() mip.SecurityAssociation {
	return mip.SecurityAssociation{SPI: e.SPI, Alg: mip.Algorithm(e.Alg), Key: e.Key}
}

// algorithm decodes an authentication algorithm's configuration name.
type algorithm mip.Algorithm

func (a *algorithm) UnmarshalText(b []byte) error {
	alg, err := mip.ParseAlgorithm(string(b))
	if err != nil {
		return fmt.Errorf("%q is not an algorithm (hmac-md5 or prefix-suffix)", b)
	}
	*a = algorithm(alg)
	return nil
}

// DefaultConfig returns the configuration of an empty file's defaults, for
// callers that build one by hand: no interfaces, no security associations.
func DefaultConfig() Config {
	return Config{
		AgentAdvInterval:      time.Second,
		AgentAdvLifetime:      3 * time.Second,
		MaxLifetime:           600 * time.Second,
		MaxVisitors:           1000,
		PendingTimeout:        7 * time.Second,
		TunnelLinger:          60 * time.Second,
		ReverseTunnel:         true,
		EnableFADecapsulation: true,
		TunnelMode:            daemon.TunnelAuto,
		TunnelPrefix:          "dynfa",
		StateFile:             "/run/dynamics/dynfad.state",
		SyslogFacility:        "local0",
		AdminSocket:           api.DefaultSocket("fa", true),
		MonitorSocket:         api.DefaultSocket("fa", false),
		Config:                secure.Config{IPsecMOBIKEX: true, IPsecESP: "auto", IPsecDevice: "dynesp0"},
	}
}

// Hierarchy reports whether the agent is part of a foreign agent hierarchy:
// HighestFAIPAddress is set.
func (c Config) Hierarchy() bool { return c.HighestFAIPAddress.IsValid() }

// Highest reports whether the agent is the highest of its hierarchy, the
// one that relays to home agents: in a hierarchy, without an upper agent.
func (c Config) Highest() bool { return c.Hierarchy() && !c.UpperFAIPAddress.IsValid() }

// AdvertisedCareOf is the care-of address the agent advertises and accepts
// in requests: the highest agent's address in a hierarchy, where the home
// agent's tunnel ends, else CareOfAddress.
func (c Config) AdvertisedCareOf() netip.Addr {
	if c.Hierarchy() {
		return c.HighestFAIPAddress
	}
	return c.CareOfAddress
}

// LoadConfig reads and checks the configuration file at path.
func LoadConfig(path string) (Config, error) {
	f, err := config.Load(path)
	if err != nil {
		return Config{}, err
	}
	return DecodeConfig(f)
}

// ParseConfig reads and checks a configuration file from r; name is used in
// errors.
func ParseConfig(name string, r io.Reader) (Config, error) {
	f, err := config.Parse(name, r)
	if err != nil {
		return Config{}, err
	}
	return DecodeConfig(f)
}

// DecodeConfig decodes a parsed file, applies the defaults that depend on
// other labels and checks the values. Every error is a *config.Error naming
// the file, line and label.
func DecodeConfig(f *config.File) (Config, error) {
	var c Config
	if err := config.Decode(f, &c); err != nil {
		return Config{}, err
	}
	var errs []error
	bad := func(label, format string, args ...any) { errs = append(errs, f.Errorf(label, format, args...)) }
	if c.AgentAdvInterval < 0 {
		bad("AgentAdvInterval", "must not be negative")
	}
	if _, ok := f.Setting("AgentAdvLifetime"); !ok {
		c.AgentAdvLifetime = 3 * c.AgentAdvInterval
		if c.AgentAdvLifetime < time.Second {
			c.AgentAdvLifetime = time.Second
		}
	} else if c.AgentAdvLifetime < time.Second || c.AgentAdvLifetime > 0xffff*time.Second {
		bad("AgentAdvLifetime", "%s is outside 1s..65535s", c.AgentAdvLifetime)
	}
	if c.MaxLifetime < time.Second || c.MaxLifetime > time.Duration(mip.Infinite)*time.Second {
		bad("MaxLifetime", "%s is outside 1s..65535s (65535 is infinite)", c.MaxLifetime)
	}
	if c.MaxVisitors < 1 {
		bad("MaxVisitors", "%d: must be at least 1", c.MaxVisitors)
	}
	if c.PendingTimeout <= 0 {
		bad("PendingTimeout", "must be positive")
	}
	if len(c.Interfaces) == 0 && !c.Hierarchy() {
		if _, ok := f.Section("INTERFACES"); ok {
			bad("INTERFACES", "no visitor interface listed")
		} else {
			bad("INTERFACES", "required section missing (only an agent in a hierarchy may have no visitor interface)")
		}
	}
	if c.UpperFAIPAddress.IsValid() && !c.Hierarchy() {
		bad("UpperFAIPAddress", "needs HighestFAIPAddress: the agent at the top of the tree")
	}
	if c.UpperFAIPAddress.IsValid() && c.UpperFAIPAddress == c.CareOfAddress {
		bad("UpperFAIPAddress", "%s is this agent's own CareOfAddress", c.UpperFAIPAddress)
	}
	if c.Hierarchy() {
		if c.PrivateKeyFile == "" {
			bad("PrivateKeyFile", "required in a hierarchy (HighestFAIPAddress is set); dynkeygen writes a key pair")
		}
		if c.PublicKeyFile == "" {
			bad("PublicKeyFile", "required in a hierarchy (HighestFAIPAddress is set); dynkeygen writes a key pair")
		}
	}
	seenIf := map[string]bool{}
	for _, name := range c.Interfaces {
		switch {
		case name == c.UpstreamInterface:
			bad("INTERFACES", "%s is the upstream interface", name)
		case seenIf[name]:
			bad("INTERFACES", "%s listed twice", name)
		}
		seenIf[name] = true
	}
	seenPeer := map[netip.Addr]bool{}
	for _, e := range c.Security {
		switch {
		case len(e.Key) == 0:
			errs = append(errs, f.ErrorfAt(e.Line, "SECURITY", "%s: empty key", e.Peer))
		case seenPeer[e.Peer]:
			errs = append(errs, f.ErrorfAt(e.Line, "SECURITY", "%s listed twice", e.Peer))
		}
		seenPeer[e.Peer] = true
	}
	// The IPsec labels and the IPSEC section (package secure): an entry's
	// error names its line.
	if err := c.Config.ValidateFile(f); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, checkSockets(f, c.AdminSocket, c.MonitorSocket)...)
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// UpstreamAgents returns the agents this one brings up and keeps the IKE
// SAs with when its signalling is protected (secure.Options.Initiate): its
// upper agent in a hierarchy; otherwise the home agents among its IPSEC
// peers (single addresses). At the top of a hierarchy, where the agents
// below are IPSEC peers too and bring up their own SAs, the home agents
// are told apart by their SECURITY entries.
func (c Config) UpstreamAgents() []netip.Addr {
	if c.UpperFAIPAddress.IsValid() {
		return []netip.Addr{c.UpperFAIPAddress}
	}
	homeAgent := map[netip.Addr]bool{}
	for _, e := range c.Security {
		homeAgent[e.Peer] = true
	}
	var up []netip.Addr
	for _, e := range c.Peers {
		p := e.Peer.Prefix()
		if !p.IsSingleIP() || c.Hierarchy() && !homeAgent[p.Addr()] {
			continue
		}
		up = append(up, p.Addr())
	}
	return up
}
