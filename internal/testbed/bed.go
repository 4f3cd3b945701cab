package testbed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options configure a bed. The zero value builds the flat bed and logs
// nothing.
type Options struct {
	// Hierarchical adds gfa between rt and the two lowest foreign agents.
	Hierarchical bool
	// Logger receives progress: one line per step and per started or
	// stopped process, commands at debug level. Nil discards.
	Logger *slog.Logger
	// LogDir, when set, receives each started process's output in
	// <role>-<name>.log as well as memory (Proc.Output).
	LogDir string
	// AdvInterval is the AgentAdvInterval written for the agents (default
	// 500ms, so that moves are noticed quickly).
	AdvInterval time.Duration
	// Lifetime is the registration lifetime the mobile asks for (default
	// 60s).
	Lifetime time.Duration
	// TunnelMode, when set, is written as every daemon's TunnelMode.
	TunnelMode string
	// TunnelingMode is the mobile's TunnelingMode: full (the default),
	// triangle or none.
	TunnelingMode string
	// IPsec protects the registration signalling of every hop with IPsec
	// (IPsecHops): WriteConfigs gives each daemon its identity, the IPSEC
	// entries of its peers with one pre-shared key per pair, and a key log
	// in the configuration directory (KeyLogFile).
	IPsec bool
	// SecondInterface gives the mobile a second interface, MNSecondIface,
	// on the link without an agent with the address SecondAddr/24 and no
	// route through it but the link's own, and lists it in the mobile's
	// IPSEC_INTERFACES, so that dynmnd offers its address to the SAs with
	// the home agent (MOBIKE-X ADD_SA_ADDRESS) while it is up and
	// withdraws it (REMOVE_SA_ADDRESS) when it goes down
	// (SecondInterfaceDown, SecondInterfaceUp). Only with IPsec.
	SecondInterface bool
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.AdvInterval <= 0 {
		o.AdvInterval = 500 * time.Millisecond
	}
	if o.Lifetime <= 0 {
		o.Lifetime = 60 * time.Second
	}
	if o.TunnelingMode == "" {
		o.TunnelingMode = "full"
	}
	return o
}

// namePrefix begins every namespace a bed makes; the creating pid follows,
// so a later New can tell beds of dead programs from live ones.
const namePrefix = "dynbed"

var beds atomic.Int64

// Bed is a built testbed. Its methods may be called from several
// goroutines.
type Bed struct {
	opts   Options
	log    *slog.Logger
	prefix string
	plan   plan

	mu      sync.Mutex
	made    []string // namespaces created, in order
	confDir string   // where WriteConfigs wrote the configurations and put the sockets
	procs   []*Proc
	where   string
	closed  bool
}

// New builds the flat or the hierarchical bed with the mobile at home. On
// error everything made so far is removed again.
func New(opts Options) (*Bed, error) {
	opts = opts.withDefaults()
	if opts.SecondInterface && !opts.IPsec {
		return nil, ErrSecondWithoutIPsec
	}
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	for _, c := range []string{"ip", "sysctl"} {
		if _, err := exec.LookPath(c); err != nil {
			return nil, fmt.Errorf("testbed: %w: %s", ErrMissingCommand, c)
		}
	}
	b := &Bed{
		opts:   opts,
		log:    opts.Logger,
		prefix: fmt.Sprintf("%s%d-%d", namePrefix, os.Getpid(), beds.Add(1)),
		plan:   planFor(opts),
		where:  AtHome,
	}
	sweep(b.log)
	kind := "flat"
	if opts.Hierarchical {
		kind = "hierarchical"
	}
	openBeds.add(b)
	b.log.Info("testbed: building", "kind", kind, "prefix", b.prefix)
	start := time.Now()
	if err := b.build(); err != nil {
		return nil, errors.Join(err, b.Close())
	}
	b.log.Info("testbed: built", "kind", kind, "took", time.Since(start).Round(time.Millisecond))
	return b, nil
}

// ErrNotRoot is returned by New when the program is not root.
var ErrNotRoot = errors.New("testbed: needs root to create network namespaces")

