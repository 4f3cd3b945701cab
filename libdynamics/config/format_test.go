package config

import (
	"slices"
	"testing"
)

func TestFormat(t *testing.T) {
	in := `# dynhad.conf
  HAIPAddress   10.1.0.1   # the HA
Description  lab  3
Secret "  # \"x\" \\ "
Empty ""

INTERFACES_BEGIN
eth0   1  # home
"two words" "" "#" "a\"b" "FOO_END" x_BEGIN
INTERFACES_END
HomeNetPrefix 10.1.0.0/24
EMPTY_BEGIN
EMPTY_END
`
	want := `HAIPAddress 10.1.0.1
Description lab  3
Secret "  # \"x\" \\ "
Empty ""

INTERFACES_BEGIN
eth0 1
"two words" "" "#" "a\"b" FOO_END x_BEGIN
INTERFACES_END

HomeNetPrefix 10.1.0.0/24

EMPTY_BEGIN
EMPTY_END
`
	f := mustParse(t, in)
	got := string(f.Format())
	if got != want {
		t.Fatalf("Format:\n%s\nwant:\n%s", got, want)
	}
	g := mustParse(t, got)
	if !sameContent(f, g) {
		t.Errorf("reparse differs:\n%+v\n%+v", f, g)
	}
}

func TestFormatQuotesMarkers(t *testing.T) {
	f := &File{Sections: []Section{{Name: "S", Entries: []Entry{
		{Fields: []string{"A_BEGIN", "B_END"}},
		{Fields: []string{"S_END"}},
		{},
	}}}}
	want := "S_BEGIN\n\"A_BEGIN\" B_END\n\"S_END\"\nS_END\n"
	if got := string(f.Format()); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// sameContent reports whether two files hold the same labels, values,
// sections and entries, lines aside.
func sameContent(a, b *File) bool {
	if len(a.Settings) != len(b.Settings) || len(a.Sections) != len(b.Sections) {
		return false
	}
	for i, s := range a.Settings {
		if s.Label != b.Settings[i].Label || s.Value != b.Settings[i].Value {
			return false
		}
	}
	for i, s := range a.Sections {
		o := b.Sections[i]
		if s.Name != o.Name || len(s.Entries) != len(o.Entries) {
			return false
		}
		for j, e := range s.Entries {
			if !slices.Equal(e.Fields, o.Entries[j].Fields) {
				return false
			}
		}
	}
	return true
}
