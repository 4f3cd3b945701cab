package ha

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
	"github.com/dynamics-go/dynamics/libdynamics/tunnel"
)

// Config is the home agent's configuration file, dynhad.conf
// (docs/CONFIGURATION.md). ParseConfig and LoadConfig fill it and apply the
// defaults; a Config built by hand should start from DefaultConfig.
type Config struct {
	// HAIPAddress is the home agent's address on the home link; UDP port
	// 434 is bound here and tunnels start here.
	HAIPAddress netip.Addr `dyn:"HAIPAddress,required"`
	// HomeNetPrefix is the home network; HAIPAddress and every authorised
	// home address lie in it.
	HomeNetPrefix netip.Prefix `dyn:"HomeNetPrefix,required"`
	// HomeInterface is the home link: proxy and gratuitous ARP, and the
	// advertisements that tell a mobile it is at home.
	HomeInterface string `dyn:"HomeInterface,required"`
	// MaxBindings bounds the binding list; a new mobile beyond it is
	// denied with code 130.
	MaxBindings int `dyn:"MaxBindings,default=10000"`
	// MaxLifetime is the longest registration lifetime granted; longer
	// requests (infinite included) are granted this.
	MaxLifetime time.Duration `dyn:"MaxLifetime,default=600"`
	// ReplayWindow is how far a timestamp identification may be from the
	// home agent's clock.
	ReplayWindow time.Duration `dyn:"ReplayWindow,default=7"`
	// AgentAdvInterval is the time between advertisements on the home
	// link; 0 sends only solicited ones.
	AgentAdvInterval time.Duration `dyn:"AgentAdvInterval,default=1"`
	// AgentAdvLifetime is the advertisements' ICMP lifetime; unset, three
	// times AgentAdvInterval (at least one second).
	AgentAdvLifetime time.Duration `dyn:"AgentAdvLifetime"`
	// RequireFAAuth denies requests relayed by a foreign agent (D flag
	// clear) that carry no valid Foreign-Home authenticator, with code 132.
	RequireFAAuth bool `dyn:"RequireFAAuth,default=no"`
	// SessionKeySecret is the key-generation secret of the session keys
	// issued to hierarchical registrations; unset, 16 random bytes drawn
	// at start.
	SessionKeySecret Secret `dyn:"SessionKeySecret"`

	TunnelMode     daemon.TunnelMode `dyn:"TunnelMode,default=auto"`
	TunnelPrefix   string            `dyn:"TunnelPrefix,default=dynha"`
	StateFile      string            `dyn:"StateFile,default=/run/dynamics/dynhad.state"`
	SyslogFacility string            `dyn:"SyslogFacility,default=local0"`

	// AdminSocket is the control API's admin socket (mode 0600, every
	// call); MonitorSocket its read-only monitor socket (mode 0666). An
	// empty value ("") turns the socket off.
	AdminSocket   string `dyn:"AdminSocket,default=/run/dynamics/ha.sock"`
	MonitorSocket string `dyn:"MonitorSocket,default=/run/dynamics/ha-monitor.sock"`

	// Authorized are the mobile nodes served, with their Mobile-Home
	// security associations.
	Authorized []MobileEntry `dyn:"AUTHORIZEDLIST"`
	// Security holds the Foreign-Home security associations, one per
	// foreign agent address.
	Security []SecurityEntry `dyn:"SECURITY"`

	// Config holds the IPsec labels and the IPSEC section: the peers
	// (foreign agents, mobile nodes by home address) whose registration
	// signalling must travel in ESP (package secure). Without IPSEC
	// entries nothing is required.
	secure.Config
}

// MobileEntry is one line of the AUTHORIZEDLIST section: a home address
// and the Mobile-Home security association shared with that mobile node.
type MobileEntry struct {
	Home   netip.Addr `dyn:"0"`
	SPI    uint32     `dyn:"1"`
	Alg    algorithm  `dyn:"2"`
	Key    []byte     `dyn:"3"`
	Replay replay     `dyn:"4,default=timestamp"`
	Line   int        `dyn:",line"`
}

