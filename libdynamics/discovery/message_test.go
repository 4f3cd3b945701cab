package discovery

import (
	"errors"
	"reflect"
	"testing"

	"golang.org/x/net/ipv4"
)

func TestParseDispatch(t *testing.T) {
	m, err := Parse(goldenAdvertisement)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := m.(*Advertisement); !ok || !reflect.DeepEqual(a, goldenAdvertisementValue()) {
		t.Errorf("Parse(advertisement) = %#v", m)
	}
	if m.Type() != ipv4.ICMPTypeRouterAdvertisement {
		t.Errorf("Type() = %v", m.Type())
	}
	m, err = Parse(goldenSolicitation)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(*Solicitation); !ok || m.Type() != ipv4.ICMPTypeRouterSolicitation {
		t.Errorf("Parse(solicitation) = %#v", m)
	}
	echo := withChecksum([]byte{8, 0, 0, 0, 0, 1, 0, 1})
	if _, err := Parse(echo); !errors.Is(err, ErrType) {
		t.Errorf("Parse(echo request): err = %v, want ErrType", err)
	}
	if _, err := Parse(nil); !errors.Is(err, ErrTruncated) {
		t.Errorf("Parse(nil): err = %v, want ErrTruncated", err)
	}
}

func TestStrings(t *testing.T) {
	for _, tt := range []struct {
		s    interface{ String() string }
		want string
	}{
		{CodeRouter, "router"},
		{CodeMobilityOnly, "mobility-only"},
		{Code(3), "code(3)"},
		{ExtensionPadding, "padding"},
		{ExtensionMobilityAgent, "mobility-agent"},
		{ExtensionPrefixLengths, "prefix-lengths"},
		{ExtensionType(200), "extension(200)"},
	} {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
	if ExtensionType(127).Skippable() || !ExtensionType(128).Skippable() {
		t.Errorf("Skippable: 127 must not be, 128 must be")
	}
}
