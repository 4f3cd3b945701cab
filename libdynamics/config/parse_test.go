package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func mustParse(t *testing.T, text string) *File {
	t.Helper()
	f, err := Parse("test.conf", strings.NewReader(text))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

func TestParseSettings(t *testing.T) {
	tests := []struct {
		name, in    string
		label, want string
		line        int
	}{
		{"plain", "HAIPAddress 10.1.0.1\n", "HAIPAddress", "10.1.0.1", 1},
		{"tabs and trailing space", "HAIPAddress\t \t10.1.0.1 \t\n", "HAIPAddress", "10.1.0.1", 1},
		{"inner spaces kept", "Description  lab  3 rack\t2  \n", "Description", "lab  3 rack\t2", 1},
		{"comment after value", "HAIPAddress 10.1.0.1# home agent\n", "HAIPAddress", "10.1.0.1", 1},
		{"comment after spaces", "HAIPAddress 10.1.0.1   # home agent\n", "HAIPAddress", "10.1.0.1", 1},
		{"quoted keeps hash", `Secret "a#b c"` + "\n", "Secret", "a#b c", 1},
		{"quoted keeps edge spaces", `Secret "  x  "  # c` + "\n", "Secret", "  x  ", 1},
		{"quoted empty", `Secret ""` + "\n", "Secret", "", 1},
		{"escapes", `Secret "say \"hi\" \\ \n"` + "\n", "Secret", `say "hi" \ \n`, 1},
		{"quote then comment", `Secret "x"#c` + "\n", "Secret", "x", 1},
		{"leading whitespace", "   HAIPAddress 10.1.0.1\n", "HAIPAddress", "10.1.0.1", 1},
		{"after comments and blanks", "# c\n\n   \n\t# c\nHAIPAddress 10.1.0.1\n", "HAIPAddress", "10.1.0.1", 5},
		{"CRLF", "# c\r\nHAIPAddress 10.1.0.1\r\n", "HAIPAddress", "10.1.0.1", 2},
		{"no final newline", "HAIPAddress 10.1.0.1", "HAIPAddress", "10.1.0.1", 1},
		{"byte order mark", "\uFEFFHAIPAddress 10.1.0.1\n", "HAIPAddress", "10.1.0.1", 1},
		{"label chars", "Opt-x.y_2 v\n", "Opt-x.y_2", "v", 1},
		{"non-ASCII value", "Name Päivö\n", "Name", "Päivö", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, tt.in)
			s, ok := f.Setting(tt.label)
			if !ok {
				t.Fatalf("no setting %q in %+v", tt.label, f.Settings)
			}
			if s.Value != tt.want || s.Line != tt.line {
				t.Errorf("got %q at line %d, want %q at line %d", s.Value, s.Line, tt.want, tt.line)
			}
			if len(f.Settings) != 1 || len(f.Sections) != 0 {
				t.Errorf("got %d settings and %d sections, want 1 and 0", len(f.Settings), len(f.Sections))
			}
		})
	}
}

