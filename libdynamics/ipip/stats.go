package ipip

import "sync/atomic"

// Stats counts a Driver's traffic since it was made. Packet and byte counts
// are of inner datagrams.
type Stats struct {
	PacketsOut uint64 // inner datagrams encapsulated and sent
	BytesOut   uint64
	PacketsIn  uint64 // inner datagrams decapsulated and delivered
	BytesIn    uint64
	// FragNeeded counts oversize inner datagrams with DF set answered with
	// ICMP "fragmentation needed" instead of being sent.
	FragNeeded uint64
	// Fragmented counts oversize inner datagrams without DF sent in
	// fragmented outer datagrams.
	Fragmented uint64
	Drops      Drops
}

// Drops counts datagrams dropped, by reason.
type Drops struct {
	// NotPeer: received outer datagrams whose source and destination are
	// not the remote and local address of any tunnel.
	NotPeer uint64
	// Malformed: received outer datagrams failing Decapsulate, and
	// datagrams read from a TUN device with a bad IPv4 header.
	Malformed uint64
	// NotIPv4: datagrams read from a TUN device that are not IPv4.
	NotIPv4 uint64
	// TooBig: datagrams without DF longer than the device read buffer,
	// which only happens when a device's MTU was raised behind the
	// driver's back.
	TooBig uint64
	// Loop: datagrams from the tunnel's remote end that would be sent back
	// to it (RFC 2003 section 4).
	Loop uint64
	// NoICMP: oversize datagrams with DF set that no ICMP error may
	// answer (RFC 1812 section 4.3.2.7).
	NoICMP uint64
	// Send: outer datagrams the raw socket refused.
	Send uint64
	// Device: inner datagrams a TUN device refused.
	Device uint64
}

// Total returns the sum of all drops.
func (d Drops) Total() uint64 {
	return d.NotPeer + d.Malformed + d.NotIPv4 + d.TooBig + d.Loop + d.NoICMP + d.Send + d.Device
}

// counters is the live form of Stats.
type counters struct {
	packetsOut, bytesOut atomic.Uint64
	packetsIn, bytesIn   atomic.Uint64
	fragNeeded           atomic.Uint64
	fragmented           atomic.Uint64
	notPeer, malformed   atomic.Uint64
	notIPv4, noICMP      atomic.Uint64
	tooBig, loop         atomic.Uint64
	send, device         atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		PacketsOut: c.packetsOut.Load(),
		BytesOut:   c.bytesOut.Load(),
		PacketsIn:  c.packetsIn.Load(),
		BytesIn:    c.bytesIn.Load(),
		FragNeeded: c.fragNeeded.Load(),
		Fragmented: c.fragmented.Load(),
		Drops: Drops{
			NotPeer:   c.notPeer.Load(),
			Malformed: c.malformed.Load(),
			NotIPv4:   c.notIPv4.Load(),
			TooBig:    c.tooBig.Load(),
			Loop:      c.loop.Load(),
			NoICMP:    c.noICMP.Load(),
			Send:      c.send.Load(),
			Device:    c.device.Load(),
		},
	}
}

// add adds a batch's local tallies to c; zero fields cost nothing.
func (c *counters) add(s *Stats) {
	for _, f := range []struct {
		v *atomic.Uint64
		n uint64
	}{
		{&c.packetsOut, s.PacketsOut}, {&c.bytesOut, s.BytesOut},
		{&c.packetsIn, s.PacketsIn}, {&c.bytesIn, s.BytesIn},
		{&c.fragNeeded, s.FragNeeded}, {&c.fragmented, s.Fragmented},
		{&c.notPeer, s.Drops.NotPeer}, {&c.malformed, s.Drops.Malformed},
		{&c.notIPv4, s.Drops.NotIPv4}, {&c.noICMP, s.Drops.NoICMP},
		{&c.tooBig, s.Drops.TooBig}, {&c.loop, s.Drops.Loop},
		{&c.send, s.Drops.Send}, {&c.device, s.Drops.Device},
	} {
		if f.n != 0 {
			f.v.Add(f.n)
		}
	}
	*s = Stats{}
}
