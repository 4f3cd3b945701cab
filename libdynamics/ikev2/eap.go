package ikev2

import (
	"encoding/binary"
	"fmt"
)

// EAP is the Extensible Authentication payload (RFC 7296 section 3.16),
// kept raw: one EAP message (RFC 3748), whose own length field must match
// the payload.
type EAP struct {
	// Data is the EAP message: code, identifier, length, then type and
	// type data for requests and responses.
	Data []byte
}

// eapHeaderLen is the EAP message header: code, identifier, length.
const eapHeaderLen = 4

// Type returns PayloadEAP.
func (*EAP) Type() PayloadType { return PayloadEAP }

func (e *EAP) check() error {
	if len(e.Data) < eapHeaderLen {
		return fmt.Errorf("EAP message of %d octets, want at least %d: %w", len(e.Data), eapHeaderLen, ErrInvalid)
	}
	if n := int(binary.BigEndian.Uint16(e.Data[2:])); n != len(e.Data) {
		return fmt.Errorf("EAP message length %d in a payload of %d: %w", n, len(e.Data), ErrInvalid)
	}
	return nil
}

func parseEAP(b []byte) (*EAP, error) {
	e := &EAP{Data: clone(b)}
	if err := e.check(); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *EAP) appendBody(b []byte) ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	return append(b, e.Data...), nil
}
