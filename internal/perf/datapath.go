package perf

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/dynamics-go/dynamics/libdynamics/daemon"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

// DataPathOptions configure DataPath.
type DataPathOptions struct {
	// Duration is the length of each timed run; 0 means 3 seconds. iperf3
	// counts in whole seconds, so it rounds up to one.
	Duration time.Duration
	// Streams is how many TCP connections run at once; 0 means 1.
	Streams int
	// Logger receives the set-up steps and each run's figure; nil
	// discards them.
	Logger *slog.Logger
}

// DataPathResult is the data path figure: TCP throughput from a
// correspondent to a mobile's home address through the IP-in-IP tunnel,
// and to the mobile's other address over the same links without it.
type DataPathResult struct {
	// Mode is how the tunnel was made: "userspace" (package ipip's TUN
	// driver) or "netlink" (the kernel's ipip module).
	Mode string
	// TunnelMbps and VethMbps are the medians of the runs, in megabits
	// per second; Ratio is TunnelMbps / VethMbps.
	TunnelMbps, VethMbps, Ratio float64
	// Notes says how the figures were measured: the traffic generator,
	// streams, run length and count, the links and every run's figure.
	Notes string
}

// Data path topology: four namespaces in a line joined by veth pairs of
// MTU 1500, the correspondent (cn), two routers (r1 plays the home agent,
// r2 the foreign agent) and the mobile (mn):
//
//	cn 198.51.100.10 -- 198.51.100.1 r1 10.0.1.1 -- 10.0.1.2 r2 10.2.0.1 -- 10.2.0.10 mn
//	                                 tunnel dynbench r1 <-> r2    home address 10.1.0.10/32
//
// Traffic to the mobile's home address goes from r1 through the tunnel to
// r2, which delivers it on the mobile's link; the mobile's replies go back
// through the tunnel (reverse tunnelling, RFC 3024), as with the T flag.
// Traffic to 10.2.0.10 is routed over the same veths without the tunnel.
var (
	dpCNAddr    = netip.MustParseAddr("198.51.100.10")
	dpR1CNAddr  = netip.MustParseAddr("198.51.100.1")
	dpR1Addr    = netip.MustParseAddr("10.0.1.1")
	dpR2Addr    = netip.MustParseAddr("10.0.1.2")
	dpR2MNAddr  = netip.MustParseAddr("10.2.0.1")
	dpMNAddr    = netip.MustParseAddr("10.2.0.10")
	dpHomeAddr  = netip.MustParseAddr("10.1.0.10")
	dpTransit   = netip.MustParsePrefix("10.2.0.0/24")
	dpTunnel    = "dynbench"
	dpRuleTable = 2001 // the foreign agent's table of its first tunnel
)

const (
	dpDefaultDuration = 3 * time.Second
	dpRounds          = 3 // runs of each path; the median is reported
	dpIperfPort       = 5201
)

// DataPath measures TCP throughput from a correspondent to a mobile through
// an IP-in-IP tunnel between two routers, and over the same routed veths
// without the tunnel, in namespaces it makes and always removes. The routers
// make their tunnel, routes, rule and sysctls through the suite's kernel
// interface, as the agents do (daemon.OpenKernel: the kernel's ipip module if
// it has one, else package ipip's userspace driver). It uses iperf3 when it
// is installed, else a Go sender and receiver in this process. The two paths
// take turns, dpRounds runs each, and the medians are reported. It needs
// root (ErrNotRoot otherwise).
func DataPath(ctx context.Context, opts DataPathOptions) (DataPathResult, error) {
	_, err := exec.LookPath("iperf3")
	return dataPath(ctx, opts, err == nil)
}

