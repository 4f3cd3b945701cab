package mip

import (
	"bytes"
	"reflect"
	"testing"
)

// The fuzz targets require that whatever parses marshals back to exactly
// the input (every bit of a registration message is represented in the
// parsed value) and parses again to the same value. Seeds are the golden
// messages here and the files under testdata/fuzz/.

func FuzzParseRequest(f *testing.F) {
	for _, b := range [][]byte{goldenRequestHMAC, goldenRequestPrefixSuffix, goldenRequestNAI, goldenRequestHMAC[:RequestLen]} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			if r != nil {
				t.Fatal("ParseRequest returned a request with an error")
			}
			return
		}
		roundTrip(t, r, b)
		// Verification of arbitrary input fails cleanly.
		for _, typ := range []Type{TypeMobileHome, TypeMobileForeign, TypeForeignHome} {
			if err := VerifyRequest(b, typ, goldenSAHMAC); err == nil {
				if a, _ := r.Auth(typ); a == nil || a.SPI != goldenSAHMAC.SPI {
					t.Fatalf("VerifyRequest(%s) succeeded without a matching extension", typ)
				}
			}
		}
	})
}

func FuzzParseReply(f *testing.F) {
	for _, b := range [][]byte{goldenReply, goldenReply[:ReplyLen]} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReply(b)
		if err != nil {
			if r != nil {
				t.Fatal("ParseReply returned a reply with an error")
			}
			return
		}
		roundTrip(t, r, b)
		_ = VerifyReply(b, TypeMobileHome, goldenSAHMAC)
	})
}

// FuzzParseExtensions fuzzes the extension chain alone, behind a fixed
// reply header, so the fuzzer spends its time on extension octets.
func FuzzParseExtensions(f *testing.F) {
	f.Add(goldenRequestNAI[RequestLen:])
	f.Add(goldenReply[ReplyLen:])
	f.Add([]byte{200, 0, 131, 0, 33, 4, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, exts []byte) {
		b := append(append([]byte(nil), goldenReply[:ReplyLen]...), exts...)
		m, err := Parse(b)
		if err != nil {
			return
		}
		roundTrip(t, m, b)
		r := m.(*Reply)
		// The remembered extension bytes tile the chain exactly.
		var tiled []byte
		for i := range r.Extensions {
			tiled = append(tiled, r.ExtensionBytes(i)...)
		}
		if !bytes.Equal(tiled, exts) {
			t.Fatalf("ExtensionBytes tile %x, want %x", tiled, exts)
		}
	})
}

func roundTrip(t *testing.T, m Message, b []byte) {
	t.Helper()
	out, err := m.Marshal()
	if err != nil {
		t.Fatalf("Marshal of a parsed message: %v", err)
	}
	if !bytes.Equal(out, b) {
		t.Fatalf("parse then marshal differs:\n  in %x\n out %x", b, out)
	}
	again, err := Parse(out)
	if err != nil {
		t.Fatalf("parse of marshalled message: %v", err)
	}
	if !reflect.DeepEqual(fieldsOf(again), fieldsOf(m)) {
		t.Fatalf("parse -> marshal -> parse disagree:\n %+v\n %+v", fieldsOf(m), fieldsOf(again))
	}
}
