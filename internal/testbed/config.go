package testbed

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/sessionkey"
)

// The security associations written by WriteConfigs: one Mobile-Home key
// shared by the mobile and the home agent, and one Foreign-Home key per
// foreign agent.
const (
	MNSPI     = 1000
	MNHAKey   = "00112233445566778899aabbccddeeff"
	Algorithm = "hmac-md5"
)

// faSA is the Foreign-Home security association of one foreign agent.
type faSA struct {
	role, addr string
	spi        int
	key        string
}

var faSAs = []faSA{
	{FA1, FA1Addr, 2001, "0102030405060708090a0b0c0d0e0f10"},
	{FA2, FA2Addr, 2002, "1112131415161718191a1b1c1d1e1f20"},
	{GFA, GFAAddr, 2003, "2122232425262728292a2b2c2d2e2f30"},
}

// ForeignHomeSA returns the SPI and key (hexadecimal) of the Foreign-Home
// security association WriteConfigs gives role's foreign agent (fa1, fa2,
// gfa) and the home agent; ok is false for any other role.
func ForeignHomeSA(role string) (spi uint32, key string, ok bool) {
	for _, sa := range faSAs {
		if sa.role == role {
			return uint32(sa.spi), sa.key, true
		}
	}
	return 0, "", false
}

// Daemon binaries and the configuration file each role runs with.
const (
	HADaemon = "dynhad"
	FADaemon = "dynfad"
	MNDaemon = "dynmnd"
)

// ConfigFile returns the base name of role's configuration file:
// dynhad.conf, dynfad-<role>.conf or dynmnd.conf.
func ConfigFile(role string) string {
	switch role {
	case HA:
		return HADaemon + ".conf"
	case MN:
		return MNDaemon + ".conf"
	}
	return FADaemon + "-" + role + ".conf"
}

// DaemonFor returns the daemon binary a role runs.
func DaemonFor(role string) string {
	switch role {
	case HA:
		return HADaemon
	case MN:
		return MNDaemon
	}
	return FADaemon
}

// duration formats d for the configuration format: whole seconds as a
// plain number, anything else in Go syntax ("500ms").
func duration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprint(int64(d / time.Second))
	}
	return d.String()
}

// WriteConfigs writes the configuration of every daemon of the bed into
// dir (created if needed): dynhad.conf, dynfad-fa1.conf, dynfad-fa2.conf,
// dynfad-gfa.conf on the hierarchical bed, and dynmnd.conf. State files
// and the control API's sockets go to dir too, since the namespaces share
// one file system: <role>.sock and <role>-monitor.sock, which AdminSocket
// and MonitorSocket return from then on. dir must be short enough for the
// socket paths (107 bytes). On the hierarchical bed each foreign agent
// also gets an RSA key pair, dynfad-<role>.key and dynfad-<role>.pub
// (KeyFiles), generated afresh. With Options.IPsec every file also gets
// the IPsec labels and IPSEC entries of its hops (IPsecHops) and a key log
// in dir (KeyLogFile).
func (b *Bed) WriteConfigs(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("testbed: %w", err)
	}
	if p := socketPath(dir, GFA, false); len(p) > maxSocketPath {
		return fmt.Errorf("testbed: configuration directory %s is too long for the sockets in it (%s is over %d bytes)",
			dir, p, maxSocketPath)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("testbed: %w", err)
	}
	if b.opts.Hierarchical {
		if err := writeKeys(dir, []string{GFA, FA1, FA2}); err != nil {
			return err
		}
	}
	files := map[string]string{HA: b.haConfig(dir), MN: b.mnConfig(dir)}
	for _, role := range b.Agents() {
		if role != HA {
			files[role] = b.faConfig(dir, role)
		}
	}
	for role, text := range files {
		if err := os.WriteFile(filepath.Join(dir, ConfigFile(role)), []byte(text), 0o600); err != nil {
			return fmt.Errorf("testbed: %w", err)
		}
	}
	b.mu.Lock()
	b.confDir = dir
	b.mu.Unlock()
	return nil
}

// maxSocketPath is the longest path a Unix socket can be bound to.
const maxSocketPath = 107

// socketPath is where role's daemon serves the control API in dir.
func socketPath(dir, role string, admin bool) string {
	if admin {
		return filepath.Join(dir, role+".sock")
	}
	return filepath.Join(dir, role+"-monitor.sock")
}

// AdminSocket returns the path of the control API's admin socket of role's
// daemon (ha, gfa, fa1, fa2, mn), as WriteConfigs wrote it; "" before
// WriteConfigs or for a role without a daemon.
func (b *Bed) AdminSocket(role string) string { return b.socket(role, true) }

