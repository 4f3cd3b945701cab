package config

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// level is a TextUnmarshaler, as other packages' typed values are.
type level int

var errLevel = errors.New("unknown level")

func (l *level) UnmarshalText(b []byte) error {
	switch string(b) {
	case "low":
		*l = 1
	case "high":
		*l = 2
	default:
		return fmt.Errorf("%w %q", errLevel, b)
	}
	return nil
}

// Every value type, each from its own label.
type values struct {
	S     string        `dyn:"S"`
	B     bool          `dyn:"B"`
	I     int           `dyn:"I"`
	I8    int8          `dyn:"I8"`
	I64   int64         `dyn:"I64"`
	U     uint          `dyn:"U"`
	U8    uint8         `dyn:"U8"`
	U16   uint16        `dyn:"U16"`
	U32   uint32        `dyn:"U32"`
	D     time.Duration `dyn:"D"`
	A     netip.Addr    `dyn:"A"`
	P     netip.Prefix  `dyn:"P"`
	K     []byte        `dyn:"K"`
	K4    [4]byte       `dyn:"K4"`
	L     level         `dyn:"L"`
	Other string        // untagged: left alone
	Skip  string        `dyn:"-"`
}

func decodeText(t *testing.T, text string, v any) error {
	t.Helper()
	f, err := Parse("test.conf", strings.NewReader(text))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return Decode(f, v)
}

func TestDecodeValues(t *testing.T) {
	tests := []struct {
		line string
		want func(*values) any
		val  any
	}{
		{`S "two  words # kept"`, func(v *values) any { return v.S }, "two  words # kept"},
		{"S two words", func(v *values) any { return v.S }, "two words"},
		{"B yes", func(v *values) any { return v.B }, true},
		{"B ON", func(v *values) any { return v.B }, true},
		{"B True", func(v *values) any { return v.B }, true},
		{"B 1", func(v *values) any { return v.B }, true},
		{"B no", func(v *values) any { return v.B }, false},
		{"B off", func(v *values) any { return v.B }, false},
		{"B false", func(v *values) any { return v.B }, false},
		{"B 0", func(v *values) any { return v.B }, false},
		{"I -42", func(v *values) any { return v.I }, -42},
		{"I 0x1f", func(v *values) any { return v.I }, 31},
		{"I8 -128", func(v *values) any { return v.I8 }, int8(-128)},
		{"I64 9223372036854775807", func(v *values) any { return v.I64 }, int64(9223372036854775807)},
		{"U 010", func(v *values) any { return v.U }, uint(10)},
		{"U8 255", func(v *values) any { return v.U8 }, uint8(255)},
		{"U16 0xFFFF", func(v *values) any { return v.U16 }, uint16(65535)},
		{"U32 4294967295", func(v *values) any { return v.U32 }, uint32(4294967295)},
		{"D 300", func(v *values) any { return v.D }, 300 * time.Second},
		{"D 0", func(v *values) any { return v.D }, time.Duration(0)},
		{"D 1h30m", func(v *values) any { return v.D }, 90 * time.Minute},
		{"D 1.5s", func(v *values) any { return v.D }, 1500 * time.Millisecond},
		{"A 10.1.0.1", func(v *values) any { return v.A }, netip.MustParseAddr("10.1.0.1")},
		{"P 10.1.0.0/24", func(v *values) any { return v.P }, netip.MustParsePrefix("10.1.0.0/24")},
		{"K 00ff10Ab", func(v *values) any { return v.K }, []byte{0, 0xff, 0x10, 0xab}},
		{"K 0x0102", func(v *values) any { return v.K }, []byte{1, 2}},
		{`K ""`, func(v *values) any { return v.K }, []byte{}},
		{"K4 01020304", func(v *values) any { return v.K4 }, [4]byte{1, 2, 3, 4}},
		{"L high", func(v *values) any { return v.L }, level(2)},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			v := values{Other: "untouched", Skip: "untouched"}
			if err := decodeText(t, tt.line+"\n", &v); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got := tt.want(&v); !reflect.DeepEqual(got, tt.val) {
				t.Errorf("got %#v, want %#v", got, tt.val)
			}
			if v.Other != "untouched" || v.Skip != "untouched" {
				t.Errorf("untagged fields changed: %+v", v)
			}
		})
	}
}

