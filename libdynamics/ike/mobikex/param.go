package mobikex

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// Sentinel errors. Errors returned by the package wrap one of them with
// the offending parameter or notification, so callers test them with
// errors.Is.
var (
	// ErrMalformed means notification data that is not a well-formed
	// sequence of parameters, or a parameter whose value breaks its type's
	// layout (a length, a flag combination, a value outside its range).
	ErrMalformed = errors.New("mobikex: malformed parameter")
	// ErrUnknownCritical means a parameter of a type the package does not
	// know with the C bit set: the receiver must refuse the notification
	// (UNACCEPTABLE_PARAMETER). The error is an *UnknownCriticalError and
	// also matches ErrMalformed.
	ErrUnknownCritical = errors.New("mobikex: unknown critical parameter")
	// ErrInvalid means a value that cannot be sent: a selector set or an
	// action the draft's grammar does not allow, an address that is not
	// set, a value too long for its length field.
	ErrInvalid = errors.New("mobikex: invalid value")
)

// UnknownCriticalError is the error for a critical parameter of an unknown
// type.
type UnknownCriticalError struct {
	// Type is the unknown parameter's type.
	Type ParamType
}

func (e *UnknownCriticalError) Error() string {
	return fmt.Sprintf("mobikex: parameter %s: unknown critical parameter", e.Type)
}

// Is reports whether target is ErrUnknownCritical or ErrMalformed.
func (e *UnknownCriticalError) Is(target error) bool {
	return target == ErrUnknownCritical || target == ErrMalformed
}

// ParamType is the type of a parameter (7 bits on the wire).
type ParamType uint8

// Parameter types.
const (
	ParamVersion       ParamType = 1 // VERSION
	ParamSPI           ParamType = 2 // SPI
	ParamIP            ParamType = 3 // IP
	ParamIPsecMode     ParamType = 4 // IPSEC_MODE
	ParamIPsecProto    ParamType = 5 // IPSEC_PROTO
	ParamSelectorValue ParamType = 6 // SELECTOR_SPECIFIC_VALUE
	ParamID            ParamType = 7 // ID
)

var paramNames = map[ParamType]string{
	ParamVersion:       "VERSION",
	ParamSPI:           "SPI",
	ParamIP:            "IP",
	ParamIPsecMode:     "IPSEC_MODE",
	ParamIPsecProto:    "IPSEC_PROTO",
	ParamSelectorValue: "SELECTOR_SPECIFIC_VALUE",
	ParamID:            "ID",
}

// String returns the draft's name of the type, or PARAM(n).
func (t ParamType) String() string {
	if s, ok := paramNames[t]; ok {
		return s
	}
	return fmt.Sprintf("PARAM(%d)", uint8(t))
}

// Known reports whether the package decodes parameters of type t.
func (t ParamType) Known() bool {
	_, ok := paramNames[t]
	return ok
}

const (
	// ParamHeaderLen is a parameter's C bit and type, reserved octet and
	// Value Length.
	ParamHeaderLen = 4
	// MaxValueLen is the longest value the 16-bit Value Length describes.
	MaxValueLen = 0xffff
	// criticalBit is the C bit of a parameter's first octet.
	criticalBit = 0x80
	// typeMask is the type's 7 bits of a parameter's first octet.
	typeMask = 0x7f
	// infoLen is the Multihoming Information of an IP parameter.
	infoLen = 12
	// ipHeaderLen is an IP parameter's Flags and RESERVED octets.
	ipHeaderLen = 2
)

// Param is one parameter as on the wire; unknown types are kept, so that
// parsing then marshalling gives back the same octets (but for the
// reserved octet of the header, sent as zero).
type Param struct {
	// Critical is the C bit: a receiver that does not know the type (or,
	// in VERSION, the version) must refuse the notification.
	Critical bool
	// Type is the parameter's type, 0 to 127.
	Type ParamType
	// Value is the parameter's value, Value Length octets.
	Value []byte
}

