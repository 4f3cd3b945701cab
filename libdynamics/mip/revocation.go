package mip

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Registration revocation (RFC 3543): an agent ends a mobility binding
// before its lifetime runs out and tells the agent on the other side of it.
// A home agent revokes a foreign agent's visitor entry when the mobile node
// has moved elsewhere; a foreign agent revokes a binding at the home agent
// when it drops a visitor. Both messages travel over UDP port 434 and carry
// the Foreign-Home authentication extension (34) of the security
// association between the two agents. An agent announces that it
// understands revocation with the Revocation Support extension (137) in the
// requests it relays (foreign agent) or the replies it sends (home agent).

// Message types of RFC 3543 section 3.
const (
	MessageRevocation    MessageType = 7  // Registration Revocation
	MessageRevocationAck MessageType = 15 // Registration Revocation Acknowledgment
)

// TypeRevocationSupport is the Revocation Support extension (RFC 3543
// section 3.1). It is skippable, so a message carrying it parses as a
// *RawExtension of this type; FindRevocationSupport decodes it.
const TypeRevocationSupport Type = 137

// Lengths of the revocation messages' fixed parts and of the Revocation
// Support extension's data.
const (
	// RevocationLen: type, reserved octet, flags (16 bits), home address,
	// home domain address, foreign domain address and revocation
	// identifier.
	RevocationLen = 20
	// RevocationAckLen: type, reserved octet, flags (16 bits), home
	// address and revocation identifier.
	RevocationAckLen = 12
	// RevocationSupportLen is the Revocation Support extension's length
	// octet: flags (16 bits) and timestamp.
	RevocationSupportLen = 6
)

// RevocationFlags are the 16 bits after a Registration Revocation's
// reserved octet. Bits other than A and I are reserved: sent as zero and
// kept as received.
type RevocationFlags uint16

// Bits of a Registration Revocation.
const (
	// RevocationHomeAgent (A): the home agent (home domain) revokes; clear
	// when a foreign agent does.
	RevocationHomeAgent RevocationFlags = 0x8000
	// RevocationInform (I): the revoking agent asks the receiver to tell
	// the mobile node that its binding is gone.
	RevocationInform RevocationFlags = 0x4000
)

// Has reports whether every flag in g is set in f.
func (f RevocationFlags) Has(g RevocationFlags) bool { return f&g == g }

// String returns the letters of the set flags ("AI"), followed by the
// reserved bits in hexadecimal when any is set ("A+0x0001").
func (f RevocationFlags) String() string {
	var b strings.Builder
	if f.Has(RevocationHomeAgent) {
		b.WriteByte('A')
	}
	if f.Has(RevocationInform) {
		b.WriteByte('I')
	}
	if r := f &^ (RevocationHomeAgent | RevocationInform); r != 0 {
		fmt.Fprintf(&b, "+%#04x", uint16(r))
	}
	return b.String()
}

// AckFlags are the 16 bits after a Revocation Acknowledgment's reserved
// octet, and likewise the flags of the Revocation Support extension: the I
// bit on top, the other 15 reserved and kept as received.
type AckFlags uint16

// AckInform (I): in an acknowledgment, the mobile node has been told of
// the revocation; in a Revocation Support extension, the sending agent
// supports the I bit.
const AckInform AckFlags = 0x8000

// Has reports whether every flag in g is set in f.
func (f AckFlags) Has(g AckFlags) bool { return f&g == g }

// String returns "I" when the I bit is set, followed by the reserved bits
// in hexadecimal when any is set.
func (f AckFlags) String() string {
	var b strings.Builder
	if f.Has(AckInform) {
		b.WriteByte('I')
	}
	if r := f &^ AckInform; r != 0 {
		fmt.Fprintf(&b, "+%#04x", uint16(r))
	}
	return b.String()
}

