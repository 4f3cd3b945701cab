package ha

import (
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/memnet"
	"github.com/dynamics-go/dynamics/libdynamics/binding"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// BenchmarkRenewal decides on renewals of existing bindings (the same
// care-of address) in the agent's loop code, from the parsed request to the
// reply queued for the socket, with the info log of the daemon: the work
// one renewal costs the home agent besides reading and writing the socket.
func BenchmarkRenewal(b *testing.B) {
	const n = 1000
	cfg := testConfig()
	cfg.Authorized, cfg.Security = nil, nil
	cfg.MaxBindings = n
	n4 := memnet.New()
	conn, err := n4.Listen("10.1.0.1:434")
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	peer, err := n4.Listen("10.0.1.2:434")
	if err != nil {
		b.Fatal(err)
	}
	defer peer.Close()
	go func() { // drain the replies
		buf := make([]byte, 2048)
		for {
			if _, _, err := peer.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	sas := make([]mip.SecurityAssociation, n)
	homes := make([]netip.Addr, n)
	for i := range n {
		homes[i] = netip.AddrFrom4([4]byte{10, 1, byte(1 + i/250), byte(1 + i%250)})
		sas[i] = mip.SecurityAssociation{SPI: 256 + uint32(i), Key: []byte{byte(i), byte(i >> 8), 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}}
		cfg.Authorized = append(cfg.Authorized, MobileEntry{Home: homes[i], SPI: sas[i].SPI, Key: sas[i].Key})
	}
	cfg.HomeNetPrefix = netip.MustParsePrefix("10.1.0.0/16")
	clock := binding.NewManualClock(start)
	a, err := New(Options{Config: cfg, Conn: conn, Kernel: kernel.NewFake("eth0"), Clock: clock,
		Logger: slog.New(slog.NewTextHandler(discard{}, nil))})
	if err != nil {
		b.Fatal(err)
	}
	src := netip.MustParseAddrPort("10.0.1.2:434")
	request := func(i int, at time.Time) *mip.Request {
		r := &mip.Request{Lifetime: 600, Home: homes[i], HomeAgent: haAddr, CareOf: fa1Addr, ID: mip.TimestampID(at)}
		if err := r.Authenticate(mip.TypeMobileHome, sas[i]); err != nil {
			b.Fatal(err)
		}
		raw, err := r.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		p, err := mip.ParseRequest(raw)
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	for i := range n {
		a.handleRequest(request(i, start), src)
	}
	// Renewals, a millisecond apart each, prepared ahead.
	reqs := make([]*mip.Request, 4096)
	b.ResetTimer()
	for k := 0; k < b.N; k++ {
		if k%len(reqs) == 0 {
			b.StopTimer()
			for j := range reqs {
				at := start.Add(time.Duration(k+j+1) * time.Millisecond)
				reqs[j] = request((k+j)%n, at)
			}
			clock.Set(start.Add(time.Duration(k+1) * time.Millisecond))
			b.StartTimer()
		}
		a.handleRequest(reqs[k%len(reqs)], src)
	}
	b.StopTimer()
	a.flush()
	if a.stats.Accepted != uint64(n+b.N) {
		b.Fatalf("%d accepted of %d", a.stats.Accepted, n+b.N)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