func TestDecodeValueErrors(t *testing.T) {
	tests := []struct{ line, want string }{
		{"B maybe", `test.conf:1: B: "maybe" is not a boolean (yes/no, true/false, on/off, 1/0)`},
		{"I 1.5", `test.conf:1: I: "1.5" is not an integer`},
		{"I -0x10", `test.conf:1: I: "-0x10" is not an integer`},
		{"I8 128", `test.conf:1: I8: "128" is out of range (-128 to 127)`},
		{"U -1", `test.conf:1: U: "-1" is not a non-negative integer`},
		{"U8 256", `test.conf:1: U8: "256" is out of range (0 to 255)`},
		{"U16 0x10000", `test.conf:1: U16: "0x10000" is out of range (0 to 65535)`},
		{"U32 ten", `test.conf:1: U32: "ten" is not a non-negative integer`},
		{"D 5 minutes", `test.conf:1: D: "5 minutes" is not a duration (seconds, or like 90s, 5m, 1h30m)`},
		{"D 1.5", `test.conf:1: D: "1.5" is not a duration (seconds, or like 90s, 5m, 1h30m)`},
		{"D -5s", `test.conf:1: D: "-5s" is negative`},
		{"D 99999999999999999999", `test.conf:1: D: "99999999999999999999" is out of range`},
		{"D 9223372037", `test.conf:1: D: "9223372037" is out of range`},
		{"A 10.1.0.300", `test.conf:1: A: "10.1.0.300" is not an IPv4 address`},
		{"A 2001:db8::1", `test.conf:1: A: "2001:db8::1" is not an IPv4 address`},
		{"A ::ffff:10.1.0.1", `test.conf:1: A: "::ffff:10.1.0.1" is not an IPv4 address`},
		{"A 10.1.0.1/24", `test.conf:1: A: "10.1.0.1/24" is not an IPv4 address`},
		{"P 10.1.0.0", `test.conf:1: P: "10.1.0.0" is not an IPv4 prefix (like 10.1.0.0/24)`},
		{"P 2001:db8::/32", `test.conf:1: P: "2001:db8::/32" is not an IPv4 prefix (like 10.1.0.0/24)`},
		{"P 10.1.0.1/24", `test.conf:1: P: "10.1.0.1/24" has host bits set (the network is 10.1.0.0/24)`},
		{"K abc", `test.conf:1: K: "abc" is not hexadecimal (an even number of digits 0-9, a-f)`},
		{"K zz", `test.conf:1: K: "zz" is not hexadecimal (an even number of digits 0-9, a-f)`},
		{"K4 010203", `test.conf:1: K4: "010203" is 3 bytes, want 4`},
		{"L medium", `test.conf:1: L: "medium": unknown level "medium"`},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			var v values
			err := decodeText(t, tt.line+"\n", &v)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error\n got %v\nwant %s", err, tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%v is not ErrInvalid", err)
			}
		})
	}
	var v values
	if err := decodeText(t, "L medium\n", &v); !errors.Is(err, errLevel) {
		t.Errorf("UnmarshalText's error is not wrapped: %v", err)
	}
}

type haConfig struct {
	HA        netip.Addr    `dyn:"HAIPAddress,required"`
	Prefix    netip.Prefix  `dyn:"HomeNetPrefix,required"`
	Lifetime  time.Duration `dyn:"MaxBindingLifetime,default=300"`
	Decap     bool          `dyn:"EnableFADecapsulation,default=no"`
	Motto     string        `dyn:"Motto,default=a, b, c"`
	Auth      []authorized  `dyn:"AUTHORIZEDLIST"`
	Ifaces    []iface       `dyn:"INTERFACES,required"`
	Security  []securityEnt `dyn:"SECURITY"`
	Neighbors []netip.Addr  `dyn:"NEIGHBORS"`
}