// String renders the parameter for logs, decoded when the type is known.
func (p Param) String() string {
	c := ""
	if p.Critical {
		c = "!"
	}
	var v any
	var err error
	switch p.Type {
	case ParamVersion:
		v, err = p.Version()
	case ParamSPI:
		v, err = p.SPI()
	case ParamIP:
		v, err = p.IP()
	case ParamIPsecMode:
		v, err = p.Mode()
	case ParamIPsecProto:
		v, err = p.Proto()
	case ParamSelectorValue:
		v, err = p.Selector()
	case ParamID:
		v, err = p.ID()
	default:
		err = ErrMalformed
	}
	if err != nil {
		return fmt.Sprintf("%s%s(%x)", c, p.Type, p.Value)
	}
	return fmt.Sprintf("%s%s(%v)", c, p.Type, v)
}

// parseRaw reads the sequence of parameters in b checking the headers
// only: each header whole, each value inside b, nothing left over.
func parseRaw(b []byte) ([]Param, error) {
	var ps []Param
	for off := 0; off < len(b); {
		if len(b)-off < ParamHeaderLen {
			return nil, fmt.Errorf("parameter %d at offset %d: header needs %d octets, %d left: %w",
				len(ps)+1, off, ParamHeaderLen, len(b)-off, ErrMalformed)
		}
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		if n > len(b)-off-ParamHeaderLen {
			return nil, fmt.Errorf("parameter %d at offset %d: value of %d octets, %d left: %w",
				len(ps)+1, off, n, len(b)-off-ParamHeaderLen, ErrMalformed)
		}
		p := Param{
			Critical: b[off]&criticalBit != 0,
			Type:     ParamType(b[off] & typeMask),
		}
		if n > 0 {
			p.Value = append([]byte(nil), b[off+ParamHeaderLen:off+ParamHeaderLen+n]...)
		}
		ps = append(ps, p)
		off += ParamHeaderLen + n
	}
	return ps, nil
}

// ParseParams reads notification data that must be exactly a sequence of
// whole parameters. Each parameter of a known type must have a valid value
// (the typed readers' rules: lengths, flags, ranges; a VERSION may name
// any version, for the negotiation to judge); unknown non-critical
// parameters are kept; an unknown critical one fails the parse with an
// *UnknownCriticalError. Errors wrap ErrMalformed. No input makes it panic.
func ParseParams(b []byte) ([]Param, error) {
	ps, err := parseRaw(b)
	if err != nil {
		return nil, err
	}
	for i, p := range ps {
		if err := p.check(); err != nil {
			return nil, fmt.Errorf("parameter %d: %w", i+1, err)
		}
	}
	return ps, nil
}

// check validates a parameter as ParseParams does.
func (p Param) check() error {
	var err error
	switch p.Type {
	case ParamVersion:
		_, err = p.Version()
	case ParamSPI:
		_, err = p.SPI()
	case ParamIP:
		_, err = p.IP()
	case ParamIPsecMode:
		_, err = p.Mode()
	case ParamIPsecProto:
		_, err = p.Proto()
	case ParamSelectorValue:
		_, err = p.Selector()
	case ParamID:
		_, err = p.ID()
	default:
		if p.Critical {
			return &UnknownCriticalError{Type: p.Type}
		}
	}
	return err
}

// MarshalParams writes ps as notification data. The type is cut to its 7
// bits and a value to MaxValueLen octets: Set.Payloads and the typed
// constructors never produce longer ones.
func MarshalParams(ps []Param) []byte {
	n := 0
	for _, p := range ps {
		n += ParamHeaderLen + min(len(p.Value), MaxValueLen)
	}
	b := make([]byte, 0, n)
	for _, p := range ps {
		first := byte(p.Type) & typeMask
		if p.Critical {
			first |= criticalBit
		}
		v := p.Value
		if len(v) > MaxValueLen {
			v = v[:MaxValueLen]
		}
		b = append(b, first, 0)
		b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
		b = append(b, v...)
	}
	return b
}

