package mip

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// RequestLen is the length of a Registration Request's fixed part: type,
// flags, lifetime, home address, home agent, care-of address and
// identification.
const RequestLen = 24

// Infinite is the lifetime that never expires. A lifetime of 0 asks for
// deregistration.
const Infinite uint16 = 0xffff

// Request is a Registration Request (RFC 5944 section 3.3), sent by a
// mobile node to register a care-of address with its home agent, directly
// or relayed by a foreign agent.
type Request struct {
	received

	Flags Flags
	// Lifetime is the registration lifetime asked for in seconds; 0
	// deregisters, Infinite never expires.
	Lifetime uint16
	// Home is the mobile node's home address.
	Home netip.Addr
	// HomeAgent is the home agent's address.
	HomeAgent netip.Addr
	// CareOf is the care-of address: the tunnel's end away from home.
	CareOf netip.Addr
	// ID is the identification, for matching replies and for replay
	// protection: an NTP timestamp (TimestampID) or a pair of nonces
	// (NonceID).
	ID uint64
	// Extensions follow the fixed part in order.
	Extensions []Extension
}

// MessageType returns MessageRequest.
func (*Request) MessageType() MessageType { return MessageRequest }

// ParseRequest parses a Registration Request from a UDP payload. The
// request keeps a copy of b (see Raw).
func ParseRequest(b []byte) (*Request, error) {
	if len(b) < RequestLen {
		return nil, fmt.Errorf("registration request: %d bytes, fixed part is %d: %w", len(b), RequestLen, ErrTruncated)
	}
	if t := MessageType(b[0]); t != MessageRequest {
		return nil, fmt.Errorf("registration request: type %d: %w", uint8(t), ErrUnknownMessage)
	}
	raw := append([]byte(nil), b...)
	exts, spans, err := parseExtensions(raw, RequestLen)
	if err != nil {
		return nil, fmt.Errorf("registration request: %w", err)
	}
	r := &Request{
		received:   received{raw: raw, spans: spans},
		Flags:      Flags(raw[1]),
		Lifetime:   binary.BigEndian.Uint16(raw[2:4]),
		Home:       addrAt(raw, 4),
		HomeAgent:  addrAt(raw, 8),
		CareOf:     addrAt(raw, 12),
		ID:         binary.BigEndian.Uint64(raw[16:24]),
		Extensions: exts,
	}
	return r, nil
}

// Marshal returns the request as a UDP payload.
func (r *Request) Marshal() ([]byte, error) {
	return r.AppendMarshal(make([]byte, 0, RequestLen+64))
}

// AppendMarshal appends the request to b. On error b is not extended and
// nil is returned.
func (r *Request) AppendMarshal(b []byte) ([]byte, error) {
	out := append(b, byte(MessageRequest), byte(r.Flags))
	out = binary.BigEndian.AppendUint16(out, r.Lifetime)
	var err error
	if out, err = appendAddr(out, "home address", r.Home); err != nil {
		return nil, fmt.Errorf("registration request: %w", err)
	}
	if out, err = appendAddr(out, "home agent", r.HomeAgent); err != nil {
		return nil, fmt.Errorf("registration request: %w", err)
	}
	if out, err = appendAddr(out, "care-of address", r.CareOf); err != nil {
		return nil, fmt.Errorf("registration request: %w", err)
	}
	out = binary.BigEndian.AppendUint64(out, r.ID)
	if out, err = appendExtensions(out, r.Extensions); err != nil {
		return nil, fmt.Errorf("registration request: %w", err)
	}
	return out, nil
}

// Auth returns the first authentication extension of type t and its index
// in Extensions, or nil and -1.
func (r *Request) Auth(t Type) (*Auth, int) { return findAuth(r.Extensions, t) }

// Authenticate appends an authentication extension of type t
// (TypeMobileHome, TypeMobileForeign or TypeForeignHome) computed with sa
// over the request as it marshals now, so it must be the last change
// before sending: extensions added later are not covered.
func (r *Request) Authenticate(t Type, sa SecurityAssociation) error {
	b, err := r.Marshal()
	if err != nil {
		return err
	}
	a, err := newAuth(b, t, sa)
	if err != nil {
		return fmt.Errorf("registration request: %w", err)
	}
	r.Extensions = append(r.Extensions, a)
	return nil
}

// VerifyRequest checks the first authentication extension of type t in the
// received Registration Request raw against sa. It returns nil when the
// SPI is sa's and the authenticator is the one sa computes over the bytes
// RFC 5944 section 3.5.1 names, taken from raw exactly as received; an
// error wrapping ErrAuthMissing, ErrSPIMismatch or ErrAuthFailed when not;
// or a parse error when raw is not a valid request.
func VerifyRequest(raw []byte, t Type, sa SecurityAssociation) error {
	if len(raw) < RequestLen {
		return fmt.Errorf("registration request: %d bytes, fixed part is %d: %w", len(raw), RequestLen, ErrTruncated)
	}
	if mt := MessageType(raw[0]); mt != MessageRequest {
		return fmt.Errorf("registration request: type %d: %w", uint8(mt), ErrUnknownMessage)
	}
	if err := verify(raw, RequestLen, t, sa); err != nil {
		return fmt.Errorf("registration request: %w", err)
	}
	return nil
}
