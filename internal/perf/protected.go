package perf

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dynamics-go/dynamics/ha"
	"github.com/dynamics-go/dynamics/libdynamics/api"
	"github.com/dynamics-go/dynamics/libdynamics/daemon"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
)

// SectionProtected measures re-registrations whose signalling travels in
// ESP against the same ones in clear.
const SectionProtected = "protected"

// The protected run's links: the home agent's namespace has a veth to
// each generator's namespace, a /30 each.
var (
	protHAESP   = netip.MustParsePrefix("10.0.9.1/30") // the home agent's end towards the ESP generator
	protGenESP  = netip.MustParsePrefix("10.0.9.2/30") // the ESP generator, listed under IPSEC
	protHAClear = netip.MustParsePrefix("10.0.9.5/30")
	protGenClr  = netip.MustParsePrefix("10.0.9.6/30") // the clear generator, not listed
)

// protSAWait bounds the wait for the ESP generator's SA with the home
// agent.
const protSAWait = 20 * time.Second

// RegistrationProtected measures what signalling protection costs a
// running dynhad. It needs root and /dev/net/tun.
//
// Three network namespaces: dynhad's, as in RegistrationDaemon's main run
// (loopback, a TUN home link, no StateFile) with its configuration listing
// the ESP generator's address under IPSEC (IPsecESP userspace, a pre-shared
// key made for the run); the ESP generator's, on a veth of its own, which
// runs a secure.Guard (userspace ESP, Initiate: the home agent), so that
// its UDP datagrams to port 434 are steered into ESP; and the clear
// generator's, on another veth, not listed, so that its requests reach the
// same dynhad in clear. Every request of the ESP generator requires
// protection (it comes from a configured peer), so none of it is accepted
// unless it came out of ESP.
//
// The mobiles first register once from the clear generator; then both
// re-register the mobiles for Duration in turns (Alternate), with the same
// fleet, window and batch: the value is the ESP rate, the baseline the
// clear one. Every reply is checked as in the other runs, and the run
// fails unless dynhad's discards.unprotected stayed 0, its ipsec.esp_in
// grew by at least the requests it accepted through ESP, the generator's
// ESP path opened at least as many replies, and the generator brought up
// one IKE SA for the whole run.
func RegistrationProtected(ctx context.Context, opts DaemonOptions) (figs []Figure, err error) {
	opts.RegistrationOptions = opts.RegistrationOptions.withDefaults()
	if opts.TunnelMode == "" {
		opts.TunnelMode = "auto"
	}
	if _, err := os.Stat(opts.DynHAD); err != nil {
		return nil, fmt.Errorf("dynhad binary: %w (run make build)", err)
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return nil, fmt.Errorf("userspace ESP needs /dev/net/tun: %w", err)
	}
	fleet, err := opts.fleet()
	if err != nil {
		return nil, err
	}
	pr, err := startProtectedRun(opts, fleet)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, pr.close()) }()

	// The ESP generator's SA with the home agent.
	deadline := time.Now().Add(protSAWait)
	for !pr.guard.Ready(benchHA) {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no SA with dynhad within %v\n%s", protSAWait, pr.had.out.tail())
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}

	target := netip.AddrPortFrom(benchHA, 434)
	lo := opts.load(fleet, pr.clear, target)
	lo.Once, lo.Timeout = true, 10*time.Second
	first, err := RunLoad(ctx, lo)
	if err != nil {
		return nil, err
	}
	opts.Log.Info("first registrations, dynhad, clear", "result", first)
	if first.Accepted != uint64(fleet.Len()) {
		return nil, fmt.Errorf("first registrations: %s\n%s", first, pr.had.out.tail())
	}
	select {
	case <-time.After(GratuitousARPSpan):
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	before, err := counters(pr.admin)
	if err != nil {
		return nil, err
	}
	gBefore := pr.guard.Stats()
	udpBefore, err := pr.udpRcvbufErrors()
	if err != nil {
		return nil, err
	}
	prot, clear, err := Alternate(ctx, opts.load(fleet, pr.esp, target), opts.load(fleet, pr.clear, target))
	if err != nil {
		return nil, err
	}
	opts.Log.Info("re-registrations, dynhad, through ESP", "result", prot)
	opts.Log.Info("re-registrations, dynhad, clear", "result", clear)
	after, err := counters(pr.admin)
	if err != nil {
		return nil, err
	}
	gst := pr.guard.Stats()
	udpAfter, err := pr.udpRcvbufErrors()
	if err != nil {
		return nil, err
	}
	check := protectedCheck{
		Before: before, After: after, First: first, ESP: prot, Clear: clear,
		GenOpened: gst.ESP.PacketsIn - gBefore.ESP.PacketsIn, GenInitiated: gst.IKEInitiated,
	}
	if err := check.verify(); err != nil {
		return nil, err
	}

	w := lo.withDefaults()
	note := fmt.Sprintf("%d mobiles, window %d, batch %d, %v; one dynhad (userspace ESP) alternating between "+
		"a generator listed under IPSEC, in ESP, and one not listed, in clear; %s (clear: %s); "+
		"dynhad: ipsec.esp_in +%d, ipsec.esp_drops +%d, discards.unprotected 0; generator: %d IKE SA, ESP drops +%d; "+
		"UDP receive buffer overflows: dynhad's namespace +%d, the ESP generator's +%d, the clear generator's +%d",
		fleet.Len(), w.Window, w.Batch, opts.Duration, errorNote(prot), errorNote(clear),
		after["ipsec.esp_in"]-before["ipsec.esp_in"], after["ipsec.esp_drops"]-before["ipsec.esp_drops"],
		gst.IKEInitiated, gst.ESPDrops-gBefore.ESPDrops,
		udpAfter[0]-udpBefore[0], udpAfter[1]-udpBefore[1], udpAfter[2]-udpBefore[2])
	return []Figure{
		Figure{Section: SectionProtected, Key: "protected.rereg", Name: "re-registrations through ESP (dynhad, userspace ESP)",
			Value: round(prot.Rate), Unit: "/s", Note: note}.WithBaseline("clear", round(clear.Rate)),
		Figure{Section: SectionProtected, Key: "protected.rereg.p50", Name: "  latency p50",
			Value: us(prot.P50), Unit: "us"}.WithBaseline("clear", us(clear.P50)),
		Figure{Section: SectionProtected, Key: "protected.rereg.p99", Name: "  latency p99",
			Value: us(prot.P99), Unit: "us"}.WithBaseline("clear", us(clear.P99)),
	}, nil
}

