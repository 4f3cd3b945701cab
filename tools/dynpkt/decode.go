package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// decoded is the JSON form of a registration message. Pointer fields are
// present for one kind of message only.
type decoded struct {
	Type       string       `json:"type"`
	Code       *int         `json:"code,omitempty"`
	Flags      *string      `json:"flags,omitempty"`
	Lifetime   int          `json:"lifetime"`
	Home       string       `json:"home"`
	HA         string       `json:"ha"`
	CoA        *string      `json:"coa,omitempty"`
	ID         string       `json:"id"`
	Extensions []decodedExt `json:"extensions"`
}

// decodedExt is the JSON form of an extension: spi and auth for the
// authentication extensions, data for every other.
type decodedExt struct {
	Type int     `json:"type"`
	SPI  *uint32 `json:"spi,omitempty"`
	Auth *string `json:"auth,omitempty"`
	Data *string `json:"data,omitempty"`
}

// decode implements `dynpkt decode HEX`.
func decode(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("decode")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err, stdout, stderr)
	}
	b, status := readMessage("decode", pos, stdin, stderr)
	if status != exitOK {
		return status
	}
	m, err := mip.Parse(b)
	if err != nil {
		return failure(stderr, err)
	}
	switch m.(type) {
	case *mip.Request, *mip.Reply:
	default:
		// mip.Parse also reads the revocation messages of RFC 3543, which
		// this JSON form does not describe.
		return failure(stderr, fmt.Errorf("decode: %s: only registration requests and replies are decoded", m.MessageType()))
	}
	out, err := json.Marshal(toJSON(m))
	if err != nil {
		return failure(stderr, err)
	}
	fmt.Fprintf(stdout, "%s\n", out)
	return exitOK
}

// readMessage returns the message given as the one positional argument in
// hex, or read from stdin when the argument is "-".
func readMessage(cmd string, pos []string, stdin io.Reader, stderr io.Writer) ([]byte, int) {
	if len(pos) != 1 {
		return nil, usageError(stderr, fmt.Errorf("%s: want one hex message (or - for stdin), got %d arguments", cmd, len(pos)))
	}
	s := pos[0]
	if s == "-" {
		in, err := io.ReadAll(stdin)
		if err != nil {
			return nil, failure(stderr, fmt.Errorf("%s: reading stdin: %v", cmd, err))
		}
		s = string(in)
	}
	b, err := parseHex(s)
	if err != nil {
		return nil, failure(stderr, fmt.Errorf("%s: message %v", cmd, err))
	}
	return b, exitOK
}

func toJSON(m mip.Message) decoded {
	d := decoded{Type: m.MessageType().String(), Extensions: []decodedExt{}}
	var exts []mip.Extension
	switch m := m.(type) {
	case *mip.Request:
		flags, coa := m.Flags.String(), m.CareOf.String()
		d.Flags, d.CoA = &flags, &coa
		d.Lifetime, d.Home, d.HA, d.ID = int(m.Lifetime), m.Home.String(), m.HomeAgent.String(), fmt.Sprintf("%016x", m.ID)
		exts = m.Extensions
	case *mip.Reply:
		code := int(m.Code)
		d.Code = &code
		d.Lifetime, d.Home, d.HA, d.ID = int(m.Lifetime), m.Home.String(), m.HomeAgent.String(), fmt.Sprintf("%016x", m.ID)
		exts = m.Extensions
	}
	for _, e := range exts {
		x := decodedExt{Type: int(e.Kind())}
		switch e := e.(type) {
		case *mip.Auth:
			spi, auth := e.SPI, hex.EncodeToString(e.Authenticator)
			x.SPI, x.Auth = &spi, &auth
		case *mip.NAI:
			data := hex.EncodeToString([]byte(e.Name))
			x.Data = &data
		case *mip.RawExtension:
			data := hex.EncodeToString(e.Data)
			x.Data = &data
		default:
			// Parse yields only the types above; keep whatever else
			// as its marshalled data.
			b, err := e.AppendMarshal(nil)
			if err == nil && len(b) >= 2 {
				data := hex.EncodeToString(b[2:])
				x.Data = &data
			}
		}
		d.Extensions = append(d.Extensions, x)
	}
	return d
}
