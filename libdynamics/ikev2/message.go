package ikev2

import (
	"encoding/binary"
	"fmt"
	"strings"
)

const (
	// HeaderLen is the size of the IKE header (RFC 7296 section 3.1).
	HeaderLen = 28
	// MajorVersion is the only major version the package speaks.
	MajorVersion = 2
)

// Header is the IKE header (RFC 7296 section 3.1).
type Header struct {
	// SPIi is the initiator's SPI; never zero.
	SPIi SPI
	// SPIr is the responder's SPI; zero in the first IKE_SA_INIT request.
	SPIr SPI
	// NextPayload is the type of the first payload. Message.Marshal sets
	// it from the payloads.
	NextPayload PayloadType
	// MinorVersion is the minor version, 0 for RFC 7296; a receiver
	// ignores it (it is kept as received). The major version is always 2.
	MinorVersion uint8
	Exchange     ExchangeType
	Flags        Flags
	// MessageID counts requests; a response carries its request's ID.
	MessageID uint32
	// Length is the whole message's length, header included. Message.Marshal
	// sets it from the payloads.
	Length uint32
}

// IsResponse reports whether the R flag is set.
func (h *Header) IsResponse() bool { return h.Flags.Response() }

// ParseHeader parses the IKE header at the start of b, for a receiver that
// wants to find the IKE SA (by SPIs) before parsing or decrypting the rest.
// It checks the header alone: b may hold more than Length bytes. When the
// major version is not 2 the error wraps ErrVersion and the header is
// returned with it, so the receiver can answer INVALID_MAJOR_VERSION (RFC
// 7296 section 2.5).
func ParseHeader(b []byte) (*Header, error) {
	if len(b) < HeaderLen {
		return nil, fmt.Errorf("IKE header needs %d bytes, %d present: %w", HeaderLen, len(b), ErrTruncated)
	}
	h := &Header{
		SPIi:         SPI(binary.BigEndian.Uint64(b[0:])),
		SPIr:         SPI(binary.BigEndian.Uint64(b[8:])),
		NextPayload:  PayloadType(b[16]),
		MinorVersion: b[17] & 0x0f,
		Exchange:     ExchangeType(b[18]),
		Flags:        Flags(b[19]),
		MessageID:    binary.BigEndian.Uint32(b[20:]),
		Length:       binary.BigEndian.Uint32(b[24:]),
	}
	if major := b[17] >> 4; major != MajorVersion {
		return h, fmt.Errorf("version %d.%d: %w", major, h.MinorVersion, ErrVersion)
	}
	if h.SPIi == 0 {
		return nil, fmt.Errorf("initiator SPI is zero: %w", ErrInvalid)
	}
	if h.Length < HeaderLen {
		return nil, fmt.Errorf("header length %d, below the header's %d bytes: %w", h.Length, HeaderLen, ErrLength)
	}
	return h, nil
}

// AppendMarshal appends the header as it stands, Length and NextPayload
// included, to b.
func (h *Header) AppendMarshal(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(h.SPIi))
	b = binary.BigEndian.AppendUint64(b, uint64(h.SPIr))
	b = append(b, byte(h.NextPayload), MajorVersion<<4|h.MinorVersion&0x0f, byte(h.Exchange), byte(h.Flags))
	b = binary.BigEndian.AppendUint32(b, h.MessageID)
	return binary.BigEndian.AppendUint32(b, h.Length)
}

// Message is an IKE message: the header and its payloads, in order. An
// encrypted message's payloads end with an *SK whose content the engine
// decrypts and parses with ParsePayloads.
type Message struct {
	Header
	Payloads []Payload
}

// Parse parses one IKE message, the whole of a UDP payload to or from port
// 500 (or to or from 4500 after the four-octet non-ESP marker). The
// header's length must be the length of b. Payloads of unknown types are
// kept as *RawPayload unless critical, which fails the parse with a
// *CriticalPayloadError. No input makes it panic.
func Parse(b []byte) (*Message, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	if int64(h.Length) != int64(len(b)) {
		return nil, fmt.Errorf("header length %d, message of %d bytes: %w", h.Length, len(b), ErrLength)
	}
	ps, err := parseChain(h.NextPayload, b[HeaderLen:], HeaderLen)
	if err != nil {
		return nil, fmt.Errorf("%s message %d: %w", h.Exchange, h.MessageID, err)
	}
	return &Message{Header: *h, Payloads: ps}, nil
}

// Marshal encodes the message. The header's NextPayload and Length come
// from the payloads; the fields in m are not changed.
func (m *Message) Marshal() ([]byte, error) {
	if m.SPIi == 0 {
		return nil, fmt.Errorf("initiator SPI is zero: %w", ErrInvalid)
	}
	if m.MinorVersion > 0x0f {
		return nil, fmt.Errorf("minor version %d does not fit 4 bits: %w", m.MinorVersion, ErrInvalid)
	}
	h := m.Header
	h.NextPayload = PayloadNone
	if len(m.Payloads) > 0 && !isNil(m.Payloads[0]) {
		h.NextPayload = m.Payloads[0].Type()
	}
	b := h.AppendMarshal(make([]byte, 0, 512))
	b, err := appendPayloads(b, m.Payloads)
	if err != nil {
		return nil, fmt.Errorf("%s message %d: %w", m.Exchange, m.MessageID, err)
	}
	if uint64(len(b)) > 0xffffffff {
		return nil, fmt.Errorf("message of %d bytes: %w", len(b), ErrInvalid)
	}
	binary.BigEndian.PutUint32(b[24:], uint32(len(b)))
	return b, nil
}

// String summarises the message as logs show it:
// "IKE_SA_INIT request 0 [ SA KE Nonce N(NAT_DETECTION_SOURCE_IP) ]".
func (m *Message) String() string {
	kind := "request"
	if m.IsResponse() {
		kind = "response"
	}
	return fmt.Sprintf("%s %s %d [ %s ]", m.Exchange, kind, m.MessageID, Summary(m.Payloads))
}

// Summary lists the payloads' types, with the type of each notification.
func Summary(ps []Payload) string {
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		if isNil(p) {
			parts = append(parts, "nil")
			continue
		}
		switch p := p.(type) {
		case *Notify:
			parts = append(parts, "N("+p.NotifyType.String()+")")
		default:
			parts = append(parts, p.Type().String())
		}
	}
	return strings.Join(parts, " ")
}
