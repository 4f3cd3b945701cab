package discovery

import (
	"fmt"
)

// ExtensionType is the type number of an Agent Advertisement extension, from
// IANA's "Mobile IPv4 Numbers" registry.
type ExtensionType uint8

// Extension types this package decodes.
const (
	// ExtensionPadding is the One-byte Padding extension (RFC 5944 section
	// 2.1.3): a single zero octet with no length field.
	ExtensionPadding ExtensionType = 0
	// ExtensionMobilityAgent is the Mobility Agent Advertisement extension
	// (RFC 5944 section 2.1.1).
	ExtensionMobilityAgent ExtensionType = 16
	// ExtensionPrefixLengths is the Prefix-Lengths extension (RFC 5944
	// section 2.1.2).
	ExtensionPrefixLengths ExtensionType = 19
)

// Skippable reports whether a receiver that does not recognise an extension
// of this type may ignore it and use the rest of the message. Types 0-127
// are not skippable: RFC 5944 section 1.9 requires the message to be
// discarded.
func (t ExtensionType) Skippable() bool { return t >= 128 }

// String names the extension type.
func (t ExtensionType) String() string {
	switch t {
	case ExtensionPadding:
		return "padding"
	case ExtensionMobilityAgent:
		return "mobility-agent"
	case ExtensionPrefixLengths:
		return "prefix-lengths"
	case ExtensionExperimental:
		return "experimental"
	default:
		return fmt.Sprintf("extension(%d)", uint8(t))
	}
}

// Extension is one extension of an Agent Advertisement. The package's own
// extensions are *MobilityAgent, *PrefixLengths, *Padding and *FAPath;
// every other type parses as *RawExtension.
//
// Other packages may define extensions of their own (for example a skippable
// extension numbered 128 or above): implement Extension to send one, and to
// read one, look for a *RawExtension of that type among
// Advertisement.Extensions and decode its Data.
type Extension interface {
	// Kind is the extension's type number.
	Kind() ExtensionType
	// AppendMarshal appends the extension, type octet first, to b.
	AppendMarshal(b []byte) ([]byte, error)
}

var (
	_ Extension = (*MobilityAgent)(nil)
	_ Extension = (*PrefixLengths)(nil)
	_ Extension = (*Padding)(nil)
	_ Extension = (*RawExtension)(nil)
)

// extensionHeaderLen is the type and length octets of every extension but
// padding.
const extensionHeaderLen = 2

// maxExtensionData is the most data an extension's length octet can count.
const maxExtensionData = 255

// Padding is the One-byte Padding extension. RFC 5944 allows it to make an
// advertisement's ICMP length even.
type Padding struct{}

// Kind returns ExtensionPadding.
func (*Padding) Kind() ExtensionType { return ExtensionPadding }

// AppendMarshal appends the single zero octet.
func (*Padding) AppendMarshal(b []byte) ([]byte, error) {
	return append(b, byte(ExtensionPadding)), nil
}

// RawExtension is an extension this package does not decode, kept as it
// arrived so that it is marshalled again unchanged.
type RawExtension struct {
	Type ExtensionType
	// Data is the extension's content after the type and length octets;
	// at most 255 bytes.
	Data []byte
}

// Kind returns e.Type.
func (e *RawExtension) Kind() ExtensionType { return e.Type }

// AppendMarshal appends the type, length and data.
func (e *RawExtension) AppendMarshal(b []byte) ([]byte, error) {
	if e.Type == ExtensionPadding {
		return nil, fmt.Errorf("raw extension: type 0 is the one-byte padding: %w", ErrInvalid)
	}
	if len(e.Data) > maxExtensionData {
		return nil, fmt.Errorf("extension %d: %d bytes of data, at most %d: %w",
			uint8(e.Type), len(e.Data), maxExtensionData, ErrInvalid)
	}
	b = append(b, byte(e.Type), byte(len(e.Data)))
	return append(b, e.Data...), nil
}

// parseExtensions parses the extensions that fill b. numAddrs is the
// advertisement's router address count, which the Prefix-Lengths extension
// must match.
func parseExtensions(b []byte, numAddrs int) ([]Extension, error) {
	var exts []Extension
	for off := 0; off < len(b); {
		t := ExtensionType(b[off])
		if t == ExtensionPadding {
			exts = append(exts, &Padding{})
			off++
			continue
		}
		if len(b)-off < extensionHeaderLen {
			return nil, fmt.Errorf("extension %s at offset %d: length octet: %w", t, off, ErrTruncated)
		}
		n := int(b[off+1])
		start := off + extensionHeaderLen
		if len(b)-start < n {
			return nil, fmt.Errorf("extension %s at offset %d: length %d, %d bytes left: %w",
				t, off, n, len(b)-start, ErrTruncated)
		}
		data := b[start : start+n]
		var (
			e   Extension
			err error
		)
		switch t {
		case ExtensionMobilityAgent:
			e, err = parseMobilityAgent(data)
		case ExtensionPrefixLengths:
			e, err = parsePrefixLengths(data, numAddrs)
		case ExtensionExperimental:
			e = parseExperimental(data)
		default:
			e = &RawExtension{Type: t, Data: append([]byte(nil), data...)}
		}
		if err != nil {
			return nil, fmt.Errorf("extension at offset %d: %w", off, err)
		}
		exts = append(exts, e)
		off = start + n
	}
	return exts, nil
}
