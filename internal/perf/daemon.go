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

	"github.com/dynamics-go/dynamics/libdynamics/api"
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

// startProcess starts cmd and waits until its output contains ready.
func startProcess(what string, cmd *exec.Cmd, ready string, timeout time.Duration) (*process, error) {
	p := &process{what: what, cmd: cmd, out: &tailWriter{max: 64 << 10}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
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
}

// EchoReady is what an echo server process prints when it serves.
const EchoReady = "echo server ready"

// RegistrationDaemon measures a running dynhad: it makes a network
// namespace with a home link (a veth pair) and loopback, writes a
// dynhad.conf with the fleet's AUTHORIZEDLIST, starts dynhad in the
// namespace (--fg, its log read and counted by the tool), and drives it
// from a UDP socket on 127.0.0.1 in the same namespace: first the first
// registrations (each a binding with real kernel entries: a route and a
// proxy ARP entry per mobile and a tunnel per care-of address, through
// netlink or the userspace data path, whichever dynhad takes), then
// re-registrations for Duration. dynhad is stopped, and the echo baseline
// is run on the same address and port, as a process of its own, with the
// same generator. It needs root.
func RegistrationDaemon(ctx context.Context, opts DaemonOptions) (figs []Figure, err error) {
	opts.RegistrationOptions = opts.RegistrationOptions.withDefaults()
	if opts.TunnelMode == "" {
		opts.TunnelMode = "auto"
	}
	if _, err := os.Stat(opts.DynHAD); err != nil {
		return nil, fmt.Errorf("dynhad binary: %w (run make build)", err)
	}
	fleet, err := opts.fleet()
	if err != nil {
		return nil, err
	}
	dir := opts.WorkDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "dynbench-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	}
	ns, err := newNamespace("reg")
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, ns.Close()) }()
	if err := ns.ip("link", "add", "home0", "type", "veth", "peer", "name", "home1"); err != nil {
		return nil, err
	}
	for _, args := range [][]string{
		{"addr", "add", netip.PrefixFrom(benchHA, benchHomeNet.Bits()).String(), "dev", "home0"},
		{"link", "set", "home0", "up"}, {"link", "set", "home1", "up"},
	} {
		if err := ns.ip(args...); err != nil {
			return nil, err
		}
	}
	conf := filepath.Join(dir, "dynhad.conf")
	admin := filepath.Join(dir, "ha.sock")
	if err := writeHAConfig(conf, dir, opts, fleet); err != nil {
		return nil, err
	}
	var gen net.PacketConn
	if err := ns.do(func() error {
		var err error
		gen, err = listenGenerator()
		return err
	}); err != nil {
		return nil, err
	}
	defer gen.Close()
	target := netip.AddrPortFrom(benchHA, 434)

	ha, err := startProcess("dynhad", ns.command(opts.DynHAD, "-c", conf, "--fg"), "home agent running", 60*time.Second)
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			err = errors.Join(err, ha.stop())
		}
	}()
	datapath := "unknown"
	if c, err := api.Dial(admin); err == nil {
		if st, err := c.GetStatus(5 * time.Second); err == nil {
			datapath = st.DataPath
		}
		c.Close()
	}

	lo := opts.load(fleet, gen, target)
	lo.Once = true
	first, err := RunLoad(ctx, lo)
	if err != nil {
		return nil, err
	}
	opts.Log.Info("first registrations, dynhad", "datapath", datapath, "result", first)
	bindings, err := haCounter(admin, "bindings")
	if err != nil {
		return nil, err
	}
	if first.Accepted != uint64(fleet.Len()) || bindings != uint64(fleet.Len()) {
		return nil, fmt.Errorf("first registrations: dynhad holds %d bindings: %s\n%s", bindings, first, ha.out.tail())
	}

	linesBefore := ha.out.lineCount()
	rereg, err := RunLoad(ctx, opts.load(fleet, gen, target))
	if err != nil {
		return nil, err
	}
	logLines := ha.out.lineCount() - linesBefore
	opts.Log.Info("re-registrations, dynhad", "result", rereg, "log_lines", logLines)
	accepted, err := haCounter(admin, "accepted")
	if err != nil {
		return nil, err
	}
	stopped = true
	if err := ha.stop(); err != nil {
		return nil, err
	}
	if accepted < rereg.Accepted+first.Accepted {
		return nil, fmt.Errorf("dynhad counted %d accepted, the generator %d", accepted, rereg.Accepted+first.Accepted)
	}

	echo, err := echoProcess(ctx, ns, opts, fleet, gen, target)
	if err != nil {
		return nil, err
	}
	opts.Log.Info("echo baseline, process", "result", echo)

	perReg := 0.0
	if rereg.Sent > 0 {
		perReg = float64(logLines) / float64(rereg.Sent)
	}
	w := lo.withDefaults()
	return []Figure{
		{Section: SectionRegistration, Key: "registration.first.kernel", Name: "first registrations (dynhad, " + datapath + ")",
			Value: round(first.Rate), Unit: "/s",
			Note: fmt.Sprintf("%d mobiles over %d care-of addresses (tunnels); a route and a proxy ARP entry each; %s",
				fleet.Len(), opts.CareOfs, errorNote(first))},
		Figure{Section: SectionRegistration, Key: "registration.rereg", Name: "re-registrations (dynhad)",
			Value: round(rereg.Rate), Unit: "/s",
			Note: fmt.Sprintf("%d mobiles, window %d, batch %d, %v; %s; dynhad wrote %.2f log lines per request at info",
				fleet.Len(), w.Window, w.Batch, opts.Duration, errorNote(rereg), perReg)}.
			WithBaseline("echo", round(echo.Rate)).WithTargets(AtLeast(100000), RatioAtLeast(0.5)),
		Figure{Section: SectionRegistration, Key: "registration.rereg.p50", Name: "  latency p50",
			Value: us(rereg.P50), Unit: "us"}.WithBaseline("echo", us(echo.P50)),
		Figure{Section: SectionRegistration, Key: "registration.rereg.p99", Name: "  latency p99",
			Value: us(rereg.P99), Unit: "us"}.WithBaseline("echo", us(echo.P99)),
	}, nil
}

