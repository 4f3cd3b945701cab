package discovery

import (
	"errors"
	"testing"
)

func TestFlagBits(t *testing.T) {
	// RFC 5944 section 2.1.1: R B H F M G r T U X I from the most
	// significant bit of the word after the registration lifetime.
	want := []struct {
		f      Flags
		bit    uint16
		letter string
	}{
		{FlagRegistrationRequired, 0x8000, "R"},
		{FlagBusy, 0x4000, "B"},
		{FlagHomeAgent, 0x2000, "H"},
		{FlagForeignAgent, 0x1000, "F"},
		{FlagMinimalEncapsulation, 0x0800, "M"},
		{FlagGRE, 0x0400, "G"},
		{FlagReserved, 0x0200, "r"},
		{FlagReverseTunnel, 0x0100, "T"},
		{FlagUDPTunnel, 0x0080, "U"},
		{FlagRevocation, 0x0040, "X"},
		{FlagRegional, 0x0020, "I"},
	}
	for _, w := range want {
		if uint16(w.f) != w.bit || w.f.String() != w.letter {
			t.Errorf("flag %s = %#04x, want %s = %#04x", w.f, uint16(w.f), w.letter, w.bit)
		}
	}
}

func TestFlagsString(t *testing.T) {
	tests := []struct {
		f    Flags
		want string
	}{
		{0, ""},
		{FlagRegistrationRequired | FlagBusy | FlagForeignAgent | FlagReverseTunnel, "RBFT"},
		{flagMask, "RBHFMGrTUXI"},
		{FlagHomeAgent | 0x0003, "H+0x3"},
	}
	for _, tt := range tests {
		if got := tt.f.String(); got != tt.want {
			t.Errorf("Flags(%#04x).String() = %q, want %q", uint16(tt.f), got, tt.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	// Every combination of the defined flags survives String then
	// ParseFlags.
	for v := 0; v < 1<<11; v++ {
		f := Flags(v << 5)
		got, err := ParseFlags(f.String())
		if err != nil || got != f {
			t.Fatalf("ParseFlags(%q) = %#04x, %v; want %#04x", f.String(), uint16(got), err, uint16(f))
		}
	}
	if got, err := ParseFlags("TFBR"); err != nil || got.String() != "RBFT" {
		t.Errorf("ParseFlags(TFBR) = %s, %v; want RBFT", got, err)
	}
	for _, bad := range []string{"RBZ", "rbft", "R B", "H+0x3"} {
		if _, err := ParseFlags(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseFlags(%q): err = %v, want ErrInvalid", bad, err)
		}
	}
}
