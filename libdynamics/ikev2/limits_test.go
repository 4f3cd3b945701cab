package ikev2

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// pl builds one payload by hand: its Next Payload, the flags octet and
// the body given in hexadecimal; the length is counted here.
func pl(next PayloadType, flags byte, body ...string) []byte {
	b := h(body...)
	out := []byte{byte(next), flags, 0, 0}
	binary.BigEndian.PutUint16(out[2:], uint16(PayloadHeaderLen+len(b)))
	return append(out, b...)
}

// msg builds a message: a header for an IKE_AUTH request and the payload
// chain, with the header's length counted here.
func msg(first PayloadType, chain []byte) []byte {
	hdr := Header{SPIi: goldenSPIi, SPIr: goldenSPIr, NextPayload: first, Exchange: ExchangeIKEAuth,
		Flags: FlagInitiator, MessageID: 1, Length: uint32(HeaderLen + len(chain))}
	return append(hdr.AppendMarshal(nil), chain...)
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// Bodies reused by the table.
const (
	transformGCM = "00 00 000c 01 00 0014 800e 0080"
	nonce16      = "000102030405060708090a0b0c0d0e0f"
)

// TestPayloadLimits feeds ParsePayloads chains that break one rule of RFC
// 7296 (or of the RFC defining a payload) each, next to chains at the
// limit that must parse.
func TestPayloadLimits(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first PayloadType
		b     []byte
		want  error // nil: must parse and round-trip
	}{
		// Generic header and chain.
		{"header cut", PayloadNonce, h("00 00 00"), ErrTruncated},
		{"length below header", PayloadNonce, h("00 00 0003"), ErrLength},
		{"length past end", PayloadNonce, h("00 00 0020", nonce16), ErrTruncated},
		{"next payload missing", PayloadNonce, pl(PayloadNotify, 0, nonce16), ErrTruncated},
		{"bytes after last", PayloadNonce, cat(pl(0, 0, nonce16), h("00")), ErrLength},
		{"bytes after SK", PayloadSK, cat(pl(PayloadIDi, 0, "aabbcc"), pl(0, 0, nonce16)), ErrLength},
		{"empty chain", PayloadNone, nil, nil},
		{"bytes with no first payload", PayloadNone, h("00"), ErrLength},

		// Nonce (3.9).
		{"nonce 15", PayloadNonce, pl(0, 0, nonce16[:30]), ErrInvalid},
		{"nonce 16", PayloadNonce, pl(0, 0, nonce16), nil},
		{"nonce 256", PayloadNonce, pl(0, 0, strings.Repeat(nonce16, 16)), nil},
		{"nonce 257", PayloadNonce, pl(0, 0, strings.Repeat(nonce16, 16), "ff"), ErrInvalid},

		// SA (3.3).
		{"SA without proposals", PayloadSA, pl(0, 0), ErrInvalid},
		{"proposal header cut", PayloadSA, pl(0, 0, "00 00 0008 01 03 04"), ErrTruncated},
		{"single proposal numbered 5", PayloadSA, pl(0, 0, "00 00 0014 05 01 00 01", transformGCM), nil},
		{"proposal numbered 0", PayloadSA, pl(0, 0, "00 00 0014 00 01 00 01", transformGCM), ErrInvalid},
		{"proposals 1 and 3", PayloadSA, pl(0, 0, "02 00 0014 01 01 00 01", transformGCM, "00 00 0014 03 01 00 01", transformGCM), ErrInvalid},
		{"proposals 2 and 3", PayloadSA, pl(0, 0, "02 00 0014 02 01 00 01", transformGCM, "00 00 0014 03 01 00 01", transformGCM), ErrInvalid},
		{"proposals 1 and 2", PayloadSA, pl(0, 0, "02 00 0014 01 01 00 01", transformGCM, "00 00 0014 02 01 00 01", transformGCM), nil},
		{"proposal last substruc 1", PayloadSA, pl(0, 0, "01 00 0014 01 01 00 01", transformGCM), ErrInvalid},
		{"more proposals promised", PayloadSA, pl(0, 0, "02 00 0014 01 01 00 01", transformGCM), ErrTruncated},
		{"proposal after the last", PayloadSA, pl(0, 0, "00 00 0014 01 01 00 01", transformGCM, "00 00 0014 02 01 00 01", transformGCM), ErrLength},
		{"proposal length past SA", PayloadSA, pl(0, 0, "00 00 0015 01 01 00 01", transformGCM), ErrLength},
		{"no transforms", PayloadSA, pl(0, 0, "00 00 0008 01 01 00 00"), ErrInvalid},
		{"fewer transforms than counted", PayloadSA, pl(0, 0, "00 00 0014 01 01 00 02", "03 00 000c 01 00 0014 800e 0080"), ErrLength},
		{"more transforms than counted", PayloadSA, pl(0, 0, "00 00 0018 01 01 00 01", "03 00 0008 02 00 0005", "00 00 0008 04 00 001f"), ErrInvalid},
		{"transform last substruc wrong", PayloadSA, pl(0, 0, "00 00 0014 01 01 00 01", "03 00 000c 01 00 0014 800e 0080"), ErrInvalid},
		{"transform length below header", PayloadSA, pl(0, 0, "00 00 0014 01 01 00 01", "00 00 0007 01 00 0014 800e 0080"), ErrLength},
		{"ESP SPI of 8", PayloadSA, pl(0, 0, "00 00 001c 01 03 08 01 0102030405060708", transformGCM), ErrInvalid},
		{"ESP SPI of 4", PayloadSA, pl(0, 0, "00 00 0018 01 03 04 01 01020304", transformGCM), nil},
		{"AH SPI of 0", PayloadSA, pl(0, 0, "00 00 0014 01 02 00 01", transformGCM), ErrInvalid},
		{"IKE SPI of 4", PayloadSA, pl(0, 0, "00 00 0018 01 01 04 01 01020304", transformGCM), ErrInvalid},
		{"IKE SPI of 8 (rekey)", PayloadSA, pl(0, 0, "00 00 001c 01 01 08 01 0102030405060708", transformGCM), nil},
		{"protocol 0", PayloadSA, pl(0, 0, "00 00 0014 01 00 00 01", transformGCM), ErrInvalid},
		{"unknown protocol, any SPI", PayloadSA, pl(0, 0, "00 00 0016 01 09 02 01 abcd", transformGCM), nil},
		{"SPI past proposal", PayloadSA, pl(0, 0, "00 00 000a 01 03 04 01 0102"), ErrLength},
		{"key length in TLV format", PayloadSA, pl(0, 0, "00 00 0016 01 01 00 01", "00 00 000e 01 00 0014 000e 0002 0080"), ErrInvalid},
		{"TLV attribute past transform", PayloadSA, pl(0, 0, "00 00 0016 01 01 00 01", "00 00 000e 01 00 0014 0011 0003 0080"), ErrLength},
		{"attribute header cut", PayloadSA, pl(0, 0, "00 00 0012 01 01 00 01", "00 00 000a 01 00 0014 800e"), ErrLength},
		{"unknown TLV attribute", PayloadSA, pl(0, 0, "00 00 0017 01 01 00 01", "00 00 000f 01 00 0014 0011 0003 abcdef"), nil},

		// KE (3.4).
		{"KE empty", PayloadKE, pl(0, 0, "001f 0000"), ErrInvalid},
		{"KE cut", PayloadKE, pl(0, 0, "001f 00"), ErrLength},
		{"Curve25519 of 31 octets", PayloadKE, pl(0, 0, "001f 0000", strings.Repeat("11", 31)), ErrInvalid},
		{"MODP-2048 of 256 octets", PayloadKE, pl(0, 0, "000e 0000", strings.Repeat("11", 256)), nil},
		{"MODP-2048 of 255 octets", PayloadKE, pl(0, 0, "000e 0000", strings.Repeat("11", 255)), ErrInvalid},
		{"ECP-256 of 64 octets", PayloadKE, pl(0, 0, "0013 0000", strings.Repeat("11", 64)), nil},
		{"unknown group, any size", PayloadKE, pl(0, 0, "03e7 0000 abcdef"), nil},

		// ID (3.5).
		{"IPv4 ID of 5 octets", PayloadIDi, pl(0, 0, "01 000000 0a00000101"), ErrInvalid},
		{"IPv6 ID of 16 octets", PayloadIDr, pl(0, 0, "05 000000 20010db8000000000000000000000001"), nil},
		{"ID_NULL with data", PayloadIDi, pl(0, 0, "0d 000000 00"), ErrInvalid},
		{"ID_NULL", PayloadIDi, pl(0, 0, "0d 000000"), nil},
		{"ID cut", PayloadIDi, pl(0, 0, "02 0000"), ErrLength},

		// AUTH (3.8, RFC 7427).
		{"AUTH without data", PayloadAuth, pl(0, 0, "02 000000"), ErrInvalid},
		{"signature AlgorithmIdentifier too long", PayloadAuth, pl(0, 0, "0e 000000 05 3003020100"), ErrInvalid},
		{"signature AlgorithmIdentifier empty", PayloadAuth, pl(0, 0, "0e 000000 00 aabb"), ErrInvalid},
		{"signature", PayloadAuth, pl(0, 0, "0e 000000 02 3000 aabb"), nil},

		// Notify (3.10, RFC 4555).
		{"notify cut", PayloadNotify, pl(0, 0, "00 00 40"), ErrLength},
		{"SPI past notify", PayloadNotify, pl(0, 0, "03 04 4009 0102"), ErrLength},
		{"NAT-D of 19", PayloadNotify, pl(0, 0, "00 00 4004", strings.Repeat("aa", 19)), ErrInvalid},
		{"NAT-D of 21", PayloadNotify, pl(0, 0, "00 00 4005", strings.Repeat("aa", 21)), ErrInvalid},
		{"COOKIE empty", PayloadNotify, pl(0, 0, "00 00 4006"), ErrInvalid},
		{"COOKIE of 64", PayloadNotify, pl(0, 0, "00 00 4006", strings.Repeat("aa", 64)), nil},
		{"COOKIE of 65", PayloadNotify, pl(0, 0, "00 00 4006", strings.Repeat("aa", 65)), ErrInvalid},
		{"COOKIE2 of 7", PayloadNotify, pl(0, 0, "00 00 4011", strings.Repeat("aa", 7)), ErrInvalid},
		{"COOKIE2 of 8", PayloadNotify, pl(0, 0, "00 00 4011", strings.Repeat("aa", 8)), nil},
		{"COOKIE2 of 65", PayloadNotify, pl(0, 0, "00 00 4011", strings.Repeat("aa", 65)), ErrInvalid},
		{"INVALID_KE_PAYLOAD of 3", PayloadNotify, pl(0, 0, "00 00 0011 000e00"), ErrInvalid},
		{"ADDITIONAL_IP6_ADDRESS of 4", PayloadNotify, pl(0, 0, "00 00 400e 0a000001"), ErrInvalid},
		{"NO_NATS_ALLOWED IPv4", PayloadNotify, pl(0, 0, "00 00 4012", strings.Repeat("aa", 12)), nil},
		{"NO_NATS_ALLOWED IPv6", PayloadNotify, pl(0, 0, "00 00 4012", strings.Repeat("aa", 36)), nil},
		{"NO_NATS_ALLOWED of 20", PayloadNotify, pl(0, 0, "00 00 4012", strings.Repeat("aa", 20)), ErrInvalid},
		{"SIGNATURE_HASH_ALGORITHMS odd", PayloadNotify, pl(0, 0, "00 00 402f 000200"), ErrInvalid},
		{"ESP SPI of 3", PayloadNotify, pl(0, 0, "03 03 0027 010203"), ErrInvalid},
		{"SPI without protocol", PayloadNotify, pl(0, 0, "00 04 0027 01020304"), ErrInvalid},
		{"REKEY_SA without SPI", PayloadNotify, pl(0, 0, "03 00 4009"), ErrInvalid},
		{"REKEY_SA for IKE", PayloadNotify, pl(0, 0, "01 08 4009 0102030405060708"), ErrInvalid},
		{"CHILD_SA_NOT_FOUND with ESP SPI", PayloadNotify, pl(0, 0, "03 04 002c 01020304"), nil},
		{"MOBIKE_SUPPORTED with data ignored", PayloadNotify, pl(0, 0, "00 00 400c abcd"), nil},
		{"unknown status with data", PayloadNotify, pl(0, 0, "00 00 9c40 abcd"), nil},

		// Delete (3.11).
		{"delete IKE with SPI size 8", PayloadDelete, pl(0, 0, "01 08 0001 0102030405060708"), ErrInvalid},
		{"delete IKE with a count", PayloadDelete, pl(0, 0, "01 00 0001"), ErrInvalid},
		{"delete ESP with SPI size 8", PayloadDelete, pl(0, 0, "03 08 0001 0102030405060708"), ErrInvalid},
		{"delete ESP count too high", PayloadDelete, pl(0, 0, "03 04 0002 01020304"), ErrLength},
		{"delete ESP count too low", PayloadDelete, pl(0, 0, "03 04 0001 01020304 05060708"), ErrLength},
		{"delete protocol 5", PayloadDelete, pl(0, 0, "05 04 0001 01020304"), ErrInvalid},
		{"delete ESP, no SPIs", PayloadDelete, pl(0, 0, "03 04 0000"), nil},

		// TS (3.13).
		{"TS count 0", PayloadTSi, pl(0, 0, "00 000000"), ErrInvalid},
		{"TS count 2, one present", PayloadTSi, pl(0, 0, "02 000000 07 00 0010 0000 ffff 0a000000 0a0000ff"), ErrLength},
		{"TS byte after selectors", PayloadTSi, pl(0, 0, "01 000000 07 00 0010 0000 ffff 0a000000 0a0000ff 00"), ErrLength},
		{"IPv4 selector of 20", PayloadTSi, pl(0, 0, "01 000000 07 00 0014 0000 ffff 0a000000 0a0000ff 00000000"), ErrLength},
		{"IPv6 selector of 16", PayloadTSr, pl(0, 0, "01 000000 08 00 0010 0000 ffff 0a000000 0a0000ff"), ErrLength},
		{"selector length past payload", PayloadTSi, pl(0, 0, "01 000000 07 00 0020 0000 ffff 0a000000 0a0000ff"), ErrLength},
		{"unknown selector kept", PayloadTSi, pl(0, 0, "01 000000 0a 00 0008 00000001"), nil},
		{"opaque ports", PayloadTSi, pl(0, 0, "01 000000 07 11 0010 ffff 0000 0a000000 0a0000ff"), nil},

		// CERT and CERTREQ (3.6, 3.7).
		{"CERTREQ X.509 of 19", PayloadCertReq, pl(0, 0, "04", strings.Repeat("aa", 19)), ErrInvalid},
		{"CERTREQ X.509 of 40", PayloadCertReq, pl(0, 0, "04", strings.Repeat("aa", 40)), nil},
		{"CERTREQ empty", PayloadCertReq, pl(0, 0), ErrLength},
		{"CERT hash and URL without URL", PayloadCert, pl(0, 0, "0c", strings.Repeat("aa", 20)), ErrInvalid},
		{"CERT hash and URL", PayloadCert, pl(0, 0, "0c", strings.Repeat("aa", 20), "68747470"), nil},

		// CP (3.15).
		{"INTERNAL_IP4_ADDRESS of 3", PayloadCP, pl(0, 0, "02 000000 0001 0003 0a0000"), ErrInvalid},
		{"INTERNAL_IP6_ADDRESS of 17", PayloadCP, pl(0, 0, "02 000000 0008 0011 20010db8000000000000000000000001 40"), nil},
		{"CP attribute past payload", PayloadCP, pl(0, 0, "02 000000 0001 0004 0a00"), ErrLength},
		{"CP attribute header cut", PayloadCP, pl(0, 0, "01 000000 0001 00"), ErrLength},
		{"SUPPORTED_ATTRIBUTES odd", PayloadCP, pl(0, 0, "01 000000 000e 0003 000100"), ErrInvalid},

		// EAP (3.16).
		{"EAP length mismatch", PayloadEAP, pl(0, 0, "01 05 0006 01"), ErrInvalid},
		{"EAP of 3", PayloadEAP, pl(0, 0, "03 05 00"), ErrInvalid},
		{"EAP success", PayloadEAP, pl(0, 0, "03 05 0004"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := ParsePayloads(tc.first, tc.b)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("ParsePayloads = %v, want an error wrapping %v", err, tc.want)
				}
				if ps != nil {
					t.Fatal("payloads returned with an error")
				}
				if n := ErrorNotify(err); n == nil || n.NotifyType != NotifyInvalidSyntax {
					t.Errorf("ErrorNotify = %v, want INVALID_SYNTAX", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePayloads: %v", err)
			}
			first, out, err := MarshalPayloads(ps)
			if err != nil {
				t.Fatalf("MarshalPayloads: %v", err)
			}
			if len(ps) > 0 && first != tc.first {
				t.Errorf("first = %s, want %s", first, tc.first)
			}
			if !bytes.Equal(out, tc.b) {
				t.Errorf("round trip:\n got %x\nwant %x", out, tc.b)
			}
		})
	}
}