// Revocation is a Registration Revocation (RFC 3543 section 3.2), sent by
// the agent that ends a binding to the agent at the binding's other end.
type Revocation struct {
	received

	// Reserved is the octet after the type; sent as zero.
	Reserved uint8
	Flags    RevocationFlags
	// Home is the mobile node's home address.
	Home netip.Addr
	// HomeDomain is the home agent's address, as registered.
	HomeDomain netip.Addr
	// ForeignDomain is the foreign agent's care-of address, as registered.
	ForeignDomain netip.Addr
	// ID is the revocation identifier: the revoking agent's timestamp
	// (RevocationTimestamp), later than any it sent before, which the
	// acknowledgment copies.
	ID uint32
	// Extensions follow the fixed part in order; the Foreign-Home
	// authentication extension comes last.
	Extensions []Extension
}

// RevocationAck is a Registration Revocation Acknowledgment (RFC 3543
// section 3.3), the receiving agent's answer to a Revocation.
type RevocationAck struct {
	received

	// Reserved is the octet after the type; sent as zero.
	Reserved uint8
	Flags    AckFlags
	// Home is the mobile node's home address from the revocation.
	Home netip.Addr
	// ID is the revocation identifier copied from the revocation.
	ID uint32
	// Extensions follow the fixed part in order; the Foreign-Home
	// authentication extension comes last.
	Extensions []Extension
}

var (
	_ Message = (*Revocation)(nil)
	_ Message = (*RevocationAck)(nil)
)

// MessageType returns MessageRevocation.
func (*Revocation) MessageType() MessageType { return MessageRevocation }

// MessageType returns MessageRevocationAck.
func (*RevocationAck) MessageType() MessageType { return MessageRevocationAck }

// ParseRevocation parses a Registration Revocation from a UDP payload. The
// revocation keeps a copy of b (see Raw).
func ParseRevocation(b []byte) (*Revocation, error) {
	if len(b) < RevocationLen {
		return nil, fmt.Errorf("registration revocation: %d bytes, fixed part is %d: %w", len(b), RevocationLen, ErrTruncated)
	}
	if t := MessageType(b[0]); t != MessageRevocation {
		return nil, fmt.Errorf("registration revocation: type %d: %w", uint8(t), ErrUnknownMessage)
	}
	raw := append([]byte(nil), b...)
	exts, spans, err := parseExtensions(raw, RevocationLen)
	if err != nil {
		return nil, fmt.Errorf("registration revocation: %w", err)
	}
	r := &Revocation{
		received:      received{raw: raw, spans: spans},
		Reserved:      raw[1],
		Flags:         RevocationFlags(binary.BigEndian.Uint16(raw[2:4])),
		Home:          addrAt(raw, 4),
		HomeDomain:    addrAt(raw, 8),
		ForeignDomain: addrAt(raw, 12),
		ID:            binary.BigEndian.Uint32(raw[16:20]),
		Extensions:    exts,
	}
	return r, nil
}

// ParseRevocationAck parses a Revocation Acknowledgment from a UDP payload.
// The acknowledgment keeps a copy of b (see Raw).
func ParseRevocationAck(b []byte) (*RevocationAck, error) {
	if len(b) < RevocationAckLen {
		return nil, fmt.Errorf("revocation acknowledgment: %d bytes, fixed part is %d: %w", len(b), RevocationAckLen, ErrTruncated)
	}
	if t := MessageType(b[0]); t != MessageRevocationAck {
		return nil, fmt.Errorf("revocation acknowledgment: type %d: %w", uint8(t), ErrUnknownMessage)
	}
	raw := append([]byte(nil), b...)
	exts, spans, err := parseExtensions(raw, RevocationAckLen)
	if err != nil {
		return nil, fmt.Errorf("revocation acknowledgment: %w", err)
	}
	a := &RevocationAck{
		received:   received{raw: raw, spans: spans},
		Reserved:   raw[1],
		Flags:      AckFlags(binary.BigEndian.Uint16(raw[2:4])),
		Home:       addrAt(raw, 4),
		ID:         binary.BigEndian.Uint32(raw[8:12]),
		Extensions: exts,
	}
	return a, nil
}

// Marshal returns the revocation as a UDP payload.
func (r *Revocation) Marshal() ([]byte, error) {
	return r.AppendMarshal(make([]byte, 0, RevocationLen+32))
}

