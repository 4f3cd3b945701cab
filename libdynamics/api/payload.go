package api

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// The payloads of the calls. Every integer is big endian. An address is 4
// bytes, 0.0.0.0 standing for none (the zero netip.Addr); a duration is a
// u32 count of whole seconds; a boolean one byte, 0 or 1; a string a u16
// length and that many bytes; a list a u32 count and the items. Decoders
// reject a payload that ends early (ErrTruncated), one with bytes left over
// (ErrTrailing) and values the encoding never produces (ErrInvalid), so a
// payload that decodes encodes back to the same bytes.
//
//	call                 params                  data
//	dummy                -                       -
//	get_tunnels          -                       u32 count, Tunnel records
//	get_tunnel_info      home address            Tunnel record
//	destroy_tunnel       home address            -
//	enable_mobile        home address, bool      -
//	get_care_of_addr     home address (or none)  care-of address
//	get_tunneling_mode   -                       string
//	set_tunneling_mode   string                  -
//	get_status           -                       Status record
//	connect ... home_update  -                   -
//
// A reply whose return value is not OK carries the message text as its
// data, without a length prefix.

// TunnelFixedLen is the length of a Tunnel record's fixed part.
const TunnelFixedLen = 5*4 + 8 + 1 + 1 + 4 + 4

// StatusFixedLen is the length of a Status record's fixed part.
const StatusFixedLen = 4 + 4*4 + 4 + 4

// MarshalEmpty returns the params or data of a call that has none:
// nothing at all.
func MarshalEmpty() []byte { return nil }

// ParseEmpty returns ErrTrailing when b is not empty.
func ParseEmpty(b []byte) error {
	if len(b) != 0 {
		return fmt.Errorf("%w: %d bytes where none are expected", ErrTrailing, len(b))
	}
	return nil
}

// MarshalAddr encodes an address: the params of get_tunnel_info,
// destroy_tunnel and get_care_of_addr and the data of get_care_of_addr.
func MarshalAddr(a netip.Addr) ([]byte, error) {
	var e encoder
	e.addr(a)
	return e.finish()
}

// ParseAddr decodes an address; 0.0.0.0 gives the zero Addr.
func ParseAddr(b []byte) (netip.Addr, error) {
	d := decoder{b: b}
	a := d.addr()
	if err := d.finish("address"); err != nil {
		return netip.Addr{}, err
	}
	return a, nil
}

// MarshalEnable encodes enable_mobile's params: the home address and 1 to
// enable or 0 to disable.
func MarshalEnable(home netip.Addr, enable bool) ([]byte, error) {
	var e encoder
	e.addr(home)
	e.bool(enable)
	return e.finish()
}

// ParseEnable decodes enable_mobile's params.
func ParseEnable(b []byte) (home netip.Addr, enable bool, err error) {
	d := decoder{b: b}
	h := d.addr()
	en := d.bool()
	if err := d.finish("enable_mobile params"); err != nil {
		return netip.Addr{}, false, err
	}
	return h, en, nil
}

// MarshalString encodes a string: get_tunneling_mode's data and
// set_tunneling_mode's params.
func MarshalString(s string) ([]byte, error) {
	var e encoder
	e.string(s)
	return e.finish()
}

// ParseString decodes a string.
func ParseString(b []byte) (string, error) {
	d := decoder{b: b}
	s := d.string()
	if err := d.finish("string"); err != nil {
		return "", err
	}
	return s, nil
}

// MarshalTunnel encodes a Tunnel record, get_tunnel_info's data:
//
//	home (4) | care-of (4) | ha (4) | peer (4) | lower (4) | id (8) |
//	flags (1) | confirmed (1) | lifetime (4) | remaining (4) |
//	state (string) | iface (string) | link (string)
func MarshalTunnel(t Tunnel) ([]byte, error) {
	var e encoder
	e.tunnel(t)
	return e.finish()
}

// ParseTunnel decodes a Tunnel record.
func ParseTunnel(b []byte) (Tunnel, error) {
	d := decoder{b: b}
	t := d.tunnel()
	if err := d.finish("tunnel"); err != nil {
		return Tunnel{}, err
	}
	return t, nil
}

