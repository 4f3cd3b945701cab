package ipip

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"sync/atomic"
	"time"
)

const (
	// batchSize is the most datagrams one read or send call moves.
	batchSize = 64
	// minReadBuffer is the smallest inner datagram buffer, so a device
	// whose MTU was raised behind the driver's back still yields whole
	// Ethernet-sized datagrams.
	minReadBuffer = 1500
	// errorLogInterval spaces out repeated data path error logs.
	errorLogInterval = 5 * time.Second
)

// transmit is tn's goroutine: it reads inner datagrams from the device,
// encapsulates them in place and sends them to the tunnel's remote end.
func (d *Driver) transmit(tn *tunnel) {
	defer close(tn.done)
	var (
		bufs  = make([][]byte, batchSize) // HeaderLen bytes of room, then the inner datagram
		reads = make([][]byte, batchSize) // the inner part of each buffer
		sizes = make([]int, batchSize)
		out   = make([][]byte, 0, batchSize)
		size  int
		rare  oversizeScratch
		tally Stats
	)
	for {
		if want := max(tn.cfg.Load().mtu, minReadBuffer); want > size {
			size = want
			for i := range bufs {
				bufs[i] = make([]byte, HeaderLen+size)
				reads[i] = bufs[i][HeaderLen:]
			}
		}
		n, err := tn.dev.ReadBatch(reads, sizes)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				d.log.Error("TUN device read failed, tunnel stops sending until it is added again", "iface", tn.name, "err", err)
			}
			return
		}
		cfg := tn.cfg.Load()
		local, remote := cfg.local.As4(), cfg.remote.As4()
		out = out[:0]
		for i := range n {
			p := reads[i][:sizes[i]]
			if len(p) == 0 || p[0]>>4 != 4 {
				tally.Drops.NotIPv4++
				continue
			}
			if len(p) < HeaderLen {
				tally.Drops.Malformed++
				continue
			}
			hdrLen := int(p[0]&0x0f) * 4
			total := int(binary.BigEndian.Uint16(p[2:4]))
			truncated := total > len(p) && len(p) == len(reads[i])
			switch {
			case hdrLen < HeaderLen || hdrLen > len(p) || total < hdrLen || (total > len(p) && !truncated):
				tally.Drops.Malformed++
				continue
			case [4]byte(p[12:16]) == remote:
				// RFC 2003 section 4: never send a datagram back into
				// the tunnel it came out of.
				tally.Drops.Loop++
				continue
			case truncated || total > cfg.mtu:
				d.oversize(tn, cfg, bufs[i], p, total, truncated, &rare, &tally)
				continue
			}
			putHeader(bufs[i][:HeaderLen], p, total, local, remote, cfg.ttl)
			out = append(out, bufs[i][:HeaderLen+total])
		}
		sent, bytes := d.send(out, cfg.remote, &tally)
		tally.PacketsOut += uint64(sent)
		tally.BytesOut += uint64(bytes)
		d.stats.add(&tally)
	}
}

// oversizeScratch holds the buffers of the rare oversize path.
type oversizeScratch struct {
	icmp  []byte
	frags [][]byte
	buf   []byte
}

// oversize handles an inner datagram p of total bytes larger than the
// tunnel MTU or, if truncated, than its read buffer: with DF set and larger
// than the MTU it is answered with ICMP fragmentation needed written back
// into the device; read whole, its outer datagram is sent in fragments;
// otherwise (the MTU grew while the read was pending) it is dropped. buf is
// p's buffer with HeaderLen bytes of room in front.
func (d *Driver) oversize(tn *tunnel, cfg *settings, buf, p []byte, total int, truncated bool, sc *oversizeScratch, tally *Stats) {
	if binary.BigEndian.Uint16(p[6:8])&flagDF != 0 && total > cfg.mtu {
		msg, err := FragmentationNeeded(sc.icmp[:0], p, cfg.local, cfg.mtu)
		sc.icmp = msg
		if err != nil {
			tally.Drops.NoICMP++
			return
		}
		if _, err := tn.dev.Write(msg); err != nil {
			tally.Drops.Device++
			return
		}
		tally.FragNeeded++
		return
	}
	if truncated {
		tally.Drops.TooBig++
		return
	}
	putHeader(buf[:HeaderLen], p, total, cfg.local.As4(), cfg.remote.As4(), cfg.ttl)
	sc.frags, sc.buf = fragment(sc.frags[:0], sc.buf, buf[:HeaderLen+total], cfg.mtu+HeaderLen)
	if sent, _ := d.send(sc.frags, cfg.remote, tally); sent == len(sc.frags) {
		tally.PacketsOut++
		tally.BytesOut += uint64(total)
		tally.Fragmented++
	}
}