// AppendMarshal appends the revocation to b. On error b is not extended
// and nil is returned.
func (r *Revocation) AppendMarshal(b []byte) ([]byte, error) {
	out := append(b, byte(MessageRevocation), r.Reserved)
	out = binary.BigEndian.AppendUint16(out, uint16(r.Flags))
	var err error
	for _, f := range []struct {
		name string
		a    netip.Addr
	}{{"home address", r.Home}, {"home domain address", r.HomeDomain}, {"foreign domain address", r.ForeignDomain}} {
		if out, err = appendAddr(out, f.name, f.a); err != nil {
			return nil, fmt.Errorf("registration revocation: %w", err)
		}
	}
	out = binary.BigEndian.AppendUint32(out, r.ID)
	if out, err = appendExtensions(out, r.Extensions); err != nil {
		return nil, fmt.Errorf("registration revocation: %w", err)
	}
	return out, nil
}

// Marshal returns the acknowledgment as a UDP payload.
func (a *RevocationAck) Marshal() ([]byte, error) {
	return a.AppendMarshal(make([]byte, 0, RevocationAckLen+32))
}

// AppendMarshal appends the acknowledgment to b. On error b is not
// extended and nil is returned.
func (a *RevocationAck) AppendMarshal(b []byte) ([]byte, error) {
	out := append(b, byte(MessageRevocationAck), a.Reserved)
	out = binary.BigEndian.AppendUint16(out, uint16(a.Flags))
	var err error
	if out, err = appendAddr(out, "home address", a.Home); err != nil {
		return nil, fmt.Errorf("revocation acknowledgment: %w", err)
	}
	out = binary.BigEndian.AppendUint32(out, a.ID)
	if out, err = appendExtensions(out, a.Extensions); err != nil {
		return nil, fmt.Errorf("revocation acknowledgment: %w", err)
	}
	return out, nil
}

// Auth returns the first authentication extension of type t and its index
// in Extensions, or nil and -1.
func (r *Revocation) Auth(t Type) (*Auth, int) { return findAuth(r.Extensions, t) }

// Auth returns the first authentication extension of type t and its index
// in Extensions, or nil and -1.
func (a *RevocationAck) Auth(t Type) (*Auth, int) { return findAuth(a.Extensions, t) }

// Authenticate appends an authentication extension of type t (RFC 3543
// uses TypeForeignHome) computed with sa over the revocation as it marshals
// now; see (*Request).Authenticate.
func (r *Revocation) Authenticate(t Type, sa SecurityAssociation) error {
	b, err := r.Marshal()
	if err != nil {
		return err
	}
	x, err := newAuth(b, t, sa)
	if err != nil {
		return fmt.Errorf("registration revocation: %w", err)
	}
	r.Extensions = append(r.Extensions, x)
	return nil
}

// Authenticate appends an authentication extension of type t (RFC 3543
// uses TypeForeignHome) computed with sa over the acknowledgment as it
// marshals now; see (*Request).Authenticate.
func (a *RevocationAck) Authenticate(t Type, sa SecurityAssociation) error {
	b, err := a.Marshal()
	if err != nil {
		return err
	}
	x, err := newAuth(b, t, sa)
	if err != nil {
		return fmt.Errorf("revocation acknowledgment: %w", err)
	}
	a.Extensions = append(a.Extensions, x)
	return nil
}

// VerifyRevocation checks the first authentication extension of type t in
// the received Registration Revocation raw against sa; see VerifyRequest.
func VerifyRevocation(raw []byte, t Type, sa SecurityAssociation) error {
	if len(raw) < RevocationLen {
		return fmt.Errorf("registration revocation: %d bytes, fixed part is %d: %w", len(raw), RevocationLen, ErrTruncated)
	}
	if mt := MessageType(raw[0]); mt != MessageRevocation {
		return fmt.Errorf("registration revocation: type %d: %w", uint8(mt), ErrUnknownMessage)
	}
	if err := verify(raw, RevocationLen, t, sa); err != nil {
		return fmt.Errorf("registration revocation: %w", err)
	}
	return nil
}

