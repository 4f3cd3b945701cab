package mip

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseDispatch(t *testing.T) {
	for _, tt := range []struct {
		b    []byte
		want MessageType
	}{
		{goldenRequestHMAC, MessageRequest},
		{goldenReply, MessageReply},
	} {
		m, err := Parse(tt.b)
		if err != nil {
			t.Fatalf("Parse(%x): %v", tt.b[:1], err)
		}
		if m.MessageType() != tt.want {
			t.Errorf("Parse type %d: got %s, want %s", tt.b[0], m.MessageType(), tt.want)
		}
	}
	for _, b := range [][]byte{nil, {2}, {15, 0, 0, 0}, append([]byte{4}, goldenRequestHMAC[1:]...)} {
		if _, err := Parse(b); err == nil {
			t.Errorf("Parse(%x): no error", b)
		}
	}
	// Each kind refuses the other.
	if _, err := ParseRequest(goldenReply); !errors.Is(err, ErrUnknownMessage) && !errors.Is(err, ErrTruncated) {
		t.Errorf("ParseRequest(reply) = %v, want a type error", err)
	}
	long := append(append([]byte(nil), goldenRequestHMAC...), 0, 0, 0, 0)
	long[0] = 1
	if _, err := ParseReply(long); !errors.Is(err, ErrUnknownMessage) {
		t.Errorf("ParseReply(request) = %v, want ErrUnknownMessage", err)
	}
}

// TestTruncated cuts every golden message at every length: each prefix
// that stops inside the fixed part or inside an extension is an error
// wrapping ErrTruncated, and a prefix that ends exactly at an extension
// boundary parses.
func TestTruncated(t *testing.T) {
	for name, golden := range map[string][]byte{
		"request": goldenRequestHMAC, "nai": goldenRequestNAI, "reply": goldenReply,
	} {
		m, err := Parse(golden)
		if err != nil {
			t.Fatal(err)
		}
		fixed, boundaries := RequestLen, map[int]bool{}
		if golden[0] == byte(MessageReply) {
			fixed = ReplyLen
		}
		boundaries[fixed] = true
		type extBytes interface{ ExtensionBytes(int) []byte }
		end := fixed
		for i := 0; ; i++ {
			e := m.(extBytes).ExtensionBytes(i)
			if e == nil {
				break
			}
			end += len(e)
			boundaries[end] = true
		}
		for n := 0; n < len(golden); n++ {
			_, err := Parse(golden[:n])
			if boundaries[n] {
				if err != nil {
					t.Errorf("%s cut at %d (extension boundary): %v", name, n, err)
				}
				continue
			}
			if !errors.Is(err, ErrTruncated) {
				t.Errorf("%s cut at %d: err = %v, want ErrTruncated", name, n, err)
			}
		}
	}
}

