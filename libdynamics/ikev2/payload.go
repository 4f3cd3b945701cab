package ikev2

import (
	"encoding/binary"
	"fmt"
	"reflect"
)

// Payload is one payload of an IKE message or of the plaintext of an SK
// payload. The package's types are *SA, *KE, *ID, *Cert, *CertReq, *Auth,
// *Nonce, *Notify, *Delete, *VendorID, *TS, *SK, *CP and *EAP for the
// payloads of RFC 7296, and *RawPayload for any other type: one that is
// not critical is kept as it arrived, one that is critical fails the parse
// with a *CriticalPayloadError.
type Payload interface {
	// Type is the payload's type, as the previous payload's (or the
	// header's) Next Payload field names it.
	Type() PayloadType
	// appendBody appends the payload's content after its generic header,
	// checking that the value can be sent.
	appendBody(b []byte) ([]byte, error)
}

var (
	_ Payload = (*SA)(nil)
	_ Payload = (*KE)(nil)
	_ Payload = (*ID)(nil)
	_ Payload = (*Cert)(nil)
	_ Payload = (*CertReq)(nil)
	_ Payload = (*Auth)(nil)
	_ Payload = (*Nonce)(nil)
	_ Payload = (*Notify)(nil)
	_ Payload = (*Delete)(nil)
	_ Payload = (*VendorID)(nil)
	_ Payload = (*TS)(nil)
	_ Payload = (*SK)(nil)
	_ Payload = (*CP)(nil)
	_ Payload = (*EAP)(nil)
	_ Payload = (*RawPayload)(nil)
)

const (
	// PayloadHeaderLen is the generic payload header: next payload,
	// critical bit and reserved bits, payload length (RFC 7296 section
	// 3.2).
	PayloadHeaderLen = 4
	// MaxPayloadLen is the largest payload the 16-bit length field can
	// describe, generic header included.
	MaxPayloadLen = 0xffff
	// criticalBit is the C bit in the second octet of the generic header.
	criticalBit = 0x80
)

// RawPayload is a payload of a type the package does not decode, sent
// without the critical bit and so skipped as RFC 7296 section 2.5 asks. It
// is kept whole, so parsing and marshalling the message gives back the same
// bytes. A sender may also use it to send a payload of its own.
type RawPayload struct {
	// PayloadType is the payload's type.
	PayloadType PayloadType
	// Critical is the critical bit: a receiver that does not know the type
	// rejects the whole message when it is set. Parsed raw payloads have
	// it clear.
	Critical bool
	// Data is the payload's content after the generic header.
	Data []byte
}

// Type returns p.PayloadType.
func (p *RawPayload) Type() PayloadType { return p.PayloadType }

func (p *RawPayload) appendBody(b []byte) ([]byte, error) {
	if p.PayloadType == PayloadNone || p.PayloadType == PayloadSK {
		return nil, fmt.Errorf("raw payload of type %s: %w", p.PayloadType, ErrInvalid)
	}
	return append(b, p.Data...), nil
}

// ParsePayloads parses a chain of payloads that fills b exactly, the first
// of type first: the plaintext of an SK payload, whose first type is the
// SK payload's NextPayload. The chain ends at a payload whose Next Payload
// is zero, or at an SK payload, which must be the last. Offsets in errors
// count from the start of b.
func ParsePayloads(first PayloadType, b []byte) ([]Payload, error) {
	return parseChain(first, b, 0)
}

// parseChain parses the payload chain of b starting with type first; base
// is b's offset in the message, for error messages.
func parseChain(first PayloadType, b []byte, base int) ([]Payload, error) {
	var ps []Payload
	next, off := first, 0
	for next != PayloadNone {
		t := next
		if len(b)-off < PayloadHeaderLen {
			return nil, fmt.Errorf("payload %s at offset %d: generic header needs %d bytes, %d left: %w",
				t, base+off, PayloadHeaderLen, len(b)-off, ErrTruncated)
		}
		next = PayloadType(b[off])
		critical := b[off+1]&criticalBit != 0
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		if n < PayloadHeaderLen {
			return nil, fmt.Errorf("payload %s at offset %d: length %d, below the %d-byte header: %w",
				t, base+off, n, PayloadHeaderLen, ErrLength)
		}
		if n > len(b)-off {
			return nil, fmt.Errorf("payload %s at offset %d: length %d, %d bytes left: %w",
				t, base+off, n, len(b)-off, ErrTruncated)
		}
		body := b[off+PayloadHeaderLen : off+n]
		var (
			p   Payload
			err error
		)
		switch {
		case t.Known():
			p, err = parseBody(t, next, body)
		case critical:
			return nil, &CriticalPayloadError{Type: t, Offset: base + off}
		default:
			p = &RawPayload{PayloadType: t, Data: clone(body)}
		}
		if err != nil {
			return nil, fmt.Errorf("payload %s at offset %d: %w", t, base+off, err)
		}
		ps = append(ps, p)
		off += n
		if t == PayloadSK {
			// The SK payload's Next Payload names the first payload
			// inside it; nothing may follow it (RFC 7296 section 3.14).
			break
		}
	}
	if off != len(b) {
		return nil, fmt.Errorf("%d bytes after the last payload at offset %d: %w", len(b)-off, base+off, ErrLength)
	}
	return ps, nil
}

