package mip

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// ReplyLen is the length of a Registration Reply's fixed part: type, code,
// lifetime, home address, home agent and identification.
const ReplyLen = 20

// Reply is a Registration Reply (RFC 5944 section 3.4), the home agent's
// or foreign agent's answer to a Registration Request.
type Reply struct {
	received

	Code Code
	// Lifetime is the lifetime granted in seconds when Code accepts; 0
	// confirms a deregistration.
	Lifetime uint16
	// Home is the mobile node's home address.
	Home netip.Addr
	// HomeAgent is the home agent's address.
	HomeAgent netip.Addr
	// ID is the identification, matched against the request's.
	ID uint64
	// Extensions follow the fixed part in order.
	Extensions []Extension
}

// MessageType returns MessageReply.
func (*Reply) MessageType() MessageType { return MessageReply }

// ParseReply parses a Registration Reply from a UDP payload. The reply
// keeps a copy of b (see Raw).
func ParseReply(b []byte) (*Reply, error) {
	if len(b) < ReplyLen {
		return nil, fmt.Errorf("registration reply: %d bytes, fixed part is %d: %w", len(b), ReplyLen, ErrTruncated)
	}
	if t := MessageType(b[0]); t != MessageReply {
		return nil, fmt.Errorf("registration reply: type %d: %w", uint8(t), ErrUnknownMessage)
	}
	raw := append([]byte(nil), b...)
	exts, spans, err := parseExtensions(raw, ReplyLen)
	if err != nil {
		return nil, fmt.Errorf("registration reply: %w", err)
	}
	r := &Reply{
		received:   received{raw: raw, spans: spans},
		Code:       Code(raw[1]),
		Lifetime:   binary.BigEndian.Uint16(raw[2:4]),
		Home:       addrAt(raw, 4),
		HomeAgent:  addrAt(raw, 8),
		ID:         binary.BigEndian.Uint64(raw[12:20]),
		Extensions: exts,
	}
	return r, nil
}

// Marshal returns the reply as a UDP payload.
func (r *Reply) Marshal() ([]byte, error) {
	return r.AppendMarshal(make([]byte, 0, ReplyLen+64))
}

// AppendMarshal appends the reply to b. On error b is not extended and nil
// is returned.
func (r *Reply) AppendMarshal(b []byte) ([]byte, error) {
	out := append(b, byte(MessageReply), byte(r.Code))
	out = binary.BigEndian.AppendUint16(out, r.Lifetime)
	var err error
	if out, err = appendAddr(out, "home address", r.Home); err != nil {
		return nil, fmt.Errorf("registration reply: %w", err)
	}
	if out, err = appendAddr(out, "home agent", r.HomeAgent); err != nil {
		return nil, fmt.Errorf("registration reply: %w", err)
	}
	out = binary.BigEndian.AppendUint64(out, r.ID)
	if out, err = appendExtensions(out, r.Extensions); err != nil {
		return nil, fmt.Errorf("registration reply: %w", err)
	}
	return out, nil
}

// Auth returns the first authentication extension of type t and its index
// in Extensions, or nil and -1.
func (r *Reply) Auth(t Type) (*Auth, int) { return findAuth(r.Extensions, t) }

// Authenticate appends an authentication extension of type t computed with
// sa over the reply as it marshals now; see (*Request).Authenticate.
func (r *Reply) Authenticate(t Type, sa SecurityAssociation) error {
	b, err := r.Marshal()
	if err != nil {
		return err
	}
	a, err := newAuth(b, t, sa)
	if err != nil {
		return fmt.Errorf("registration reply: %w", err)
	}
	r.Extensions = append(r.Extensions, a)
	return nil
}

// VerifyReply checks the first authentication extension of type t in the
// received Registration Reply raw against sa; see VerifyRequest.
func VerifyReply(raw []byte, t Type, sa SecurityAssociation) error {
	if len(raw) < ReplyLen {
		return fmt.Errorf("registration reply: %d bytes, fixed part is %d: %w", len(raw), ReplyLen, ErrTruncated)
	}
	if mt := MessageType(raw[0]); mt != MessageReply {
		return fmt.Errorf("registration reply: type %d: %w", uint8(mt), ErrUnknownMessage)
	}
	if err := verify(raw, ReplyLen, t, sa); err != nil {
		return fmt.Errorf("registration reply: %w", err)
	}
	return nil
}
