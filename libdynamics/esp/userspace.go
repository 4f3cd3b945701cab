package esp

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

var _ Kernel = (*Userspace)(nil)

// Defaults of the userspace data path.
const (
	// DefaultDevice is the name of the TUN device.
	DefaultDevice = "dynesp0"
	// DefaultMTU is the TUN device's MTU: a 1500-octet path less the
	// largest overhead of UDP-encapsulated tunnel mode (IPv4 20, UDP 8,
	// ESP header 8, IV 16, padding 15, trailer 2, ICV 16) rounded down,
	// as strongSwan's kernel-libipsec has it.
	DefaultMTU = 1400
	// DefaultTable is the routing table of the routes into the device.
	DefaultTable = 4500
	// DefaultRulePriority is the priority of the policy routing rules
	// that send an outbound policy's traffic to DefaultTable; the rules
	// that keep IKE and ESP-in-UDP out of the device come just before.
	DefaultRulePriority = 4500
	// IKEPort is the IKE port before NAT traversal (RFC 7296 section 2).
	IKEPort = 500

	tableMain = 254
	// minDeviceMTU is the smallest MTU of an IPv4 link (RFC 791).
	minDeviceMTU = 68
	// readSlack is read buffer space beyond the MTU, so a datagram the
	// kernel queued before an MTU change is still read whole.
	readSlack = 512
)

