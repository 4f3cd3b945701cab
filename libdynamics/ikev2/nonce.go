package ikev2

import "fmt"

// Nonce is the Nonce payload, Ni or Nr (RFC 7296 section 3.9): random data
// of 16 to 256 octets.
type Nonce struct {
	Data []byte
}

// Nonce lengths of RFC 7296 section 3.9. A nonce must also be at least half
// the key size of the negotiated PRF (section 2.10), which the engine
// checks once the PRF is known.
const (
	MinNonceLen = 16
	MaxNonceLen = 256
)

// Type returns PayloadNonce.
func (*Nonce) Type() PayloadType { return PayloadNonce }

func (n *Nonce) check() error {
	if len(n.Data) < MinNonceLen || len(n.Data) > MaxNonceLen {
		return fmt.Errorf("nonce of %d octets, want %d to %d: %w", len(n.Data), MinNonceLen, MaxNonceLen, ErrInvalid)
	}
	return nil
}

func parseNonce(b []byte) (*Nonce, error) {
	n := &Nonce{Data: clone(b)}
	if err := n.check(); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *Nonce) appendBody(b []byte) ([]byte, error) {
	if err := n.check(); err != nil {
		return nil, err
	}
	return append(b, n.Data...), nil
}
