package mip

import (
	"fmt"
	"strings"
)

// Flags are the bits of a Registration Request's second octet (RFC 5944
// section 3.3). Each constant is the bit's value in that octet.
type Flags uint8

// The flags, in wire order.
const (
	// FlagSimultaneous (S): the mobile node asks the home agent to keep
	// its earlier mobility bindings alongside this one.
	FlagSimultaneous Flags = 1 << (7 - iota)
	// FlagBroadcast (B): the mobile node asks for broadcast datagrams on
	// the home network to be tunnelled to it.
	FlagBroadcast
	// FlagDecapsulation (D): the mobile node decapsulates datagrams
	// tunnelled to it itself (a co-located care-of address).
	FlagDecapsulation
	// FlagMinimalEncapsulation (M): the mobile node asks for minimal
	// encapsulation (RFC 2004).
	FlagMinimalEncapsulation
	// FlagGRE (G): the mobile node asks for GRE encapsulation.
	FlagGRE
	// FlagReserved (r): sent as zero, ignored on reception; formerly Van
	// Jacobson header compression.
	FlagReserved
	// FlagReverseTunnel (T): the mobile node asks for a reverse tunnel
	// (RFC 3024).
	FlagReverseTunnel
	// FlagReservedX (x): sent as zero, ignored on reception.
	FlagReservedX
)

// flagLetters are the flags' letters in wire order, most significant first.
const flagLetters = "SBDMGrTx"

// String returns the letters of the flags that are set, in wire order, as
// RFC 5944 names them ("BT"); the empty string when none is set.
func (f Flags) String() string {
	var sb strings.Builder
	for i := range len(flagLetters) {
		if f&(1<<(7-i)) != 0 {
			sb.WriteByte(flagLetters[i])
		}
	}
	return sb.String()
}

// Has reports whether every flag in g is set in f.
func (f Flags) Has(g Flags) bool { return f&g == g }

// ParseFlags parses flag letters as String writes them, in any order. Case
// matters: the reserved bits are the lower-case "r" and "x". The empty
// string means no flags.
func ParseFlags(s string) (Flags, error) {
	var f Flags
	for _, c := range s {
		i := strings.IndexRune(flagLetters, c)
		if i < 0 {
			return 0, fmt.Errorf("flags %q: unknown letter %q (want letters of %q): %w", s, c, flagLetters, ErrInvalid)
		}
		f |= 1 << (7 - i)
	}
	return f, nil
}
