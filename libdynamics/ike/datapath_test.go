package ike

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/tsharktest"
	"github.com/dynamics-go/dynamics/libdynamics/esp"
)

// dataPath is fakeESP's data path: the SAs the engine installs seal and
// open datagrams, sent and received through the Muxes the engine hands
// over, each outbound SA through the Mux bound to its Local address as
// esp.Userspace does. Guarded by fakeESP.mu.
type dataPath struct {
	muxes   map[netip.AddrPort]*esp.Mux
	sealers map[esp.SAKey]*esp.Sealer
	openers map[uint32]*esp.Opener
	added   map[esp.SAKey]uint64 // order of installation: the newest SA sends
	seq     uint64
	rx      chan []byte // datagrams opened
}

func newDataPath() dataPath {
	return dataPath{
		muxes:   map[netip.AddrPort]*esp.Mux{},
		sealers: map[esp.SAKey]*esp.Sealer{},
		openers: map[uint32]*esp.Opener{},
		added:   map[esp.SAKey]uint64{},
		rx:      make(chan []byte, 16),
	}
}

// add makes the sealer or opener of an installed SA.
func (d *dataPath) add(sa esp.SA) {
	d.seq++
	d.added[sa.Key()] = d.seq
	if sa.Direction == esp.Inbound {
		if in, err := esp.NewOpener(sa); err == nil {
			d.openers[sa.SPI] = in
		}
	} else if out, err := esp.NewSealer(sa); err == nil {
		d.sealers[sa.Key()] = out
	}
}

func (d *dataPath) remove(k esp.SAKey) {
	delete(d.added, k)
	delete(d.sealers, k)
	if k.Direction == esp.Inbound {
		delete(d.openers, k.SPI)
	}
}

// AddMux is what the engine calls for each socket's Mux it gets.
func (f *fakeESP) AddMux(m *esp.Mux) error {
	local, err := netip.ParseAddrPort(m.LocalAddr().String())
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dp.muxes[local] == m {
		return esp.ErrExists
	}
	f.dp.muxes[local] = m
	m.SetESPHandler(f.receive)
	return nil
}

// RemoveMux is what the engine calls when it stops using a socket.
func (f *fakeESP) RemoveMux(m *esp.Mux) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for local, o := range f.dp.muxes {
		if o == m {
			delete(f.dp.muxes, local)
			m.SetESPHandler(nil)
		}
	}
}

// muxAddrs returns the local addresses of the Muxes the engine handed over.
func (f *fakeESP) muxAddrs() map[netip.AddrPort]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[netip.AddrPort]bool{}
	for a := range f.dp.muxes {
		m[a] = true
	}
	return m
}

func (f *fakeESP) receive(pkt []byte, _ netip.AddrPort) {
	if len(pkt) < esp.HeaderLen {
		return
	}
	f.mu.Lock()
	in := f.dp.openers[binary.BigEndian.Uint32(pkt)]
	f.mu.Unlock()
	if in == nil {
		return
	}
	payload, next, err := in.Open(pkt)
	if err != nil || next != esp.NextHeaderIPv4 {
		return
	}
	select {
	case f.dp.rx <- append([]byte(nil), payload...):
	default:
	}
}

// send seals an inner IPv4 datagram with the newest outbound SA and sends
// it through the Mux on the SA's local address.
func (f *fakeESP) send(ip []byte) error {
	f.mu.Lock()
	var key esp.SAKey
	var newest uint64
	for k, s := range f.dp.added {
		if k.Direction == esp.Outbound && s > newest {
			key, newest = k, s
		}
	}
	sa, out, mux := f.sas[key], f.dp.sealers[key], f.dp.muxes[f.sas[key].Local]
	f.mu.Unlock()
	if out == nil {
		return fmt.Errorf("no outbound SA")
	}
	if mux == nil {
		return fmt.Errorf("outbound SA %08x: no Mux on its local address %s", sa.SPI, sa.Local)
	}
	pkt, err := out.Seal(nil, ip, esp.NextHeaderIPv4)
	if err != nil {
		return err
	}
	return mux.SendESP(pkt, sa.Remote)
}

// Inner addresses of the base configurations' child SA.
var (
	mnInner = netip.MustParseAddr("10.1.0.1")
	haInner = netip.MustParseAddr("10.2.0.1")
)

// espThrough sends a UDP datagram from src behind a to dst behind b
// through their child SA and checks it arrives whole.
func espThrough(t *testing.T, a *node, src netip.Addr, b *node, dst netip.Addr, what string) {
	t.Helper()
	ip := tsharktest.UDP(src, dst, 7001, 7000, []byte(what))
	if err := a.esp.send(ip); err != nil {
		t.Fatalf("%s: %s sends: %v", what, a.name, err)
	}
	select {
	case got := <-b.esp.dp.rx:
		if !bytes.Equal(got, ip) {
			t.Fatalf("%s: %s got\n% x\nwant\n% x", what, b.name, got, ip)
		}
	case <-time.After(2 * time.Second):
		t.Fatalf("%s: nothing reached %s", what, b.name)
	}
}

// espEcho checks the child SA between mn and ha both ways.
func espEcho(t *testing.T, mn, ha *node, what string) {
	t.Helper()
	espThrough(t, mn, mnInner, ha, haInner, what+", mn to ha")
	espThrough(t, ha, haInner, mn, mnInner, what+", ha to mn")
}
