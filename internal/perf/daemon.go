package perf

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dynamics-go/dynamics/ha"
	"github.com/dynamics-go/dynamics/libdynamics/api"
	"github.com/dynamics-go/dynamics/libdynamics/daemon"
)

// process is a program the bench tool started in a namespace, with its
// output kept: the last 64 KiB, and how many lines it wrote.
type process struct {
	what string
	cmd  *exec.Cmd
	out  *tailWriter
	done chan struct{}
	err  error
}

// startProcess starts cmd and waits until its output contains ready. The
// output also goes to log when it is not nil.
func startProcess(what string, cmd *exec.Cmd, log io.Writer, ready string, timeout time.Duration) (*process, error) {
	p := &process{what: what, cmd: cmd, out: &tailWriter{max: 64 << 10}, done: make(chan struct{})}
	var w io.Writer = p.out
	if log != nil {
		w = io.MultiWriter(p.out, log)
	}
	cmd.Stdout, cmd.Stderr = w, w
	// The process goes with the tool if the tool dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	deadline := time.After(timeout)
	for !p.out.contains(ready) {
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited before it was ready: %v\n%s", what, p.err, p.out.tail())
		case <-deadline:
			p.stop()
			return nil, fmt.Errorf("%s not ready within %v:\n%s", what, timeout, p.out.tail())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return p, nil
}

// stop sends SIGTERM by PID and waits for the exit, killing the process
// after a minute (a home agent with many bindings takes a while to remove
// its routes).
func (p *process) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop on SIGTERM", p.what)
	}
	var ee *exec.ExitError
	if p.err != nil && !errors.As(p.err, &ee) {
		return fmt.Errorf("%s: %w", p.what, p.err)
	}
	if p.err != nil {
		return fmt.Errorf("%s: %v:\n%s", p.what, p.err, p.out.tail())
	}
	return nil
}

// tailWriter keeps the last max bytes written and counts lines.
type tailWriter struct {
	mu    sync.Mutex
	max   int
	buf   []byte
	lines int
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines += bytes.Count(p, []byte{'\n'})
	w.buf = append(w.buf, p...)
	if len(w.buf) > w.max {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-w.max:]...)
	}
	return len(p), nil
}

func (w *tailWriter) contains(s string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Contains(w.buf, []byte(s))
}

func (w *tailWriter) tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.buf
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

func (w *tailWriter) lineCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lines
}

// DaemonOptions configure the registration measurement of the dynhad
// binary.
type DaemonOptions struct {
	RegistrationOptions
	// DynHAD is the dynhad binary.
	DynHAD string
	// EchoCommand starts the echo baseline as a process: the command and
	// its arguments, to which "-echo-server ADDR -echo-batch N" are added
	// (dynbench does this for itself).
	EchoCommand []string
	// WorkDir receives the configuration, the state file and the control
	// sockets; a temporary directory when empty (removed afterwards).
	WorkDir string
	// TunnelMode is dynhad's TunnelMode (default auto).
	TunnelMode string
	// Debug runs dynhad with --debug; with WorkDir set, its whole log is
	// kept there as dynhad.log.
	Debug bool
	// DeployedMobiles is the fleet of the deployed run (default 200).
	DeployedMobiles int
}

// homeLink makes the home link home0 in ns with the home agent's address:
// one end of a veth pair (Ethernet, so dynhad sends gratuitous ARPs on it)
// or a TUN device (layer 3: proxy ARP entries can be made on it, but no
// ARP sent).
func homeLink(ns *namespace, ethernet bool) error {
	steps := [][]string{{"tuntap", "add", "dev", benchHomeIf, "mode", "tun"}}
	if ethernet {
		steps = [][]string{{"link", "add", benchHomeIf, "type", "veth", "peer", "name", "home1"}, {"link", "set", "home1", "up"}}
	}
	steps = append(steps,
		[]string{"addr", "add", netip.PrefixFrom(benchHA, benchHomeNet.Bits()).String(), "dev", benchHomeIf},
		[]string{"link", "set", benchHomeIf, "up"})
	for _, args := range steps {
		if err := ns.ip(args...); err != nil {
			return err
		}
	}
	return nil
}

// GratuitousARPSpan is how long after a first registration dynhad goes on
// announcing it with gratuitous ARPs.
const GratuitousARPSpan = ha.GratuitousARPs*ha.GratuitousARPInterval + 500*time.Millisecond

