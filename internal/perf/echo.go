package perf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/net/ipv4"
)

// Echo is the baseline of the registration figures: a UDP server that
// sends every datagram back to its source unchanged and does nothing else.
// It reads and writes batch datagrams per system call (recvmmsg, sendmmsg)
// when conn is a *net.UDPConn and batch > 1, as the home agent does, so the
// two differ only in what they do with a datagram. It serves until ctx
// ends.
func Echo(ctx context.Context, conn net.PacketConn, batch int) error {
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	fail := func(err error) error {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("echo: %w", err)
	}
	if _, ok := conn.(*net.UDPConn); !ok || batch <= 1 {
		buf := make([]byte, 1<<16)
		for {
			n, src, err := conn.ReadFrom(buf)
			if err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
					continue
				}
				return fail(err)
			}
			if _, err := conn.WriteTo(buf[:n], src); err != nil {
				return fail(err)
			}
		}
	}
	pc := ipv4.NewPacketConn(conn)
	msgs := make([]ipv4.Message, batch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 2048)}
	}
	out := make([]ipv4.Message, batch)
	for {
		n, err := pc.ReadBatch(msgs, 0)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
				continue
			}
			return fail(err)
		}
		for i, m := range msgs[:n] {
			out[i] = ipv4.Message{Buffers: [][]byte{m.Buffers[0][:m.N]}, Addr: m.Addr}
		}
		for sent := 0; sent < n; {
			k, err := pc.WriteBatch(out[sent:n], 0)
			if err != nil {
				return fail(err)
			}
			sent += k
		}
	}
}
