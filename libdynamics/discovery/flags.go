package discovery

import (
	"fmt"
	"strings"
)

// Flags are the capability bits of the Mobility Agent Advertisement
// extension (RFC 5944 section 2.1.1). Each constant is the bit's value in
// the 16-bit word that follows the registration lifetime; the low five bits
// of that word are reserved and live in MobilityAgent.Reserved.
type Flags uint16

// The flags, in wire order.
const (
	// FlagRegistrationRequired (R): registration with this foreign agent
	// is required, even when using a co-located care-of address.
	FlagRegistrationRequired Flags = 1 << (15 - iota)
	// FlagBusy (B): the foreign agent accepts no further mobile nodes.
	FlagBusy
	// FlagHomeAgent (H): the agent offers service as a home agent.
	FlagHomeAgent
	// FlagForeignAgent (F): the agent offers service as a foreign agent.
	FlagForeignAgent
	// FlagMinimalEncapsulation (M): the agent accepts minimal
	// encapsulation (RFC 2004).
	FlagMinimalEncapsulation
	// FlagGRE (G): the agent accepts GRE encapsulation.
	FlagGRE
	// FlagReserved (r): sent as zero, ignored on reception; formerly
	// Van Jacobson header compression.
	FlagReserved
	// FlagReverseTunnel (T): the foreign agent supports reverse tunnelling
	// (RFC 3024).
	FlagReverseTunnel
	// FlagUDPTunnel (U): the agent supports UDP tunnelling (RFC 3519).
	FlagUDPTunnel
	// FlagRevocation (X): the agent supports registration revocation
	// (RFC 3543).
	FlagRevocation
	// FlagRegional (I): the foreign agent supports regional registration
	// (RFC 4857).
	FlagRegional
)

// flagMask holds every defined flag bit.
const flagMask Flags = 0xffe0

// flagLetters are the flags' letters in wire order, most significant first.
const flagLetters = "RBHFMGrTUXI"

// String returns the letters of the flags that are set, in wire order, as
// RFC 5944 names them ("RBFT"); the empty string when none is set. Bits
// outside the defined flags are shown as "+0x...".
func (f Flags) String() string {
	var sb strings.Builder
	for i := range len(flagLetters) {
		if f&(1<<(15-i)) != 0 {
			sb.WriteByte(flagLetters[i])
		}
	}
	if rest := f &^ flagMask; rest != 0 {
		fmt.Fprintf(&sb, "+%#x", uint16(rest))
	}
	return sb.String()
}

// ParseFlags parses flag letters as String writes them, in any order; case
// matters ("R" is registration required, "r" the reserved bit). The empty
// string means no flags.
func ParseFlags(s string) (Flags, error) {
	var f Flags
	for _, c := range s {
		i := strings.IndexRune(flagLetters, c)
		if i < 0 {
			return 0, fmt.Errorf("flags %q: unknown letter %q: %w", s, c, ErrInvalid)
		}
		f |= 1 << (15 - i)
	}
	return f, nil
}