// MonitorSocket returns the path of the read-only monitor socket of role's
// daemon, like AdminSocket.
func (b *Bed) MonitorSocket(role string) string { return b.socket(role, false) }

func (b *Bed) socket(role string, admin bool) string {
	b.mu.Lock()
	dir := b.confDir
	b.mu.Unlock()
	if dir == "" || !slices.Contains(append(b.Agents(), MN), role) {
		return ""
	}
	return socketPath(dir, role, admin)
}

// KeyBits is the size of the foreign agents' RSA keys on the hierarchical
// bed: the smallest the suite accepts, so the keys are made quickly.
const KeyBits = sessionkey.MinBits

// KeyFiles returns the private and public key files of role's foreign agent
// that WriteConfigs writes into dir on the hierarchical bed.
func KeyFiles(dir, role string) (priv, pub string) {
	base := filepath.Join(dir, FADaemon+"-"+role)
	return base + ".key", base + ".pub"
}

// writeKeys generates a key pair for each foreign agent role into dir.
func writeKeys(dir string, roles []string) error {
	for _, role := range roles {
		k, err := rsa.GenerateKey(rand.Reader, KeyBits)
		if err != nil {
			return fmt.Errorf("testbed: key of %s: %w", role, err)
		}
		priv, pub := KeyFiles(dir, role)
		if err := sessionkey.WritePrivateKey(priv, k, true); err != nil {
			return fmt.Errorf("testbed: %w", err)
		}
		if err := sessionkey.WritePublicKey(pub, &k.PublicKey, true); err != nil {
			return fmt.Errorf("testbed: %w", err)
		}
	}
	return nil
}

type confWriter struct{ strings.Builder }

func (w *confWriter) line(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }

func (w *confWriter) label(label string, value any) { w.line("%-22s %v", label, value) }

func (w *confWriter) common(b *Bed, dir, role, state string) {
	if b.opts.TunnelMode != "" {
		w.label("TunnelMode", b.opts.TunnelMode)
	}
	w.label("StateFile", filepath.Join(dir, state))
	w.label("AdminSocket", socketPath(dir, role, true))
	w.label("MonitorSocket", socketPath(dir, role, false))
}

func (b *Bed) header(w *confWriter, role string) {
	w.line("# %s for role %s of the testbed (namespace %s).", ConfigFile(role), role, b.NS(role))
	w.line("# Written by the testbed; see docs/CONFIGURATION.md for the labels.")
	w.line("")
}

func (b *Bed) haConfig(dir string) string {
	var w confWriter
	b.header(&w, HA)
	w.label("HAIPAddress", HAAddr)
	w.label("HomeNetPrefix", HomePrefix)
	w.label("HomeInterface", HAIface)
	w.label("AgentAdvInterval", duration(b.opts.AdvInterval))
	w.common(b, dir, HA, "dynhad.state")
	w.line("")
	w.line("AUTHORIZEDLIST_BEGIN")
	w.line("# home-address  SPI   algorithm  key  replay")
	w.line("%s  %d  %s  %s  timestamp", HomeAddr, MNSPI, Algorithm, MNHAKey)
	w.line("AUTHORIZEDLIST_END")
	w.line("")
	w.line("SECURITY_BEGIN")
	w.line("# foreign agent address  SPI  algorithm  key")
	for _, sa := range faSAs {
		if sa.role == GFA && !b.opts.Hierarchical {
			continue
		}
		w.line("%s  %d  %s  %s", sa.addr, sa.spi, Algorithm, sa.key)
	}
	w.line("SECURITY_END")
	w.ipsec(b, dir, HA)
	return w.String()
}

func (b *Bed) faConfig(dir, role string) string {
	var w confWriter
	b.header(&w, role)
	w.label("UpstreamInterface", FAUpstreamIface)
	w.label("AgentAdvInterval", duration(b.opts.AdvInterval))
	if b.opts.Hierarchical {
		switch role {
		case FA1:
			w.label("UpperFAIPAddress", FA1Upper)
		case FA2:
			w.label("UpperFAIPAddress", FA2Upper)
		}
		w.label("HighestFAIPAddress", GFAAddr)
		priv, pub := KeyFiles(dir, role)
		w.label("PrivateKeyFile", priv)
		w.label("PublicKeyFile", pub)
	}
	w.common(b, dir, role, "dynfad-"+role+".state")
	w.line("")
	if role == GFA {
		w.line("# No INTERFACES: gfa serves no mobile itself; its links down to fa1")
		w.line("# and fa2 carry their requests and tunnels, and are no visitor links.")
	} else {
		w.line("INTERFACES_BEGIN")
		w.line("# the visitor link")
		w.line("%s", FAVisitorIface)
		w.line("INTERFACES_END")
	}
	w.line("")
	w.line("SECURITY_BEGIN")
	w.line("# home agent address  SPI  algorithm  key")
	for _, sa := range faSAs {
		if sa.role == role {
			w.line("%s  %d  %s  %s", HAAddr, sa.spi, Algorithm, sa.key)
		}
	}
	w.line("SECURITY_END")
	w.ipsec(b, dir, role)
	return w.String()
}

