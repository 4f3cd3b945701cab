package ikecrypto

import (
	"fmt"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// SealMessage returns the wire form of an encrypted message: m's header,
// m's payloads (normally none; they travel in the clear), and an SK payload
// holding inner sealed with c. The IKE header's and SK payload's lengths
// are computed before sealing, so the associated data is the message as
// sent. m is not changed; m.Payloads must not already hold an SK payload.
func SealMessage(c Cipher, m *ikev2.Message, inner []ikev2.Payload) ([]byte, error) {
	for _, p := range m.Payloads {
		if p != nil && p.Type() == ikev2.PayloadSK {
			return nil, fmt.Errorf("%w: message to seal already has an SK payload", ErrInvalid)
		}
	}
	first, pt, err := ikev2.MarshalPayloads(inner)
	if err != nil {
		return nil, fmt.Errorf("ikecrypto: marshalling the inner payloads: %w", err)
	}
	n := c.SealedLen(len(pt))
	out := *m
	out.Payloads = append(append(make([]ikev2.Payload, 0, len(m.Payloads)+1), m.Payloads...),
		&ikev2.SK{NextPayload: first, Data: make([]byte, n)})
	b, err := out.Marshal()
	if err != nil {
		return nil, fmt.Errorf("ikecrypto: marshalling the message: %w", err)
	}
	ad := b[:len(b)-n]
	body, err := c.Seal(ad, pt)
	if err != nil {
		return nil, err
	}
	if len(body) != n {
		return nil, fmt.Errorf("%w: cipher sealed %d octets, promised %d", ErrInvalid, len(body), n)
	}
	copy(b[len(b)-n:], body)
	return b, nil
}

// OpenMessage checks and decrypts the SK payload of a received message and
// parses the payloads inside. b is the message as received and m its parse
// (ikev2.Parse(b)); the SK payload must be m's last payload (RFC 7296
// section 3.14). A message without one, or whose SK payload is not the end
// of b, is an error wrapping ErrMalformed; an ICV that does not match one
// wrapping ErrIntegrity; inner payloads that do not parse return package
// ikev2's error.
func OpenMessage(c Cipher, b []byte, m *ikev2.Message) ([]ikev2.Payload, error) {
	if len(m.Payloads) == 0 {
		return nil, fmt.Errorf("%w: %v has no SK payload", ErrMalformed, m.Exchange)
	}
	sk, ok := m.Payloads[len(m.Payloads)-1].(*ikev2.SK)
	if !ok {
		return nil, fmt.Errorf("%w: %v does not end with an SK payload", ErrMalformed, m.Exchange)
	}
	if len(b) != int(m.Length) || len(b) < ikev2.HeaderLen+4+len(sk.Data) {
		return nil, fmt.Errorf("%w: message of %d octets with an SK payload body of %d", ErrMalformed, len(b), len(sk.Data))
	}
	pt, err := c.Open(b[:len(b)-len(sk.Data)], b[len(b)-len(sk.Data):])
	if err != nil {
		return nil, err
	}
	ps, err := ikev2.ParsePayloads(sk.NextPayload, pt)
	if err != nil {
		return nil, fmt.Errorf("ikecrypto: payloads inside the SK payload: %w", err)
	}
	return ps, nil
}