// SA returns the entry's security association.
func (e MobileEntry) SA() mip.SecurityAssociation {
	return mip.SecurityAssociation{SPI: e.SPI, Alg: mip.Algorithm(e.Alg), Key: e.Key, Replay: mip.ReplayMode(e.Replay)}
}

// SecurityEntry is one line of the SECURITY section: a foreign agent's
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

// replay decodes a replay protection mode's configuration name.
type replay mip.ReplayMode

func (r *replay) UnmarshalText(b []byte) error {
	m, err := mip.ParseReplayMode(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a replay protection (timestamp or nonce)", b)
	}
	*r = replay(m)
	return nil
}

// DefaultConfig returns the defaults of an empty file, for callers that
// build a configuration by hand: no addresses, no mobiles, no foreign
// agents.
func DefaultConfig() Config {
	return Config{
		MaxBindings:      10000,
		MaxLifetime:      600 * time.Second,
		ReplayWindow:     mip.DefaultReplayWindow,
		AgentAdvInterval: time.Second,
		AgentAdvLifetime: 3 * time.Second,
		TunnelMode:       daemon.TunnelAuto,
		TunnelPrefix:     "dynha",
		StateFile:        "/run/dynamics/dynhad.state",
		SyslogFacility:   "local0",
		AdminSocket:      api.DefaultSocket("ha", true),
		MonitorSocket:    api.DefaultSocket("ha", false),
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
	badAt := func(line int, label, format string, args ...any) {
		errs = append(errs, f.ErrorfAt(line, label, format, args...))
	}
	if !c.HomeNetPrefix.Contains(c.HAIPAddress) {
		bad("HAIPAddress", "%s is outside HomeNetPrefix %s", c.HAIPAddress, c.HomeNetPrefix)
	}
	if c.MaxBindings < 1 {
		bad("MaxBindings", "%d: must be at least 1", c.MaxBindings)
	}
	if c.MaxLifetime < time.Second || c.MaxLifetime > time.Duration(mip.Infinite-1)*time.Second {
		bad("MaxLifetime", "%s is outside 1s..65534s", c.MaxLifetime)
	}
	if c.ReplayWindow <= 0 {
		bad("ReplayWindow", "must be positive")
	}
	if c.AgentAdvInterval < 0 {
		bad("AgentAdvInterval", "must not be negative")
	}
	if _, ok := f.Setting("AgentAdvLifetime"); !ok {
		c.AgentAdvLifetime = max(3*c.AgentAdvInterval, time.Second)
	} else if c.AgentAdvLifetime < time.Second || c.AgentAdvLifetime > 0xffff*time.Second {
		bad("AgentAdvLifetime", "%s is outside 1s..65535s", c.AgentAdvLifetime)
	}
	if _, err := tunnel.New(c.TunnelPrefix); err != nil || len(c.TunnelPrefix) > 10 {
		bad("TunnelPrefix", "%q: want up to 10 printable characters without '/', ':', '%%' or spaces", c.TunnelPrefix)
	}
	seenHome := map[netip.Addr]bool{}
	for _, e := range c.Authorized {
		switch {
		case !c.HomeNetPrefix.Contains(e.Home):
			badAt(e.Line, "AUTHORIZEDLIST", "%s is outside HomeNetPrefix %s", e.Home, c.HomeNetPrefix)
		case e.Home == c.HAIPAddress:
			badAt(e.Line, "AUTHORIZEDLIST", "%s is the home agent's own address", e.Home)
		case len(e.Key) == 0:
			badAt(e.Line, "AUTHORIZEDLIST", "%s: empty key", e.Home)
		case seenHome[e.Home]:
			badAt(e.Line, "AUTHORIZEDLIST", "%s listed twice", e.Home)
		}
		seenHome[e.Home] = true
	}
	seenPeer := map[netip.Addr]bool{}
	for _, e := range c.Security {
		switch {
		case len(e.Key) == 0:
			badAt(e.Line, "SECURITY", "%s: empty key", e.Peer)
		case seenPeer[e.Peer]:
			badAt(e.Line, "SECURITY", "%s listed twice", e.Peer)
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