func TestParseSections(t *testing.T) {
	f := mustParse(t, `# dynhad.conf
HAIPAddress 10.1.0.1

INTERFACES_BEGIN
# name  broadcast
eth0    1     # the home network
  eth1	0
INTERFACES_END
AUTHORIZEDLIST_BEGIN
AUTHORIZEDLIST_END
SECURITY_BEGIN
1000 hmac-md5 "shared # secret" "" x
"FOO_END" plain
SECURITY_END
HomeNetPrefix 10.1.0.0/24
`)
	want := []Section{
		{Name: "INTERFACES", Line: 4, EndLine: 8, Entries: []Entry{
			{Fields: []string{"eth0", "1"}, Line: 6},
			{Fields: []string{"eth1", "0"}, Line: 7},
		}},
		{Name: "AUTHORIZEDLIST", Line: 9, EndLine: 10},
		{Name: "SECURITY", Line: 11, EndLine: 14, Entries: []Entry{
			{Fields: []string{"1000", "hmac-md5", "shared # secret", "", "x"}, Line: 12},
			{Fields: []string{"FOO_END", "plain"}, Line: 13},
		}},
	}
	if !reflect.DeepEqual(f.Sections, want) {
		t.Errorf("sections:\n got %+v\nwant %+v", f.Sections, want)
	}
	wantSettings := []Setting{
		{Label: "HAIPAddress", Value: "10.1.0.1", Line: 2},
		{Label: "HomeNetPrefix", Value: "10.1.0.0/24", Line: 15},
	}
	if !reflect.DeepEqual(f.Settings, wantSettings) {
		t.Errorf("settings:\n got %+v\nwant %+v", f.Settings, wantSettings)
	}
	for name, line := range map[string]int{"HAIPAddress": 2, "HomeNetPrefix": 15, "SECURITY": 11, "Nope": 0} {
		if got := f.Line(name); got != line {
			t.Errorf("Line(%q) = %d, want %d", name, got, line)
		}
	}
	if v, ok := f.Value("HomeNetPrefix"); !ok || v != "10.1.0.0/24" {
		t.Errorf("Value(HomeNetPrefix) = %q, %v", v, ok)
	}
	if _, ok := f.Value("INTERFACES"); ok {
		t.Error("a section is not a setting")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		kind     error
		want     string
	}{
		{"duplicate label", "HAIPAddress 10.1.0.1\n# c\nHAIPAddress 10.1.0.2\n", ErrDuplicate,
			"test.conf:3: HAIPAddress: duplicate label, first given at line 1"},
		{"missing value", "\nHAIPAddress   # none\n", ErrSyntax,
			"test.conf:2: HAIPAddress: missing value"},
		{"unterminated quote", `Secret "abc` + "\n", ErrSyntax,
			"test.conf:1: Secret: unterminated quoted string"},
		{"escaped closing quote", `Secret "abc\"` + "\n", ErrSyntax,
			"test.conf:1: Secret: unterminated quoted string"},
		{"text after quote", `Secret "abc"def` + "\n", ErrSyntax,
			"test.conf:1: Secret: text after closing quote"},
		{"quote inside text", `Secret ab"c"` + "\n", ErrSyntax,
			`test.conf:1: Secret: unexpected '"' inside unquoted text; quote the whole field`},
		{"quote in longer value", `Secret "ab" c` + "\n", ErrSyntax,
			"test.conf:1: Secret: quoted text inside a longer value; quote the whole value"},
		{"quoted label", `"HAIPAddress" 10.1.0.1` + "\n", ErrSyntax,
			"test.conf:1: a line must start with a label, not a quoted string"},
		{"invalid label", "HAIPAddress=10.1.0.1\n", ErrSyntax,
			`test.conf:1: invalid label "HAIPAddress=10.1.0.1" (labels are letters, digits, '_', '-' and '.')`},
		{"never closed", "A 1\nINTERFACES_BEGIN\neth0 1\n", ErrUnclosed,
			"test.conf:2: INTERFACES_BEGIN: section never closed (no INTERFACES_END)"},
		{"end without begin", "A 1\nINTERFACES_END\n", ErrUnopened,
			"test.conf:2: INTERFACES_END: INTERFACES_END without INTERFACES_BEGIN"},
		{"end of another section", "INTERFACES_BEGIN\neth0\nSECURITY_END\n", ErrUnopened,
			"test.conf:3: SECURITY_END: SECURITY_END without SECURITY_BEGIN (the open section is INTERFACES_BEGIN at line 1)"},
		{"nested", "INTERFACES_BEGIN\neth0\nSECURITY_BEGIN\nSECURITY_END\nINTERFACES_END\n", ErrNested,
			"test.conf:3: SECURITY_BEGIN: section inside INTERFACES_BEGIN (line 1), which is not closed"},
		{"nested same", "INTERFACES_BEGIN\nINTERFACES_BEGIN\n", ErrNested,
			"test.conf:2: INTERFACES_BEGIN: section inside INTERFACES_BEGIN (line 1), which is not closed"},
		{"duplicate section", "INTERFACES_BEGIN\nINTERFACES_END\n\nINTERFACES_BEGIN\nINTERFACES_END\n", ErrDuplicate,
			"test.conf:4: INTERFACES_BEGIN: duplicate section, first opened at line 1"},
		{"marker with value", "INTERFACES_BEGIN eth0\n", ErrSyntax,
			"test.conf:1: INTERFACES_BEGIN: section marker takes no value"},
		{"end marker with value", "INTERFACES_BEGIN\nINTERFACES_END x\n", ErrSyntax,
			"test.conf:2: INTERFACES_END: section marker takes no value"},
		{"marker without name", "_BEGIN\n", ErrSyntax,
			"test.conf:1: _BEGIN: section marker without a name"},
		{"bad section name", "A:B_BEGIN\n", ErrSyntax,
			`test.conf:1: invalid section name "A:B" (names are letters, digits, '_', '-' and '.')`},
		{"syntax inside section", "SECURITY_BEGIN\n1000 \"open\nSECURITY_END\n", ErrSyntax,
			"test.conf:2: SECURITY: unterminated quoted string"},
		{"line too long", "A 1\nB " + strings.Repeat("x", MaxLineLen) + "\n", ErrSyntax,
			"test.conf:2: line longer than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("test.conf", strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", f)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("error %v is not %v", err, tt.kind)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.File != "test.conf" || ce.Line == 0 {
				t.Errorf("error %#v is not an *Error with file and line", err)
			}
			var cfg interface{ ConfigError() bool }
			if !errors.As(err, &cfg) || !cfg.ConfigError() {
				t.Errorf("error %v does not report itself as a configuration error", err)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dynhad.conf")
	if err := os.WriteFile(path, []byte("HAIPAddress 10.1.0.1\nHAIPAddress 10.1.0.2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if want := path + ":2: HAIPAddress: duplicate label, first given at line 1"; err == nil || err.Error() != want {
		t.Errorf("Load error\n got %v\nwant %s", err, want)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "absent.conf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of an absent file: %v, want ErrNotExist", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestParseReadError(t *testing.T) {
	_, err := Parse("x.conf", failingReader{})
	if err == nil || err.Error() != "x.conf: read: disk on fire" {
		t.Errorf("got %v", err)
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "a.conf", Line: 3, Label: "L", Err: errors.New("bad")}, "a.conf:3: L: bad"},
		{Error{File: "a.conf", Label: "L", Err: errors.New("bad")}, "a.conf: L: bad"},
		{Error{File: "a.conf", Line: 3, Err: errors.New("bad")}, "a.conf:3: bad"},
		{Error{Line: 3, Label: "L", Err: errors.New("bad")}, "3: L: bad"},
		{Error{Label: "L"}, "L: error"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestErrorf(t *testing.T) {
	f := mustParse(t, "HAIPAddress 10.1.0.1\nAUTHORIZEDLIST_BEGIN\n10.1.0.9\nAUTHORIZEDLIST_END\n")
	errOutside := errors.New("outside")
	err := f.Errorf("HAIPAddress", "%w: not inside %s", errOutside, "10.2.0.0/24")
	if got, want := err.Error(), "test.conf:1: HAIPAddress: outside: not inside 10.2.0.0/24"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !errors.Is(err, errOutside) {
		t.Error("Errorf does not wrap the %w argument")
	}
	if got, want := f.Errorf("AUTHORIZEDLIST", "x").Error(), "test.conf:2: AUTHORIZEDLIST: x"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	sec, _ := f.Section("AUTHORIZEDLIST")
	if got, want := f.ErrorfAt(sec.Entries[0].Line, "AUTHORIZEDLIST", "no key for %s", "10.1.0.9").Error(),
		"test.conf:3: AUTHORIZEDLIST: no key for 10.1.0.9"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCheck(t *testing.T) {
	f := mustParse(t, `HAIPAddress 10.1.0.1
HAIPAdress 10.1.0.2
homenetprefix 10.1.0.0/24
Frobnicate yes
INTERFACE_BEGIN
INTERFACE_END
AUTHORIZEDLIST_BEGIN
AUTHORIZEDLIST_END
`)
	err := f.Check([]string{"HAIPAddress", "HomeNetPrefix"}, []string{"INTERFACES", "AUTHORIZEDLIST"})
	want := `test.conf:2: HAIPAdress: unknown label (did you mean HAIPAddress?)
test.conf:3: homenetprefix: unknown label (did you mean HomeNetPrefix?)
test.conf:4: Frobnicate: unknown label
test.conf:5: INTERFACE_BEGIN: unknown section (did you mean INTERFACES_BEGIN?)`
	if err == nil || err.Error() != want {
		t.Fatalf("Check\n got %v\nwant %s", err, want)
	}
	if !errors.Is(err, ErrUnknown) {
		t.Error("not ErrUnknown")
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.Line != 2 {
		t.Errorf("first error %+v, want line 2", ce)
	}
	if err := f.Check([]string{"HAIPAddress", "HAIPAdress", "homenetprefix", "Frobnicate"},
		[]string{"INTERFACE", "AUTHORIZEDLIST"}); err != nil {
		t.Errorf("all known: %v", err)
	}
}