// EchoReady is what an echo server process prints when it serves.
const EchoReady = "echo server ready"

// RegistrationDaemon measures a running dynhad, in two runs, each in a
// network namespace of its own with loopback and a home link, dynhad
// started there with a dynhad.conf holding the fleet's AUTHORIZEDLIST (--fg,
// its log read and counted by the tool) and driven from a UDP socket on
// 127.0.0.1 in the same namespace. It needs root.
//
// The main run has Mobiles mobiles, a TUN device as home link (no
// gratuitous ARP can be sent on it) and no StateFile: first the first
// registrations (each a binding with real kernel entries: a route and a
// proxy ARP entry per mobile and a tunnel per care-of address, through
// netlink or the userspace data path, whichever dynhad takes), then
// re-registrations for Duration, in turns (Alternate) with the echo
// baseline: a process of its own on the same address (port EchoPort) with
// the same socket and batching, driven by the same generator.
//
// The deployed run registers DeployedMobiles mobiles once as a default
// configuration does: with the StateFile, on an Ethernet home link (a veth
// pair) on which dynhad announces each first binding with gratuitous ARPs.
func RegistrationDaemon(ctx context.Context, opts DaemonOptions) (figs []Figure, err error) {
	opts.RegistrationOptions = opts.RegistrationOptions.withDefaults()
	if opts.TunnelMode == "" {
		opts.TunnelMode = "auto"
	}
	if opts.DeployedMobiles <= 0 {
		opts.DeployedMobiles = 200
	}
	if _, err := os.Stat(opts.DynHAD); err != nil {
		return nil, fmt.Errorf("dynhad binary: %w (run make build)", err)
	}
	fleet, err := opts.fleet()
	if err != nil {
		return nil, err
	}
	hr, err := startHARun(opts, fleet, "reg", false, false)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, hr.close()) }()

	lo := opts.load(fleet, hr.gen, hr.target)
	lo.Once, lo.Timeout = true, 10*time.Second
	first, err := RunLoad(ctx, lo)
	if err != nil {
		return nil, err
	}
	opts.Log.Info("first registrations, dynhad", "datapath", hr.datapath, "result", first)
	bindings, err := counter(hr.admin, "bindings")
	if err != nil {
		return nil, err
	}
	if first.Accepted != uint64(fleet.Len()) || bindings != uint64(fleet.Len()) {
		return nil, fmt.Errorf("first registrations: dynhad holds %d bindings: %s\n%s", bindings, first, hr.had.out.tail())
	}

	// Let the gratuitous ARPs of the first registrations run out first
	// (on this home link they fail, and each failure is a warning line).
	select {
	case <-time.After(GratuitousARPSpan):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// The echo baseline serves on the same address, port 4340, as a
	// process of its own; the generator takes turns between the two.
	echoAt := netip.AddrPortFrom(benchHA, EchoPort)
	echoProc, err := startEcho(hr.ns, opts, echoAt)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, echoProc.stop()) }()
	elo := opts.load(fleet, hr.gen, echoAt)
	elo.Echo = true
	linesBefore := hr.had.out.lineCount()
	rereg, echo, err := Alternate(ctx, opts.load(fleet, hr.gen, hr.target), elo)
	if err != nil {
		return nil, err
	}
	logLines := hr.had.out.lineCount() - linesBefore
	opts.Log.Info("re-registrations, dynhad", "result", rereg, "log_lines", logLines)
	opts.Log.Info("echo baseline, process", "result", echo)
	if echo.Accepted == 0 {
		return nil, fmt.Errorf("echo baseline: nothing came back: %s", echo)
	}
	accepted, err := counter(hr.admin, "accepted")
	if err != nil {
		return nil, err
	}
	if err := hr.stopDaemon(); err != nil {
		return nil, err
	}
	if accepted != rereg.Accepted+first.Accepted {
		return nil, fmt.Errorf("dynhad counted %d accepted, the generator %d", accepted, rereg.Accepted+first.Accepted)
	}

	dopts := opts
	dopts.Mobiles = opts.DeployedMobiles
	dopts.CareOfs = min(opts.CareOfs, opts.DeployedMobiles)
	dfleet, err := dopts.fleet()
	if err != nil {
		return nil, err
	}
	deployed, err := startHARun(dopts, dfleet, "dep", true, true)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, deployed.close()) }()
	dlo := dopts.load(dfleet, deployed.gen, deployed.target)
	dlo.Once, dlo.Window, dlo.Timeout = true, 16, time.Minute
	dfirst, err := RunLoad(ctx, dlo)
	if err != nil {
		return nil, err
	}
	opts.Log.Info("first registrations, dynhad as deployed", "result", dfirst)
	if dfirst.Accepted == 0 {
		return nil, fmt.Errorf("first registrations as deployed: %s", dfirst)
	}

	perReg := 0.0
	if rereg.Sent > 0 {
		perReg = float64(logLines) / float64(rereg.Sent)
	}
	w := lo.withDefaults()
	return []Figure{
		{Section: SectionRegistration, Key: "registration.first.kernel", Name: "first registrations (dynhad, " + hr.datapath + ")",
			Value: round(first.Rate), Unit: "/s",
			Note: fmt.Sprintf("%d mobiles over %d care-of addresses (tunnels), a route and a proxy ARP entry each; "+
				"no StateFile, a TUN home link (no gratuitous ARP); %s", fleet.Len(), opts.CareOfs, errorNote(first))},
		{Section: SectionRegistration, Key: "registration.first.deployed", Name: "first registrations (dynhad as deployed)",
			Value: round(dfirst.Rate), Unit: "/s",
			Note: fmt.Sprintf("%d mobiles, window %d: with the StateFile and 3 gratuitous ARPs each on a veth home link; %s",
				dfleet.Len(), dlo.Window, errorNote(dfirst))},
		Figure{Section: SectionRegistration, Key: "registration.rereg", Name: "re-registrations (dynhad)",
			Value: round(rereg.Rate), Unit: "/s",
			Note: fmt.Sprintf("%d mobiles, window %d, batch %d, %v; %s; dynhad wrote %.2f log lines per request",
				fleet.Len(), w.Window, w.Batch, opts.Duration, errorNote(rereg), perReg)}.
			WithBaseline("echo", round(echo.Rate)).WithTargets(AtLeast(100000), RatioAtLeast(0.5)),
		Figure{Section: SectionRegistration, Key: "registration.rereg.p50", Name: "  latency p50",
			Value: us(rereg.P50), Unit: "us"}.WithBaseline("echo", us(echo.P50)),
		Figure{Section: SectionRegistration, Key: "registration.rereg.p99", Name: "  latency p99",
			Value: us(rereg.P99), Unit: "us"}.WithBaseline("echo", us(echo.P99)),
	}, nil
}

