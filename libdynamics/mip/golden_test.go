package mip

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"
)

// goldenKey is the key of every golden security association.
var goldenKey = []byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}

var (
	goldenSAHMAC   = SecurityAssociation{SPI: 1000, Alg: HMACMD5, Key: goldenKey}
	goldenSAPrefix = SecurityAssociation{SPI: 1001, Alg: KeyedMD5PrefixSuffix, Key: goldenKey}
)

// The authenticators below were computed independently of this package:
// HMAC-MD5 with Python's hmac module and MD5(key | data | key) with
// hashlib, over the bytes each golden message lists before them.

// goldenRequestHMAC is a registration request through a foreign agent,
// asking for broadcasts and a reverse tunnel, with a Mobile-Home
// authenticator computed with HMAC-MD5.
var goldenRequestHMAC = []byte{
	1,          // type: registration request
	0x42,       // flags: B (0x40) T (0x02)
	0x02, 0x58, // lifetime 600 s
	10, 1, 0, 10, // home address
	10, 1, 0, 1, // home agent
	10, 2, 0, 1, // care-of address
	0xeb, 0x8f, 0x2f, 0x40, 0x12, 0x34, 0x56, 0x78, // identification
	// Mobile-Home Authentication extension (RFC 5944 section 3.5.2)
	32,                     // type
	20,                     // length: SPI + 16
	0x00, 0x00, 0x03, 0xe8, // SPI 1000
	0x7d, 0x89, 0x9d, 0x7a, 0xd4, 0x53, 0xf0, 0xe0, // HMAC-MD5
	0x3c, 0x10, 0x02, 0x3a, 0x2f, 0xc0, 0xe4, 0x2f,
}

// goldenRequestPrefixSuffix is the same request authenticated with keyed
// MD5 in prefix+suffix mode under SPI 1001.
var goldenRequestPrefixSuffix = []byte{
	1, 0x42, 0x02, 0x58,
	10, 1, 0, 10,
	10, 1, 0, 1,
	10, 2, 0, 1,
	0xeb, 0x8f, 0x2f, 0x40, 0x12, 0x34, 0x56, 0x78,
	32,                     // type: Mobile-Home
	20,                     // length
	0x00, 0x00, 0x03, 0xe9, // SPI 1001
	0x6c, 0xff, 0xa1, 0xaa, 0x00, 0x44, 0x24, 0xa1, // MD5(key | data | key)
	0x09, 0x89, 0x56, 0xcd, 0xb2, 0x8d, 0xe9, 0xa4,
}

// goldenRequestNAI is a request identified by NAI instead of a home
// address (RFC 2794), with an extension the package does not know,
// skippable, between the NAI and the authenticator, which covers both.
var goldenRequestNAI = []byte{
	1,          // type: registration request
	0x00,       // no flags
	0x07, 0x08, // lifetime 1800 s
	0, 0, 0, 0, // home address: none yet
	10, 1, 0, 1, // home agent
	10, 2, 0, 1, // care-of address
	0xeb, 0x8f, 0x2f, 0x40, 0x12, 0x34, 0x56, 0x78, // identification
	// Mobile Node NAI extension (RFC 2794)
	131, // type
	16,  // length
	'm', 'n', '1', '@', 'h', 'o', 'm', 'e', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e',
	// unknown skippable extension
	200, // type
	3,   // length
	0xab, 0xcd, 0xef,
	// Mobile-Home Authentication extension
	32, 20,
	0x00, 0x00, 0x03, 0xe8, // SPI 1000
	0x10, 0x7b, 0x34, 0xdf, 0x76, 0x5b, 0x07, 0x32, // HMAC-MD5
	0x64, 0x4c, 0xa5, 0x93, 0x86, 0x78, 0xda, 0x57,
}

// goldenReply accepts goldenRequestHMAC.
var goldenReply = []byte{
	3,          // type: registration reply
	0,          // code: accepted
	0x02, 0x58, // lifetime 600 s
	10, 1, 0, 10, // home address
	10, 1, 0, 1, // home agent
	0xeb, 0x8f, 0x2f, 0x40, 0x12, 0x34, 0x56, 0x78, // identification
	32, 20, // Mobile-Home
	0x00, 0x00, 0x03, 0xe8, // SPI 1000
	0xcd, 0x09, 0x7e, 0xd7, 0xb4, 0x1c, 0xb9, 0xde, // HMAC-MD5
	0x62, 0xcb, 0xc9, 0xb3, 0xd2, 0x37, 0x12, 0x81,
}

const goldenID = 0xeb8f2f4012345678

func goldenRequestValue() *Request {
	return &Request{
		Flags:     FlagBroadcast | FlagReverseTunnel,
		Lifetime:  600,
		Home:      netip.MustParseAddr("10.1.0.10"),
		HomeAgent: netip.MustParseAddr("10.1.0.1"),
		CareOf:    netip.MustParseAddr("10.2.0.1"),
		ID:        goldenID,
	}
}