// protectedCheck is what a protected run must show for its figure to be
// one through ESP: the home agent's counters before and after the
// alternation, the runs, and the ESP generator's own counts.
type protectedCheck struct {
	Before, After map[string]uint64
	First         LoadResult // the first registrations (clear)
	ESP, Clear    LoadResult
	// GenOpened is how many datagrams the generator's ESP path opened
	// during the alternation; GenInitiated how many IKE SAs it set out to
	// bring up in the whole run.
	GenOpened, GenInitiated uint64
}

// verify returns what the run failed to show, if anything.
func (c protectedCheck) verify() error {
	var errs []error
	for _, name := range []string{"accepted", "discards.unprotected", "ipsec.esp_in"} {
		if _, ok := c.After[name]; !ok {
			errs = append(errs, fmt.Errorf("dynhad reports no counter %q", name))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if c.ESP.Accepted == 0 || c.Clear.Accepted == 0 {
		errs = append(errs, fmt.Errorf("nothing accepted: through ESP %s; clear %s", c.ESP, c.Clear))
	}
	if n := c.After["discards.unprotected"]; n != 0 {
		errs = append(errs, fmt.Errorf("dynhad dropped %d registration messages as unprotected", n))
	}
	if in := c.After["ipsec.esp_in"] - c.Before["ipsec.esp_in"]; in < c.ESP.Accepted {
		errs = append(errs, fmt.Errorf("dynhad opened %d ESP datagrams but accepted %d requests through ESP", in, c.ESP.Accepted))
	}
	if c.GenOpened < c.ESP.Accepted {
		errs = append(errs, fmt.Errorf("the generator's ESP path opened %d datagrams for %d accepted replies", c.GenOpened, c.ESP.Accepted))
	}
	if c.GenInitiated != 1 {
		errs = append(errs, fmt.Errorf("the generator set out to bring up %d IKE SAs, want 1 for the whole run", c.GenInitiated))
	}
	// dynhad accepted every request whose reply was checked, and at most
	// those whose reply was lost or came too late besides.
	got, want := c.After["accepted"]-c.Before["accepted"], c.ESP.Accepted+c.Clear.Accepted
	if slack := c.ESP.Lost + c.ESP.Errors + c.Clear.Lost + c.Clear.Errors; got < want || got > want+slack {
		errs = append(errs, fmt.Errorf("dynhad counted %d re-registrations accepted, the generators %d with %d more lost or wrong", got, want, slack))
	}
	return errors.Join(errs...)
}

// protectedConfig is the part of dynhad.conf that makes peer's
// registrations require ESP: the userspace data path and one IPSEC entry
// with the address as identity.
func protectedConfig(peer netip.Addr, psk string) string {
	return fmt.Sprintf("IPsecESP userspace\nIPsecDevice %s\nIPSEC_BEGIN\n%s - %s\nIPSEC_END\n", protDevice, peer, psk)
}

// protDevice is the userspace ESP device in every namespace of the run.
const protDevice = "dynesp0"

// protectedRun is the protected run's namespaces, dynhad, the generators'
// sockets and the ESP generator's guard.
type protectedRun struct {
	haNS, espNS, clrNS *namespace
	dir                string
	rmDir              bool
	admin              string
	had                *process
	logFile            *os.File
	guard              *secure.Guard
	esp, clear         net.PacketConn
}

// startProtectedRun makes the namespaces and links, writes dynhad.conf with
// the IPSEC entry, starts dynhad, opens the ESP generator's guard and both
// generators' sockets. close undoes it all.
func startProtectedRun(opts DaemonOptions, fleet *Fleet) (r *protectedRun, err error) {
	r = &protectedRun{dir: opts.WorkDir}
	defer func() {
		if err != nil {
			err = errors.Join(err, r.close())
		}
	}()
	if r.dir == "" {
		if r.dir, err = os.MkdirTemp("", "dynbench-"); err != nil {
			return r, err
		}
		r.rmDir = true
	} else {
		r.dir = filepath.Join(r.dir, "protected")
		if err := os.MkdirAll(r.dir, 0o755); err != nil {
			return r, err
		}
	}
	if r.haNS, err = newNamespace("pha"); err != nil {
		return r, err
	}
	if r.espNS, err = newNamespace("pesp"); err != nil {
		return r, err
	}
	if r.clrNS, err = newNamespace("pclr"); err != nil {
		return r, err
	}
	if err := homeLink(r.haNS, false); err != nil {
		return r, err
	}
	for _, l := range []struct {
		ns         *namespace
		dev        string
		haEnd, gen netip.Prefix
	}{{r.espNS, "to-esp", protHAESP, protGenESP}, {r.clrNS, "to-clr", protHAClear, protGenClr}} {
		steps := [][]string{
			{"-n", r.haNS.name, "link", "add", l.dev, "type", "veth", "peer", "name", "eth0", "netns", l.ns.name},
			{"-n", r.haNS.name, "addr", "add", l.haEnd.String(), "dev", l.dev},
			{"-n", r.haNS.name, "link", "set", l.dev, "up"},
			{"-n", l.ns.name, "addr", "add", l.gen.String(), "dev", "eth0"},
			{"-n", l.ns.name, "link", "set", "eth0", "up"},
			{"-n", l.ns.name, "route", "add", benchHomeNet.String(), "via", l.haEnd.Addr().String()},
		}
		for _, args := range steps {
			if err := ipRun(args...); err != nil {
				return r, err
			}
		}
	}

	psk, err := randomPSK()
	if err != nil {
		return r, err
	}
	conf := filepath.Join(r.dir, "dynhad.conf")
	r.admin = filepath.Join(r.dir, "ha.sock")
	if err := writeHAConfig(conf, r.dir, opts, fleet, false); err != nil {
		return r, err
	}
	if err := appendFile(conf, protectedConfig(protGenESP.Addr(), psk)); err != nil {
		return r, err
	}
	if r.had, r.logFile, err = startDynhad(r.haNS, opts, conf, r.dir, !r.rmDir); err != nil {
		return r, err
	}

	glog := opts.Log.With("side", "generator")
	if err := r.espNS.do(func() error {
		var err error
		r.guard, err = secure.Open(secure.Options{
			Config: secure.Config{
				IPsecMOBIKEX: true, IPsecESP: secure.ESPUserspace, IPsecDevice: protDevice,
				Peers: []secure.PeerEntry{{Peer: secure.PeerPrefix(netip.PrefixFrom(benchHA, 32)), ID: "-", PSK: psk, Line: 1}},
			},
			Local:    protGenESP.Addr(),
			Initiate: []netip.Addr{benchHA},
			Logger:   glog,
		})
		if err != nil {
			return fmt.Errorf("the generator's protection: %w", err)
		}
		r.esp, err = listenGeneratorAt(protGenESP.Addr())
		return err
	}); err != nil {
		return r, err
	}
	if err := r.clrNS.do(func() error {
		var err error
		r.clear, err = listenGeneratorAt(protGenClr.Addr())
		return err
	}); err != nil {
		return r, err
	}
	return r, nil
}

// close closes the generators' sockets and guard (its SAs deleted while
// dynhad still answers), stops dynhad and removes the namespaces and the
// temporary directory.
func (r *protectedRun) close() error {
	var err error
	for _, c := range []net.PacketConn{r.esp, r.clear} {
		if c != nil {
			c.Close()
		}
	}
	if r.guard != nil {
		err = errors.Join(err, r.guard.Close())
	}
	if r.had != nil {
		err = errors.Join(err, r.had.stop())
	}
	if r.logFile != nil {
		r.logFile.Close()
	}
	for _, ns := range []*namespace{r.espNS, r.clrNS, r.haNS} {
		if ns != nil {
			err = errors.Join(err, ns.Close())
		}
	}
	if r.rmDir {
		os.RemoveAll(r.dir)
	}
	return err
}

// udpRcvbufErrors returns the UDP datagrams dropped for a full receive
// buffer (/proc/net/snmp's Udp RcvbufErrors) in dynhad's, the ESP
// generator's and the clear generator's namespaces: where a lost request
// or reply went.
func (r *protectedRun) udpRcvbufErrors() ([3]uint64, error) {
	var out [3]uint64
	for i, ns := range []*namespace{r.haNS, r.espNS, r.clrNS} {
		if err := ns.do(func() error {
			b, err := os.ReadFile("/proc/thread-self/net/snmp")
			if err != nil {
				return err
			}
			out[i], err = snmpCounter(string(b), "Udp", "RcvbufErrors")
			return err
		}); err != nil {
			return out, fmt.Errorf("UDP counters: %w", err)
		}
	}
	return out, nil
}

// snmpCounter reads one counter of /proc/net/snmp's text: the line
// "Proto: names..." followed by "Proto: values...".
func snmpCounter(text, proto, name string) (uint64, error) {
	lines := strings.Split(text, "\n")
	for i := 0; i+1 < len(lines); i++ {
		names, ok := strings.CutPrefix(lines[i], proto+": ")
		if !ok {
			continue
		}
		values, ok := strings.CutPrefix(lines[i+1], proto+": ")
		if !ok {
			break
		}
		ns, vs := strings.Fields(names), strings.Fields(values)
		if j := slices.Index(ns, name); j >= 0 && j < len(vs) {
			return strconv.ParseUint(vs[j], 10, 64)
		}
		break
	}
	return 0, fmt.Errorf("no %s counter %s", proto, name)
}

// listenGeneratorAt opens a generator's socket on addr, any port, with the
// buffers of listenGenerator.
func listenGeneratorAt(addr netip.Addr) (net.PacketConn, error) {
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
	if err != nil {
		return nil, err
	}
	daemon.SetBuffers(c, ha.SocketBuffer)
	return c, nil
}

// counters returns an agent's get_status counters by name.
func counters(socket string) (map[string]uint64, error) {
	c, err := api.Dial(socket)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	st, err := c.GetStatus(5 * time.Second)
	if err != nil {
		return nil, err
	}
	m := make(map[string]uint64, len(st.Counters))
	for _, ct := range st.Counters {
		m[ct.Name] = ct.Value
	}
	return m, nil
}

// randomPSK makes a pre-shared key for one run.
func randomPSK() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
