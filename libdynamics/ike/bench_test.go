package ike

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/swantest"
)

// BenchmarkSetupLoopback measures IKE SA setups (IKE_SA_INIT and IKE_AUTH
// with the first child SA, then a delete) per second between two engines
// over UDP on loopback, with the default proposal (AES-GCM-16,
// PRF-HMAC-SHA256, Curve25519) and PSK; nothing is installed in a kernel.
// BenchmarkSetupCharon measures the same between two charons in the same
// run.
func BenchmarkSetupLoopback(b *testing.B) {
	listen := func(addr string) Socket {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		return Socket{Conn: c}
	}
	hs := listen("127.0.0.1:0")
	ms := listen("127.0.0.1:0")
	mc, hc := baseConfigs()
	mc.Peers[0].Address = hs.Conn.LocalAddr().(*net.UDPAddr).AddrPort()
	quiet := slog.New(slog.DiscardHandler)
	start := func(cfg Config, s Socket) *Engine {
		e, err := New(Options{Config: cfg, Sockets: []Socket{s}, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = e.Run(ctx); close(done) }()
		b.Cleanup(func() { cancel(); <-done })
		return e
	}
	start(hc, hs)
	mn := start(mc, ms)
	ctx := context.Background()
	b.ResetTimer()
	t0 := time.Now()
	for b.Loop() {
		info, err := mn.Initiate(ctx, "ha")
		if err != nil {
			b.Fatal(err)
		}
		if err := mn.Delete(ctx, info.LocalSPI); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "setups/s")
}

// BenchmarkSetupCharon measures IKE SA setups per second between two
// charons (kernel-libipsec) in namespaces, with the same proposal, each
// initiated and terminated through swanctl (whose process start is part of
// every iteration). It needs root and charon.
func BenchmarkSetupCharon(b *testing.B) {
	swantest.Require(b)
	mnNS, haNS := swantest.Pair(b)
	prop, espProp := "aes128gcm16-prfsha256-x25519", "aes128gcm16"
	swantest.Start(b, haNS, swantest.Options{Swanctl: charonConf("ha", prop, espProp), IKELevel: 1})
	mn := swantest.Start(b, mnNS, swantest.Options{Swanctl: charonConf("mn", prop, espProp), IKELevel: 1})
	b.ResetTimer()
	t0 := time.Now()
	for b.Loop() {
		if err := mn.Initiate("mip"); err != nil {
			b.Fatal(err)
		}
		if out, err := mn.Swanctl("--terminate", "--ike", "mip", "--timeout", "10"); err != nil {
			b.Fatal(fmt.Errorf("terminate: %w\n%s", err, out))
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "setups/s")
}