// want checks that p is of type t with a value of n octets.
func (p Param) want(t ParamType, n int) error {
	if p.Type != t {
		return fmt.Errorf("%s parameter read as %s: %w", p.Type, t, ErrMalformed)
	}
	if n >= 0 && len(p.Value) != n {
		return fmt.Errorf("%s with a value of %d octets, want %d: %w", t, len(p.Value), n, ErrMalformed)
	}
	return nil
}

// Version is a mobility version, the value of a VERSION parameter.
type Version uint8

// Versions.
const (
	VersionNone    Version = 0 // NONE: no mobility
	VersionMOBIKE  Version = 1 // MOBIKE, RFC 4555
	VersionMOBIKEX Version = 2 // MOBIKE-X
)

// String returns "none", "MOBIKE", "MOBIKE-X" or "version(n)".
func (v Version) String() string {
	switch v {
	case VersionNone:
		return "none"
	case VersionMOBIKE:
		return "MOBIKE"
	case VersionMOBIKEX:
		return "MOBIKE-X"
	}
	return fmt.Sprintf("version(%d)", uint8(v))
}

// VersionParam returns the VERSION parameter for v, critical when the
// sender insists on it.
func VersionParam(v Version, critical bool) Param {
	return Param{Critical: critical, Type: ParamVersion, Value: []byte{byte(v)}}
}

// Version reads a VERSION parameter (any version number).
func (p Param) Version() (Version, error) {
	if err := p.want(ParamVersion, 1); err != nil {
		return 0, err
	}
	return Version(p.Value[0]), nil
}

// SPI names an SA in an SPI parameter.
type SPI struct {
	// Protocol is IKE, AH or ESP.
	Protocol ikev2.Protocol
	// Value is, for IKE, empty (the IKE SA the message travels on) or the
	// 16 octets SPIi | SPIr of another IKE SA with the same peer; for AH
	// and ESP the 4-octet SPI the sender of the notification receives
	// with (its inbound SPI), as in RFC 7296 Delete payloads.
	Value []byte
}

// ChildSPI names the ESP SA that the sender receives with spi.
func ChildSPI(spi uint32) SPI {
	return SPI{Protocol: ikev2.ProtocolESP, Value: binary.BigEndian.AppendUint32(nil, spi)}
}

// CurrentIKE names the IKE SA the message travels on.
func CurrentIKE() SPI { return SPI{Protocol: ikev2.ProtocolIKE} }

// IKESPI names another IKE SA with the same peer by its SPIs.
func IKESPI(spii, spir ikev2.SPI) SPI {
	v := binary.BigEndian.AppendUint64(nil, uint64(spii))
	return SPI{Protocol: ikev2.ProtocolIKE, Value: binary.BigEndian.AppendUint64(v, uint64(spir))}
}

// Child returns the SPI of an AH or ESP SA.
func (s SPI) Child() (uint32, bool) {
	if (s.Protocol != ikev2.ProtocolAH && s.Protocol != ikev2.ProtocolESP) || len(s.Value) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(s.Value), true
}

// IKE returns the SPIs of an IKE SA named by them; current is true when s
// names the IKE SA the message travels on (no SPIs).
func (s SPI) IKE() (spii, spir ikev2.SPI, current, ok bool) {
	if s.Protocol != ikev2.ProtocolIKE {
		return 0, 0, false, false
	}
	switch len(s.Value) {
	case 0:
		return 0, 0, true, true
	case 16:
		return ikev2.SPI(binary.BigEndian.Uint64(s.Value)), ikev2.SPI(binary.BigEndian.Uint64(s.Value[8:])), false, true
	}
	return 0, 0, false, false
}

// String renders the SPI as "ESP 0a0b0c0d", "IKE current" or
// "IKE 0102...".
func (s SPI) String() string {
	if s.Protocol == ikev2.ProtocolIKE && len(s.Value) == 0 {
		return "IKE current"
	}
	return fmt.Sprintf("%s %x", s.Protocol, s.Value)
}