// VerifyRevocationAck checks the first authentication extension of type t
// in the received Revocation Acknowledgment raw against sa; see
// VerifyRequest.
func VerifyRevocationAck(raw []byte, t Type, sa SecurityAssociation) error {
	if len(raw) < RevocationAckLen {
		return fmt.Errorf("revocation acknowledgment: %d bytes, fixed part is %d: %w", len(raw), RevocationAckLen, ErrTruncated)
	}
	if mt := MessageType(raw[0]); mt != MessageRevocationAck {
		return fmt.Errorf("revocation acknowledgment: type %d: %w", uint8(mt), ErrUnknownMessage)
	}
	if err := verify(raw, RevocationAckLen, t, sa); err != nil {
		return fmt.Errorf("revocation acknowledgment: %w", err)
	}
	return nil
}

// RevocationSupport is the Revocation Support extension (RFC 3543 section
// 3.1). A foreign agent puts it in the requests it relays, and a home agent
// in its replies, before the Foreign-Home authenticator, to say that it
// takes part in revocation with the other.
type RevocationSupport struct {
	// Flags: AckInform when the sender supports the I bit.
	Flags AckFlags
	// Timestamp is the sender's clock (RevocationTimestamp). Revocation
	// identifiers the sender uses later are greater than it.
	Timestamp uint32
}

var _ Extension = (*RevocationSupport)(nil)

// Kind returns TypeRevocationSupport.
func (*RevocationSupport) Kind() Type { return TypeRevocationSupport }

// AppendMarshal appends the type, length 6, flags and timestamp.
func (s *RevocationSupport) AppendMarshal(b []byte) ([]byte, error) {
	b = append(b, byte(TypeRevocationSupport), RevocationSupportLen)
	b = binary.BigEndian.AppendUint16(b, uint16(s.Flags))
	return binary.BigEndian.AppendUint32(b, s.Timestamp), nil
}

// ParseRevocationSupport decodes the data of a Revocation Support
// extension, the bytes after its type and length octets.
func ParseRevocationSupport(data []byte) (*RevocationSupport, error) {
	if len(data) != RevocationSupportLen {
		return nil, fmt.Errorf("%s extension: length %d, want %d: %w", TypeRevocationSupport, len(data), RevocationSupportLen, ErrExtensionLength)
	}
	return &RevocationSupport{
		Flags:     AckFlags(binary.BigEndian.Uint16(data[0:2])),
		Timestamp: binary.BigEndian.Uint32(data[2:6]),
	}, nil
}

// FindRevocationSupport returns the first Revocation Support extension in
// exts, decoded, whether it was parsed (a *RawExtension of type 137) or
// built (*RevocationSupport). It returns nil and no error when there is
// none, and an error wrapping ErrExtensionLength when its length is not 6.
func FindRevocationSupport(exts []Extension) (*RevocationSupport, error) {
	for _, e := range exts {
		switch e := e.(type) {
		case *RevocationSupport:
			if e != nil {
				c := *e
				return &c, nil
			}
		case *RawExtension:
			if e != nil && e.Type == TypeRevocationSupport {
				return ParseRevocationSupport(e.Data)
			}
		}
	}
	return nil, nil
}

// RevocationTimestamp returns now as RFC 3543's 32-bit timestamps and
// revocation identifiers: seconds since 1900, the high 32 bits of an NTP
// timestamp.
func RevocationTimestamp(now time.Time) uint32 { return uint32(TimestampID(now) >> 32) }

// NextRevocationID returns the identifier for a new revocation sent at now
// by an agent whose last one was last (0 for none): its timestamp, or
// last+1 when the clock has not moved on, so identifiers only grow.
func NextRevocationID(last uint32, now time.Time) uint32 {
	id := RevocationTimestamp(now)
	if last != 0 && int32(id-last) <= 0 {
		id = last + 1
	}
	return id
}

// CheckRevocationID applies the receiver's replay rule to a revocation
// identifier: it must be later than last, the greater of the last
// identifier accepted from the same agent and the timestamp of that agent's
// last Revocation Support extension (0 for neither). Comparisons are
// modulo 2^32. The error wraps ErrIDMismatch.
func CheckRevocationID(id, last uint32) error {
	if last != 0 && int32(id-last) <= 0 {
		return fmt.Errorf("revocation identifier %d, not later than %d: %w", id, last, ErrIDMismatch)
	}
	return nil
}
