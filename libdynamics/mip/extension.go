package mip

import (
	"fmt"
)

// Type is the type number of a registration extension, from IANA's
// "Mobile IPv4 Numbers" registry.
type Type uint8

// Extension types this package decodes.
const (
	// TypeMobileHome is the Mobile-Home Authentication extension (RFC 5944
	// section 3.5.2), required in every request and reply.
	TypeMobileHome Type = 32
	// TypeMobileForeign is the Mobile-Foreign Authentication extension
	// (RFC 5944 section 3.5.3).
	TypeMobileForeign Type = 33
	// TypeForeignHome is the Foreign-Home Authentication extension
	// (RFC 5944 section 3.5.4).
	TypeForeignHome Type = 34
	// TypeGeneralizedAuth is the Generalized Mobile IP Authentication
	// extension of RFC 3012 section 5: type, a sub-type octet, a 16-bit
	// length, SPI and authenticator. The package computes and checks the
	// MN-GFA sub-type (SubtypeMNGFA, RFC 4857) and parses any other
	// sub-type as an *Auth too.
	TypeGeneralizedAuth Type = 36
	// TypeNAI is the Mobile Node NAI extension (RFC 2794).
	TypeNAI Type = 131
	// TypeExperimental is the skippable experimental extension of
	// RFC 4064. Its first data octet is a sub-type; the foreign agent
	// hierarchy's extensions use it (SubtypeFAPublicKey and the others in
	// hierarchy.go).
	TypeExperimental Type = 255
)

// SubtypeMNGFA is the MN-GFA Authentication sub-type of the Generalized
// Authentication extension (RFC 4857 section 6.1): an authenticator made
// with the session key the mobile node shares with its foreign agents.
const SubtypeMNGFA uint8 = 3

// Skippable reports whether a receiver that does not recognise an extension
// of this type may ignore it and use the rest of the message: types
// 128-255. RFC 5944 section 1.9 requires a message with an unrecognised
// type below 128 to be discarded.
func (t Type) Skippable() bool { return t >= 128 }

// IsAuth reports whether t is an authentication extension the package
// decodes as *Auth: Mobile-Home, Mobile-Foreign, Foreign-Home or
// Generalized Authentication.
func (t Type) IsAuth() bool {
	return t == TypeMobileHome || t == TypeMobileForeign || t == TypeForeignHome || t == TypeGeneralizedAuth
}

// String names the extension type.
func (t Type) String() string {
	switch t {
	case TypeMobileHome:
		return "mobile-home-auth"
	case TypeMobileForeign:
		return "mobile-foreign-auth"
	case TypeForeignHome:
		return "foreign-home-auth"
	case TypeGeneralizedAuth:
		return "generalized-auth"
	case TypeNAI:
		return "nai"
	case TypeExperimental:
		return "experimental"
	default:
		return fmt.Sprintf("extension(%d)", uint8(t))
	}
}

// Extension is one extension of a registration message. The package's own
// extensions are *Auth, *NAI and *MobileSessionKey; every other skippable
// type parses as *RawExtension.
//
// Other packages may define extensions of their own: implement Extension
// to send one, and to read a skippable one (128-255), look for a
// *RawExtension of that type and decode its Data.
type Extension interface {
	// Kind is the extension's type number.
	Kind() Type
	// AppendMarshal appends the extension, type octet first, to b.
	AppendMarshal(b []byte) ([]byte, error)
}

var (
	_ Extension = (*Auth)(nil)
	_ Extension = (*NAI)(nil)
	_ Extension = (*RawExtension)(nil)
	_ Extension = (*MobileSessionKey)(nil)
)

const (
	// extensionHeaderLen is the type and length octets of an extension.
	extensionHeaderLen = 2
	// maxExtensionData is the most data a length octet can count.
	maxExtensionData = 255
	// longHeaderLen is the type, sub-type and 16-bit length of the
	// extensions in RFC 3012's long format (type 36).
	longHeaderLen = 4
	// maxLongExtensionData is the most data a 16-bit length can count.
	maxLongExtensionData = 0xffff
)