// writeHAConfig writes dynhad.conf for the fleet.
func writeHAConfig(path, dir string, opts DaemonOptions, fleet *Fleet) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# dynbench: %d simulated mobiles\n", fleet.Len())
	fmt.Fprintf(&b, "HAIPAddress %s\nHomeNetPrefix %s\nHomeInterface %s\n", benchHA, benchHomeNet, benchHomeIf)
	fmt.Fprintf(&b, "AgentAdvInterval 0\nMaxBindings %d\nTunnelMode %s\n", fleet.Len(), opts.TunnelMode)
	fmt.Fprintf(&b, "StateFile %s\nAdminSocket %s\nMonitorSocket %s\n",
		filepath.Join(dir, "dynhad.state"), filepath.Join(dir, "ha.sock"), filepath.Join(dir, "ha-monitor.sock"))
	if err := fleet.WriteAuthorizedList(&b); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o600)
}

// haCounter reads one counter of dynhad's get_status.
func haCounter(admin, name string) (uint64, error) {
	c, err := api.Dial(admin)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	st, err := c.GetStatus(10 * time.Second)
	if err != nil {
		return 0, err
	}
	for _, ct := range st.Counters {
		if ct.Name == name {
			return ct.Value, nil
		}
	}
	return 0, fmt.Errorf("dynhad reports no counter %q", name)
}

// listenGenerator opens the generator's socket on 127.0.0.1 with a receive
// buffer large enough for a whole window of replies.
func listenGenerator() (net.PacketConn, error) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	forceBuffers(c.(*net.UDPConn), 4<<20)
	return c, nil
}

// forceBuffers sets the socket's buffers to n bytes, beyond the sysctl
// limits where the process may (root); otherwise as far as they allow.
func forceBuffers(c *net.UDPConn, n int) {
	_ = c.SetReadBuffer(n)
	_ = c.SetWriteBuffer(n)
	if raw, err := c.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, n)
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUFFORCE, n)
		})
	}
}

// echoProcess runs the echo baseline as a process in ns on target.
func echoProcess(ctx context.Context, ns *namespace, opts DaemonOptions, fleet *Fleet, gen net.PacketConn, target netip.AddrPort) (LoadResult, error) {
	if len(opts.EchoCommand) == 0 {
		return LoadResult{}, errors.New("no echo server command")
	}
	args := append(append([]string(nil), opts.EchoCommand[1:]...), "-echo-server", target.String(), "-echo-batch", fmt.Sprint(EchoBatch))
	p, err := startProcess("echo server", ns.command(opts.EchoCommand[0], args...), EchoReady, 10*time.Second)
	if err != nil {
		return LoadResult{}, err
	}
	lo := opts.load(fleet, gen, target)
	lo.Echo = true
	res, err := RunLoad(ctx, lo)
	err = errors.Join(err, p.stop())
	if err == nil && res.Accepted == 0 {
		err = fmt.Errorf("echo baseline: nothing came back: %s", res)
	}
	return res, err
}

// ServeEcho is the echo server process's body: it listens on addr, prints
// EchoReady to w, and echoes until ctx ends.
func ServeEcho(ctx context.Context, addr string, batch int, w io.Writer) error {
	conn, err := net.ListenPacket("udp4", addr)
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