// haRun is one dynhad in a namespace of its own, with the generator's
// socket there.
type haRun struct {
	opts     DaemonOptions
	ns       *namespace
	dir      string
	rmDir    bool
	admin    string
	had      *process
	logFile  *os.File
	gen      net.PacketConn
	target   netip.AddrPort
	datapath string
}

// startHARun makes the namespace and its home link (Ethernet or TUN),
// writes the configuration (with or without the StateFile), opens the
// generator's socket and starts dynhad. close undoes it all.
func startHARun(opts DaemonOptions, fleet *Fleet, name string, stateFile, ethernet bool) (r *haRun, err error) {
	r = &haRun{opts: opts, dir: opts.WorkDir, target: netip.AddrPortFrom(benchHA, 434), datapath: "unknown"}
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
		r.dir = filepath.Join(r.dir, name)
		if err := os.MkdirAll(r.dir, 0o755); err != nil {
			return r, err
		}
	}
	if r.ns, err = newNamespace(name); err != nil {
		return r, err
	}
	if err := homeLink(r.ns, ethernet); err != nil {
		return r, err
	}
	conf := filepath.Join(r.dir, "dynhad.conf")
	r.admin = filepath.Join(r.dir, "ha.sock")
	if err := writeHAConfig(conf, r.dir, opts, fleet, stateFile); err != nil {
		return r, err
	}
	if err := r.ns.do(func() error {
		var err error
		r.gen, err = listenGenerator()
		return err
	}); err != nil {
		return r, err
	}
	if r.had, r.logFile, err = startDynhad(r.ns, opts, conf, r.dir, !r.rmDir); err != nil {
		return r, err
	}
	if c, err := api.Dial(r.admin); err == nil {
		if st, err := c.GetStatus(5 * time.Second); err == nil {
			r.datapath = st.DataPath
		}
		c.Close()
	}
	return r, nil
}