// UserspaceOptions configure a Userspace.
type UserspaceOptions struct {
	// Mux is the UDP encapsulation socket shared with IKE. Required.
	// More can be added with AddMux, one per local address: each outbound
	// SA leaves through the Mux bound to its Local address.
	Mux *Mux
	// Device names the TUN device; "" means DefaultDevice.
	Device string
	// MTU of the device; 0 means DefaultMTU.
	MTU int
	// Table and RulePriority place the routes and rules; 0 means
	// DefaultTable and DefaultRulePriority.
	Table, RulePriority int
	// BypassPorts are UDP source ports whose datagrams never enter the
	// device, whatever the policies say: IKE's and the encapsulation
	// socket's. nil means 500 and the local port of each Mux, including
	// those AddMux adds later.
	BypassPorts []uint16
	// Logger receives changes and data path errors; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Stats counts a Userspace's traffic since it was made. Packet and byte
// counts are of inner datagrams.
type Stats struct {
	PacketsOut, BytesOut uint64 // datagrams sealed and sent
	PacketsIn, BytesIn   uint64 // datagrams opened and delivered
	// Dummy counts dummy packets (RFC 4303 section 2.6) received and
	// dropped as they should be.
	Dummy uint64
	Drops Drops
}

// Drops counts datagrams dropped, by reason.
type Drops struct {
	// NotIPv4: datagrams from the device that are not well-formed IPv4.
	NotIPv4 uint64
	// NoPolicy: datagrams from the device no outbound policy matches.
	NoPolicy uint64
	// NoSA: datagrams whose policy has no outbound SA yet.
	NoSA uint64
	// Seal: datagrams an SA refused to seal: sequence numbers used up,
	// or a transport-mode datagram between other hosts.
	Seal uint64
	// Send: ESP packets the socket refused, or that no Mux could send
	// (none bound to the SA's local address).
	Send uint64
	// UnknownSPI: ESP packets for no installed inbound SA.
	UnknownSPI uint64
	// Open: ESP packets the SA refused: replayed, too old, failing the
	// ICV, badly padded or not carrying what the mode promises (the SA's
	// own SAStats say which).
	Open uint64
	// Policy: opened datagrams no inbound policy of the SA admits
	// (RFC 4301 section 5.2).
	Policy uint64
	// Device: datagrams the device refused.
	Device uint64
}

// Total returns the sum of all drops.
func (d Drops) Total() uint64 {
	return d.NotIPv4 + d.NoPolicy + d.NoSA + d.Seal + d.Send + d.UnknownSPI + d.Open + d.Policy + d.Device
}

// device is the TUN device as the data path uses it.
type device interface {
	// Read reads one datagram; it returns an error wrapping os.ErrClosed
	// after Close.
	Read(p []byte) (int, error)
	// Write injects one datagram.
	Write(p []byte) (int, error)
	Close() error
}

// rule is a policy routing rule: datagrams to Dst (any if invalid) of
// Protocol (0: any) with the given ports (0: any) look up Table.
type rule struct {
	Priority, Table  int
	Dst              netip.Prefix
	Protocol         uint8
	SrcPort, DstPort uint16
}

func (r rule) String() string {
	return fmt.Sprintf("priority %d to %s proto %d sport %d dport %d table %d", r.Priority, r.Dst, r.Protocol, r.SrcPort, r.DstPort, r.Table)
}

// router steers traffic into the device with routes and rules.
type router interface {
	// addRoute adds dst through the device to table, preferring source
	// src when it is valid and configured on the host.
	addRoute(table int, dst netip.Prefix, src netip.Addr) error
	delRoute(table int, dst netip.Prefix) error
	addRule(r rule) error
	delRule(r rule) error
	close() error
}

// Userspace is the Kernel of hosts without ESP in the kernel: SAs live in
// the process, a TUN device carries the plaintext side and the Muxes'
// sockets the ESP side. See the package documentation for its data path.
type Userspace struct {
	log   *slog.Logger
	dev   device
	rt    router
	name  string
	mtu   int
	table int
	prio  int

	mu       sync.Mutex // guards the tables below and closed; serialises changes
	inbound  map[SAKey]*Opener
	outbound map[SAKey]*outboundSA
	policies map[PolicyKey]Policy
	routes   map[netip.Prefix]*routeRef
	// ruleRefs counts the outbound policies steered by each rule: two
	// policies whose selectors differ only in the source share one.
	ruleRefs map[rule]int
	muxes    []muxEntry
	bypass   []rule
	// autoBypass: BypassPorts was nil, so each Mux's port is bypassed.
	autoBypass bool
	addSeq     uint64
	closed     bool

	// snap is what the data path reads; replaced, never changed, under mu.
	snap   atomic.Pointer[snapshot]
	stats  counters
	reader chan struct{} // closed when the device reader returns

	lastSendLog, lastDevLog atomic.Int64
}

// outboundSA is an installed outbound SA and when it was added, so a policy
// picks the newest of its ReqID.
type outboundSA struct {
	*Sealer
	seq uint64
}

// routeRef is a route and how many outbound policies need it.
type routeRef struct {
	src  netip.Addr
	refs int
}

// muxEntry is a Mux the data path sends and receives through, and the
// address it is bound to.
type muxEntry struct {
	mux   *Mux
	local netip.AddrPort
}

// snapshot is the data path's view of the tables.
type snapshot struct {
	in       map[uint32]*inboundEntry // by SPI
	out      []outboundPolicy         // most specific first
	inPolicy map[uint32][]Selector    // inbound selectors by ReqID
	muxes    []muxEntry               // in the order they were added
}

type inboundEntry struct {
	sa    *Opener
	reqID uint32
}

type outboundPolicy struct {
	sel Selector
	sa  *Sealer // nil until an SA of the policy's ReqID exists
}

// NewUserspace creates the TUN device and the bypass rules in the network
// namespace of the calling OS thread, and starts the data path: outbound
// from the device, inbound through opts.Mux's ESP handler (and those of the
// Muxes AddMux adds).
func NewUserspace(opts UserspaceOptions) (*Userspace, error) {
	if opts.Mux == nil {
		return nil, fmt.Errorf("%w: userspace ESP needs a Mux", ErrInvalid)
	}
	name := cmp.Or(opts.Device, DefaultDevice)
	mtu := cmp.Or(opts.MTU, DefaultMTU)
	if mtu < minDeviceMTU || mtu > ipv4MaxLen {
		return nil, fmt.Errorf("%w: MTU %d", ErrInvalid, mtu)
	}
	dev, rt, err := openSystem(name, mtu)
	if err != nil {
		return nil, fmt.Errorf("esp: userspace data path: %w", err)
	}
	return newUserspace(opts, name, mtu, dev, rt)
}

func newUserspace(opts UserspaceOptions, name string, mtu int, dev device, rt router) (*Userspace, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	u := &Userspace{
		log:      log,
		dev:      dev,
		rt:       rt,
		name:     name,
		mtu:      mtu,
		table:    cmp.Or(opts.Table, DefaultTable),
		prio:     cmp.Or(opts.RulePriority, DefaultRulePriority),
		inbound:  make(map[SAKey]*Opener),
		outbound: make(map[SAKey]*outboundSA),
		policies: make(map[PolicyKey]Policy),
		routes:   make(map[netip.Prefix]*routeRef),
		ruleRefs: make(map[rule]int),
		reader:   make(chan struct{}),
	}
	ports := opts.BypassPorts
	if ports == nil {
		u.autoBypass = true
		ports = []uint16{IKEPort}
		if p := muxLocal(opts.Mux).Port(); p != IKEPort && p != 0 {
			ports = append(ports, p)
		}
	}
	for _, p := range ports {
		if err := u.addBypass(p); err != nil {
			u.removeBypass()
			dev.Close()
			rt.close()
			return nil, err
		}
	}
	u.muxes = []muxEntry{{mux: opts.Mux, local: muxLocal(opts.Mux)}}
	u.publish()
	opts.Mux.SetESPHandler(u.receive)
	go u.transmit()
	u.log.Info("userspace ESP data path started", "iface", name, "mtu", mtu, "table", u.table)
	return u, nil
}

// addBypass keeps UDP datagrams from source port p out of the device.
// Called with mu held (or before the data path starts).
func (u *Userspace) addBypass(p uint16) error {
	r := rule{Priority: u.prio - 1, Table: tableMain, Protocol: protoUDP, SrcPort: p}
	if slices.Contains(u.bypass, r) {
		return nil
	}
	if err := u.rt.addRule(r); err != nil {
		return fmt.Errorf("esp: keep UDP port %d out of %s: %w", p, u.name, err)
	}
	u.bypass = append(u.bypass, r)
	return nil
}

// muxLocal is the address m's socket is bound to, IPv4 unmapped; the zero
// AddrPort if it is not a UDP address.
func muxLocal(m *Mux) netip.AddrPort {
	var ap netip.AddrPort
	switch a := m.LocalAddr().(type) {
	case *net.UDPAddr:
		ap = a.AddrPort()
	default:
		ap, _ = netip.ParseAddrPort(a.String())
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// AddMux adds an encapsulation socket, typically bound to an address the
// host just got (a MOBIKE move's new address): outbound SAs whose Local
// address is the Mux's leave through it, and ESP arriving on it is opened
// like ESP on the others (the Mux's ESP handler is set). Without
// BypassPorts in the options, the Mux's port is kept out of the device.
// Adding a Mux already added is ErrExists.
func (u *Userspace) AddMux(m *Mux) error {
	if m == nil {
		return fmt.Errorf("esp: add Mux: %w: nil Mux", ErrInvalid)
	}
	local := muxLocal(m)
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return fmt.Errorf("esp: add Mux on %s: %w", local, ErrClosed)
	}
	if slices.ContainsFunc(u.muxes, func(e muxEntry) bool { return e.mux == m }) {
		return fmt.Errorf("esp: add Mux on %s: %w", local, ErrExists)
	}
	if u.autoBypass && local.Port() != 0 {
		if err := u.addBypass(local.Port()); err != nil {
			return err
		}
	}
	u.muxes = append(u.muxes, muxEntry{mux: m, local: local})
	u.publish()
	m.SetESPHandler(u.receive)
	u.log.Info("ESP encapsulation socket added", "iface", u.name, "local", local)
	return nil
}

// RemoveMux stops sending and receiving through m (an address the host
// lost): its ESP handler is cleared; m stays open. Removing a Mux not added
// does nothing.
func (u *Userspace) RemoveMux(m *Mux) {
	u.mu.Lock()
	defer u.mu.Unlock()
	i := slices.IndexFunc(u.muxes, func(e muxEntry) bool { return e.mux == m })
	if u.closed || i < 0 {
		return
	}
	local := u.muxes[i].local
	u.muxes = slices.Delete(u.muxes, i, i+1)
	u.publish()
	m.SetESPHandler(nil)
	u.log.Info("ESP encapsulation socket removed", "iface", u.name, "local", local)
}

// Muxes returns the local addresses of the Muxes the data path uses, in
// the order they were added.
func (u *Userspace) Muxes() []netip.AddrPort {
	u.mu.Lock()
	defer u.mu.Unlock()
	l := make([]netip.AddrPort, len(u.muxes))
	for i, e := range u.muxes {
		l[i] = e.local
	}
	return l
}

// Name implements Kernel.
func (u *Userspace) Name() string { return "userspace" }

// Device returns the TUN device's name.
func (u *Userspace) Device() string { return u.name }

// AddSA implements Kernel. The SA must be UDP-encapsulated: the userspace
// data path sends and receives through its Muxes' sockets only.
func (u *Userspace) AddSA(sa SA) error {
	if err := sa.Check(); err != nil {
		return fmt.Errorf("esp: add SA: %w", err)
	}
	if !sa.Encapsulated() {
		return fmt.Errorf("esp: add SA %s: %w: userspace ESP travels in UDP (RFC 3948); bare ESP needs XFRM", sa.Key(), ErrInvalid)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return fmt.Errorf("esp: add SA %s: %w", sa.Key(), ErrClosed)
	}
	key := sa.Key()
	if sa.Direction == Inbound {
		if _, ok := u.inbound[key]; ok {
			return fmt.Errorf("esp: add SA %s: %w", key, ErrExists)
		}
		for k := range u.inbound {
			if k.SPI == sa.SPI {
				return fmt.Errorf("esp: add SA %s: inbound SPI in use by %s: %w", key, k, ErrExists)
			}
		}
		in, err := NewOpener(sa)
		if err != nil {
			return fmt.Errorf("esp: add SA %s: %w", key, err)
		}
		u.inbound[key] = in
	} else {
		if _, ok := u.outbound[key]; ok {
			return fmt.Errorf("esp: add SA %s: %w", key, ErrExists)
		}
		out, err := NewSealer(sa)
		if err != nil {
			return fmt.Errorf("esp: add SA %s: %w", key, err)
		}
		u.addSeq++
		u.outbound[key] = &outboundSA{Sealer: out, seq: u.addSeq}
	}
	u.publish()
	u.log.Debug("ESP SA added", "sa", sa.String())
	return nil
}

// UpdateSA implements Kernel. An outbound SA whose Local address changes
// leaves through the Mux bound to the new address from the next datagram.
func (u *Userspace) UpdateSA(sa SA) error {
	key := sa.Key()
	if err := sa.Check(); err != nil {
		return fmt.Errorf("esp: update SA: %w", err)
	}
	if !sa.Encapsulated() {
		return fmt.Errorf("esp: update SA %s: %w: userspace ESP travels in UDP (RFC 3948)", key, ErrInvalid)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return fmt.Errorf("esp: update SA %s: %w", key, ErrClosed)
	}
	if in, ok := u.inbound[key]; ok {
		in.update(sa)
	} else if out, ok := u.outbound[key]; ok {
		out.update(sa)
	} else {
		return fmt.Errorf("esp: update SA %s: %w", key, ErrNotFound)
	}
	u.log.Debug("ESP SA updated", "sa", sa.String())
	return nil
}

// DeleteSA implements Kernel.
func (u *Userspace) DeleteSA(key SAKey) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return nil
	}
	_, in := u.inbound[key]
	_, out := u.outbound[key]
	if !in && !out {
		return nil
	}
	delete(u.inbound, key)
	delete(u.outbound, key)
	u.publish()
	u.log.Debug("ESP SA deleted", "sa", key.String())
	return nil
}