// dataPath is DataPath with the traffic generator chosen.
func dataPath(ctx context.Context, opts DataPathOptions, iperf bool) (res DataPathResult, err error) {
	if opts.Duration <= 0 {
		opts.Duration = dpDefaultDuration
	}
	if opts.Streams <= 0 {
		opts.Streams = 1
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if os.Geteuid() != 0 {
		return res, ErrNotRoot
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return res, fmt.Errorf("data path: needs iproute2's ip: %w", err)
	}
	bed, err := dpBuild(log)
	if bed != nil {
		defer func() {
			if cerr := bed.close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("data path: clean up: %w", cerr))
			}
		}()
	}
	if err != nil {
		return res, fmt.Errorf("data path: %w", err)
	}
	res.Mode = bed.mode

	var gen dpGenerator
	if iperf {
		gen, err = bed.startIperf(ctx)
	} else {
		gen, err = bed.startGo()
	}
	if err != nil {
		return res, fmt.Errorf("data path: %w", err)
	}
	defer gen.close()

	var tunnel, veth []float64
	for round := range dpRounds {
		// Alternate which path goes first, so a drift in the machine's
		// load weighs on both alike.
		order := []netip.Addr{dpHomeAddr, dpMNAddr}
		if round%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, dst := range order {
			mbps, err := gen.run(ctx, dst, opts.Duration, opts.Streams)
			if err != nil {
				return res, fmt.Errorf("data path: run to %s: %w", dst, err)
			}
			path := "tunnel"
			if dst == dpHomeAddr {
				tunnel = append(tunnel, mbps)
			} else {
				veth = append(veth, mbps)
				path = "veth"
			}
			log.Info("data path run", "path", path, "round", round+1, "mbps", int(mbps))
		}
	}
	res.TunnelMbps, res.VethMbps = dpMedian(tunnel), dpMedian(veth)
	if res.VethMbps > 0 {
		res.Ratio = res.TunnelMbps / res.VethMbps
	}
	secs := opts.Duration
	if iperf {
		secs = dpIperfDuration(opts.Duration)
	}
	res.Notes = fmt.Sprintf("%s, %d TCP stream(s), %s per run, median of %d runs each, paths alternating; "+
		"cn -> r1 -> r2 -> mn over veths of MTU 1500, tunnel r1 -> r2 (%s) with replies reverse-tunnelled; "+
		"runs in Mbit/s: tunnel %s, veth %s",
		gen.name(), opts.Streams, secs, dpRounds, bed.mode, dpList(tunnel), dpList(veth))
	return res, nil
}

