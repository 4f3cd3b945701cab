package ikev2

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// The golden messages below are written field by field from the layouts
// of RFC 7296 section 3 (and RFC 4555 for MOBIKE), independently of the
// package: every length is counted by hand. Each is checked both ways:
// Parse gives the listed value, Marshal of the value gives the bytes.

// h joins hexadecimal strings, ignoring spaces, into bytes.
func h(parts ...string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(strings.Join(parts, ""), " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// fill returns n bytes counting up from start, for public values, nonces
// and hashes whose content does not matter to the codec.
func fill(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

const (
	goldenSPIi = SPI(0x1122334455667788)
	goldenSPIr = SPI(0x99aabbccddeeff00)
)

// goldenInitRequest is an IKE_SA_INIT request offering AES-GCM-16 with
// Curve25519 and AES-CBC with HMAC-SHA2-256-128 and MODP-2048, with NAT
// detection, fragmentation and signature hash notifications and a Vendor
// ID.
var goldenInitRequest = h(
	"1122334455667788", // initiator SPI
	"0000000000000000", // responder SPI: not known yet
	"21",               // next payload: SA
	"20",               // version 2.0
	"22",               // exchange: IKE_SA_INIT
	"08",               // flags: I
	"00000000",         // message ID 0
	"0000011e",         // length: 286
	// SA payload (3.3): next KE, length 4 + 36 + 44 = 84
	"22 00 0054",
	// proposal 1 (3.3.1): more follow, length 36, #1, IKE, no SPI, 3 transforms
	"02 00 0024 01 01 00 03",
	"03 00 000c 01 00 0014 800e 0080", // ENCR_AES_GCM_16, key length 128 (TV)
	"03 00 0008 02 00 0005",           // PRF_HMAC_SHA2_256
	"00 00 0008 04 00 001f",           // last: D-H Curve25519
	// proposal 2: last, length 44, #2, IKE, no SPI, 4 transforms
	"00 00 002c 02 01 00 04",
	"03 00 000c 01 00 000c 800e 0080", // ENCR_AES_CBC, key length 128
	"03 00 0008 02 00 0005",           // PRF_HMAC_SHA2_256
	"03 00 0008 03 00 000c",           // AUTH_HMAC_SHA2_256_128
	"00 00 0008 04 00 000e",           // last: D-H MODP-2048
	// KE payload (3.4): next Nonce, length 4 + 4 + 32 = 40, group 31
	"28 00 0028 001f 0000", hex.EncodeToString(fill(0x40, 32)),
	// Nonce payload (3.9): next Notify, length 4 + 32
	"29 00 0024", hex.EncodeToString(fill(0x80, 32)),
	// Notify (3.10): NAT_DETECTION_SOURCE_IP, no SPI, 20-octet hash
	"29 00 001c 00 00 4004", hex.EncodeToString(fill(0xa0, 20)),
	// Notify: NAT_DETECTION_DESTINATION_IP
	"29 00 001c 00 00 4005", hex.EncodeToString(fill(0xc0, 20)),
	// Notify: IKEV2_FRAGMENTATION_SUPPORTED, no data
	"29 00 0008 00 00 402e",
	// Notify: SIGNATURE_HASH_ALGORITHMS: SHA2-256, SHA2-384, SHA2-512; next Vendor ID
	"2b 00 000e 00 00 402f 0002 0003 0004",
	// Vendor ID (3.12): last payload, 16 octets
	"00 00 0014", hex.EncodeToString(fill(0xe0, 16)),
)

func goldenInitRequestValue() *Message {
	return &Message{
		Header: Header{SPIi: goldenSPIi, NextPayload: PayloadSA, Exchange: ExchangeIKESAInit,
			Flags: FlagInitiator, Length: 286},
		Payloads: []Payload{
			&SA{Proposals: []Proposal{
				{Number: 1, Protocol: ProtocolIKE, Transforms: []Transform{
					EncrTransform(EncrAESGCM16, 128), PRFTransform(PRFHMACSHA2_256), DHTransform(DHCurve25519)}},
				{Number: 2, Protocol: ProtocolIKE, Transforms: []Transform{
					EncrTransform(EncrAESCBC, 128), PRFTransform(PRFHMACSHA2_256),
					IntegTransform(IntegHMACSHA2_256_128), DHTransform(DHMODP2048)}},
			}},
			&KE{Group: DHCurve25519, Data: fill(0x40, 32)},
			&Nonce{Data: fill(0x80, 32)},
			NewNotify(NotifyNATDetectionSourceIP, fill(0xa0, 20)),
			NewNotify(NotifyNATDetectionDestinationIP, fill(0xc0, 20)),
			NewNotify(NotifyIKEv2FragmentationSupported, nil),
			SignatureHashAlgorithms(HashSHA2_256, HashSHA2_384, HashSHA2_512),
			&VendorID{Data: fill(0xe0, 16)},
		},
	}
}

// goldenInitResponse is the responder's IKE_SA_INIT response choosing the
// first proposal, with a CERTREQ.
var goldenInitResponse = h(
	"1122334455667788", "99aabbccddeeff00", // SPIs
	"21 20 22 20", // next SA, version 2.0, IKE_SA_INIT, flags: R
	"00000000",    // message ID 0
	"000000e9",    // length: 28 + 40 + 40 + 36 + 28 + 28 + 25 + 8 = 233
	// SA: next KE, length 4 + 36
	"22 00 0028",
	"00 00 0024 01 01 00 03", // the only proposal, #1, IKE, 3 transforms
	"03 00 000c 01 00 0014 800e 0080",
	"03 00 0008 02 00 0005",
	"00 00 0008 04 00 001f",
	// KE: next Nonce, group 31
	"28 00 0028 001f 0000", hex.EncodeToString(fill(0x50, 32)),
	// Nonce: next Notify, 32 octets
	"29 00 0024", hex.EncodeToString(fill(0x90, 32)),
	"29 00 001c 00 00 4004", hex.EncodeToString(fill(0xb0, 20)), // NAT_DETECTION_SOURCE_IP
	"26 00 001c 00 00 4005", hex.EncodeToString(fill(0xd0, 20)), // NAT_DETECTION_DESTINATION_IP; next CERTREQ
	// CERTREQ (3.7): X.509 signature, one SHA-1 authority hash; next Notify
	"29 00 0019 04", hex.EncodeToString(fill(0x10, 20)),
	// Notify: MULTIPLE_AUTH_SUPPORTED, last
	"00 00 0008 00 00 4014",
)

func goldenInitResponseValue() *Message {
	return &Message{
		Header: Header{SPIi: goldenSPIi, SPIr: goldenSPIr, NextPayload: PayloadSA, Exchange: ExchangeIKESAInit,
			Flags: FlagResponse, Length: 233},
		Payloads: []Payload{
			&SA{Proposals: []Proposal{{Number: 1, Protocol: ProtocolIKE, Transforms: []Transform{
				EncrTransform(EncrAESGCM16, 128), PRFTransform(PRFHMACSHA2_256), DHTransform(DHCurve25519)}}}},
			&KE{Group: DHCurve25519, Data: fill(0x50, 32)},
			&Nonce{Data: fill(0x90, 32)},
			NewNotify(NotifyNATDetectionSourceIP, fill(0xb0, 20)),
			NewNotify(NotifyNATDetectionDestinationIP, fill(0xd0, 20)),
			&CertReq{Encoding: CertX509Signature, Authorities: fill(0x10, 20)},
			NewNotify(NotifyMultipleAuthSupported, nil),
		},
	}
}

// goldenInvalidKE is a responder's IKE_SA_INIT answer asking for MODP-2048
// instead (RFC 7296 section 1.2); the responder SPI stays zero.
var goldenInvalidKE = h(
	"1122334455667788", "0000000000000000",
	"29 20 22 20", "00000000", "00000026", // next Notify, IKE_SA_INIT, R, length 38
	"00 00 000a 00 00 0011 000e", // INVALID_KE_PAYLOAD, accepted group 14
)

func goldenInvalidKEValue() *Message {
	return &Message{
		Header:   Header{SPIi: goldenSPIi, NextPayload: PayloadNotify, Exchange: ExchangeIKESAInit, Flags: FlagResponse, Length: 38},
		Payloads: []Payload{InvalidKE(DHMODP2048)},
	}
}

// goldenCookie is a responder's IKE_SA_INIT answer with a COOKIE (RFC 7296
// section 2.6).
var goldenCookie = h(
	"1122334455667788", "0000000000000000",
	"29 20 22 20", "00000000", "00000034", // length 52
	"00 00 0018 00 00 4006", hex.EncodeToString(fill(0x70, 16)), // COOKIE, 16 octets
)

func goldenCookieValue() *Message {
	return &Message{
		Header:   Header{SPIi: goldenSPIi, NextPayload: PayloadNotify, Exchange: ExchangeIKESAInit, Flags: FlagResponse, Length: 52},
		Payloads: []Payload{NewNotify(NotifyCookie, fill(0x70, 16))},
	}
}

// goldenAuthPlain is the plaintext of an IKE_AUTH request (the inner
// payloads of its SK payload): identities, a PSK AUTH, a configuration
// request, an ESP proposal, traffic selectors and the MOBIKE notifications.
var goldenAuthPlain = h(
	// IDi (3.5): next IDr, length 22, ID_RFC822_ADDR "mn@example.org"
	"24 00 0016 03 000000", hex.EncodeToString([]byte("mn@example.org")),
	// IDr: next AUTH, ID_FQDN "ha.example.org"
	"27 00 0016 02 000000", hex.EncodeToString([]byte("ha.example.org")),
	// AUTH (3.8): next CP, Shared Key Message Integrity Code, 32 octets
	"2f 00 0028 02 000000", hex.EncodeToString(fill(0x20, 32)),
	// CP (3.15): next SA, CFG_REQUEST, INTERNAL_IP4_ADDRESS and INTERNAL_IP4_DNS, both empty
	"21 00 0010 01 000000 0001 0000 0003 0000",
	// SA: next TSi, length 36; one ESP proposal with SPI c0ffee01
	"2c 00 0024",
	"00 00 0020 01 03 04 02 c0ffee01",
	"03 00 000c 01 00 0014 800e 0080", // ENCR_AES_GCM_16/128
	"00 00 0008 05 00 0000",           // ESN: no extended sequence numbers
	// TSi (3.13): next TSr, one selector: 10.1.0.0-10.1.0.255, any protocol, all ports
	"2d 00 0018 01 000000", "07 00 0010 0000 ffff 0a010000 0a0100ff",
	// TSr: next Notify, UDP (17) port 434 to 10.2.0.1
	"29 00 0018 01 000000", "07 11 0010 01b2 01b2 0a020001 0a020001",
	"29 00 0008 00 00 4000",          // INITIAL_CONTACT
	"29 00 0008 00 00 400c",          // MOBIKE_SUPPORTED
	"29 00 000c 00 00 400d c0a86401", // ADDITIONAL_IP4_ADDRESS 192.168.100.1
	"00 00 0008 00 00 400a",          // ESP_TFC_PADDING_NOT_SUPPORTED, last
)

func goldenAuthPlainValue() []Payload {
	return []Payload{
		&ID{IDType: IDRFC822Addr, Data: []byte("mn@example.org")},
		&ID{Responder: true, IDType: IDFQDN, Data: []byte("ha.example.org")},
		&Auth{Method: AuthSharedKeyMIC, Data: fill(0x20, 32)},
		&CP{CFGType: CFGRequest, Attributes: []CPAttribute{{Type: CPInternalIP4Address}, {Type: CPInternalIP4DNS}}},
		&SA{Proposals: []Proposal{{Number: 1, Protocol: ProtocolESP, SPI: h("c0ffee01"), Transforms: []Transform{
			EncrTransform(EncrAESGCM16, 128), ESNTransform(ESNNone)}}}},
		&TS{Selectors: []Selector{PrefixSelector(netip.MustParsePrefix("10.1.0.0/24"), 0)}},
		&TS{Responder: true, Selectors: []Selector{{Type: TSIPv4AddrRange, Protocol: 17, StartPort: 434, EndPort: 434,
			Start: netip.MustParseAddr("10.2.0.1"), End: netip.MustParseAddr("10.2.0.1")}}},
		NewNotify(NotifyInitialContact, nil),
		NewNotify(NotifyMOBIKESupported, nil),
		AdditionalAddress(netip.MustParseAddr("192.168.100.1")),
		NewNotify(NotifyESPTFCPaddingNotSupported, nil),
	}
}

// goldenAuthRequest is an IKE_AUTH request: the header and an SK payload
// whose content (IV, ciphertext, ICV) the codec does not look into.
var goldenAuthRequest = h(
	"1122334455667788", "99aabbccddeeff00",
	"2e 20 23 08",                      // next SK, version 2.0, IKE_AUTH, flags: I
	"00000001",                         // message ID 1
	"00000068",                         // length: 28 + 76 = 104
	"23 00 004c",                       // SK (3.14): first inner payload IDi, length 76
	hex.EncodeToString(fill(0x01, 8)),  // IV (AES-GCM: 8 octets)
	hex.EncodeToString(fill(0x31, 48)), // ciphertext
	hex.EncodeToString(fill(0xf0, 16)), // ICV
)

func goldenAuthRequestValue() *Message {
	return &Message{
		Header: Header{SPIi: goldenSPIi, SPIr: goldenSPIr, NextPayload: PayloadSK, Exchange: ExchangeIKEAuth,
			Flags: FlagInitiator, MessageID: 1, Length: 104},
		Payloads: []Payload{&SK{NextPayload: PayloadIDi, Data: append(append(fill(0x01, 8), fill(0x31, 48)...), fill(0xf0, 16)...)}},
	}
}

// goldenMOBIKEPlain is the plaintext of the INFORMATIONAL request that moves
// an IKE SA to a new address (RFC 4555 section 3.5), as strongSwan sends it.
var goldenMOBIKEPlain = h(
	"29 00 0008 00 00 4010",                                     // UPDATE_SA_ADDRESSES
	"29 00 001c 00 00 4004", hex.EncodeToString(fill(0x11, 20)), // NAT_DETECTION_SOURCE_IP
	"29 00 001c 00 00 4005", hex.EncodeToString(fill(0x21, 20)), // NAT_DETECTION_DESTINATION_IP
	"29 00 0018 00 00 4011", hex.EncodeToString(fill(0x31, 16)), // COOKIE2, 16 octets
	"00 00 0008 00 00 400f", // NO_ADDITIONAL_ADDRESSES
)

func goldenMOBIKEPlainValue() []Payload {
	return []Payload{
		NewNotify(NotifyUpdateSAAddresses, nil),
		NewNotify(NotifyNATDetectionSourceIP, fill(0x11, 20)),
		NewNotify(NotifyNATDetectionDestinationIP, fill(0x21, 20)),
		NewNotify(NotifyCookie2, fill(0x31, 16)),
		NewNotify(NotifyNoAdditionalAddresses, nil),
	}
}

// goldenRekeyPlain is the plaintext of a CREATE_CHILD_SA request rekeying
// the ESP SA c0ffee01 (RFC 7296 section 1.3.3) with AES-CBC and
// HMAC-SHA2-256-128.
var goldenRekeyPlain = h(
	"21 00 000c 03 04 4009 c0ffee01", // REKEY_SA for ESP SPI c0ffee01; next SA
	// SA: next Nonce, length 4 + 40; ESP proposal #1, SPI c0ffee03, 3 transforms
	"28 00 002c", "00 00 0028 01 03 04 03 c0ffee03",
	"03 00 000c 01 00 000c 800e 0080",                // ENCR_AES_CBC/128
	"03 00 0008 03 00 000c",                          // AUTH_HMAC_SHA2_256_128
	"00 00 0008 05 00 0000",                          // NO_EXT_SEQ
	"2c 00 0024", hex.EncodeToString(fill(0x61, 32)), // Nonce; next TSi
	"2d 00 0018 01 000000", "07 00 0010 0000 ffff 0a010000 0a0100ff", // TSi
	"00 00 0018 01 000000", "07 00 0010 0000 ffff 0a020000 0a0200ff", // TSr, last
)

func goldenRekeyPlainValue() []Payload {
	return []Payload{
		RekeySA(ProtocolESP, 0xc0ffee01),
		&SA{Proposals: []Proposal{{Number: 1, Protocol: ProtocolESP, SPI: h("c0ffee03"), Transforms: []Transform{
			EncrTransform(EncrAESCBC, 128), IntegTransform(IntegHMACSHA2_256_128), ESNTransform(ESNNone)}}}},
		&Nonce{Data: fill(0x61, 32)},
		&TS{Selectors: []Selector{PrefixSelector(netip.MustParsePrefix("10.1.0.0/24"), 0)}},
		&TS{Responder: true, Selectors: []Selector{PrefixSelector(netip.MustParsePrefix("10.2.0.0/24"), 0)}},
	}
}

// goldenDeletePlain deletes two ESP SAs and then the IKE SA (3.11).
var goldenDeletePlain = h(
	"2a 00 0010 03 04 0002 c0ffee01 c0ffee02", // ESP, SPI size 4, 2 SPIs; next Delete
	"00 00 0008 01 00 0000",                   // IKE, no SPIs
)

func goldenDeletePlainValue() []Payload {
	return []Payload{
		&Delete{Protocol: ProtocolESP, SPIs: []uint32{0xc0ffee01, 0xc0ffee02}},
		&Delete{Protocol: ProtocolIKE},
	}
}

// goldenCertPlain carries the certificate-based and EAP payloads: a CERT,
// an AUTH by digital signature (RFC 7427) whose AlgorithmIdentifier is
// ecdsa-with-SHA256, an EAP Identity request, an IPv6 traffic selector and
// a payload of an unknown type without the critical bit.
var goldenCertPlain = h(
	"27 00 000e 04", "3082000530030201ff", // CERT: X.509 signature, 9 octets of DER; next AUTH
	// AUTH: method 14, ASN.1 length 12, AlgorithmIdentifier, 8-octet signature; next EAP
	"30 00 001d 0e 000000 0c 300a06082a8648ce3d040302", hex.EncodeToString(fill(0x99, 8)),
	"c8 00 0009 01 05 0005 01", // EAP: Request, identifier 5, length 5, Identity; next: 200
	"2c 00 0007 abcdef",        // unknown payload 200, not critical; next TSi
	// TSi: one IPv6 selector 2001:db8::/64, TCP
	"00 00 0030 01 000000 08 06 0028 0000 ffff",
	"20010db8000000000000000000000000", "20010db800000000ffffffffffffffff",
)

func goldenCertPlainValue() []Payload {
	return []Payload{
		&Cert{Encoding: CertX509Signature, Data: h("3082000530030201ff")},
		&Auth{Method: AuthDigitalSignature, Data: append(h("0c 300a06082a8648ce3d040302"), fill(0x99, 8)...)},
		&EAP{Data: h("01 05 0005 01")},
		&RawPayload{PayloadType: 200, Data: h("abcdef")},
		&TS{Selectors: []Selector{PrefixSelector(netip.MustParsePrefix("2001:db8::/64"), 6)}},
	}
}

// TestGoldenMessages checks each golden message both ways.
func TestGoldenMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		m    *Message
	}{
		{"IKE_SA_INIT request", goldenInitRequest, goldenInitRequestValue()},
		{"IKE_SA_INIT response", goldenInitResponse, goldenInitResponseValue()},
		{"INVALID_KE_PAYLOAD", goldenInvalidKE, goldenInvalidKEValue()},
		{"COOKIE", goldenCookie, goldenCookieValue()},
		{"IKE_AUTH request", goldenAuthRequest, goldenAuthRequestValue()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.b) != int(tc.m.Length) {
				t.Fatalf("golden bytes are %d long, the header says %d", len(tc.b), tc.m.Length)
			}
			got, err := Parse(tc.b)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tc.m) {
				t.Errorf("Parse:\n got %s\n%#v\nwant %s\n%#v", got, got.Payloads, tc.m, tc.m.Payloads)
			}
			out, err := tc.m.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if !bytes.Equal(out, tc.b) {
				t.Errorf("Marshal:\n got %x\nwant %x", out, tc.b)
			}
		})
	}
}