// send sends outer datagrams to dst, skipping any the socket refuses, and
// returns how many were sent and their inner bytes.
func (d *Driver) send(pkts [][]byte, dst netip.Addr, tally *Stats) (sent, bytes int) {
	for len(pkts) > 0 {
		n, err := d.sys.conn.WriteBatch(pkts, dst)
		for _, p := range pkts[:n] {
			bytes += len(p) - HeaderLen
		}
		sent += n
		pkts = pkts[n:]
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrClosed) {
			tally.Drops.Send += uint64(len(pkts))
			return sent, bytes
		}
		tally.Drops.Send++
		pkts = pkts[1:]
		d.logEvery(&d.lastSendLog, "raw socket send failed", "remote", dst, "err", err)
	}
	return sent, bytes
}

// deviceHeadroom is the room WriteBatch is given before each datagram, for
// the TUN device's virtio-net header. The outer header the datagram came in
// is at least as long.
const deviceHeadroom = vnetHeaderLen

// delivery is the inner datagrams of one received batch bound for one tunnel.
type delivery struct {
	tn   *tunnel
	pkts [][]byte
}

// receive is the raw socket's goroutine: it decapsulates datagrams from
// tunnel peers and writes the inner datagrams of each batch into the
// tunnels' devices, one WriteBatch per tunnel.
func (d *Driver) receive() {
	defer close(d.reader)
	bufs := make([][]byte, batchSize)
	for i := range bufs {
		bufs[i] = make([]byte, MaxPacketLen)
	}
	sizes := make([]int, batchSize)
	var (
		tally Stats
		out   []delivery // by tunnel, in order of first datagram
	)
	for {
		n, err := d.sys.conn.ReadBatch(bufs, sizes)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			d.logEvery(&d.lastRecvLog, "raw socket receive failed", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		peers := *d.peers.Load()
		out = out[:0]
		for i := range n {
			inner, src, dst, _, err := decapsulate(bufs[i][:sizes[i]])
			if err != nil {
				tally.Drops.Malformed++
				continue
			}
			tn := peers[keyOf(src.As4(), dst.As4())]
			if tn == nil {
				tally.Drops.NotPeer++
				continue
			}
			start := cap(bufs[i]) - cap(inner)
			pkt := bufs[i][start-deviceHeadroom : start+len(inner)]
			k := 0
			for k < len(out) && out[k].tn != tn {
				k++
			}
			if k == len(out) {
				if k < cap(out) {
					out = out[:k+1]
					out[k].tn, out[k].pkts = tn, out[k].pkts[:0]
				} else {
					out = append(out, delivery{tn: tn})
				}
			}
			out[k].pkts = append(out[k].pkts, pkt)
		}
		for k := range out {
			dv := &out[k]
			sent, bytes, err := dv.tn.dev.WriteBatch(dv.pkts, deviceHeadroom, dv.tn.cfg.Load().mtu)
			tally.PacketsIn += uint64(sent)
			tally.BytesIn += uint64(bytes)
			if sent < len(dv.pkts) {
				// A device closed by DelTunnel since peers was
				// loaded is no news.
				tally.Drops.Device += uint64(len(dv.pkts) - sent)
				if err != nil && !errors.Is(err, os.ErrClosed) {
					d.logEvery(&d.lastDeviceLog, "TUN device write failed", "iface", dv.tn.name, "err", err)
				}
			}
			dv.tn = nil
		}
		d.stats.add(&tally)
	}
}

// logEvery logs a data path warning unless one was logged through last in
// the past errorLogInterval.
func (d *Driver) logEvery(last *atomic.Int64, msg string, args ...any) {
	now := time.Now().UnixNano()
	prev := last.Load()
	if now-prev < int64(errorLogInterval) || !last.CompareAndSwap(prev, now) {
		return
	}
	d.log.Warn(msg, args...)
}