// dpMedian returns the median of v (the mean of the middle two for an even
// count), 0 for none.
func dpMedian(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func dpList(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strings.Join(parts, " ")
}

// dpIperfDuration is the run length iperf3 is given: whole seconds, at
// least one.
func dpIperfDuration(d time.Duration) time.Duration {
	return max(time.Second, (d+time.Second-1)/time.Second*time.Second)
}

// dpBed is the data path topology.
type dpBed struct {
	log     *slog.Logger
	prefix  string
	names   []string // namespaces made, in order
	kernels []kernel.Kernel
	mode    string
}

// dpNamePrefix begins the name of every namespace DataPath makes; the pid
// of the process follows.
const dpNamePrefix = "dyndp"

func (b *dpBed) ns(role string) string { return b.prefix + role }

// dpPrefix begins the names of this process's namespaces.
func dpPrefix() string { return fmt.Sprintf("%s%d-", dpNamePrefix, os.Getpid()) }

// dpBuild makes the namespaces, links, addresses and routes, and the
// routers' tunnel through the kernel interface. On error the returned bed,
// if not nil, holds what was made, for close.
func dpBuild(log *slog.Logger) (*dpBed, error) {
	dpSweep(log)
	b := &dpBed{log: log, prefix: dpPrefix()}
	for _, role := range []string{"cn", "r1", "r2", "mn"} {
		name := b.ns(role)
		_ = exec.Command("ip", "netns", "del", name).Run() // left by an earlier run with this pid
		if err := dpIP("netns", "add", name); err != nil {
			return b, err
		}
		b.names = append(b.names, name)
		if err := dpIP("-n", name, "link", "set", "lo", "up"); err != nil {
			return b, err
		}
	}
	steps := [][]string{
		// Links, made inside the namespaces: nothing touches the host's.
		{"-n", b.ns("cn"), "link", "add", "eth0", "type", "veth", "peer", "name", "to-cn", "netns", b.ns("r1")},
		{"-n", b.ns("r1"), "link", "add", "to-r2", "type", "veth", "peer", "name", "to-r1", "netns", b.ns("r2")},
		{"-n", b.ns("r2"), "link", "add", "to-mn", "type", "veth", "peer", "name", "eth0", "netns", b.ns("mn")},
		{"-n", b.ns("cn"), "addr", "add", dpCNAddr.String() + "/24", "dev", "eth0"},
		{"-n", b.ns("r1"), "addr", "add", dpR1CNAddr.String() + "/24", "dev", "to-cn"},
		{"-n", b.ns("r1"), "addr", "add", dpR1Addr.String() + "/24", "dev", "to-r2"},
		{"-n", b.ns("r2"), "addr", "add", dpR2Addr.String() + "/24", "dev", "to-r1"},
		{"-n", b.ns("r2"), "addr", "add", dpR2MNAddr.String() + "/24", "dev", "to-mn"},
		{"-n", b.ns("mn"), "addr", "add", dpMNAddr.String() + "/24", "dev", "eth0"},
		{"-n", b.ns("mn"), "addr", "add", dpHomeAddr.String() + "/32", "dev", "eth0"},
	}
	for _, role := range []string{"cn", "r1", "r2", "mn"} {
		for _, dev := range dpLinks[role] {
			steps = append(steps, []string{"-n", b.ns(role), "link", "set", dev, "up"})
		}
	}
	steps = append(steps,
		[]string{"-n", b.ns("cn"), "route", "add", "default", "via", dpR1CNAddr.String()},
		[]string{"-n", b.ns("r1"), "route", "add", dpTransit.String(), "via", dpR2Addr.String()},
		[]string{"-n", b.ns("r2"), "route", "add", "default", "via", dpR1Addr.String()},
		[]string{"-n", b.ns("mn"), "route", "add", "default", "via", dpR2MNAddr.String()},
	)
	for _, s := range steps {
		if err := dpIP(s...); err != nil {
			return b, err
		}
	}
	mnMAC, err := b.hwAddr("mn", "eth0")
	if err != nil {
		return b, err
	}
	forwarding := []kernel.Entry{
		kernel.Sysctl{Name: "net/ipv4/ip_forward", Value: "1"},
		kernel.Sysctl{Name: "net/ipv4/conf/all/rp_filter", Value: "0"},
		kernel.Sysctl{Name: "net/ipv4/conf/default/rp_filter", Value: "0"},
	}
	home := netip.PrefixFrom(dpHomeAddr, 32)
	routers := []struct {
		role          string
		local, remote netip.Addr
		entries       []kernel.Entry
	}{
		// r1, as a home agent: the home address into the tunnel.
		{"r1", dpR1Addr, dpR2Addr, []kernel.Entry{kernel.Route{Dst: home, Dev: dpTunnel}}},
		// r2, as a foreign agent: deliver on the mobile's link, and
		// send what the mobile sends from its home address back
		// through the tunnel.
		{"r2", dpR2Addr, dpR1Addr, []kernel.Entry{
			kernel.Neighbor{IP: dpHomeAddr, Dev: "to-mn", HWAddr: mnMAC},
			kernel.Route{Dst: home, Dev: "to-mn"},
			kernel.Route{Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Dev: dpTunnel, Table: dpRuleTable},
			kernel.Rule{Priority: dpRuleTable, Src: home, IIf: "to-mn", Table: dpRuleTable},
		}},
	}
	for _, r := range routers {
		var k kernel.Kernel
		err := dpInNS(b.ns(r.role), func() error {
			var err error
			k, err = daemon.OpenKernel(daemon.KernelOptions{Mode: daemon.TunnelAuto, Logger: log.With("ns", r.role)})
			return err
		})
		if err != nil {
			return b, fmt.Errorf("%s: %w", r.role, err)
		}
		b.kernels = append(b.kernels, k)
		b.mode = k.Name()
		entries := append(slices.Clone(forwarding), kernel.Tunnel{Name: dpTunnel, Local: r.local, Remote: r.remote})
		if err := k.Ensure(append(entries, r.entries...)...); err != nil {
			return b, fmt.Errorf("%s: %w", r.role, err)
		}
	}
	log.Info("data path bed ready", "datapath", b.mode)
	return b, nil
}

// dpLinks are the links of each namespace besides the loopback.
var dpLinks = map[string][]string{
	"cn": {"eth0"},
	"r1": {"to-cn", "to-r2"},
	"r2": {"to-r1", "to-mn"},
	"mn": {"eth0"},
}

// hwAddr returns the hardware address of dev in role's namespace.
func (b *dpBed) hwAddr(role, dev string) (net.HardwareAddr, error) {
	h, err := netns.GetFromName(b.ns(role))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", role, err)
	}
	defer h.Close()
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		return nil, fmt.Errorf("%s: netlink: %w", role, err)
	}
	defer nl.Close()
	link, err := nl.LinkByName(dev)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", role, err)
	}
	return link.Attrs().HardwareAddr, nil
}