// SAStats returns the counters of an installed SA.
func (u *Userspace) SAStats(key SAKey) (SAStats, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if in, ok := u.inbound[key]; ok {
		return in.Stats(), true
	}
	if out, ok := u.outbound[key]; ok {
		return out.Stats(), true
	}
	return SAStats{}, false
}

// AddPolicy implements Kernel. An outbound policy also routes its traffic
// into the device: a rule sends datagrams to the selector's destination
// (with its protocol and ports) to the table, where a route leads into the
// device with the selector's source as preferred source when that is one
// address configured on the host.
func (u *Userspace) AddPolicy(p Policy) error {
	if err := p.Check(); err != nil {
		return fmt.Errorf("esp: add policy: %w", err)
	}
	key := p.Key()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return fmt.Errorf("esp: add policy %s: %w", key, ErrClosed)
	}
	if _, ok := u.policies[key]; ok {
		return fmt.Errorf("esp: add policy %s: %w", key, ErrExists)
	}
	if p.Direction == Outbound {
		if err := u.steer(p.Selector); err != nil {
			return fmt.Errorf("esp: add policy %s: %w", key, err)
		}
	}
	u.policies[key] = p
	u.publish()
	u.log.Debug("ESP policy added", "policy", p.String())
	return nil
}

// UpdatePolicy implements Kernel.
func (u *Userspace) UpdatePolicy(p Policy) error {
	if err := p.Check(); err != nil {
		return fmt.Errorf("esp: update policy: %w", err)
	}
	key := p.Key()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return fmt.Errorf("esp: update policy %s: %w", key, ErrClosed)
	}
	if _, ok := u.policies[key]; !ok {
		return fmt.Errorf("esp: update policy %s: %w", key, ErrNotFound)
	}
	u.policies[key] = p
	u.publish()
	u.log.Debug("ESP policy updated", "policy", p.String())
	return nil
}

