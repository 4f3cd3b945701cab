package ha

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// TestUDPBatches runs the agent over a real UDP socket on 127.0.0.1, where
// it reads datagrams in batches (recvmmsg) and writes its replies in
// batches (sendmmsg): a burst of registrations from many mobiles, more
// than a batch either way, is answered whole, each reply authenticated
// for its own mobile and carrying its request's identification; a
// renewal burst follows, and then a datagram too large for a batch buffer
// of any smaller size (a request padded with a skippable extension of
// 60000 bytes' worth) is still read whole and answered.
func TestUDPBatches(t *testing.T) {
	const n = 3*sendBatch + 7
	cfg := testConfig()
	cfg.Authorized, cfg.Security = nil, nil
	cfg.AgentAdvInterval = 0
	cfg.MaxBindings = n
	homes := make([]netip.Addr, n)
	sas := make([]mip.SecurityAssociation, n)
	for i := range n {
		homes[i] = netip.AddrFrom4([4]byte{10, 1, 0, byte(20 + i)})
		sas[i] = mip.SecurityAssociation{SPI: 5000 + uint32(i), Alg: mip.HMACMD5, Key: []byte{byte(i), 1, 2, 3, 4, 5, 6, 7}}
		cfg.Authorized = append(cfg.Authorized, MobileEntry{Home: homes[i], SPI: sas[i].SPI, Key: sas[i].Key})
	}
	conn, err := ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	agent, err := New(Options{Config: cfg, Conn: conn, Kernel: kernel.NewFake("eth0"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	client, err := ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	dst := conn.LocalAddr()

	burst := func(pad int) {
		t.Helper()
		ids := make(map[netip.Addr]uint64, n)
		now := time.Now()
		for i := range n {
			id := mip.TimestampID(now.Add(time.Duration(i)))
			r := &mip.Request{Lifetime: 600, Home: homes[i], HomeAgent: haAddr, CareOf: fa1Addr, ID: id}
			if pad > 0 && i == n-1 {
				for left := pad; left > 0; left -= 255 {
					r.Extensions = append(r.Extensions, &mip.RawExtension{Type: 200, Data: make([]byte, min(left, 255))})
				}
			}
			if err := r.Authenticate(mip.TypeMobileHome, sas[i]); err != nil {
				t.Fatal(err)
			}
			b, err := r.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := client.WriteTo(b, dst); err != nil {
				t.Fatal(err)
			}
			ids[homes[i]] = id
		}
		buf := make([]byte, 1<<16)
		_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
		for range n {
			k, _, err := client.ReadFrom(buf)
			if err != nil {
				t.Fatalf("%d replies missing: %v", len(ids), err)
			}
			rep, err := mip.ParseReply(buf[:k])
			if err != nil {
				t.Fatal(err)
			}
			id, ok := ids[rep.Home]
			if !ok {
				t.Fatalf("reply for %v, which has none outstanding", rep.Home)
			}
			delete(ids, rep.Home)
			i := int(rep.Home.As4()[3]) - 20
			if err := mip.VerifyReply(buf[:k], mip.TypeMobileHome, sas[i]); err != nil {
				t.Errorf("reply for %v: %v", rep.Home, err)
			}
			if rep.Code != mip.CodeAccepted || rep.ID != id {
				t.Errorf("reply for %v: code %v, id %x; want accepted, %x", rep.Home, rep.Code, rep.ID, id)
			}
		}
	}
	burst(0)
	burst(0)
	burst(60000)
	st, err := agent.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Replies != 3*n || st.Accepted != 3*n || st.Bindings != n {
		t.Errorf("stats: %d replies, %d accepted, %d bindings; want %d, %d, %d", st.Replies, st.Accepted, st.Bindings, 3*n, 3*n, n)
	}
}