// close removes the routers' kernel state (their tunnels first) and the
// namespaces.
func (b *dpBed) close() error {
	var errs []error
	for _, k := range b.kernels {
		if err := k.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, name := range slices.Backward(b.names) {
		if err := dpIP("netns", "del", name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// dpSweep deletes the namespaces of earlier DataPath runs whose process is
// gone (killed before it could clean up).
func dpSweep(log *slog.Logger) {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), dpNamePrefix)
		if !ok {
			continue
		}
		pid, _, ok := strings.Cut(rest, "-")
		n, err := strconv.Atoi(pid)
		if !ok || err != nil || n == os.Getpid() || syscall.Kill(n, 0) != syscall.ESRCH {
			continue
		}
		log.Info("removing a namespace left by an earlier run", "ns", e.Name())
		_ = exec.Command("ip", "netns", "del", e.Name()).Run()
	}
}

// dpIP runs ip with args.
func dpIP(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// dpInNS runs fn on an OS thread inside the named namespace: what fn opens
// (sockets, netlink handles, the TUN devices and raw socket of a userspace
// driver) stays in it. The thread returns to the scheduler only if it could
// be moved back to its own namespace.
func dpInNS(name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		h, err := netns.GetFromName(name)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		ferr := fn()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// dpGenerator sends TCP from cn to an address of mn and measures what
// arrives.
type dpGenerator interface {
	name() string
	// run sends for d over streams connections and returns the
	// throughput in Mbit/s.
	run(ctx context.Context, dst netip.Addr, d time.Duration, streams int) (float64, error)
	close()
}

// dpIperf runs iperf3: a server in mn for the whole measurement, a client
// in cn per run.
type dpIperf struct {
	bed    *dpBed
	server *exec.Cmd
	done   chan struct{}
}

func (b *dpBed) startIperf(ctx context.Context) (*dpIperf, error) {
	cmd := exec.Command("ip", "netns", "exec", b.ns("mn"), "iperf3", "-s", "-p", strconv.Itoa(dpIperfPort), "--forceflush")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start iperf3 server: %w", err)
	}
	g := &dpIperf{bed: b, server: cmd, done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		defer close(g.done)
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening") {
				once.Do(func() { close(ready) })
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case <-ready:
		return g, nil
	case <-g.done:
		return nil, errors.New("iperf3 server exited before listening")
	case <-time.After(10 * time.Second):
		g.close()
		return nil, errors.New("iperf3 server did not start listening within 10s")
	case <-ctx.Done():
		g.close()
		return nil, ctx.Err()
	}
}

func (g *dpIperf) name() string { return "iperf3" }

func (g *dpIperf) run(ctx context.Context, dst netip.Addr, d time.Duration, streams int) (float64, error) {
	secs := int(dpIperfDuration(d) / time.Second)
	ctx, cancel := context.WithTimeout(ctx, time.Duration(secs+20)*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", g.bed.ns("cn"), "iperf3", "-c", dst.String(),
		"-p", strconv.Itoa(dpIperfPort), "-t", strconv.Itoa(secs), "-P", strconv.Itoa(streams), "-J")
	out, err := cmd.Output()
	var r struct {
		Error string `json:"error"`
		End   struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if jerr := json.Unmarshal(out, &r); jerr != nil || r.Error != "" || err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("iperf3 client: %v %s %s", err, r.Error, dpTail(out))
	}
	return r.End.SumReceived.BitsPerSecond / 1e6, nil
}

// close ends the server by its PID and waits for it.
func (g *dpIperf) close() {
	_ = g.server.Process.Signal(os.Interrupt)
	select {
	case <-g.done:
	case <-time.After(3 * time.Second):
		_ = g.server.Process.Kill()
		<-g.done
	}
}

func dpTail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = "..." + s[len(s)-300:]
	}
	return s
}