// parseBody decodes the content of a payload of a known type; next is the
// payload's Next Payload field, which only SK keeps.
func parseBody(t PayloadType, next PayloadType, body []byte) (Payload, error) {
	switch t {
	case PayloadSA:
		return parseSA(body)
	case PayloadKE:
		return parseKE(body)
	case PayloadIDi, PayloadIDr:
		return parseID(t == PayloadIDr, body)
	case PayloadCert:
		return parseCert(body)
	case PayloadCertReq:
		return parseCertReq(body)
	case PayloadAuth:
		return parseAuth(body)
	case PayloadNonce:
		return parseNonce(body)
	case PayloadNotify:
		return parseNotify(body)
	case PayloadDelete:
		return parseDelete(body)
	case PayloadVendorID:
		return &VendorID{Data: clone(body)}, nil
	case PayloadTSi, PayloadTSr:
		return parseTS(t == PayloadTSr, body)
	case PayloadSK:
		return &SK{NextPayload: next, Data: clone(body)}, nil
	case PayloadCP:
		return parseCP(body)
	case PayloadEAP:
		return parseEAP(body)
	}
	return nil, fmt.Errorf("type %d: %w", uint8(t), ErrInvalid)
}

// MarshalPayloads encodes ps as a chain, each payload's Next Payload naming
// the one after it, and returns the type of the first (PayloadNone for an
// empty chain) to put in the header or the SK payload. An SK payload must
// be the last; its Next Payload is its own NextPayload field.
func MarshalPayloads(ps []Payload) (first PayloadType, b []byte, err error) {
	b, err = appendPayloads(nil, ps)
	if err != nil {
		return PayloadNone, nil, err
	}
	if len(ps) > 0 {
		first = ps[0].Type()
	}
	return first, b, nil
}

// appendPayloads appends the chain of ps to b.
func appendPayloads(b []byte, ps []Payload) ([]byte, error) {
	for i, p := range ps {
		if isNil(p) {
			return nil, fmt.Errorf("payload %d is nil: %w", i, ErrInvalid)
		}
		next := PayloadNone
		if i+1 < len(ps) {
			if isNil(ps[i+1]) {
				return nil, fmt.Errorf("payload %d is nil: %w", i+1, ErrInvalid)
			}
			next = ps[i+1].Type()
		}
		var flags byte
		switch p := p.(type) {
		case *SK:
			if i+1 != len(ps) {
				return nil, fmt.Errorf("payload %d: SK payload followed by %d more; it must be the last: %w",
					i, len(ps)-i-1, ErrInvalid)
			}
			next = p.NextPayload
		case *RawPayload:
			if p.Critical {
				flags = criticalBit
			}
		}
		start := len(b)
		b = append(b, byte(next), flags, 0, 0)
		var err error
		if b, err = p.appendBody(b); err != nil {
			return nil, fmt.Errorf("payload %d (%s): %w", i, p.Type(), err)
		}
		n := len(b) - start
		if n > MaxPayloadLen {
			return nil, fmt.Errorf("payload %d (%s): %d bytes, at most %d: %w", i, p.Type(), n, MaxPayloadLen, ErrInvalid)
		}
		binary.BigEndian.PutUint16(b[start+2:], uint16(n))
	}
	return b, nil
}

// Find returns the first payload of type t in ps, or nil.
func Find(ps []Payload, t PayloadType) Payload {
	for _, p := range ps {
		if !isNil(p) && p.Type() == t {
			return p
		}
	}
	return nil
}

// FindNotify returns the first Notify payload of type t in ps, or nil.
func FindNotify(ps []Payload, t NotifyType) *Notify {
	for _, p := range ps {
		if n, ok := p.(*Notify); ok && n != nil && n.NotifyType == t {
			return n
		}
	}
	return nil
}

// isNil reports whether p is nil or a nil pointer of one of the package's
// types, which cannot be marshalled.
func isNil(p Payload) bool {
	if p == nil {
		return true
	}
	return reflect.ValueOf(p).IsNil()
}

// clone copies b; nil and empty slices both become nil, so values parsed
// from equal bytes compare equal.
func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
