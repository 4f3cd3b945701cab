package perf

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/ha"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/logging"
)

// The addresses of the registration benchmark: a home network big enough
// for every mobile, and the care-of addresses of the foreign agents they
// are spread over (TEST-NET-2, never routed).
var (
	benchHA      = netip.MustParseAddr("10.1.0.1")
	benchHomeNet = netip.MustParsePrefix("10.1.0.0/16")
	benchHomeIf  = "home0"
)

// benchCareOfs returns n care-of addresses, 198.51.100.1 onwards (at most
// 250).
func benchCareOfs(n int) []netip.Addr {
	n = min(max(n, 1), 250)
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + i)})
	}
	return out
}

// RegistrationOptions configure the registration section.
type RegistrationOptions struct {
	// Mobiles is the fleet's size (default 10000).
	Mobiles int
	// CareOfs is how many foreign agents (care-of addresses, hence
	// tunnels) the mobiles are spread over (default 100).
	CareOfs int
	// Duration is how long each re-registration run lasts (default 10 s).
	Duration time.Duration
	// Window and Batch are the generator's (LoadOptions).
	Window, Batch int
	// Log receives progress lines; nil discards.
	Log *slog.Logger
}

func (o RegistrationOptions) withDefaults() RegistrationOptions {
	if o.Mobiles <= 0 {
		o.Mobiles = 10000
	}
	if o.CareOfs <= 0 {
		o.CareOfs = 100
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

func (o RegistrationOptions) fleet() (*Fleet, error) {
	return NewFleet(FleetOptions{
		Mobiles: o.Mobiles, HomeAgent: benchHA, HomeNet: benchHomeNet,
		CareOfs: benchCareOfs(o.CareOfs), Seed: 1,
	})
}

func (o RegistrationOptions) load(f *Fleet, conn net.PacketConn, target netip.AddrPort) LoadOptions {
	return LoadOptions{Fleet: f, Conn: conn, Target: target, Window: o.Window, Batch: o.Batch, Duration: o.Duration}
}

// RegistrationInProcess measures the home agent as a library, in this
// process, over a real UDP socket on 127.0.0.1 and with kernel.Fake: the
// first registrations (each creating a binding, a tunnel reference, a
// route and a proxy ARP entry in the fake) and then re-registrations for
// Duration, in turns with an echo server on the same kind of socket in the
// same process, the baseline (Alternate). The agent logs as dynhad --fg
// does, into io.Discard. It needs no privileges.
func RegistrationInProcess(ctx context.Context, opts RegistrationOptions) ([]Figure, error) {
	opts = opts.withDefaults()
	fleet, err := opts.fleet()
	if err != nil {
		return nil, err
	}
	cfg := ha.DefaultConfig()
	cfg.HAIPAddress, cfg.HomeNetPrefix, cfg.HomeInterface = benchHA, benchHomeNet, benchHomeIf
	cfg.AgentAdvInterval = 0
	cfg.MaxBindings = fleet.Len()
	cfg.AdminSocket, cfg.MonitorSocket, cfg.StateFile = "", "", ""
	for i := range fleet.Len() {
		sa := fleet.SA(i)
		cfg.Authorized = append(cfg.Authorized, ha.MobileEntry{Home: fleet.Home(i), SPI: sa.SPI, Key: sa.Key})
	}
	log, _, err := logging.New(logging.Options{Daemon: "dynhad", Foreground: true, Writer: io.Discard})
	if err != nil {
		return nil, err
	}
	haConn, err := ha.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		return nil, err
	}
	defer haConn.Close()
	kern := kernel.NewFake(benchHomeIf)
	agent, err := ha.New(ha.Options{Config: cfg, Conn: haConn, Kernel: kern, Logger: log})
	if err != nil {
		return nil, err
	}
	actx, cancel := context.WithCancel(ctx)
	agentDone := make(chan error, 1)
	go func() { agentDone <- agent.Run(actx) }()
	defer func() { cancel(); <-agentDone }()

	gen, err := listenGenerator()
	if err != nil {
		return nil, err
	}
	defer gen.Close()
	target := haConn.LocalAddr().(*net.UDPAddr).AddrPort()

	lo := opts.load(fleet, gen, target)
	lo.Once = true
	first, err := RunLoad(ctx, lo)
	if err != nil {
		return nil, err
	}
	opts.Log.Info("first registrations, in process, kernel.Fake", "result", first)
	st, err := agent.Stats(ctx)
	if err != nil {
		return nil, err
	}
	if first.Accepted == 0 || uint64(st.Bindings) != first.Accepted {
		return nil, fmt.Errorf("first registrations in process: the agent holds %d bindings: %s", st.Bindings, first)
	}

	echoConn, err := ha.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		return nil, err
	}
	defer echoConn.Close()
	echoDone := make(chan error, 1)
	go func() { echoDone <- Echo(actx, echoConn, EchoBatch) }()
	defer func() { cancel(); <-echoDone }()
	elo := opts.load(fleet, gen, echoConn.LocalAddr().(*net.UDPAddr).AddrPort())
	elo.Echo = true
	rereg, echo, err := Alternate(ctx, opts.load(fleet, gen, target), elo)
	if err != nil {
		return nil, err
	}
	opts.Log.Info("re-registrations, in process", "result", rereg)
	opts.Log.Info("echo baseline, in process", "result", echo)
	if rereg.Accepted == 0 || echo.Accepted == 0 {
		return nil, fmt.Errorf("re-registrations in process: %s; echo: %s", rereg, echo)
	}

	note := fmt.Sprintf("%d mobiles over %d care-of addresses, window %d, batch %d",
		fleet.Len(), opts.CareOfs, lo.withDefaults().Window, lo.withDefaults().Batch)
	return []Figure{
		{Section: SectionRegistration, Key: "registration.first.fake", Name: "first registrations (in process, kernel.Fake)",
			Value: round(first.Rate), Unit: "/s", Note: note + "; " + errorNote(first)},
		Figure{Section: SectionRegistration, Key: "registration.rereg.inprocess", Name: "re-registrations (in process, kernel.Fake)",
			Value: round(rereg.Rate), Unit: "/s", Note: errorNote(rereg)}.WithBaseline("echo", round(echo.Rate)),
		Figure{Section: SectionRegistration, Key: "registration.rereg.inprocess.p50", Name: "  latency p50",
			Value: us(rereg.P50), Unit: "us"}.WithBaseline("echo", us(echo.P50)),
		Figure{Section: SectionRegistration, Key: "registration.rereg.inprocess.p99", Name: "  latency p99",
			Value: us(rereg.P99), Unit: "us"}.WithBaseline("echo", us(echo.P99)),
	}, nil
}

// EchoBatch is how many datagrams the echo baseline reads per system call:
// as many as the home agent does (ha.RecvBatch). It writes back what one
// read brought in one system call, as the home agent writes the replies
// it queued while events were waiting.
const EchoBatch = ha.RecvBatch

// errorNote says what went wrong in a run, if anything.
func errorNote(r LoadResult) string {
	if r.Errors == 0 && r.Lost == 0 {
		return fmt.Sprintf("%d replies checked, none wrong or lost", r.Accepted)
	}
	return fmt.Sprintf("%d accepted, %d wrong %v, %d lost", r.Accepted, r.Errors, r.ErrorKinds, r.Lost)
}

func round(v float64) float64 { return float64(int64(v + 0.5)) }

// us is d in microseconds, to 0.1.
func us(d time.Duration) float64 { return float64(d/(100*time.Nanosecond)) / 10 }