// ErrSecondWithoutIPsec is returned by New for Options.SecondInterface
// without Options.IPsec: the mobile offers the second interface's address
// to its IPsec SAs, which it has only with IPsec.
var ErrSecondWithoutIPsec = errors.New("testbed: the mobile's second interface needs IPsec (Options.IPsec)")

// ErrMissingCommand is wrapped when a command the bed needs is not on PATH.
var ErrMissingCommand = errors.New("command not found")

// sysctls every host gets: no IPv6 (quiet captures), no reverse-path
// filter (tunnelled and reverse-tunnelled traffic is asymmetric by design),
// no ICMP redirects.
var hostSysctls = []string{
	"net.ipv6.conf.all.disable_ipv6=1",
	"net.ipv6.conf.default.disable_ipv6=1",
	"net.ipv4.conf.all.rp_filter=0",
	"net.ipv4.conf.default.rp_filter=0",
	"net.ipv4.conf.all.accept_redirects=0",
	"net.ipv4.conf.default.accept_redirects=0",
	"net.ipv4.conf.all.send_redirects=0",
	"net.ipv4.conf.default.send_redirects=0",
}

func (b *Bed) build() error {
	for _, role := range b.plan.roles {
		name := b.NS(role)
		if err := run(b.log, "ip", "netns", "add", name); err != nil {
			return err
		}
		b.mu.Lock()
		b.made = append(b.made, name)
		b.mu.Unlock()
		ctl := append([]string{"sysctl", "-q", "-e", "-w"}, hostSysctls...)
		if slices.Contains(b.plan.forwarder, role) {
			ctl = append(ctl, "net.ipv4.ip_forward=1")
		}
		if _, err := b.Exec(role, ctl...); err != nil {
			return err
		}
		if err := b.ip(role, "link", "set", "lo", "up"); err != nil {
			return err
		}
	}
	for _, br := range []string{AtHome, AtFA1, AtFA2, AtColocated} {
		if err := b.ip(Switch, "link", "add", bridges[br], "type", "bridge",
			"stp_state", "0", "forward_delay", "0", "mcast_snooping", "0"); err != nil {
			return err
		}
		if err := b.ip(Switch, "link", "set", bridges[br], "up"); err != nil {
			return err
		}
	}
	for _, l := range b.plan.links {
		if err := run(b.log, "ip", "link", "add", "name", l.aDev, "netns", b.NS(l.a), "type", "veth",
			"peer", "name", l.bDev, "netns", b.NS(l.b)); err != nil {
			return err
		}
		if l.bridge != "" {
			if err := b.ip(l.b, "link", "set", l.bDev, "master", l.bridge); err != nil {
				return err
			}
		}
		if err := b.ip(l.a, "link", "set", l.aDev, "up"); err != nil {
			return err
		}
		if err := b.ip(l.b, "link", "set", l.bDev, "up"); err != nil {
			return err
		}
	}
	for _, a := range b.plan.addrs {
		if err := b.ip(a.role, "addr", "add", a.cidr, "dev", a.dev); err != nil {
			return err
		}
	}
	for _, r := range b.plan.routes {
		if err := b.ip(r.role, append([]string{"route", "add"}, r.args...)...); err != nil {
			return err
		}
	}
	return nil
}

// Hierarchical reports whether the bed has gfa.
func (b *Bed) Hierarchical() bool { return b.opts.Hierarchical }

// Hosts returns the roles of the bed's hosts (every namespace but the
// switch), upstream first.
func (b *Bed) Hosts() []string {
	return slices.DeleteFunc(slices.Clone(b.plan.roles), func(r string) bool { return r == Switch })
}

// Agents returns the roles that run an agent daemon: ha, (gfa,) fa1, fa2.
func (b *Bed) Agents() []string {
	if b.opts.Hierarchical {
		return []string{HA, GFA, FA1, FA2}
	}
	return []string{HA, FA1, FA2}
}

// NS returns the namespace name of role.
func (b *Bed) NS(role string) string { return b.prefix + "-" + role }

// Namespaces returns the names of the namespaces the bed has made and not
// yet removed.
func (b *Bed) Namespaces() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.made)
}

// Exec runs args inside role's namespace and returns its combined output.
// The error carries the output when the command fails.
func (b *Bed) Exec(role string, args ...string) (string, error) {
	return output(b.log, "ip", append([]string{"netns", "exec", b.NS(role)}, args...)...)
}