// TestHeaderLimits checks the IKE header's rules (RFC 7296 section 3.1).
func TestHeaderLimits(t *testing.T) {
	good := msg(PayloadNonce, pl(0, 0, nonce16))
	set := func(off int, v ...byte) []byte {
		b := append([]byte(nil), good...)
		copy(b[off:], v)
		return b
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"good", good, nil},
		{"short", good[:HeaderLen-1], ErrTruncated},
		{"IKEv1", set(17, 0x10), ErrVersion},
		{"version 3", set(17, 0x30), ErrVersion},
		{"minor version 1 kept", set(17, 0x21), nil},
		{"zero initiator SPI", set(0, 0, 0, 0, 0, 0, 0, 0, 0), ErrInvalid},
		{"length one more", set(24, 0, 0, 0, byte(len(good)+1)), ErrLength},
		{"length one less", set(24, 0, 0, 0, byte(len(good)-1)), ErrLength},
		{"length below header", set(24, 0, 0, 0, 27), ErrLength},
		{"trailing byte", append(set(24, 0, 0, 0, byte(len(good)+1)), 0), ErrLength},
		{"reserved flags kept", set(19, 0x0f), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(tc.b)
			if tc.want != nil {
				if !errors.Is(err, tc.want) || m != nil {
					t.Fatalf("Parse = %v, %v; want an error wrapping %v", m, err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			out, err := m.Marshal()
			if err != nil || !bytes.Equal(out, tc.b) {
				t.Fatalf("round trip: %v\n got %x\nwant %x", err, out, tc.b)
			}
		})
	}

	// A receiver answers a wrong major version from the header's SPIs.
	hdr, err := ParseHeader(set(17, 0x30))
	if !errors.Is(err, ErrVersion) || hdr == nil || hdr.SPIi != goldenSPIi || hdr.SPIr != goldenSPIr {
		t.Errorf("ParseHeader of version 3 = %+v, %v; want the header and ErrVersion", hdr, err)
	}
	if n := ErrorNotify(err); n == nil || n.NotifyType != NotifyInvalidMajorVersion {
		t.Errorf("ErrorNotify(%v) = %v, want INVALID_MAJOR_VERSION", err, n)
	}
	// ParseHeader reads a header at the start of a longer buffer.
	if hdr, err := ParseHeader(append(append([]byte(nil), good...), 1, 2, 3)); err != nil || hdr.Length != uint32(len(good)) {
		t.Errorf("ParseHeader with bytes after the message = %+v, %v", hdr, err)
	}
}

// TestUnknownPayloads checks the critical bit rule of RFC 7296 section 2.5.
func TestUnknownPayloads(t *testing.T) {
	// Nonce, an unknown payload 200 not critical, a notification.
	chain := cat(pl(200, 0, nonce16), pl(PayloadNotify, 0, "aabbccdd"), pl(0, 0, "00 00 4000"))
	b := msg(PayloadNonce, chain)
	m, err := Parse(b)
	if err != nil {
		t.Fatalf("non-critical unknown payload: %v", err)
	}
	want := []Payload{&Nonce{Data: h(nonce16)}, &RawPayload{PayloadType: 200, Data: h("aabbccdd")}, NewNotify(NotifyInitialContact, nil)}
	if !reflect.DeepEqual(m.Payloads, want) {
		t.Errorf("payloads %s, want %s", Summary(m.Payloads), Summary(want))
	}
	if out, err := m.Marshal(); err != nil || !bytes.Equal(out, b) {
		t.Errorf("round trip: %v\n got %x\nwant %x", err, out, b)
	}

	// The same payload with the critical bit fails the message, naming
	// the type and where it starts.
	crit := msg(PayloadNonce, cat(pl(200, 0, nonce16), pl(PayloadNotify, 0x80, "aabbccdd"), pl(0, 0, "00 00 4000")))
	_, err = Parse(crit)
	var ce *CriticalPayloadError
	if !errors.As(err, &ce) || !errors.Is(err, ErrUnsupportedCritical) {
		t.Fatalf("critical unknown payload: %v, want a *CriticalPayloadError", err)
	}
	if ce.Type != 200 || ce.Offset != HeaderLen+20 {
		t.Errorf("CriticalPayloadError = %+v, want type 200 at offset %d", ce, HeaderLen+20)
	}
	n := ErrorNotify(err)
	if want := (&Notify{NotifyType: NotifyUnsupportedCriticalPayload, Data: []byte{200}}); !reflect.DeepEqual(n, want) {
		t.Errorf("ErrorNotify = %v, want %v", n, want)
	}
	// The notification itself is valid on the wire.
	if _, _, err := MarshalPayloads([]Payload{n}); err != nil {
		t.Errorf("marshal UNSUPPORTED_CRITICAL_PAYLOAD: %v", err)
	}
	// Inside an SK payload too, with offsets from the plaintext's start.
	_, err = ParsePayloads(PayloadNonce, cat(pl(53, 0, nonce16), pl(0, 0x80, "00")))
	if !errors.As(err, &ce) || ce.Type != PayloadSKF || ce.Offset != 20 {
		t.Errorf("critical SKF in a chain: %v", err)
	}

	// A known payload with the critical bit set is understood: the bit is
	// ignored (and sent as zero).
	ps, err := ParsePayloads(PayloadNonce, pl(0, 0x80, nonce16))
	if err != nil || !reflect.DeepEqual(ps, []Payload{&Nonce{Data: h(nonce16)}}) {
		t.Errorf("known payload with the critical bit: %v, %v", ps, err)
	}

	// A raw payload sent critical keeps its bit.
	_, b, err = MarshalPayloads([]Payload{&RawPayload{PayloadType: 200, Critical: true, Data: []byte{1}}})
	if err != nil || !bytes.Equal(b, h("00 80 0005 01")) {
		t.Errorf("critical raw payload: %x, %v", b, err)
	}
}

// TestMarshalRefuses checks that Marshal sends nothing Parse would refuse.
func TestMarshalRefuses(t *testing.T) {
	esp := func(spi []byte, ts ...Transform) *SA {
		return &SA{Proposals: []Proposal{{Number: 1, Protocol: ProtocolESP, SPI: spi, Transforms: ts}}}
	}
	many := make([]Transform, 256)
	for i := range many {
		many[i] = ESNTransform(ESNNone)
	}
	for _, tc := range []struct {
		name string
		ps   []Payload
	}{
		{"nil payload", []Payload{nil}},
		{"nil payload after another", []Payload{&Nonce{Data: h(nonce16)}, nil}},
		{"nil pointer payload", []Payload{(*ID)(nil)}},
		{"nil pointer payload after another", []Payload{&Nonce{Data: h(nonce16)}, (*TS)(nil)}},
		{"SK not last", []Payload{&SK{NextPayload: PayloadIDi, Data: []byte{1}}, &Nonce{Data: h(nonce16)}}},
		{"short nonce", []Payload{&Nonce{Data: []byte{1}}}},
		{"SA without proposals", []Payload{&SA{}}},
		{"proposals 1 and 3", []Payload{&SA{Proposals: []Proposal{
			{Number: 1, Protocol: ProtocolIKE, Transforms: []Transform{PRFTransform(PRFHMACSHA2_256)}},
			{Number: 3, Protocol: ProtocolIKE, Transforms: []Transform{PRFTransform(PRFHMACSHA2_256)}}}}}},
		{"ESP SPI of 3", []Payload{esp([]byte{1, 2, 3}, ESNTransform(ESNNone))}},
		{"no transforms", []Payload{esp([]byte{1, 2, 3, 4})}},
		{"256 transforms", []Payload{esp([]byte{1, 2, 3, 4}, many...)}},
		{"TV attribute of 3", []Payload{esp([]byte{1, 2, 3, 4}, Transform{Type: TransformEncr, ID: 12,
			Attributes: []Attribute{{Type: AttributeKeyLength, TV: true, Value: []byte{0, 1, 2}}}})}},
		{"attribute type of 16 bits", []Payload{esp([]byte{1, 2, 3, 4}, Transform{Type: TransformEncr, ID: 12,
			Attributes: []Attribute{{Type: 0x8001, Value: []byte{1}}}})}},
		{"IPv6 address in an IPv4 selector", []Payload{&TS{Selectors: []Selector{{Type: TSIPv4AddrRange,
			Start: netip.MustParseAddr("::1"), End: netip.MustParseAddr("::1")}}}}},
		{"no selectors", []Payload{&TS{}}},
		{"IKE delete with SPIs", []Payload{&Delete{Protocol: ProtocolIKE, SPIs: []uint32{1}}}},
		{"KE of the wrong size", []Payload{&KE{Group: DHCurve25519, Data: []byte{1}}}},
		{"ID_IPV4_ADDR of 16", []Payload{&ID{IDType: IDIPv4Addr, Data: make([]byte, 16)}}},
		{"NAT-D of 4", []Payload{NewNotify(NotifyNATDetectionSourceIP, []byte{1, 2, 3, 4})}},
		{"raw payload of type 0", []Payload{&RawPayload{}}},
		{"raw SK", []Payload{&RawPayload{PayloadType: PayloadSK}}},
		{"payload over 65535 octets", []Payload{&VendorID{Data: make([]byte, 70000)}}},
		{"EAP of 2", []Payload{&EAP{Data: []byte{1, 2}}}},
		{"CP attribute of 3", []Payload{&CP{CFGType: CFGReply, Attributes: []CPAttribute{{Type: CPInternalIP4Address, Value: []byte{1, 2, 3}}}}}},
		{"CERTREQ of 19", []Payload{&CertReq{Encoding: CertX509Signature, Authorities: make([]byte, 19)}}},
		{"AUTH without data", []Payload{&Auth{Method: AuthSharedKeyMIC}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, b, err := MarshalPayloads(tc.ps); !errors.Is(err, ErrInvalid) {
				t.Errorf("MarshalPayloads = %x, %v; want ErrInvalid", b, err)
			}
			m := &Message{Header: Header{SPIi: 1}, Payloads: tc.ps}
			if b, err := m.Marshal(); !errors.Is(err, ErrInvalid) {
				t.Errorf("Marshal = %x, %v; want ErrInvalid", b, err)
			}
		})
	}
	for _, m := range []*Message{
		{Header: Header{}},                          // zero initiator SPI
		{Header: Header{SPIi: 1, MinorVersion: 16}}, // minor version past 4 bits
	} {
		if b, err := m.Marshal(); !errors.Is(err, ErrInvalid) {
			t.Errorf("Marshal of %+v = %x, %v; want ErrInvalid", m.Header, b, err)
		}
	}
}