// DeletePolicy implements Kernel.
func (u *Userspace) DeletePolicy(key PolicyKey) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return nil
	}
	if _, ok := u.policies[key]; !ok {
		return nil
	}
	var err error
	if key.Direction == Outbound {
		err = u.unsteer(key.Selector)
	}
	delete(u.policies, key)
	u.publish()
	u.log.Debug("ESP policy deleted", "policy", key.String())
	if err != nil {
		return fmt.Errorf("esp: delete policy %s: %w", key, err)
	}
	return nil
}

// policyRule is the routing rule of an outbound selector.
func (u *Userspace) policyRule(sel Selector) rule {
	return rule{Priority: u.prio, Table: u.table, Dst: sel.Dst, Protocol: sel.Protocol, SrcPort: sel.SrcPort, DstPort: sel.DstPort}
}

// steer adds the rule and, unless another policy holds it, the route of an
// outbound selector. Called with mu held.
func (u *Userspace) steer(sel Selector) error {
	ref := u.routes[sel.Dst]
	if ref == nil {
		var src netip.Addr
		if sel.Src.IsSingleIP() {
			src = sel.Src.Addr()
		}
		if err := u.rt.addRoute(u.table, sel.Dst, src); err != nil {
			return err
		}
		ref = &routeRef{src: src}
		u.routes[sel.Dst] = ref
	}
	r := u.policyRule(sel)
	if u.ruleRefs[r] == 0 {
		if err := u.rt.addRule(r); err != nil {
			if ref.refs == 0 {
				_ = u.rt.delRoute(u.table, sel.Dst)
				delete(u.routes, sel.Dst)
			}
			return err
		}
	}
	u.ruleRefs[r]++
	ref.refs++
	return nil
}