// TestGoldenPayloads checks the golden SK plaintexts both ways with
// ParsePayloads and MarshalPayloads.
func TestGoldenPayloads(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first PayloadType
		b     []byte
		ps    []Payload
	}{
		{"IKE_AUTH", PayloadIDi, goldenAuthPlain, goldenAuthPlainValue()},
		{"MOBIKE update", PayloadNotify, goldenMOBIKEPlain, goldenMOBIKEPlainValue()},
		{"child rekey", PayloadNotify, goldenRekeyPlain, goldenRekeyPlainValue()},
		{"delete", PayloadDelete, goldenDeletePlain, goldenDeletePlainValue()},
		{"certificates and EAP", PayloadCert, goldenCertPlain, goldenCertPlainValue()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePayloads(tc.first, tc.b)
			if err != nil {
				t.Fatalf("ParsePayloads: %v", err)
			}
			if !reflect.DeepEqual(got, tc.ps) {
				t.Errorf("ParsePayloads:\n got %s %#v\nwant %s %#v", Summary(got), got, Summary(tc.ps), tc.ps)
			}
			first, out, err := MarshalPayloads(tc.ps)
			if err != nil {
				t.Fatalf("MarshalPayloads: %v", err)
			}
			if first != tc.first {
				t.Errorf("MarshalPayloads: first %s, want %s", first, tc.first)
			}
			if !bytes.Equal(out, tc.b) {
				t.Errorf("MarshalPayloads:\n got %x\nwant %x", out, tc.b)
			}
		})
	}
}
