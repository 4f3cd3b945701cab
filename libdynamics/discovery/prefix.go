package discovery

import "fmt"

// PrefixLengths is the Prefix-Lengths extension (type 19): the network
// prefix length of each router address in the advertisement, in the same
// order. Mobile nodes compare prefixes to detect movement (RFC 5944
// section 2.4.2).
type PrefixLengths struct {
	// Lengths holds one prefix length (0-32) per router address.
	Lengths []uint8
}

// Kind returns ExtensionPrefixLengths.
func (*PrefixLengths) Kind() ExtensionType { return ExtensionPrefixLengths }

// AppendMarshal appends the extension to b. It does not know the router
// address count; Advertisement.AppendMarshal checks that they match.
func (p *PrefixLengths) AppendMarshal(b []byte) ([]byte, error) {
	if len(p.Lengths) > maxExtensionData {
		return nil, fmt.Errorf("prefix lengths: %d entries, at most %d: %w", len(p.Lengths), maxExtensionData, ErrInvalid)
	}
	for i, l := range p.Lengths {
		if l > 32 {
			return nil, fmt.Errorf("prefix lengths: entry %d is %d, above 32: %w", i, l, ErrInvalid)
		}
	}
	b = append(b, byte(ExtensionPrefixLengths), byte(len(p.Lengths)))
	return append(b, p.Lengths...), nil
}

// parsePrefixLengths parses the extension's data, which must hold exactly
// numAddrs prefix lengths.
func parsePrefixLengths(data []byte, numAddrs int) (*PrefixLengths, error) {
	if len(data) != numAddrs {
		return nil, fmt.Errorf("prefix lengths: length %d, but %d router addresses: %w",
			len(data), numAddrs, ErrExtensionLength)
	}
	for i, l := range data {
		if l > 32 {
			return nil, fmt.Errorf("prefix lengths: entry %d is %d, above 32: %w", i, l, ErrInvalid)
		}
	}
	return &PrefixLengths{Lengths: append([]uint8(nil), data...)}, nil
}
