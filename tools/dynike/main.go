// Command dynike brings up an IKEv2 SA and a child SA with one peer from a
// small configuration file and sends and receives UDP through it, for
// operators checking a peer (strongSwan, another dynike, the suite's
// agents).
//
//	dynike -c FILE                              bring the SAs up (or wait for the peer) and keep them until interrupted
//	dynike -c FILE -send 10.2.0.1:7000 [-count N] [-message TEXT]
//	                                            bring them up, send UDP through the child SA, wait for the echoes
//	dynike -c FILE -echo 7000                   answer UDP datagrams to port 7000 of the local selector's address
//
// The file uses the Dynamics format (docs/IPSEC.md lists the labels).
// ESP goes through the kernel (XFRM) where it has ESP, otherwise through the
// userspace data path (a TUN device): both need root. -keylog FILE writes
// each IKE SA's keys in Wireshark's ikev2_decryption_table format.
//
// Exit status: 0 success, 1 failure (no SA, no echo), 2 usage or
// configuration error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/ike"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command line.
type options struct {
	config  string
	send    string
	echo    int
	count   int
	message string
	timeout time.Duration
	keylog  string
	debug   bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("dynike", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "c", "/etc/dynamics/dynike.conf", "configuration `file`")
	fs.StringVar(&o.send, "send", "", "send UDP datagrams through the child SA to `ADDR:PORT` and wait for their echoes")
	fs.IntVar(&o.echo, "echo", 0, "echo UDP datagrams arriving at `PORT` of the local selector's address")
	fs.IntVar(&o.count, "count", 3, "datagrams to send with -send")
	fs.StringVar(&o.message, "message", "dynike", "datagram text for -send")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "how long to wait for the SAs and each echo")
	fs.StringVar(&o.keylog, "keylog", "", "append IKE keys for Wireshark to `FILE`")
	fs.BoolVar(&o.debug, "debug", false, "log every IKE message")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dynike -c FILE [-send ADDR:PORT [-count N] [-message TEXT]] [-echo PORT] [-timeout D] [-keylog FILE] [-debug]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.echo < 0 || o.echo > 65535 || o.count < 1 {
		return o, errors.New("-echo takes a port and -count a positive number")
	}
	return o, nil
}

// run carries out one command line and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintln(stderr, "dynike:", err)
		return exitUsage
	}
	var sendTo netip.AddrPort
	if o.send != "" {
		if sendTo, err = netip.ParseAddrPort(o.send); err != nil {
			fmt.Fprintf(stderr, "dynike: -send %q: %v\n", o.send, err)
			return exitUsage
		}
	}
	cfg, err := loadConfig(o.config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	var keylog io.Writer
	if o.keylog != "" {
		f, err := os.OpenFile(o.keylog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			fmt.Fprintln(stderr, "dynike:", err)
			return exitUsage
		}
		defer f.Close()
		keylog = f
	}
	dp, err := openDatapath(cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "dynike:", err)
		return exitFail
	}
	defer dp.close()
	e, err := ike.New(ike.Options{Config: cfg.ike, Sockets: dp.sockets, ESP: dp.kernel, Logger: log, KeyLog: keylog})
	if err != nil {
		fmt.Fprintln(stderr, "dynike:", err)
		return exitUsage
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.Run(runCtx) }()
	code := session(ctx, e, cfg, o, sendTo, stdout, stderr)
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(stderr, "dynike:", err)
		return exitFail
	}
	return code
}