// check validates the protocol and the SPI size.
func (s SPI) check() error {
	switch s.Protocol {
	case ikev2.ProtocolIKE:
		if len(s.Value) != 0 && len(s.Value) != 16 {
			return fmt.Errorf("IKE SPI of %d octets, want 0 or 16", len(s.Value))
		}
	case ikev2.ProtocolAH, ikev2.ProtocolESP:
		if len(s.Value) != 4 {
			return fmt.Errorf("%s SPI of %d octets, want 4", s.Protocol, len(s.Value))
		}
	default:
		return fmt.Errorf("SPI of protocol %s, want IKE, AH or ESP", s.Protocol)
	}
	return nil
}

// Equal reports whether s and o name the same SA.
func (s SPI) Equal(o SPI) bool {
	return s.Protocol == o.Protocol && string(s.Value) == string(o.Value)
}

// SPIParam returns the SPI parameter for s.
func SPIParam(s SPI) Param {
	v := append([]byte{byte(s.Protocol), byte(len(s.Value))}, s.Value...)
	return Param{Type: ParamSPI, Value: v}
}

// SPI reads an SPI parameter.
func (p Param) SPI() (SPI, error) {
	if err := p.want(ParamSPI, -1); err != nil {
		return SPI{}, err
	}
	if len(p.Value) < 2 {
		return SPI{}, fmt.Errorf("SPI with a value of %d octets, want at least 2: %w", len(p.Value), ErrMalformed)
	}
	if int(p.Value[1]) != len(p.Value)-2 {
		return SPI{}, fmt.Errorf("SPI Size %d with %d octets after it: %w", p.Value[1], len(p.Value)-2, ErrMalformed)
	}
	s := SPI{Protocol: ikev2.Protocol(p.Value[0])}
	if len(p.Value) > 2 {
		s.Value = append([]byte(nil), p.Value[2:]...)
	}
	if err := s.check(); err != nil {
		return SPI{}, fmt.Errorf("%w: %w", err, ErrMalformed)
	}
	return s, nil
}

// IP flags, high bit first.
const (
	FlagM        = 0x80 // Multihoming Information follows the address
	FlagV        = 0x40 // IPv6 address
	FlagC        = 0x20 // applies to the child SAs
	FlagO        = 0x10 // old address (OLD_IP)
	FlagN        = 0x08 // new address (NEW_IP)
	FlagH        = 0x04 // the receiver's address, else the sender's
	FlagI        = 0x02 // applies to the IKE SA
	flagReserved = 0x01
)

// IP is the value of an IP parameter.
type IP struct {
	// Addr is the address, IPv4 or IPv6 (V), without zone.
	Addr netip.Addr
	// Old (O) marks OLD_IP, New (N) NEW_IP; never both.
	Old, New bool
	// Receiver (H): the address is the receiver's (the notification's
	// recipient), else the sender's own.
	Receiver bool
	// Child (C) and IKE (I) say what the address applies to; neither
	// means both, that is whatever the selector set selects.
	Child, IKE bool
	// Info is the Multihoming Information (M), or nil.
	Info *Info
}

// Class is the kind of link an address is on (Multihoming Information).
type Class uint8

// Classes; others are kept as numbers.
const (
	ClassUnspecified Class = 0
	ClassWired       Class = 1
	ClassWLAN        Class = 2
	ClassCellular    Class = 3
	ClassSatellite   Class = 4
)

