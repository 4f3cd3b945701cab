package mip

import "fmt"

// MessageType is the first octet of a registration message, from IANA's
// "Mobile IPv4 Numbers" registry.
type MessageType uint8

// Message types this package decodes.
const (
	MessageRequest MessageType = 1 // Registration Request
	MessageReply   MessageType = 3 // Registration Reply
)

// String names the message type ("request", "reply", "revocation",
// "revocation-ack").
func (t MessageType) String() string {
	switch t {
	case MessageRequest:
		return "request"
	case MessageReply:
		return "reply"
	case MessageRevocation:
		return "revocation"
	case MessageRevocationAck:
		return "revocation-ack"
	default:
		return fmt.Sprintf("message(%d)", uint8(t))
	}
}

// Message is a registration message: *Request or *Reply, or a revocation
// message of RFC 3543: *Revocation or *RevocationAck.
type Message interface {
	// MessageType is the message's type octet.
	MessageType() MessageType
	// Marshal returns the message as the payload of a UDP datagram.
	Marshal() ([]byte, error)
	// AppendMarshal appends the message to b.
	AppendMarshal(b []byte) ([]byte, error)
}

var (
	_ Message = (*Request)(nil)
	_ Message = (*Reply)(nil)
)

// Parse parses the payload of a UDP datagram to or from port 434 as a
// Registration Request or Reply, or a Registration Revocation or Revocation
// Acknowledgment (RFC 3543), by its type octet.
func Parse(b []byte) (Message, error) {
	if len(b) < 1 {
		return nil, fmt.Errorf("message type: %w", ErrTruncated)
	}
	switch t := MessageType(b[0]); t {
	case MessageRequest:
		return message(ParseRequest(b))
	case MessageReply:
		return message(ParseReply(b))
	case MessageRevocation:
		return message(ParseRevocation(b))
	case MessageRevocationAck:
		return message(ParseRevocationAck(b))
	default:
		return nil, fmt.Errorf("type %d: %w", uint8(t), ErrUnknownMessage)
	}
}

// message returns m as a Message, or a nil Message (not a nil *M) with err.
func message[M Message](m M, err error) (Message, error) {
	if err != nil {
		return nil, err
	}
	return m, nil
}

// received is what a parsed message remembers of the bytes it came from.
type received struct {
	raw   []byte
	spans []span
}

// Raw returns the bytes the message was parsed from, or nil for a message
// built in memory. It does not change when the message's fields are edited
// after parsing.
func (r *received) Raw() []byte { return r.raw }

// ExtensionBytes returns the bytes the i-th extension was parsed from, type
// octet first, or nil if the message was not parsed or has no i-th
// extension in what was received.
func (r *received) ExtensionBytes(i int) []byte {
	if i < 0 || i >= len(r.spans) {
		return nil
	}
	s := r.spans[i]
	return r.raw[s.start:s.end:s.end]
}