// unsteer undoes steer. Called with mu held.
func (u *Userspace) unsteer(sel Selector) error {
	var err error
	r := u.policyRule(sel)
	if u.ruleRefs[r]--; u.ruleRefs[r] <= 0 {
		delete(u.ruleRefs, r)
		err = u.rt.delRule(r)
	}
	if ref := u.routes[sel.Dst]; ref != nil {
		ref.refs--
		if ref.refs <= 0 {
			delete(u.routes, sel.Dst)
			err = errors.Join(err, u.rt.delRoute(u.table, sel.Dst))
		}
	}
	return err
}

// publish rebuilds the data path's snapshot. Called with mu held.
func (u *Userspace) publish() {
	s := &snapshot{in: make(map[uint32]*inboundEntry, len(u.inbound)), inPolicy: make(map[uint32][]Selector), muxes: slices.Clone(u.muxes)}
	for k, in := range u.inbound {
		s.in[k.SPI] = &inboundEntry{sa: in, reqID: k.ReqID}
	}
	newest := make(map[uint32]*outboundSA)
	for k, o := range u.outbound {
		if cur := newest[k.ReqID]; cur == nil || o.seq > cur.seq {
			newest[k.ReqID] = o
		}
	}
	for _, p := range u.policies {
		if p.Direction == Inbound {
			s.inPolicy[p.ReqID] = append(s.inPolicy[p.ReqID], p.Selector)
			continue
		}
		op := outboundPolicy{sel: p.Selector}
		if o := newest[p.ReqID]; o != nil {
			op.sa = o.Sealer
		}
		s.out = append(s.out, op)
	}
	slices.SortFunc(s.out, func(a, b outboundPolicy) int { return compareSpecificity(a.sel, b.sel) })
	u.snap.Store(s)
}