func goldenNAIValue() *Request {
	return &Request{
		Lifetime:  1800,
		Home:      netip.MustParseAddr("0.0.0.0"),
		HomeAgent: netip.MustParseAddr("10.1.0.1"),
		CareOf:    netip.MustParseAddr("10.2.0.1"),
		ID:        goldenID,
		Extensions: []Extension{
			&NAI{Name: "mn1@home.example"},
			&RawExtension{Type: 200, Data: []byte{0xab, 0xcd, 0xef}},
		},
	}
}

func goldenReplyValue() *Reply {
	return &Reply{
		Code:      CodeAccepted,
		Lifetime:  600,
		Home:      netip.MustParseAddr("10.1.0.10"),
		HomeAgent: netip.MustParseAddr("10.1.0.1"),
		ID:        goldenID,
	}
}

// withAuth returns exts followed by a Mobile-Home extension holding the
// last 16 bytes of golden.
func withAuth(exts []Extension, spi uint32, golden []byte) []Extension {
	a := &Auth{Type: TypeMobileHome, SPI: spi, Authenticator: golden[len(golden)-AuthenticatorLen:]}
	return append(append([]Extension(nil), exts...), a)
}

// fieldsOf returns m without what it remembers of the bytes it was parsed
// from, for comparing decoded fields.
func fieldsOf(m Message) Message {
	switch m := m.(type) {
	case *Request:
		c := *m
		c.received = received{}
		return &c
	case *Reply:
		c := *m
		c.received = received{}
		return &c
	}
	return m
}

func TestGoldenRequests(t *testing.T) {
	tests := []struct {
		name   string
		golden []byte
		value  func() *Request
		sa     SecurityAssociation
	}{
		{"hmac-md5", goldenRequestHMAC, goldenRequestValue, goldenSAHMAC},
		{"prefix-suffix", goldenRequestPrefixSuffix, goldenRequestValue, goldenSAPrefix},
		{"nai and unknown skippable", goldenRequestNAI, goldenNAIValue, goldenSAHMAC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Building and authenticating gives the golden bytes.
			r := tt.value()
			if err := r.Authenticate(TypeMobileHome, tt.sa); err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			got, err := r.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if !bytes.Equal(got, tt.golden) {
				t.Fatalf("Marshal:\n got %x\nwant %x", got, tt.golden)
			}

			// Parsing the golden bytes gives the value.
			want := tt.value()
			want.Extensions = withAuth(want.Extensions, tt.sa.SPI, tt.golden)
			p, err := ParseRequest(tt.golden)
			if err != nil {
				t.Fatalf("ParseRequest: %v", err)
			}
			if !reflect.DeepEqual(fieldsOf(p), want) {
				t.Fatalf("ParseRequest:\n got %+v\nwant %+v", fieldsOf(p), want)
			}
			if !bytes.Equal(p.Raw(), tt.golden) {
				t.Errorf("Raw() = %x, want the parsed bytes", p.Raw())
			}

			// Parse then marshal is byte-exact.
			again, err := p.Marshal()
			if err != nil || !bytes.Equal(again, tt.golden) {
				t.Fatalf("re-Marshal = %x, %v; want %x", again, err, tt.golden)
			}

			if err := VerifyRequest(tt.golden, TypeMobileHome, tt.sa); err != nil {
				t.Errorf("VerifyRequest: %v", err)
			}
		})
	}
}

func TestGoldenReply(t *testing.T) {
	r := goldenReplyValue()
	if err := r.Authenticate(TypeMobileHome, goldenSAHMAC); err != nil {
		t.Fatal(err)
	}
	got, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, goldenReply) {
		t.Fatalf("Marshal:\n got %x\nwant %x", got, goldenReply)
	}
	m, err := Parse(goldenReply)
	if err != nil {
		t.Fatal(err)
	}
	want := goldenReplyValue()
	want.Extensions = withAuth(nil, 1000, goldenReply)
	if !reflect.DeepEqual(fieldsOf(m), want) {
		t.Fatalf("Parse:\n got %+v\nwant %+v", fieldsOf(m), want)
	}
	if err := VerifyReply(goldenReply, TypeMobileHome, goldenSAHMAC); err != nil {
		t.Errorf("VerifyReply: %v", err)
	}
}

func TestExtensionBytes(t *testing.T) {
	r, err := ParseRequest(goldenRequestNAI)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{
		goldenRequestNAI[24:42],
		goldenRequestNAI[42:47],
		goldenRequestNAI[47:],
	}
	for i, w := range want {
		if got := r.ExtensionBytes(i); !bytes.Equal(got, w) {
			t.Errorf("ExtensionBytes(%d) = %x, want %x", i, got, w)
		}
	}
	for i, e := range r.Extensions {
		if got := Type(r.ExtensionBytes(i)[0]); e.Kind() != got {
			t.Errorf("extension %d: Kind() = %s, wire type %s", i, e.Kind(), got)
		}
	}
	if got := r.ExtensionBytes(3); got != nil {
		t.Errorf("ExtensionBytes(3) = %x, want nil", got)
	}
	if got := goldenRequestValue().ExtensionBytes(0); got != nil {
		t.Errorf("ExtensionBytes of a built request = %x, want nil", got)
	}
}