// String returns the class's name, or class(n).
func (c Class) String() string {
	switch c {
	case ClassUnspecified:
		return "unspecified"
	case ClassWired:
		return "wired"
	case ClassWLAN:
		return "wireless LAN"
	case ClassCellular:
		return "cellular"
	case ClassSatellite:
		return "satellite"
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// Reachability is what the sender knows of an address's reachability.
type Reachability uint8

// Reachability values; others are kept as numbers.
const (
	ReachabilityUnknown Reachability = 0
	Reachable           Reachability = 1
	Unreachable         Reachability = 2
)

// String returns "unknown", "reachable", "unreachable" or reachability(n).
func (r Reachability) String() string {
	switch r {
	case ReachabilityUnknown:
		return "unknown"
	case Reachable:
		return "reachable"
	case Unreachable:
		return "unreachable"
	}
	return fmt.Sprintf("reachability(%d)", uint8(r))
}

// Info is an address's Multihoming Information.
type Info struct {
	// Preference orders the addresses: 0 lowest .. 255 highest.
	Preference uint8
	// Class is the kind of link.
	Class Class
	// Reachability is what the sender knows of the address.
	Reachability Reachability
	// Start is how long after the message the address may be used (0:
	// now); Lifetime how long it stays usable (0: unlimited). Whole
	// seconds on the wire: fractions are cut, values past 2^32-1 seconds
	// capped.
	Start, Lifetime time.Duration
}

// seconds converts d to the wire's whole seconds.
func seconds(d time.Duration) uint32 {
	s := d / time.Second
	switch {
	case s <= 0:
		return 0
	case s > 0xffffffff:
		return 0xffffffff
	}
	return uint32(s)
}

// String renders the flags and address as "O 192.0.2.1" or
// "N H 2001:db8::1 pref 10".
func (ip IP) String() string {
	s := ""
	for _, f := range []struct {
		on   bool
		name string
	}{{ip.Old, "O"}, {ip.New, "N"}, {ip.Receiver, "H"}, {ip.Child, "C"}, {ip.IKE, "I"}} {
		if f.on {
			s += f.name + " "
		}
	}
	s += ip.Addr.String()
	if ip.Info != nil {
		s += fmt.Sprintf(" pref %d %s %s start %s life %s", ip.Info.Preference, ip.Info.Class,
			ip.Info.Reachability, ip.Info.Start, ip.Info.Lifetime)
	}
	return s
}

// check validates what IPParam cannot encode faithfully.
func (ip IP) check() error {
	switch {
	case !ip.Addr.IsValid():
		return fmt.Errorf("IP parameter without an address: %w", ErrInvalid)
	case ip.Addr.Zone() != "":
		return fmt.Errorf("IP parameter %s with a zone: %w", ip.Addr, ErrInvalid)
	case ip.Old && ip.New:
		return fmt.Errorf("IP parameter %s both old (O) and new (N): %w", ip.Addr, ErrInvalid)
	}
	return nil
}

// IPParam returns the IP parameter for ip: V is set for an IPv6 address
// (an IPv4-mapped one included, sent as the 16 octets it is).
func IPParam(ip IP) Param {
	a := ip.Addr
	var flags byte
	if ip.Info != nil {
		flags |= FlagM
	}
	if a.Is6() {
		flags |= FlagV
	}
	for _, f := range []struct {
		on  bool
		bit byte
	}{{ip.Child, FlagC}, {ip.Old, FlagO}, {ip.New, FlagN}, {ip.Receiver, FlagH}, {ip.IKE, FlagI}} {
		if f.on {
			flags |= f.bit
		}
	}
	v := []byte{flags, 0}
	if a.IsValid() {
		v = append(v, a.AsSlice()...)
	} else {
		v = append(v, 0, 0, 0, 0)
	}
	if in := ip.Info; in != nil {
		v = append(v, in.Preference, byte(in.Class), byte(in.Reachability), 0)
		v = binary.BigEndian.AppendUint32(v, seconds(in.Start))
		v = binary.BigEndian.AppendUint32(v, seconds(in.Lifetime))
	}
	return Param{Type: ParamIP, Value: v}
}

// IP reads an IP parameter: the value must be exactly Flags, RESERVED, the
// address of the family V says and, with M, the 12 octets of Multihoming
// Information; O and N must not both be set. Reserved bits are ignored.
func (p Param) IP() (IP, error) {
	if err := p.want(ParamIP, -1); err != nil {
		return IP{}, err
	}
	if len(p.Value) < ipHeaderLen {
		return IP{}, fmt.Errorf("IP with a value of %d octets, want at least %d: %w", len(p.Value), ipHeaderLen, ErrMalformed)
	}
	flags := p.Value[0]
	alen := 4
	if flags&FlagV != 0 {
		alen = 16
	}
	want := ipHeaderLen + alen
	if flags&FlagM != 0 {
		want += infoLen
	}
	if len(p.Value) != want {
		return IP{}, fmt.Errorf("IP with flags %#02x and a value of %d octets, want %d: %w", flags, len(p.Value), want, ErrMalformed)
	}
	if flags&FlagO != 0 && flags&FlagN != 0 {
		return IP{}, fmt.Errorf("IP with both O and N set: %w", ErrMalformed)
	}
	a, _ := netip.AddrFromSlice(p.Value[ipHeaderLen : ipHeaderLen+alen])
	ip := IP{
		Addr:     a,
		Old:      flags&FlagO != 0,
		New:      flags&FlagN != 0,
		Receiver: flags&FlagH != 0,
		Child:    flags&FlagC != 0,
		IKE:      flags&FlagI != 0,
	}
	if flags&FlagM != 0 {
		m := p.Value[ipHeaderLen+alen:]
		ip.Info = &Info{
			Preference:   m[0],
			Class:        Class(m[1]),
			Reachability: Reachability(m[2]),
			Start:        time.Duration(binary.BigEndian.Uint32(m[4:])) * time.Second,
			Lifetime:     time.Duration(binary.BigEndian.Uint32(m[8:])) * time.Second,
		}
	}
	return ip, nil
}

// Mode is an IPsec mode, the value of an IPSEC_MODE parameter; ModeAny
// (no parameter) selects either.
type Mode uint8

// Modes.
const (
	ModeAny       Mode = 0
	ModeTunnel    Mode = 1
	ModeTransport Mode = 2
)

// String returns "any", "tunnel", "transport" or mode(n).
func (m Mode) String() string {
	switch m {
	case ModeAny:
		return "any"
	case ModeTunnel:
		return "tunnel"
	case ModeTransport:
		return "transport"
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// ModeParam returns the IPSEC_MODE parameter for m (1 tunnel, 2 transport).
func ModeParam(m uint8) Param { return Param{Type: ParamIPsecMode, Value: []byte{m}} }

// Mode reads an IPSEC_MODE parameter: tunnel or transport.
func (p Param) Mode() (Mode, error) {
	if err := p.want(ParamIPsecMode, 1); err != nil {
		return 0, err
	}
	m := Mode(p.Value[0])
	if m != ModeTunnel && m != ModeTransport {
		return 0, fmt.Errorf("IPSEC_MODE %d, want 1 (tunnel) or 2 (transport): %w", p.Value[0], ErrMalformed)
	}
	return m, nil
}

// ProtoParam returns the IPSEC_PROTO parameter for p (AH or ESP).
func ProtoParam(p ikev2.Protocol) Param { return Param{Type: ParamIPsecProto, Value: []byte{byte(p)}} }

// Proto reads an IPSEC_PROTO parameter: AH or ESP.
func (p Param) Proto() (ikev2.Protocol, error) {
	if err := p.want(ParamIPsecProto, 1); err != nil {
		return 0, err
	}
	pr := ikev2.Protocol(p.Value[0])
	if pr != ikev2.ProtocolAH && pr != ikev2.ProtocolESP {
		return 0, fmt.Errorf("IPSEC_PROTO %s, want AH or ESP: %w", pr, ErrMalformed)
	}
	return pr, nil
}

// IDParam returns the ID parameter naming a selector set.
func IDParam(id uint32) Param {
	return Param{Type: ParamID, Value: binary.BigEndian.AppendUint32(nil, id)}
}

// ID reads an ID parameter.
func (p Param) ID() (uint32, error) {
	if err := p.want(ParamID, 4); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(p.Value), nil
}

// Traffic selector layout (RFC 7296 section 3.13.1).
const (
	selectorHeaderLen = 4
	selectorLenIPv4   = 16
	selectorLenIPv6   = 40
)

// SelectorParam returns the SELECTOR_SPECIFIC_VALUE parameter holding s as
// inside a TS payload. Set.Payloads checks s first (ikev2's rules).
func SelectorParam(s ikev2.Selector) Param {
	var v []byte
	switch s.Type {
	case ikev2.TSIPv4AddrRange, ikev2.TSIPv6AddrRange:
		n, alen := selectorLenIPv4, 4
		if s.Type == ikev2.TSIPv6AddrRange {
			n, alen = selectorLenIPv6, 16
		}
		v = append(v, byte(s.Type), s.Protocol, byte(n>>8), byte(n))
		v = binary.BigEndian.AppendUint16(v, s.StartPort)
		v = binary.BigEndian.AppendUint16(v, s.EndPort)
		v = appendAddr(v, s.Start, alen)
		v = appendAddr(v, s.End, alen)
	default:
		d := s.Data
		if len(d) > MaxValueLen-selectorHeaderLen {
			d = d[:MaxValueLen-selectorHeaderLen]
		}
		n := selectorHeaderLen + len(d)
		v = append(v, byte(s.Type), s.Protocol, byte(n>>8), byte(n))
		v = append(v, d...)
	}
	return Param{Type: ParamSelectorValue, Value: v}
}

// appendAddr appends a as n octets (zeros when a is not of that size).
func appendAddr(b []byte, a netip.Addr, n int) []byte {
	if a.IsValid() && a.BitLen() == n*8 {
		return append(b, a.AsSlice()...)
	}
	return append(b, make([]byte, n)...)
}

// Selector reads a SELECTOR_SPECIFIC_VALUE parameter: exactly one traffic
// selector whose Selector Length is the value's length (16 for IPv4
// ranges, 40 for IPv6; other types are kept in Data).
func (p Param) Selector() (ikev2.Selector, error) {
	if err := p.want(ParamSelectorValue, -1); err != nil {
		return ikev2.Selector{}, err
	}
	v := p.Value
	if len(v) < selectorHeaderLen {
		return ikev2.Selector{}, fmt.Errorf("SELECTOR_SPECIFIC_VALUE of %d octets, want at least %d: %w",
			len(v), selectorHeaderLen, ErrMalformed)
	}
	s := ikev2.Selector{Type: ikev2.TSType(v[0]), Protocol: v[1]}
	n := int(binary.BigEndian.Uint16(v[2:]))
	if n != len(v) {
		return ikev2.Selector{}, fmt.Errorf("SELECTOR_SPECIFIC_VALUE: Selector Length %d in a value of %d octets: %w",
			n, len(v), ErrMalformed)
	}
	switch s.Type {
	case ikev2.TSIPv4AddrRange, ikev2.TSIPv6AddrRange:
		want, alen := selectorLenIPv4, 4
		if s.Type == ikev2.TSIPv6AddrRange {
			want, alen = selectorLenIPv6, 16
		}
		if n != want {
			return ikev2.Selector{}, fmt.Errorf("SELECTOR_SPECIFIC_VALUE: %s of %d octets, want %d: %w",
				s.Type, n, want, ErrMalformed)
		}
		s.StartPort = binary.BigEndian.Uint16(v[4:])
		s.EndPort = binary.BigEndian.Uint16(v[6:])
		s.Start, _ = netip.AddrFromSlice(v[8 : 8+alen])
		s.End, _ = netip.AddrFromSlice(v[8+alen : 8+2*alen])
	default:
		if n > selectorHeaderLen {
			s.Data = append([]byte(nil), v[selectorHeaderLen:]...)
		}
	}
	return s, nil
}

// checkSelector applies ikev2's rules for a selector that can be sent.
func checkSelector(s ikev2.Selector) error {
	if _, _, err := ikev2.MarshalPayloads([]ikev2.Payload{&ikev2.TS{Selectors: []ikev2.Selector{s}}}); err != nil {
		return fmt.Errorf("selector %s: %w", s, ErrInvalid)
	}
	if s.Type != ikev2.TSIPv4AddrRange && s.Type != ikev2.TSIPv6AddrRange && len(s.Data) > MaxValueLen-selectorHeaderLen {
		return fmt.Errorf("selector %s of %d octets: %w", s.Type, len(s.Data), ErrInvalid)
	}
	return nil
}