type authorized struct {
	Home     netip.Addr `dyn:"0"`
	SPI      uint32     `dyn:"1"`
	Lifetime uint16     `dyn:"2,optional"`
	Mode     string     `dyn:"3,default=plain"`
	Line     int        `dyn:",line"`
}

type iface struct {
	Name      string `dyn:"0"`
	Broadcast bool   `dyn:"1,default=yes"`
}

// securityEnt has its own grammar: "SPI algorithm secret", where the
// algorithm must be hmac-md5 or prefix-suffix-md5.
type securityEnt struct {
	SPI    uint32
	Algo   string
	Secret string
}

var errAlgo = errors.New("unknown algorithm")

func (s *securityEnt) UnmarshalEntry(fields []string) error {
	if len(fields) != 3 {
		return fmt.Errorf("want SPI, algorithm and secret, got %d fields", len(fields))
	}
	if fields[1] != "hmac-md5" && fields[1] != "prefix-suffix-md5" {
		return fmt.Errorf("%w %q", errAlgo, fields[1])
	}
	var spi uint32
	if _, err := fmt.Sscan(fields[0], &spi); err != nil {
		return fmt.Errorf("SPI %q: %v", fields[0], err)
	}
	*s = securityEnt{SPI: spi, Algo: fields[1], Secret: fields[2]}
	return nil
}

const haText = `# home agent
HAIPAddress    10.1.0.1
HomeNetPrefix  10.1.0.0/24
MaxBindingLifetime 10m

INTERFACES_BEGIN
eth0
eth1 no
INTERFACES_END

AUTHORIZEDLIST_BEGIN
10.1.0.10 1000
10.1.0.11 1001 600
10.1.0.12 1002 0 reverse
AUTHORIZEDLIST_END

SECURITY_BEGIN
1000 hmac-md5 "my secret"
SECURITY_END

NEIGHBORS_BEGIN
10.1.0.2
NEIGHBORS_END
`