func TestExtensionErrors(t *testing.T) {
	fixed := goldenRequestHMAC[:RequestLen]
	with := func(ext ...byte) []byte { return append(append([]byte(nil), fixed...), ext...) }
	tests := []struct {
		name string
		b    []byte
		want error
		text string
	}{
		{"auth shorter than SPI", with(32, 3, 0, 0, 1), ErrExtensionLength, "mobile-home-auth"},
		{"auth with empty data", with(34, 0), ErrExtensionLength, "foreign-home-auth"},
		{"length past end", with(200, 4, 1, 2, 3), ErrTruncated, "length 4, 3 bytes left"},
		{"second extension past end", with(131, 1, 'x', 32, 20, 0, 0, 0, 1), ErrTruncated, "offset 27"},
		{"lone type octet", with(131, 0, 200), ErrTruncated, "length octet missing"},
		{"unknown non-skippable", with(35, 2, 0, 0), ErrUnknownExtension, "type 35"},
		{"unknown non-skippable zero", with(0, 0), ErrUnknownExtension, "type 0"},
		{"unknown non-skippable after skippable", with(200, 0, 127, 0), ErrUnknownExtension, "type 127"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRequest(tt.b)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseRequest = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q does not mention %q", err, tt.text)
			}
			// The reply parser walks the same chain.
			rb := append([]byte{3, 0, 0, 0}, tt.b[4:RequestLen-4]...)
			rb = append(rb, tt.b[RequestLen:]...)
			if _, err := ParseReply(rb); !errors.Is(err, tt.want) {
				t.Errorf("ParseReply = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSkippableKept(t *testing.T) {
	// Every skippable type other than NAI comes back raw, even with no
	// data, and marshals to the same bytes.
	for typ := 128; typ < 256; typ++ {
		b := append(append([]byte(nil), goldenReply[:ReplyLen]...), byte(typ), 0, byte(typ), 1, 0xee)
		r, err := ParseReply(b)
		if err != nil {
			t.Fatalf("type %d: %v", typ, err)
		}
		if len(r.Extensions) != 2 {
			t.Fatalf("type %d: %d extensions, want 2", typ, len(r.Extensions))
		}
		if typ != int(TypeNAI) {
			if _, ok := r.Extensions[0].(*RawExtension); !ok {
				t.Errorf("type %d parsed as %T, want *RawExtension", typ, r.Extensions[0])
			}
		}
		out, err := r.Marshal()
		if err != nil || string(out) != string(b) {
			t.Errorf("type %d: re-Marshal = %x, %v; want %x", typ, out, err, b)
		}
	}
}

func TestMarshalErrors(t *testing.T) {
	mk := func(f func(r *Request)) *Request { r := goldenRequestValue(); f(r); return r }
	tests := []struct {
		name string
		r    *Request
		text string
	}{
		{"zero home", mk(func(r *Request) { r.Home = netip.Addr{} }), "home address"},
		{"IPv6 home agent", mk(func(r *Request) { r.HomeAgent = netip.MustParseAddr("2001:db8::1") }), "home agent"},
		{"zero care-of", mk(func(r *Request) { r.CareOf = netip.Addr{} }), "care-of address"},
		{"long NAI", mk(func(r *Request) { r.Extensions = []Extension{&NAI{Name: strings.Repeat("a", 256)}} }), "NAI"},
		{"long raw", mk(func(r *Request) { r.Extensions = []Extension{&RawExtension{Type: 200, Data: make([]byte, 256)}} }), "256 bytes"},
		{"long auth", mk(func(r *Request) {
			r.Extensions = []Extension{&Auth{Type: TypeMobileHome, Authenticator: make([]byte, 252)}}
		}), "length 256"},
		{"auth of wrong type", mk(func(r *Request) { r.Extensions = []Extension{&Auth{Type: 131}} }), "not 32, 33, 34 or 36"},
		{"nil extension", mk(func(r *Request) { r.Extensions = []Extension{nil} }), "nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte{9, 9}
			b, err := tt.r.AppendMarshal(prefix)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("AppendMarshal = %x, %v; want ErrInvalid mentioning %q", b, err, tt.text)
			}
			if b != nil {
				t.Errorf("AppendMarshal returned %x with the error", b)
			}
		})
	}
	for name, r := range map[string]*Reply{
		"reply zero home":  {HomeAgent: netip.MustParseAddr("10.1.0.1")},
		"reply IPv6 agent": {Home: netip.MustParseAddr("10.1.0.10"), HomeAgent: netip.IPv6Loopback()},
		"reply long raw": {Home: netip.MustParseAddr("10.1.0.10"), HomeAgent: netip.MustParseAddr("10.1.0.1"),
			Extensions: []Extension{&RawExtension{Type: 200, Data: make([]byte, 300)}}},
	} {
		if b, err := r.Marshal(); !errors.Is(err, ErrInvalid) || b != nil {
			t.Errorf("%s: Marshal = %x, %v; want ErrInvalid", name, b, err)
		}
	}
	// The largest extensions that fit marshal and parse back.
	r := mk(func(r *Request) {
		r.Extensions = []Extension{
			&NAI{Name: strings.Repeat("a", 255)},
			&Auth{Type: TypeForeignHome, SPI: 7, Authenticator: make([]byte, 251)},
		}
	})
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseRequest(b); err != nil {
		t.Fatal(err)
	}
	// An IPv4-mapped address is sent as IPv4.
	r = mk(func(r *Request) { r.CareOf = netip.MustParseAddr("::ffff:10.2.0.1") })
	if b, err := r.Marshal(); err != nil || string(b[12:16]) != string([]byte{10, 2, 0, 1}) {
		t.Errorf("IPv4-mapped care-of: %x, %v", b, err)
	}
}

func TestRawIsACopy(t *testing.T) {
	b := append([]byte(nil), goldenRequestNAI...)
	r, err := ParseRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 0
	}
	if string(r.Raw()) != string(goldenRequestNAI) || r.Extensions[0].(*NAI).Name != "mn1@home.example" ||
		string(r.Extensions[1].(*RawExtension).Data) != "\xab\xcd\xef" {
		t.Fatal("parsed request shares memory with the input buffer")
	}
}