// stopDaemon stops dynhad (SIGTERM, by its PID) and waits for it.
func (r *haRun) stopDaemon() error {
	if r.had == nil {
		return nil
	}
	had := r.had
	r.had = nil
	return had.stop()
}

// close stops dynhad if it still runs and removes the namespace, the
// socket and the temporary directory.
func (r *haRun) close() error {
	err := r.stopDaemon()
	if r.gen != nil {
		r.gen.Close()
	}
	if r.logFile != nil {
		r.logFile.Close()
	}
	if r.ns != nil {
		err = errors.Join(err, r.ns.Close())
	}
	if r.rmDir {
		os.RemoveAll(r.dir)
	}
	return err
}

// writeHAConfig writes dynhad.conf for the fleet, with a StateFile in dir
// or none ("").
func writeHAConfig(path, dir string, opts DaemonOptions, fleet *Fleet, stateFile bool) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# dynbench: %d simulated mobiles\n", fleet.Len())
	fmt.Fprintf(&b, "HAIPAddress %s\nHomeNetPrefix %s\nHomeInterface %s\n", benchHA, benchHomeNet, benchHomeIf)
	fmt.Fprintf(&b, "AgentAdvInterval 0\nMaxBindings %d\nTunnelMode %s\n", fleet.Len(), opts.TunnelMode)
	state := `""`
	if stateFile {
		state = filepath.Join(dir, "dynhad.state")
	}
	fmt.Fprintf(&b, "StateFile %s\nAdminSocket %s\nMonitorSocket %s\n",
		state, filepath.Join(dir, "ha.sock"), filepath.Join(dir, "ha-monitor.sock"))
	if err := fleet.WriteAuthorizedList(&b); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o600)
}

// listenGenerator opens the generator's socket on 127.0.0.1 with a receive
// buffer large enough for a whole window of replies.
func listenGenerator() (net.PacketConn, error) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	daemon.SetBuffers(c.(*net.UDPConn), ha.SocketBuffer)
	return c, nil
}

// EchoPort is the echo baseline's port, beside the home agent's 434.
const EchoPort = 4340

// startDynhad starts dynhad with the configuration conf in ns and waits
// until it runs; with keep its output goes to dynhad.log in dir (the file
// is returned for the caller to close, also when the start failed).
func startDynhad(ns *namespace, opts DaemonOptions, conf, dir string, keep bool) (*process, *os.File, error) {
	args := []string{"-c", conf, "--fg"}
	if opts.Debug {
		args = append(args, "--debug")
	}
	var log io.Writer
	var logFile *os.File
	if keep {
		f, err := os.Create(filepath.Join(dir, "dynhad.log"))
		if err != nil {
			return nil, nil, err
		}
		log, logFile = f, f
	}
	p, err := startProcess("dynhad", ns.command(opts.DynHAD, args...), log, "home agent running", time.Minute)
	return p, logFile, err
}

// startEcho starts the echo baseline as a process in ns, serving at.
func startEcho(ns *namespace, opts DaemonOptions, at netip.AddrPort) (*process, error) {
	if len(opts.EchoCommand) == 0 {
		return nil, errors.New("no echo server command")
	}
	args := append(append([]string(nil), opts.EchoCommand[1:]...), "-echo-server", at.String(), "-echo-batch", fmt.Sprint(EchoBatch))
	return startProcess("echo server", ns.command(opts.EchoCommand[0], args...), nil, EchoReady, 10*time.Second)
}

// ServeEcho is the echo server process's body: it listens on addr with
// the home agent's socket (ha.ListenUDP), prints EchoReady to w, and
// echoes until ctx ends.
func ServeEcho(ctx context.Context, addr string, batch int, w io.Writer) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return err
	}
	conn, err := ha.ListenUDP(ap)
	if err != nil {
		return err
	}
	defer conn.Close()
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%s on %s, batch %d\n", EchoReady, strings.TrimSpace(conn.LocalAddr().String()), batch)
	if err := bw.Flush(); err != nil {
		return err
	}
	return Echo(ctx, conn, batch)
}