// MarshalTunnels encodes get_tunnels' data: a u32 count and the records.
func MarshalTunnels(ts []Tunnel) ([]byte, error) {
	var e encoder
	e.count(len(ts))
	for _, t := range ts {
		e.tunnel(t)
	}
	return e.finish()
}

// ParseTunnels decodes get_tunnels' data. An empty list gives a nil slice.
func ParseTunnels(b []byte) ([]Tunnel, error) {
	d := decoder{b: b}
	n := d.count(TunnelFixedLen + 3*2)
	var ts []Tunnel
	if n > 0 {
		ts = make([]Tunnel, 0, n)
	}
	for i := 0; i < n && d.err == nil; i++ {
		ts = append(ts, d.tunnel())
	}
	if err := d.finish("tunnel list"); err != nil {
		return nil, err
	}
	return ts, nil
}

// MarshalStatus encodes a Status record, get_status's data:
//
//	uptime (4) | home (4) | care-of (4) | fa (4) | ha (4) | lifetime (4) |
//	remaining (4) | agent | version | data path | state | tunnelling mode |
//	iface (strings) | u32 count, then per counter: name (string), value (8)
func MarshalStatus(s Status) ([]byte, error) {
	var e encoder
	e.duration(s.Uptime)
	e.addr(s.Home)
	e.addr(s.CareOf)
	e.addr(s.FA)
	e.addr(s.HA)
	e.duration(s.Lifetime)
	e.duration(s.Remaining)
	e.string(s.Agent)
	e.string(s.Version)
	e.string(s.DataPath)
	e.string(s.State)
	e.string(s.TunnelingMode)
	e.string(s.Iface)
	e.count(len(s.Counters))
	for _, c := range s.Counters {
		e.string(c.Name)
		e.u64(c.Value)
	}
	return e.finish()
}

// ParseStatus decodes a Status record. No counters give a nil slice.
func ParseStatus(b []byte) (Status, error) {
	d := decoder{b: b}
	var s Status
	s.Uptime = d.duration()
	s.Home = d.addr()
	s.CareOf = d.addr()
	s.FA = d.addr()
	s.HA = d.addr()
	s.Lifetime = d.duration()
	s.Remaining = d.duration()
	s.Agent = d.string()
	s.Version = d.string()
	s.DataPath = d.string()
	s.State = d.string()
	s.TunnelingMode = d.string()
	s.Iface = d.string()
	if n := d.count(2 + 8); n > 0 {
		s.Counters = make([]Counter, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			name := d.string()
			s.Counters = append(s.Counters, Counter{Name: name, Value: d.u64()})
		}
	}
	if err := d.finish("status"); err != nil {
		return Status{}, err
	}
	return s, nil
}

// encoder appends fields to b; the first error sticks and the rest is
// skipped.
type encoder struct {
	b   []byte
	err error
}

func (e *encoder) finish() ([]byte, error) {
	if e.err != nil {
		return nil, e.err
	}
	if len(e.b) > MaxLength {
		return nil, fmt.Errorf("%w: payload of %d bytes", ErrFrameTooLong, len(e.b))
	}
	return e.b, nil
}

func (e *encoder) addr(a netip.Addr) {
	switch {
	case e.err != nil:
	case !a.IsValid():
		e.b = append(e.b, 0, 0, 0, 0)
	case a.Unmap().Is4():
		a4 := a.Unmap().As4()
		e.b = append(e.b, a4[:]...)
	default:
		e.err = fmt.Errorf("%w: %s is not an IPv4 address", ErrInvalid, a)
	}
}

func (e *encoder) duration(d time.Duration) {
	s := d / time.Second
	switch {
	case s < 0:
		s = 0
	case s > math.MaxUint32:
		s = math.MaxUint32
	}
	e.b = binary.BigEndian.AppendUint32(e.b, uint32(s))
}