func (b *Bed) mnConfig(dir string) string {
	var w confWriter
	b.header(&w, MN)
	w.label("MNHomeIPAddress", HomeAddr)
	w.label("HAIPAddress", HAAddr)
	w.label("HomeNetPrefix", HomePrefix)
	w.label("HomeGateway", HomeGateway)
	w.label("Interface", MNIface)
	w.label("SPI", MNSPI)
	w.label("Algorithm", Algorithm)
	w.label("SharedSecret", MNHAKey)
	w.label("Replay", "timestamp")
	w.label("Lifetime", duration(b.opts.Lifetime))
	w.label("TunnelingMode", b.opts.TunnelingMode)
	w.label("SolicitInterval", duration(b.opts.AdvInterval))
	w.common(b, dir, MN, "dynmnd.state")
	w.line("")
	w.line("COLOCATED_BEGIN")
	w.line("# care-of address/prefix  gateway")
	w.line("%s/24  %s", ColocatedAddr, ColocatedGateway)
	w.line("COLOCATED_END")
	w.ipsec(b, dir, MN)
	if b.opts.SecondInterface && b.opts.IPsec {
		w.line("")
		w.line("# The second interface's address is offered to the SAs while it is up.")
		w.line("IPSEC_INTERFACES_BEGIN")
		w.line("%s", MNSecondIface)
		w.line("IPSEC_INTERFACES_END")
	}
	return w.String()
}

// ErrMissingDaemon is wrapped by StartAgents when a daemon binary is not
// in the given directory.
var ErrMissingDaemon = errors.New("daemon binary missing")

// startGrace is how long a freshly started daemon must stay up before
// StartDaemon trusts it.
const startGrace = 300 * time.Millisecond

// StartDaemon starts role's daemon from binDir with its configuration from
// confDir: `<binDir>/<daemon> -c <confDir>/<file> --fg --debug`. It fails
// when the binary is missing or the daemon exits within its first moments,
// and then carries the daemon's output.
func (b *Bed) StartDaemon(role, binDir, confDir string) (*Proc, error) {
	bin, err := filepath.Abs(filepath.Join(binDir, DaemonFor(role)))
	if err != nil {
		return nil, fmt.Errorf("testbed: %w", err)
	}
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("testbed: %w: %s", ErrMissingDaemon, bin)
	}
	conf, err := filepath.Abs(filepath.Join(confDir, ConfigFile(role)))
	if err != nil {
		return nil, fmt.Errorf("testbed: %w", err)
	}
	p, err := b.Start(role, bin, "-c", conf, "--fg", "--debug")
	if err != nil {
		return nil, err
	}
	select {
	case <-p.Done():
		_, werr := p.Exited()
		return p, fmt.Errorf("testbed: %s in %s exited at start (%v):\n%s", p.Name, role, werr, p.Output())
	case <-time.After(startGrace):
	}
	return p, nil
}

// StartAgents checks that every daemon binary is in binDir, then starts
// the home agent, the foreign agents (gfa first) and the mobile node, each
// with its file from confDir (see WriteConfigs). It returns the processes by
// role.
func (b *Bed) StartAgents(binDir, confDir string) (map[string]*Proc, error) {
	var missing []string
	for _, d := range []string{HADaemon, FADaemon, MNDaemon} {
		if fi, err := os.Stat(filepath.Join(binDir, d)); err != nil || fi.IsDir() {
			missing = append(missing, filepath.Join(binDir, d))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("testbed: %w: %s", ErrMissingDaemon, strings.Join(missing, ", "))
	}
	procs := map[string]*Proc{}
	for _, role := range append(b.Agents(), MN) {
		p, err := b.StartDaemon(role, binDir, confDir)
		if err != nil {
			return procs, err
		}
		procs[role] = p
	}
	return procs, nil
}
