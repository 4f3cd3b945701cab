package discovery

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Lengths of the Mobility Agent Advertisement extension's data, which is
// mobilityAgentFixedLen + 4 octets per care-of address.
const (
	mobilityAgentFixedLen = 6
	careOfAddressLen      = 4
	// MaxCareOfAddresses is the most care-of addresses one extension's
	// length octet can count.
	MaxCareOfAddresses = (maxExtensionData - mobilityAgentFixedLen) / careOfAddressLen
)

// InfiniteLifetime is the registration lifetime meaning "no limit".
const InfiniteLifetime = 0xffff

// MobilityAgent is the Mobility Agent Advertisement extension (type 16),
// which turns a router advertisement into an agent advertisement.
type MobilityAgent struct {
	// Sequence counts the advertisements sent since the agent started;
	// see NextSequence.
	Sequence uint16
	// RegistrationLifetime is the longest registration lifetime, in
	// seconds, the agent accepts; InfiniteLifetime means no limit.
	RegistrationLifetime uint16
	Flags                Flags
	// Reserved holds the five reserved bits after the flags (0-31). Sent
	// as zero; kept on parse so a message marshals again unchanged.
	Reserved uint8
	// CareOfAddresses are the foreign agent's care-of addresses, IPv4;
	// at least one when FlagForeignAgent is set, at most
	// MaxCareOfAddresses.
	CareOfAddresses []netip.Addr
}

// Kind returns ExtensionMobilityAgent.
func (*MobilityAgent) Kind() ExtensionType { return ExtensionMobilityAgent }

// AppendMarshal appends the extension to b.
func (m *MobilityAgent) AppendMarshal(b []byte) ([]byte, error) {
	if m.Flags&^flagMask != 0 {
		return nil, fmt.Errorf("mobility agent flags %#04x: undefined bits: %w", uint16(m.Flags), ErrInvalid)
	}
	if m.Reserved > 0x1f {
		return nil, fmt.Errorf("mobility agent reserved bits %#x: more than five bits: %w", m.Reserved, ErrInvalid)
	}
	if len(m.CareOfAddresses) > MaxCareOfAddresses {
		return nil, fmt.Errorf("mobility agent: %d care-of addresses, at most %d: %w",
			len(m.CareOfAddresses), MaxCareOfAddresses, ErrInvalid)
	}
	for _, a := range m.CareOfAddresses {
		if !a.Is4() {
			return nil, fmt.Errorf("mobility agent: care-of address %v is not IPv4: %w", a, ErrInvalid)
		}
	}
	n := mobilityAgentFixedLen + careOfAddressLen*len(m.CareOfAddresses)
	b = append(b, byte(ExtensionMobilityAgent), byte(n))
	b = binary.BigEndian.AppendUint16(b, m.Sequence)
	b = binary.BigEndian.AppendUint16(b, m.RegistrationLifetime)
	b = binary.BigEndian.AppendUint16(b, uint16(m.Flags)|uint16(m.Reserved))
	for _, a := range m.CareOfAddresses {
		a4 := a.As4()
		b = append(b, a4[:]...)
	}
	return b, nil
}

// parseMobilityAgent parses the extension's data, after type and length.
func parseMobilityAgent(data []byte) (*MobilityAgent, error) {
	if len(data) < mobilityAgentFixedLen || (len(data)-mobilityAgentFixedLen)%careOfAddressLen != 0 {
		return nil, fmt.Errorf("mobility agent: length %d is not 6 + 4*N: %w", len(data), ErrExtensionLength)
	}
	word := binary.BigEndian.Uint16(data[4:6])
	var coas []netip.Addr
	for off := mobilityAgentFixedLen; off+careOfAddressLen <= len(data); off += careOfAddressLen {
		coas = append(coas, netip.AddrFrom4([4]byte(data[off:off+careOfAddressLen])))
	}
	return &MobilityAgent{
		Sequence:             binary.BigEndian.Uint16(data[0:2]),
		RegistrationLifetime: binary.BigEndian.Uint16(data[2:4]),
		Flags:                Flags(word) & flagMask,
		Reserved:             uint8(word &^ uint16(flagMask)),
		CareOfAddresses:      coas,
	}, nil
}
