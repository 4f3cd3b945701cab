package ikev2

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by the package wrap one of these with
// the offending payload, field or offset, so callers test them with
// errors.Is. RFC 7296 section 2.21.1 lists the answers: ErrVersion calls
// for INVALID_MAJOR_VERSION, ErrUnsupportedCritical for
// UNSUPPORTED_CRITICAL_PAYLOAD (see CriticalPayloadError), and the others
// for INVALID_SYNTAX; ErrorNotify picks the right one.
var (
	// ErrTruncated means the message ends before a header, payload or
	// field it declares.
	ErrTruncated = errors.New("ikev2: message truncated")
	// ErrLength means a length field disagrees with the bytes around it: a
	// header length other than the datagram's, a payload length below its
	// minimum or past its parent, bytes left over after the last payload.
	ErrLength = errors.New("ikev2: inconsistent length")
	// ErrVersion means the header's major version is not 2.
	ErrVersion = errors.New("ikev2: unsupported major version")
	// ErrInvalid means a field holds a value RFC 7296 (or the RFC that
	// defines it) does not allow: a nonce outside 16..256 octets, a
	// proposal numbered out of order, an SPI of the wrong size for its
	// protocol, a zero initiator SPI. When marshalling, it also means a
	// value cannot be encoded (too long, nil payload).
	ErrInvalid = errors.New("ikev2: invalid field value")
	// ErrUnsupportedCritical means the message carries a payload whose type
	// the package does not know with the critical bit set. The error is a
	// *CriticalPayloadError naming the type.
	ErrUnsupportedCritical = errors.New("ikev2: unsupported critical payload")
)

// CriticalPayloadError is the error for a payload of an unknown type with
// the critical bit set (RFC 7296 section 2.5): the whole message must be
// rejected, and a responder answers with an UNSUPPORTED_CRITICAL_PAYLOAD
// notification whose data is the payload type (Notify builds it).
type CriticalPayloadError struct {
	// Type is the unknown payload's type.
	Type PayloadType
	// Offset is where the payload's generic header starts, counted from the
	// start of the bytes parsed (the IKE header for Parse).
	Offset int
}

func (e *CriticalPayloadError) Error() string {
	return fmt.Sprintf("ikev2: payload %s at offset %d: unsupported critical payload", e.Type, e.Offset)
}

// Is reports whether target is ErrUnsupportedCritical.
func (e *CriticalPayloadError) Is(target error) bool { return target == ErrUnsupportedCritical }

// Notify returns the UNSUPPORTED_CRITICAL_PAYLOAD notification that answers
// the message: its data is the one-octet payload type (RFC 7296 section
// 3.10.1).
func (e *CriticalPayloadError) Notify() *Notify {
	return &Notify{NotifyType: NotifyUnsupportedCriticalPayload, Data: []byte{byte(e.Type)}}
}

// ErrorNotify returns the error notification a responder sends for a
// request that failed to parse with err (RFC 7296 sections 2.5 and 2.21.1):
// UNSUPPORTED_CRITICAL_PAYLOAD with the payload type, INVALID_MAJOR_VERSION,
// or INVALID_SYNTAX for anything else. It returns nil for a nil error.
func ErrorNotify(err error) *Notify {
	var crit *CriticalPayloadError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &crit):
		return crit.Notify()
	case errors.Is(err, ErrVersion):
		return &Notify{NotifyType: NotifyInvalidMajorVersion}
	default:
		return &Notify{NotifyType: NotifyInvalidSyntax}
	}
}