// compareSpecificity orders selectors most specific first: longer
// destination prefix, then longer source prefix, then those naming a
// protocol, then ports; ties in a fixed order.
func compareSpecificity(a, b Selector) int {
	if c := cmp.Compare(b.Dst.Bits(), a.Dst.Bits()); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Src.Bits(), a.Src.Bits()); c != 0 {
		return c
	}
	if c := cmp.Compare(b2i(b.Protocol != 0), b2i(a.Protocol != 0)); c != 0 {
		return c
	}
	if c := cmp.Compare(b2i(b.SrcPort != 0)+b2i(b.DstPort != 0), b2i(a.SrcPort != 0)+b2i(a.DstPort != 0)); c != 0 {
		return c
	}
	return cmp.Compare(a.String(), b.String())
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Stats returns the data path's counters.
func (u *Userspace) Stats() Stats { return u.stats.load() }

// Close implements Kernel: it stops the data path, removes the rules and
// routes, deletes the device and forgets every SA and policy. The Muxes stay
// open (their ESP handlers are cleared).
func (u *Userspace) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	for _, m := range u.muxes {
		m.mux.SetESPHandler(nil)
	}
	u.muxes = nil
	var err error
	for k := range u.policies {
		if k.Direction == Outbound {
			err = errors.Join(err, u.rt.delRule(u.policyRule(k.Selector)))
		}
	}
	for dst := range u.routes {
		err = errors.Join(err, u.rt.delRoute(u.table, dst))
	}
	err = errors.Join(err, u.removeBypass())
	clear(u.policies)
	clear(u.routes)
	clear(u.inbound)
	clear(u.outbound)
	u.publish()
	u.mu.Unlock()
	err = errors.Join(err, u.dev.Close())
	<-u.reader
	err = errors.Join(err, u.rt.close())
	if err != nil {
		return fmt.Errorf("esp: close userspace data path: %w", err)
	}
	u.log.Info("userspace ESP data path stopped", "iface", u.name)
	return nil
}

func (u *Userspace) removeBypass() error {
	var err error
	for _, r := range u.bypass {
		err = errors.Join(err, u.rt.delRule(r))
	}
	u.bypass = nil
	return err
}

// transmit is the device's reader: it seals each datagram with the SA of
// the first outbound policy that matches it and sends it to the SA's peer
// through the Mux bound to the SA's local address.
func (u *Userspace) transmit() {
	defer close(u.reader)
	buf := make([]byte, u.mtu+readSlack)
	var out []byte
	for {
		n, err := u.dev.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				u.log.Error("TUN device read failed, outbound ESP stops", "iface", u.name, "err", err)
			}
			return
		}
		p := buf[:n]
		f, err := ParseFlow(p)
		if err != nil {
			u.stats.notIPv4.Add(1)
			continue
		}
		s := u.snap.Load()
		sa, found := s.lookup(f)
		if !found {
			u.stats.noPolicy.Add(1)
			continue
		}
		if sa == nil {
			u.stats.noSA.Add(1)
			continue
		}
		out, err = sa.SealPacket(out[:0], p)
		if err != nil {
			u.stats.seal.Add(1)
			u.logEvery(&u.lastSendLog, "ESP seal failed", "spi", fmt.Sprintf("0x%08x", sa.SPI()), "err", err)
			continue
		}
		addrs := sa.SA()
		remote := addrs.Remote
		mux := s.muxFor(addrs.Local)
		if mux == nil {
			u.stats.send.Add(1)
			u.logEvery(&u.lastSendLog, "ESP send failed: no encapsulation socket on the SA's local address", "local", addrs.Local, "remote", remote)
			continue
		}
		if err := mux.SendESP(out, remote); err != nil {
			u.stats.send.Add(1)
			u.logEvery(&u.lastSendLog, "ESP send failed", "remote", remote, "err", err)
			continue
		}
		_, total, _ := ipv4Header(p)
		u.stats.packetsOut.Add(1)
		u.stats.bytesOut.Add(uint64(total))
	}
}