// session brings the SAs up and does what the flags ask.
func session(ctx context.Context, e *ike.Engine, cfg *toolConfig, o options, sendTo netip.AddrPort, stdout, stderr io.Writer) int {
	var sa ike.SAInfo
	if cfg.initiator {
		upCtx, cancel := context.WithTimeout(ctx, o.timeout)
		info, err := e.Initiate(upCtx, "peer")
		cancel()
		if err != nil {
			fmt.Fprintln(stderr, "dynike: bringing up the SAs:", err)
			return exitFail
		}
		sa = info
	} else {
		fmt.Fprintf(stdout, "waiting for the peer on %s\n", cfg.local)
		info, err := waitSA(ctx, e, o.timeout, o.send != "")
		if err != nil {
			fmt.Fprintln(stderr, "dynike:", err)
			return exitFail
		}
		sa = info
	}
	printSA(stdout, sa)
	inner := cfg.localTS[0].Start
	if o.echo != 0 {
		stopEcho, err := echo(ctx, netip.AddrPortFrom(inner, uint16(o.echo)), stdout)
		if err != nil {
			fmt.Fprintln(stderr, "dynike:", err)
			return exitFail
		}
		defer stopEcho()
	}
	if sendTo.IsValid() {
		if err := send(ctx, inner, sendTo, o, stdout); err != nil {
			fmt.Fprintln(stderr, "dynike:", err)
			return exitFail
		}
		return exitOK
	}
	<-ctx.Done()
	if l, err := e.SAs(context.Background()); err == nil {
		for _, s := range l {
			printSA(stdout, s)
		}
	}
	return exitOK
}

// waitSA waits for an established IKE SA with a child SA (responder). With
// bounded, it gives up after timeout.
func waitSA(ctx context.Context, e *ike.Engine, timeout time.Duration, bounded bool) (ike.SAInfo, error) {
	var deadline <-chan time.Time
	if bounded {
		deadline = time.After(timeout)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		l, err := e.SAs(ctx)
		if err != nil {
			return ike.SAInfo{}, err
		}
		for _, s := range l {
			if s.State == ike.StateEstablished && len(s.Children) > 0 {
				return s, nil
			}
		}
		select {
		case <-ctx.Done():
			return ike.SAInfo{}, ctx.Err()
		case <-deadline:
			return ike.SAInfo{}, fmt.Errorf("no peer brought up an SA within %v", timeout)
		case <-tick.C:
		}
	}
}

// printSA prints an IKE SA and its children the way `swanctl --list-sas`
// does, roughly.
func printSA(w io.Writer, s ike.SAInfo) {
	fmt.Fprintf(w, "IKE SA %s_i %s_r %s, %s === %s, %s", s.SPIi, s.SPIr, s.State, s.Local, s.Remote, s.Proposal)
	if s.Encap {
		fmt.Fprint(w, ", UDP-encapsulated")
	}
	if s.MOBIKE {
		fmt.Fprint(w, ", MOBIKE")
	}
	fmt.Fprintln(w)
	for _, c := range s.Children {
		fmt.Fprintf(w, "  child SA %08x_i %08x_o %s %s, %v === %v\n", c.InSPI, c.OutSPI, c.Mode, c.Proposal, c.LocalTS, c.RemoteTS)
	}
}

// echo answers UDP datagrams to at with their own content.
func echo(ctx context.Context, at netip.AddrPort, stdout io.Writer) (func(), error) {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(at))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "echoing UDP on %s\n", at)
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			fmt.Fprintf(stdout, "echo %d bytes to %s\n", n, from)
			_, _ = conn.WriteToUDP(buf[:n], from)
		}
	}()
	return func() { conn.Close() }, nil
}

// send sends o.count datagrams from the inner address to to and waits for
// each echo.
func send(ctx context.Context, from netip.Addr, to netip.AddrPort, o options, stdout io.Writer) error {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(from, 0)))
	if err != nil {
		return err
	}
	defer conn.Close()
	buf := make([]byte, 65536)
	for i := 1; i <= o.count; i++ {
		msg := fmt.Sprintf("%s %d", o.message, i)
		deadline := time.Now().Add(o.timeout)
		got := false
		// Resend each second: the first datagrams may precede the
		// routes of a just-installed policy.
		for !got && time.Now().Before(deadline) && ctx.Err() == nil {
			if _, err := conn.WriteToUDP([]byte(msg), net.UDPAddrFromAddrPort(to)); err != nil {
				return err
			}
			_ = conn.SetReadDeadline(time.Now().Add(time.Second))
			n, peer, err := conn.ReadFromUDP(buf)
			if err != nil {
				continue
			}
			if string(buf[:n]) == msg {
				fmt.Fprintf(stdout, "reply from %s: %q\n", peer, buf[:n])
				got = true
			}
		}
		if !got {
			return fmt.Errorf("no echo of %q from %s within %v", msg, to, o.timeout)
		}
	}
	return nil
}