// dpGo is the Go sender and receiver, for machines without iperf3: a
// listener in mn, connections from cn, both in this process.
type dpGo struct {
	bed *dpBed
	lns map[netip.Addr]net.Listener
}

func (b *dpBed) startGo() (*dpGo, error) {
	g := &dpGo{bed: b, lns: map[netip.Addr]net.Listener{}}
	for _, a := range []netip.Addr{dpHomeAddr, dpMNAddr} {
		err := dpInNS(b.ns("mn"), func() error {
			ln, err := net.Listen("tcp4", netip.AddrPortFrom(a, 0).String())
			g.lns[a] = ln
			return err
		})
		if err != nil {
			g.close()
			return nil, fmt.Errorf("listen on %s: %w", a, err)
		}
	}
	return g, nil
}

func (g *dpGo) name() string { return "Go TCP sender and receiver" }

func (g *dpGo) close() {
	for _, ln := range g.lns {
		if ln != nil {
			ln.Close()
		}
	}
}

// run connects streams times, sends from every connection for d, and
// counts what the receiving ends read in that time.
func (g *dpGo) run(ctx context.Context, dst netip.Addr, d time.Duration, streams int) (float64, error) {
	ln := g.lns[dst]
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	accepted := make(chan net.Conn, streams)
	acceptErr := make(chan error, 1)
	go func() {
		for range streams {
			c, err := ln.Accept()
			if err != nil {
				acceptErr <- err
				return
			}
			accepted <- c
		}
	}()
	for range streams {
		var c net.Conn
		err := dpInNS(g.bed.ns("cn"), func() error {
			var err error
			c, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp4", netip.AddrPortFrom(dst, uint16(ln.Addr().(*net.TCPAddr).Port)).String())
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("connect: %w", err)
		}
		conns = append(conns, c)
	}
	var recvs []net.Conn
	for range streams {
		select {
		case c := <-accepted:
			recvs = append(recvs, c)
			conns = append(conns, c)
		case err := <-acceptErr:
			return 0, fmt.Errorf("accept: %w", err)
		case <-time.After(5 * time.Second):
			return 0, errors.New("accept: timed out")
		}
	}
	var received atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	stop := context.AfterFunc(ctx, func() {
		for _, c := range conns {
			c.SetDeadline(time.Now())
		}
	})
	defer stop()
	for i := range streams {
		wg.Add(2)
		go func(c net.Conn) { // sender
			defer wg.Done()
			buf := make([]byte, 128<<10)
			c.SetWriteDeadline(end)
			for ctx.Err() == nil {
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		}(conns[i])
		go func(c net.Conn) { // receiver
			defer wg.Done()
			buf := make([]byte, 128<<10)
			c.SetReadDeadline(end)
			for {
				n, err := c.Read(buf)
				received.Add(int64(n))
				if err != nil {
					return
				}
			}
		}(recvs[i])
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if received.Load() == 0 {
		return 0, fmt.Errorf("nothing arrived at %s in %s", dst, d)
	}
	return float64(received.Load()) * 8 / end.Sub(start).Seconds() / 1e6, nil
}