func TestDecodeFile(t *testing.T) {
	var c haConfig
	if err := decodeText(t, haText, &c); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want := haConfig{
		HA:       netip.MustParseAddr("10.1.0.1"),
		Prefix:   netip.MustParsePrefix("10.1.0.0/24"),
		Lifetime: 10 * time.Minute,
		Decap:    false,
		Motto:    "a, b, c",
		Auth: []authorized{
			{Home: netip.MustParseAddr("10.1.0.10"), SPI: 1000, Mode: "plain", Line: 12},
			{Home: netip.MustParseAddr("10.1.0.11"), SPI: 1001, Lifetime: 600, Mode: "plain", Line: 13},
			{Home: netip.MustParseAddr("10.1.0.12"), SPI: 1002, Mode: "reverse", Line: 14},
		},
		Ifaces:    []iface{{Name: "eth0", Broadcast: true}, {Name: "eth1", Broadcast: false}},
		Security:  []securityEnt{{SPI: 1000, Algo: "hmac-md5", Secret: "my secret"}},
		Neighbors: []netip.Addr{netip.MustParseAddr("10.1.0.2")},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestDecodeDefaults(t *testing.T) {
	c := haConfig{Lifetime: time.Hour, Decap: true}
	if err := decodeText(t, "HAIPAddress 10.1.0.1\nHomeNetPrefix 10.1.0.0/24\nINTERFACES_BEGIN\nINTERFACES_END\n", &c); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if c.Lifetime != 300*time.Second || c.Decap {
		t.Errorf("defaults not applied: lifetime %v, decap %v", c.Lifetime, c.Decap)
	}
	if c.Ifaces == nil || len(c.Ifaces) != 0 {
		t.Errorf("empty section gave %#v, want an empty non-nil slice", c.Ifaces)
	}
	if c.Auth != nil {
		t.Errorf("absent section gave %#v, want nil", c.Auth)
	}
}

func TestDecodeErrors(t *testing.T) {
	base := "HAIPAddress 10.1.0.1\nHomeNetPrefix 10.1.0.0/24\nINTERFACES_BEGIN\nINTERFACES_END\n"
	tests := []struct {
		name, in string
		kind     error
		want     string
	}{
		{"missing required label", "HomeNetPrefix 10.1.0.0/24\nINTERFACES_BEGIN\nINTERFACES_END\n", ErrMissing,
			"test.conf: HAIPAddress: required label missing"},
		{"missing required section", "HAIPAddress 10.1.0.1\nHomeNetPrefix 10.1.0.0/24\n", ErrMissing,
			"test.conf: INTERFACES: required section missing"},
		{"unknown label", base + "HAIPAdress 10.1.0.2\n", ErrUnknown,
			"test.conf:5: HAIPAdress: unknown label (did you mean HAIPAddress?)"},
		{"unknown section", base + "INTERFACE_BEGIN\nINTERFACE_END\n", ErrUnknown,
			"test.conf:5: INTERFACE_BEGIN: unknown section (did you mean INTERFACES_BEGIN?)"},
		{"too few fields", base + "AUTHORIZEDLIST_BEGIN\n10.1.0.10\nAUTHORIZEDLIST_END\n", ErrInvalid,
			"test.conf:6: AUTHORIZEDLIST: entry has 1 field, want 2 to 4"},
		{"too many fields", base + "AUTHORIZEDLIST_BEGIN\n10.1.0.10 1 2 x y\nAUTHORIZEDLIST_END\n", ErrInvalid,
			"test.conf:6: AUTHORIZEDLIST: entry has 5 fields, want 2 to 4"},
		{"bad field", base + "AUTHORIZEDLIST_BEGIN\n10.1.0.10 1000\n10.1.0 1001\nAUTHORIZEDLIST_END\n", ErrInvalid,
			`test.conf:7: AUTHORIZEDLIST: field 1: "10.1.0" is not an IPv4 address`},
		{"bad optional field", base + "AUTHORIZEDLIST_BEGIN\n10.1.0.10 1000 70000\nAUTHORIZEDLIST_END\n", ErrInvalid,
			`test.conf:6: AUTHORIZEDLIST: field 3: "70000" is out of range (0 to 65535)`},
		{"bad scalar entry", base + "NEIGHBORS_BEGIN\n10.1.0.2 10.1.0.3\nNEIGHBORS_END\n", ErrInvalid,
			"test.conf:6: NEIGHBORS: entry has 2 fields, want 1"},
		{"custom entry error", base + "SECURITY_BEGIN\n1000 md4 x\nSECURITY_END\n", errAlgo,
			`test.conf:6: SECURITY: unknown algorithm "md4"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c haConfig
			err := decodeText(t, tt.in, &c)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error\n got %v\nwant %s", err, tt.want)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("%v is not %v", err, tt.kind)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.File != "test.conf" {
				t.Errorf("%#v is not an *Error naming the file", err)
			}
		})
	}
}

func TestDecodeReportsEveryProblem(t *testing.T) {
	in := `HomeNetPrefix 10.1.0.1/24
Lifetime 5
INTERFACES_BEGIN
eth0 maybe
INTERFACES_END
HAIPAddres 10.1.0.1
`
	var c haConfig
	err := decodeText(t, in, &c)
	want := `test.conf:1: HomeNetPrefix: "10.1.0.1/24" has host bits set (the network is 10.1.0.0/24)
test.conf:2: Lifetime: unknown label
test.conf:4: INTERFACES: field 2: "maybe" is not a boolean (yes/no, true/false, on/off, 1/0)
test.conf:6: HAIPAddres: unknown label (did you mean HAIPAddress?)
test.conf: HAIPAddress: required label missing`
	if err == nil || err.Error() != want {
		t.Fatalf("error\n got %v\nwant %s", err, want)
	}
	for _, kind := range []error{ErrInvalid, ErrUnknown, ErrMissing} {
		if !errors.Is(err, kind) {
			t.Errorf("joined error is not %v", kind)
		}
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.Line != 1 || ce.Label != "HomeNetPrefix" {
		t.Errorf("first error is %+v, want line 1 HomeNetPrefix", ce)
	}
}

type Common struct {
	HA netip.Addr `dyn:"HAIPAddress"`
}

type private struct {
	Prefix netip.Prefix `dyn:"HomeNetPrefix"`
}

func TestDecodeEmbedded(t *testing.T) {
	var v struct {
		Common
		private
		Name string `dyn:"Name"`
	}
	if err := decodeText(t, "HAIPAddress 10.1.0.1\nHomeNetPrefix 10.1.0.0/24\nName x\n", &v); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if v.HA != netip.MustParseAddr("10.1.0.1") || v.Prefix != netip.MustParsePrefix("10.1.0.0/24") || v.Name != "x" {
		t.Errorf("got %+v", v)
	}
}

func TestDecodeTargetErrors(t *testing.T) {
	type noPos struct {
		A string `dyn:"A"`
	}
	type gap struct {
		A string `dyn:"0"`
		C string `dyn:"2"`
	}
	type optFirst struct {
		A string `dyn:"0,optional"`
		B string `dyn:"1"`
	}
	type dupPos struct {
		A string `dyn:"0"`
		B string `dyn:"0"`
	}
	type badLine struct {
		A string `dyn:"0"`
		L string `dyn:",line"`
	}
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"not a pointer", struct{}{}, "want a non-nil pointer to a struct, got struct {}"},
		{"nil pointer", (*haConfig)(nil), "want a non-nil pointer to a struct, got *config.haConfig"},
		{"pointer to non-struct", new(int), "want a non-nil pointer to a struct, got *int"},
		{"unknown option", &struct {
			A string `dyn:"A,requried"`
		}{}, `A: unknown tag option "requried"`},
		{"required with default", &struct {
			A string `dyn:"A,required,default=x"`
		}{}, "A: required conflicts with optional and default"},
		{"bad default", &struct {
			A int `dyn:"A,default=ten"`
		}{}, `A: default: "ten" is not an integer`},
		{"bad name", &struct {
			A int `dyn:"A B"`
		}{}, `A: invalid label name "A B"`},
		{"duplicate label", &struct {
			A int `dyn:"X"`
			B int `dyn:"X"`
		}{}, "B: X is also the tag of A"},
		{"unsupported type", &struct {
			A float64 `dyn:"A"`
		}{}, "A: unsupported type float64"},
		{"unexported", &struct {
			a int `dyn:"A"`
		}{}, "a: tagged field is not exported"},
		{"section with suffix", &struct {
			A []iface `dyn:"A_BEGIN"`
		}{}, "A: name the section without its _BEGIN suffix"},
		{"section default", &struct {
			A []iface `dyn:"A,default=x"`
		}{}, "A: a section takes no default"},
		{"entry not positional", &struct {
			A []noPos `dyn:"A"`
		}{}, `A: entry fields are tagged with their position, not "A"`},
		{"entry gap", &struct {
			A []gap `dyn:"A"`
		}{}, "no field for position 1"},
		{"entry optional first", &struct {
			A []optFirst `dyn:"A"`
		}{}, "optional position 0 comes before a required one"},
		{"entry duplicate position", &struct {
			A []dupPos `dyn:"A"`
		}{}, "B: position 0 is also the tag of A"},
		{"entry line not int", &struct {
			A []badLine `dyn:"A"`
		}{}, "L: the line field must be the only int tagged ,line"},
		{"entry of maps", &struct {
			A []map[string]int `dyn:"A"`
		}{}, "unsupported section entry type"},
	}
	f := mustParse(t, "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Decode(f, tt.v)
			if !errors.Is(err, ErrTarget) {
				t.Fatalf("got %v, want ErrTarget", err)
			}
			if !strings.HasSuffix(err.Error(), tt.want) {
				t.Errorf("error %q does not end in %q", err, tt.want)
			}
		})
	}
	if err := Decode(nil, &haConfig{}); !errors.Is(err, ErrTarget) {
		t.Errorf("nil file: %v", err)
	}
}