// lookup finds the outbound policy matching f: found reports whether one
// does, sa is its SA (nil if it has none yet).
func (s *snapshot) lookup(f Flow) (sa *Sealer, found bool) {
	for i := range s.out {
		if s.out[i].sel.Matches(f) {
			return s.out[i].sa, true
		}
	}
	return nil, false
}

// muxFor returns the Mux to send an SA's packets from local: the one bound
// to that address and port, else to that address, else to the unspecified
// address; with a single Mux, that one. nil if none fits.
func (s *snapshot) muxFor(local netip.AddrPort) *Mux {
	var addrOnly, wildcard *Mux
	for _, e := range s.muxes {
		switch {
		case e.local == local:
			return e.mux
		case e.local.Addr() == local.Addr():
			addrOnly = cmp.Or(addrOnly, e.mux)
		case e.local.Addr().IsUnspecified():
			wildcard = cmp.Or(wildcard, e.mux)
		}
	}
	if m := cmp.Or(addrOnly, wildcard); m != nil {
		return m
	}
	if len(s.muxes) == 1 {
		return s.muxes[0].mux
	}
	return nil
}

// receive is the ESP handler of every Mux: it opens each packet with the inbound
// SA of its SPI, checks the datagram against the SA's inbound policies and
// writes it into the device.
func (u *Userspace) receive(pkt []byte, from netip.AddrPort) {
	if len(pkt) < HeaderLen {
		u.stats.open.Add(1)
		return
	}
	s := u.snap.Load()
	e := s.in[binary.BigEndian.Uint32(pkt)]
	if e == nil {
		u.stats.unknownSPI.Add(1)
		return
	}
	ip, err := e.sa.OpenPacket(pkt)
	if err != nil {
		if errors.Is(err, ErrDummy) {
			u.stats.dummy.Add(1)
			return
		}
		u.stats.open.Add(1)
		return
	}
	f, err := ParseFlow(ip)
	if err != nil || !admits(s.inPolicy[e.reqID], f) {
		u.stats.policy.Add(1)
		return
	}
	if _, err := u.dev.Write(ip); err != nil {
		u.stats.device.Add(1)
		if !errors.Is(err, os.ErrClosed) {
			u.logEvery(&u.lastDevLog, "TUN device write failed", "iface", u.name, "err", err)
		}
		return
	}
	u.stats.packetsIn.Add(1)
	u.stats.bytesIn.Add(uint64(len(ip)))
}

func admits(sels []Selector, f Flow) bool {
	for _, s := range sels {
		if s.Matches(f) {
			return true
		}
	}
	return false
}

// logEvery logs a data path warning unless one was logged through last in
// the past five seconds.
func (u *Userspace) logEvery(last *atomic.Int64, msg string, args ...any) {
	now := time.Now().UnixNano()
	prev := last.Load()
	if now-prev < int64(5*time.Second) || !last.CompareAndSwap(prev, now) {
		return
	}
	u.log.Warn(msg, args...)
}

// counters is the live form of Stats.
type counters struct {
	packetsOut, bytesOut, packetsIn, bytesIn, dummy                       atomic.Uint64
	notIPv4, noPolicy, noSA, seal, send, unknownSPI, open, policy, device atomic.Uint64
}

func (c *counters) load() Stats {
	return Stats{
		PacketsOut: c.packetsOut.Load(), BytesOut: c.bytesOut.Load(),
		PacketsIn: c.packetsIn.Load(), BytesIn: c.bytesIn.Load(),
		Dummy: c.dummy.Load(),
		Drops: Drops{
			NotIPv4: c.notIPv4.Load(), NoPolicy: c.noPolicy.Load(), NoSA: c.noSA.Load(),
			Seal: c.seal.Load(), Send: c.send.Load(), UnknownSPI: c.unknownSPI.Load(),
			Open: c.open.Load(), Policy: c.policy.Load(), Device: c.device.Load(),
		},
	}
}