// RawExtension is a skippable extension this package does not decode, kept
// as it arrived so that it is marshalled again unchanged.
type RawExtension struct {
	Type Type
	// Data is the extension's content after the type and length octets;
	// at most 255 bytes.
	Data []byte
}

// Kind returns e.Type.
func (e *RawExtension) Kind() Type { return e.Type }

// AppendMarshal appends the type, length and data. Any type may be sent
// this way; a receiver that does not know a type below 128 drops the whole
// message.
func (e *RawExtension) AppendMarshal(b []byte) ([]byte, error) {
	if len(e.Data) > maxExtensionData {
		return nil, fmt.Errorf("extension %s: %d bytes of data, at most %d: %w",
			e.Type, len(e.Data), maxExtensionData, ErrInvalid)
	}
	b = append(b, byte(e.Type), byte(len(e.Data)))
	return append(b, e.Data...), nil
}

// NAI is the Mobile Node NAI extension of RFC 2794: the mobile node's
// Network Access Identifier (user@realm), which identifies it when it has
// no home address yet.
type NAI struct {
	// Name is the NAI as sent; at most 255 bytes.
	Name string
}

// Kind returns TypeNAI.
func (*NAI) Kind() Type { return TypeNAI }

// AppendMarshal appends the type, length and name.
func (n *NAI) AppendMarshal(b []byte) ([]byte, error) {
	if len(n.Name) > maxExtensionData {
		return nil, fmt.Errorf("NAI extension: %d bytes, at most %d: %w", len(n.Name), maxExtensionData, ErrInvalid)
	}
	b = append(b, byte(TypeNAI), byte(len(n.Name)))
	return append(b, n.Name...), nil
}

// span is where one extension lies in a message: from its type octet at
// start to end, exclusive.
type span struct{ start, end int }

// parseExtensions parses the extensions that fill b[off:]. Offsets in
// errors and in the returned spans count from the start of b, the message's
// type octet.
func parseExtensions(b []byte, off int) ([]Extension, []span, error) {
	var (
		exts  []Extension
		spans []span
	)
	for off < len(b) {
		if len(b)-off < extensionHeaderLen {
			return nil, nil, fmt.Errorf("extension %s at offset %d: length octet missing: %w",
				Type(b[off]), off, ErrTruncated)
		}
		t := Type(b[off])
		if t == TypeGeneralizedAuth {
			e, end, err := parseGeneralizedAuth(b, off)
			if err != nil {
				return nil, nil, fmt.Errorf("extension at offset %d: %w", off, err)
			}
			exts = append(exts, e)
			spans = append(spans, span{off, end})
			off = end
			continue
		}
		n := int(b[off+1])
		start := off + extensionHeaderLen
		if len(b)-start < n {
			return nil, nil, fmt.Errorf("extension %s at offset %d: length %d, %d bytes left: %w",
				t, off, n, len(b)-start, ErrTruncated)
		}
		data := b[start : start+n]
		var (
			e   Extension
			err error
		)
		switch {
		case t.IsAuth():
			e, err = parseAuth(t, data)
		case t == TypeNAI:
			e = &NAI{Name: string(data)}
		case t == TypeExperimental:
			e = parseExperimental(data)
		case t.Skippable():
			e = &RawExtension{Type: t, Data: append([]byte(nil), data...)}
		default:
			err = fmt.Errorf("type %d: %w", uint8(t), ErrUnknownExtension)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("extension at offset %d: %w", off, err)
		}
		exts = append(exts, e)
		spans = append(spans, span{off, start + n})
		off = start + n
	}
	return exts, spans, nil
}

// appendExtensions appends every extension of exts to b.
func appendExtensions(b []byte, exts []Extension) ([]byte, error) {
	for i, e := range exts {
		if e == nil {
			return nil, fmt.Errorf("extension %d is nil: %w", i, ErrInvalid)
		}
		var err error
		if b, err = e.AppendMarshal(b); err != nil {
			return nil, err
		}
	}
	return b, nil
}