// IP runs `ip -n <namespace> args...` and returns its output.
func (b *Bed) IP(role string, args ...string) (string, error) {
	return output(b.log, "ip", append([]string{"-n", b.NS(role)}, args...)...)
}

func (b *Bed) ip(role string, args ...string) error {
	_, err := b.IP(role, args...)
	return err
}

// Move re-attaches the mobile's link to the bridge of where: AtHome,
// AtFA1, AtFA2 or AtColocated. The mobile's interface keeps its carrier and
// addresses; only what it hears changes.
func (b *Bed) Move(where string) error {
	br, ok := bridges[where]
	if !ok {
		return fmt.Errorf("testbed: move to %q: want home, fa1, fa2 or colocated", where)
	}
	if err := b.ip(Switch, "link", "set", mnPort, "master", br); err != nil {
		return err
	}
	b.mu.Lock()
	from := b.where
	b.where = where
	b.mu.Unlock()
	b.log.Info("testbed: mobile moved", "from", from, "to", where)
	return nil
}

// SecondInterface reports whether the mobile has its second interface
// (Options.SecondInterface).
func (b *Bed) SecondInterface() bool { return b.opts.SecondInterface }

// SecondInterfaceDown takes the mobile's second interface down (`ip link
// set eth1 down` in its namespace): it keeps its address, but dynmnd no
// longer counts it as up and withdraws the address from its SAs.
func (b *Bed) SecondInterfaceDown() error { return b.setSecond("down") }

// SecondInterfaceUp brings the mobile's second interface up again.
func (b *Bed) SecondInterfaceUp() error { return b.setSecond("up") }

func (b *Bed) setSecond(state string) error {
	if !b.opts.SecondInterface {
		return fmt.Errorf("testbed: the mobile has no second interface (Options.SecondInterface)")
	}
	if err := b.ip(MN, "link", "set", MNSecondIface, state); err != nil {
		return err
	}
	b.log.Info("testbed: mobile's second interface "+state, "iface", MNSecondIface, "addr", SecondAddr)
	return nil
}

// Where returns where the mobile is attached.
func (b *Bed) Where() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.where
}

// Close stops every process the bed started (newest first) and removes
// its namespaces, and with them every link and bridge. It may be called
// more than once.
func (b *Bed) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	procs := slices.Clone(b.procs)
	b.mu.Unlock()
	defer openBeds.remove(b)

	var errs []error
	for i := len(procs) - 1; i >= 0; i-- {
		if err := procs[i].Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	names := b.Namespaces()
	for i := len(names) - 1; i >= 0; i-- {
		name := names[i]
		if out, err := exec.Command("ip", "netns", "pids", name).Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
			errs = append(errs, fmt.Errorf("testbed: namespace %s still holds processes %s not started by the bed",
				name, strings.Join(strings.Fields(string(out)), " ")))
		}
		if err := run(b.log, "ip", "netns", "del", name); err != nil {
			errs = append(errs, err)
			continue
		}
		b.mu.Lock()
		b.made = slices.DeleteFunc(b.made, func(n string) bool { return n == name })
		b.mu.Unlock()
	}
	b.log.Info("testbed: removed", "prefix", b.prefix)
	return errors.Join(errs...)
}

// sweep removes namespaces left by beds whose program no longer runs (a
// test binary killed by its timeout, say). Their processes were sent
// SIGTERM when the program died.
func sweep(log *slog.Logger) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], namePrefix) {
			continue
		}
		pidText, _, ok := strings.Cut(strings.TrimPrefix(f[0], namePrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			continue
		}
		log.Info("testbed: removing namespace left by an earlier run", "ns", f[0], "pid", pid)
		_ = exec.Command("ip", "netns", "del", f[0]).Run()
	}
}

// commandTimeout bounds every one-shot command the bed runs.
const commandTimeout = 20 * time.Second

func run(log *slog.Logger, name string, args ...string) error {
	_, err := output(log, name, args...)
	return err
}

func output(log *slog.Logger, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	log.Debug("testbed: run", "cmd", name+" "+strings.Join(args, " "))
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("testbed: %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}
