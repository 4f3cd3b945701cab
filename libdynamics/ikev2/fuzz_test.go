package ikev2

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// The fuzz targets require that whatever parses marshals again to as many
// bytes (only reserved bits may differ), that the result parses to the
// same value, and that marshalling that value is stable. Errors must be
// the package's and map to a notification. Seeds are the golden messages,
// the strongSwan captures and the files under testdata/fuzz/.

func FuzzParse(f *testing.F) {
	for _, b := range [][]byte{goldenInitRequest, goldenInitResponse, goldenInvalidKE, goldenCookie, goldenAuthRequest} {
		f.Add(b)
	}
	for _, c := range readCaptures(f, "testdata/strongswan-5.9.8.txt") {
		f.Add(c.msg)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			if m != nil {
				t.Fatal("Parse returned a message with an error")
			}
			checkError(t, err)
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed message: %v\n%s", err, m)
		}
		if len(out) != len(b) {
			t.Fatalf("parse then marshal changes the length from %d to %d:\n  in %x\n out %x", len(b), len(out), b, out)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("parse of the marshalled message: %v\n out %x", err, out)
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("parse -> marshal -> parse disagree:\n %s %#v\n %s %#v", m, m.Payloads, again, again.Payloads)
		}
		out2, err := again.Marshal()
		if err != nil || !bytes.Equal(out2, out) {
			t.Fatalf("marshal not stable: %v\n %x\n %x", err, out, out2)
		}
		if sk, ok := Find(m.Payloads, PayloadSK).(*SK); ok {
			if m.Payloads[len(m.Payloads)-1] != sk {
				t.Fatal("an SK payload that is not the last")
			}
			if !bytes.Equal(b[len(b)-len(sk.Data):], sk.Data) {
				t.Fatal("the SK payload's data is not the end of the message")
			}
		}
	})
}

// FuzzParsePayloads fuzzes payload chains alone, as found inside an SK
// payload, so the fuzzer spends its time on payload octets.
func FuzzParsePayloads(f *testing.F) {
	f.Add(byte(PayloadIDi), goldenAuthPlain)
	f.Add(byte(PayloadNotify), goldenMOBIKEPlain)
	f.Add(byte(PayloadNotify), goldenRekeyPlain)
	f.Add(byte(PayloadDelete), goldenDeletePlain)
	f.Add(byte(PayloadCert), goldenCertPlain)
	f.Add(byte(PayloadSA), goldenInitRequest[HeaderLen:])
	for _, c := range readCaptures(f, "testdata/strongswan-5.9.8.txt") {
		if c.plain != nil {
			f.Add(byte(c.first), c.plain)
		}
	}
	f.Fuzz(func(t *testing.T, first byte, b []byte) {
		ps, err := ParsePayloads(PayloadType(first), b)
		if err != nil {
			if ps != nil {
				t.Fatal("ParsePayloads returned payloads with an error")
			}
			checkError(t, err)
			return
		}
		gotFirst, out, err := MarshalPayloads(ps)
		if err != nil {
			t.Fatalf("MarshalPayloads of parsed payloads: %v\n%s", err, Summary(ps))
		}
		if len(ps) > 0 && gotFirst != PayloadType(first) {
			t.Fatalf("first payload %s, parsed as %s", gotFirst, PayloadType(first))
		}
		if len(out) != len(b) {
			t.Fatalf("parse then marshal changes the length from %d to %d:\n  in %x\n out %x", len(b), len(out), b, out)
		}
		again, err := ParsePayloads(gotFirst, out)
		if err != nil {
			t.Fatalf("parse of the marshalled payloads: %v\n out %x", err, out)
		}
		if !reflect.DeepEqual(again, ps) {
			t.Fatalf("parse -> marshal -> parse disagree:\n %#v\n %#v", ps, again)
		}
	})
}

// checkError requires a parse error to wrap one of the package's sentinels
// and to map to a notification; a critical payload error names an unknown
// type.
func checkError(t *testing.T, err error) {
	t.Helper()
	known := false
	for _, s := range []error{ErrTruncated, ErrLength, ErrVersion, ErrInvalid, ErrUnsupportedCritical} {
		if errors.Is(err, s) {
			known = true
		}
	}
	if !known {
		t.Fatalf("error %q wraps none of the package's sentinel errors", err)
	}
	if ErrorNotify(err) == nil {
		t.Fatalf("ErrorNotify(%q) = nil", err)
	}
	var crit *CriticalPayloadError
	if errors.As(err, &crit) && crit.Type.Known() {
		t.Fatalf("critical payload error for known type %s", crit.Type)
	}
}
