package api

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frame layout.
const (
	// HeaderLen is the length of a frame header: type (1 byte), function
	// or return value (1 byte), length of what follows (4 bytes, big
	// endian).
	HeaderLen = 6
	// MaxLength is the largest params or data length a frame may carry.
	// A request announcing more is answered with TooLong and its
	// connection closed.
	MaxLength = 1 << 20

	// TypeRequest and TypeReply are the frame type bytes.
	TypeRequest = 0
	TypeReply   = 1
)

// Frame errors. The parse and read functions wrap them with context, so
// callers test them with errors.Is.
var (
	// ErrFrameType means the type byte is not the one expected (0 for a
	// request, 1 for a reply).
	ErrFrameType = errors.New("api: wrong frame type")
	// ErrFrameTooLong means the length field exceeds MaxLength.
	ErrFrameTooLong = errors.New("api: frame longer than the maximum length")
	// ErrTruncated means a frame or payload ends before a field it
	// declares.
	ErrTruncated = errors.New("api: truncated")
	// ErrTrailing means bytes follow the end of a frame or payload.
	ErrTrailing = errors.New("api: trailing bytes")
	// ErrInvalid means a field holds a value the format cannot carry: an
	// IPv6 address, a string longer than 65535 bytes, a boolean byte
	// other than 0 or 1.
	ErrInvalid = errors.New("api: invalid value")
)

// Request is a request frame: the function and its encoded params.
type Request struct {
	Func   Func
	Params []byte
}

// Reply is a reply frame: the return value and the data, which is the
// call's encoded result when Code is OK and the message text otherwise.
type Reply struct {
	Code Code
	Data []byte
}

// Marshal returns the request's frame.
func (r Request) Marshal() ([]byte, error) {
	return marshalFrame(TypeRequest, uint8(r.Func), r.Params)
}

// Marshal returns the reply's frame.
func (r Reply) Marshal() ([]byte, error) {
	return marshalFrame(TypeReply, uint8(r.Code), r.Data)
}

func marshalFrame(typ, second uint8, body []byte) ([]byte, error) {
	if len(body) > MaxLength {
		return nil, fmt.Errorf("%w: %d bytes", ErrFrameTooLong, len(body))
	}
	b := make([]byte, HeaderLen+len(body))
	b[0] = typ
	b[1] = second
	binary.BigEndian.PutUint32(b[2:HeaderLen], uint32(len(body)))
	copy(b[HeaderLen:], body)
	return b, nil
}

// ParseRequest parses one whole request frame. b must hold exactly the
// frame: a short frame is ErrTruncated, extra bytes ErrTrailing. The
// params are copied.
func ParseRequest(b []byte) (Request, error) {
	second, body, err := parseFrame(TypeRequest, b)
	if err != nil {
		return Request{}, err
	}
	return Request{Func: Func(second), Params: body}, nil
}

// ParseReply parses one whole reply frame, as ParseRequest.
func ParseReply(b []byte) (Reply, error) {
	second, body, err := parseFrame(TypeReply, b)
	if err != nil {
		return Reply{}, err
	}
	return Reply{Code: Code(int8(second)), Data: body}, nil
}

func parseFrame(typ uint8, b []byte) (uint8, []byte, error) {
	if len(b) < HeaderLen {
		return 0, nil, fmt.Errorf("%w: frame header needs %d bytes, have %d", ErrTruncated, HeaderLen, len(b))
	}
	n, err := checkHeader(typ, b[:HeaderLen])
	if err != nil {
		return 0, nil, err
	}
	switch rest := len(b) - HeaderLen; {
	case rest < n:
		return 0, nil, fmt.Errorf("%w: frame declares %d bytes, has %d", ErrTruncated, n, rest)
	case rest > n:
		return 0, nil, fmt.Errorf("%w: %d after a frame of %d", ErrTrailing, rest-n, HeaderLen+n)
	}
	body := make([]byte, n)
	copy(body, b[HeaderLen:])
	return b[1], body, nil
}

// checkHeader checks a frame header's type byte and length and returns the
// length.
func checkHeader(typ uint8, h []byte) (int, error) {
	if h[0] != typ {
		return 0, fmt.Errorf("%w: type %d, want %d", ErrFrameType, h[0], typ)
	}
	n := binary.BigEndian.Uint32(h[2:HeaderLen])
	if n > MaxLength {
		return 0, fmt.Errorf("%w: length %d, at most %d", ErrFrameTooLong, n, MaxLength)
	}
	return int(n), nil
}

// ReadRequest reads one request frame from r. It returns io.EOF when r
// ends cleanly before a frame, ErrTruncated (wrapping
// io.ErrUnexpectedEOF) when it ends inside one, ErrFrameType or
// ErrFrameTooLong for a header it will not read further.
func ReadRequest(r io.Reader) (Request, error) {
	second, body, err := readFrame(TypeRequest, r)
	if err != nil {
		return Request{}, err
	}
	return Request{Func: Func(second), Params: body}, nil
}

// ReadReply reads one reply frame from r, as ReadRequest.
func ReadReply(r io.Reader) (Reply, error) {
	second, body, err := readFrame(TypeReply, r)
	if err != nil {
		return Reply{}, err
	}
	return Reply{Code: Code(int8(second)), Data: body}, nil
}

func readFrame(typ uint8, r io.Reader) (uint8, []byte, error) {
	var h [HeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, fmt.Errorf("%w: frame header: %w", ErrTruncated, err)
		}
		return 0, nil, err
	}
	n, err := checkHeader(typ, h[:])
	if err != nil {
		return 0, nil, err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, fmt.Errorf("%w: frame declares %d bytes: %w", ErrTruncated, n, io.ErrUnexpectedEOF)
		}
		return 0, nil, err
	}
	return h[1], body, nil
}
