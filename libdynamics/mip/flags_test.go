package mip

import (
	"errors"
	"testing"
)

func TestFlagsString(t *testing.T) {
	for _, tt := range []struct {
		f    Flags
		want string
	}{
		{0, ""},
		{FlagBroadcast | FlagReverseTunnel, "BT"},
		{FlagSimultaneous, "S"},
		{FlagDecapsulation | FlagMinimalEncapsulation | FlagGRE, "DMG"},
		{FlagReserved | FlagReservedX, "rx"},
		{0xff, "SBDMGrTx"},
		{0x42, "BT"},
	} {
		if got := tt.f.String(); got != tt.want {
			t.Errorf("Flags(%#02x).String() = %q, want %q", uint8(tt.f), got, tt.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	// Every value round-trips through its letters.
	for v := 0; v < 256; v++ {
		f := Flags(v)
		got, err := ParseFlags(f.String())
		if err != nil || got != f {
			t.Errorf("ParseFlags(%q) = %#02x, %v; want %#02x", f.String(), uint8(got), err, v)
		}
	}
	if f, err := ParseFlags("TB"); err != nil || f != 0x42 {
		t.Errorf(`ParseFlags("TB") = %#02x, %v`, uint8(f), err)
	}
	for _, bad := range []string{"t", "R", "BT ", "Z", "s"} {
		if _, err := ParseFlags(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseFlags(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	if !Flags(0x42).Has(FlagReverseTunnel) || Flags(0x42).Has(FlagReverseTunnel|FlagGRE) {
		t.Error("Has")
	}
}

func TestCode(t *testing.T) {
	named := map[Code]string{
		0: "accepted", 1: "accepted, simultaneous mobility bindings unsupported",
		69: "requested lifetime too long", 74: "requested reverse tunnel unavailable",
		75: "reverse tunnel is mandatory and 'T' bit not set", 77: "invalid care-of address",
		78: "registration timeout", 79: "delivery style not supported",
		131: "mobile node failed authentication at home agent", 133: "registration identification mismatch",
		136: "unknown home agent address", 139: "requested encapsulation unavailable at home agent",
	}
	for c, want := range named {
		if got := c.String(); got != want {
			t.Errorf("Code(%d).String() = %q, want %q", uint8(c), got, want)
		}
	}
	// Every code the RFCs define has a name of its own.
	defined := []int{0, 1}
	for c := 64; c <= 72; c++ {
		defined = append(defined, c)
	}
	defined = append(defined, 74, 75, 76, 77, 78, 79, 80, 81, 82, 88)
	for c := 128; c <= 139; c++ {
		defined = append(defined, c)
	}
	seen := map[string]Code{}
	for _, c := range defined {
		s := Code(c).String()
		if s == "" || s[:4] == "code" {
			t.Errorf("code %d has no name", c)
		}
		if prev, dup := seen[s]; dup {
			t.Errorf("codes %d and %d share the name %q", prev, c, s)
		}
		seen[s] = Code(c)
	}
	if got := Code(73).String(); got != "code(73)" {
		t.Errorf("Code(73).String() = %q", got)
	}
	for c := 0; c < 256; c++ {
		code := Code(c)
		if code.Accepted() != (c <= 1) {
			t.Errorf("Code(%d).Accepted() = %v", c, code.Accepted())
		}
		if code.FromFA() != (c >= 64 && c <= 127) {
			t.Errorf("Code(%d).FromFA() = %v", c, code.FromFA())
		}
		if code.FromHA() != (c >= 128 && c <= 191) {
			t.Errorf("Code(%d).FromHA() = %v", c, code.FromHA())
		}
	}
}

func TestTypeStrings(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{TypeMobileHome.String(), "mobile-home-auth"},
		{TypeNAI.String(), "nai"},
		{Type(200).String(), "extension(200)"},
		{MessageRequest.String(), "request"},
		{MessageReply.String(), "reply"},
		{MessageType(9).String(), "message(9)"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if Type(127).Skippable() || !Type(128).Skippable() {
		t.Error("Skippable boundary is not 128")
	}
}