func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) string(s string) {
	if len(s) > math.MaxUint16 {
		if e.err == nil {
			e.err = fmt.Errorf("%w: string of %d bytes, at most %d", ErrInvalid, len(s), math.MaxUint16)
		}
		return
	}
	e.b = binary.BigEndian.AppendUint16(e.b, uint16(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) count(n int) {
	if uint64(n) > math.MaxUint32 {
		if e.err == nil {
			e.err = fmt.Errorf("%w: list of %d items", ErrInvalid, n)
		}
		return
	}
	e.b = binary.BigEndian.AppendUint32(e.b, uint32(n))
}

func (e *encoder) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }

func (e *encoder) tunnel(t Tunnel) {
	e.addr(t.Home)
	e.addr(t.CareOf)
	e.addr(t.HA)
	e.addr(t.Peer)
	e.addr(t.Lower)
	e.u64(t.ID)
	e.b = append(e.b, uint8(t.Flags))
	e.bool(t.Confirmed)
	e.duration(t.Lifetime)
	e.duration(t.Remaining)
	e.string(t.State)
	e.string(t.Iface)
	e.string(t.Link)
}

// decoder reads fields from b after a bounds check each; the first error
// sticks and every later read returns the zero value.
type decoder struct {
	b   []byte
	off int
	err error
}

// take returns the next n bytes, or nil and records ErrTruncated.
func (d *decoder) take(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b)-d.off {
		d.err = fmt.Errorf("%w: %s at offset %d needs %d bytes, have %d", ErrTruncated, what, d.off, n, len(d.b)-d.off)
		return nil
	}
	v := d.b[d.off : d.off+n]
	d.off += n
	return v
}

func (d *decoder) finish(what string) error {
	if d.err != nil {
		return fmt.Errorf("%s: %w", what, d.err)
	}
	if d.off != len(d.b) {
		return fmt.Errorf("%s: %w: %d after offset %d", what, ErrTrailing, len(d.b)-d.off, d.off)
	}
	return nil
}

func (d *decoder) addr() netip.Addr {
	b := d.take(4, "address")
	if b == nil {
		return netip.Addr{}
	}
	a := netip.AddrFrom4([4]byte(b))
	if a.IsUnspecified() {
		return netip.Addr{}
	}
	return a
}

func (d *decoder) u32(what string) uint32 {
	b := d.take(4, what)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (d *decoder) u64() uint64 {
	b := d.take(8, "u64")
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func (d *decoder) duration() time.Duration {
	return time.Duration(d.u32("duration")) * time.Second
}

func (d *decoder) bool() bool {
	b := d.take(1, "boolean")
	if b == nil {
		return false
	}
	switch b[0] {
	case 0:
		return false
	case 1:
		return true
	}
	d.err = fmt.Errorf("%w: boolean byte %d at offset %d", ErrInvalid, b[0], d.off-1)
	return false
}

func (d *decoder) string() string {
	b := d.take(2, "string length")
	if b == nil {
		return ""
	}
	return string(d.take(int(binary.BigEndian.Uint16(b)), "string"))
}

// count reads a list count and checks that the rest of the payload can
// hold that many items of at least min bytes each, so a forged count
// cannot make the decoder allocate more than the payload justifies.
func (d *decoder) count(min int) int {
	n := d.u32("list count")
	if d.err != nil {
		return 0
	}
	if uint64(n)*uint64(min) > uint64(len(d.b)-d.off) {
		d.err = fmt.Errorf("%w: list of %d items needs at least %d bytes, have %d", ErrTruncated, n, uint64(n)*uint64(min), len(d.b)-d.off)
		return 0
	}
	return int(n)
}

func (d *decoder) tunnel() Tunnel {
	var t Tunnel
	t.Home = d.addr()
	t.CareOf = d.addr()
	t.HA = d.addr()
	t.Peer = d.addr()
	t.Lower = d.addr()
	t.ID = d.u64()
	if b := d.take(1, "flags"); b != nil {
		t.Flags = mip.Flags(b[0])
	}
	t.Confirmed = d.bool()
	t.Lifetime = d.duration()
	t.Remaining = d.duration()
	t.State = d.string()
	t.Iface = d.string()
	t.Link = d.string()
	return t
}
