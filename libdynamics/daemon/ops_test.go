package daemon

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/memnet"
)

var errStopped = errors.New("test loop stopped")

// TestOps runs operations through a loop, then checks the errors callers
// get when their context ends or the loop has stopped.
func TestOps(t *testing.T) {
	stopped := make(chan struct{})
	ops := NewOps[*int](stopped, errStopped)
	state := 0
	quit := make(chan struct{})
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		defer close(stopped)
		for {
			select {
			case o := <-ops.C():
				o.Call(&state)
				o.Done()
			case <-quit:
				return
			}
		}
	}()
	for i := 0; i < 3; i++ {
		if err := ops.Do(context.Background(), func(s *int) { *s++ }); err != nil {
			t.Fatal(err)
		}
	}
	if err := ops.Do(context.Background(), nil); err != nil {
		t.Fatalf("nil operation: %v", err)
	}
	var seen int
	_ = ops.Do(context.Background(), func(s *int) { seen = *s })
	if seen != 3 {
		t.Fatalf("state after three increments = %d", seen)
	}
	close(quit)
	<-loopDone
	if err := ops.Do(context.Background(), func(*int) {}); !errors.Is(err, errStopped) {
		t.Fatalf("Do after the loop stopped: %v", err)
	}
	// A loop that never takes the operation: the caller's context decides.
	idle := NewOps[*int](make(chan struct{}), errStopped)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := idle.Do(ctx, func(*int) {}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do on an idle loop: %v", err)
	}
}

func TestReadUDP(t *testing.T) {
	n := memnet.New()
	conn, _ := n.Listen("10.1.0.1:434")
	peer, _ := n.Listen("10.0.1.2:434")
	defer peer.Close()
	ctx, cancel := context.WithCancel(context.Background())
	type got struct {
		b   string
		src netip.AddrPort
	}
	ch := make(chan got, 4)
	done := make(chan error, 1)
	go func() {
		done <- ReadUDP(ctx, conn, "test socket", func(b []byte, src netip.AddrPort) bool {
			ch <- got{string(b), src}
			return string(b) != "last"
		}, func() { t.Error("unexpected source") })
	}()
	to := net.UDPAddrFromAddrPort(netip.MustParseAddrPort("10.1.0.1:434"))
	_, _ = peer.WriteTo([]byte("first"), to)
	if g := <-ch; g.b != "first" || g.src != netip.MustParseAddrPort("10.0.1.2:434") {
		t.Fatalf("got %+v", g)
	}
	_, _ = peer.WriteTo([]byte("last"), to)
	<-ch
	if err := <-done; err != nil {
		t.Fatalf("handle returning false: %v", err)
	}
	// A socket closed under a live context is a failure naming the socket.
	go func() {
		done <- ReadUDP(ctx, conn, "test socket", func([]byte, netip.AddrPort) bool { return true }, func() {})
	}()
	_ = conn.Close()
	if err := <-done; err == nil || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("closed socket: %v", err)
	}
	cancel()
}
