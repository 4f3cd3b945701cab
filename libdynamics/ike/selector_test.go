package ike

import (
	"net/netip"
	"testing"
)

func sel(p string) Selector { return PrefixSelector(netip.MustParsePrefix(p)) }

func TestSelectorNarrow(t *testing.T) {
	any4 := sel("0.0.0.0/0")
	tcp := Selector{Start: netip.MustParseAddr("10.1.0.0"), End: netip.MustParseAddr("10.1.0.255"), Protocol: 6, StartPort: 1000, EndPort: 2000}
	for _, tc := range []struct {
		name              string
		proposed, allowed []Selector
		want              []Selector
	}{
		{"same", []Selector{sel("10.1.0.1/32")}, []Selector{sel("10.1.0.1/32")}, []Selector{sel("10.1.0.1/32")}},
		{"narrowed to the host", []Selector{any4}, []Selector{sel("10.1.0.1/32")}, []Selector{sel("10.1.0.1/32")}},
		{"disjoint", []Selector{sel("10.1.0.0/24")}, []Selector{sel("10.2.0.0/24")}, nil},
		{"protocol and ports kept", []Selector{tcp}, []Selector{sel("10.1.0.0/16")}, []Selector{tcp}},
		{"protocols differ", []Selector{tcp}, []Selector{{Start: tcp.Start, End: tcp.End, Protocol: 17, EndPort: 0xffff}}, nil},
		{"families differ", []Selector{sel("::/0")}, []Selector{sel("10.1.0.0/16")}, nil},
		{"duplicates once", []Selector{sel("10.1.0.1/32"), sel("10.1.0.0/24")}, []Selector{sel("10.1.0.1/32")}, []Selector{sel("10.1.0.1/32")}},
	} {
		got := narrow(tc.proposed, tc.allowed)
		if len(got) != len(tc.want) {
			t.Errorf("%s: narrow = %v, want %v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: narrow[%d] = %v, want %v", tc.name, i, got[i], tc.want[i])
			}
		}
	}
}

func TestSelectorWithinAndString(t *testing.T) {
	if !within([]Selector{sel("10.1.0.1/32")}, []Selector{sel("10.1.0.0/24")}) {
		t.Error("a host inside the proposed net is refused")
	}
	if within([]Selector{sel("10.1.0.0/16")}, []Selector{sel("10.1.0.0/24")}) {
		t.Error("a wider answer than proposed is accepted")
	}
	if within(nil, []Selector{sel("10.1.0.0/24")}) {
		t.Error("an empty answer is accepted")
	}
	if s := sel("10.1.0.1/32").String(); s != "10.1.0.1/32" {
		t.Errorf("String = %q", s)
	}
	r := Selector{Start: netip.MustParseAddr("10.1.0.1"), End: netip.MustParseAddr("10.1.0.3"), Protocol: 17, StartPort: 434, EndPort: 434}
	if s := r.String(); s != "10.1.0.1-10.1.0.3[17/434-434]" {
		t.Errorf("String = %q", s)
	}
	if (Selector{Start: netip.MustParseAddr("10.0.0.2"), End: netip.MustParseAddr("10.0.0.1"), EndPort: 1}).Valid() {
		t.Error("reversed range is valid")
	}
}
