package mip

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// The fuzz targets require that whatever parses marshals back to exactly
// the input (every bit of a registration message is represented in the
// parsed value) and parses again to the same value. Seeds are the golden
// messages here and the files under testdata/fuzz/.

func FuzzParseRequest(f *testing.F) {
	for _, b := range [][]byte{goldenRequestHMAC, goldenRequestPrefixSuffix, goldenRequestNAI, goldenRequestHMAC[:RequestLen], goldenRequestMNGFA} {
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
		hierarchyExtensions(t, r.Extensions)
		if err := VerifyRequest(b, TypeGeneralizedAuth, goldenSASession); err == nil {
			if a, _ := r.Auth(TypeGeneralizedAuth); a == nil || a.Subtype != SubtypeMNGFA || a.SPI != goldenSASession.SPI {
				t.Fatal("VerifyRequest(36) succeeded without an MN-GFA extension of that SPI")
			}
		}
		// Verification of arbitrary input fails cleanly.
		for _, typ := range []Type{TypeMobileHome, TypeMobileForeign, TypeForeignHome, TypeGeneralizedAuth} {
			if err := VerifyRequest(b, typ, goldenSAHMAC); err == nil {
				if a, _ := r.Auth(typ); a == nil || a.SPI != goldenSAHMAC.SPI {
					t.Fatalf("VerifyRequest(%s) succeeded without a matching extension", typ)
				}
			}
		}
	})
}

func FuzzParseReply(f *testing.F) {
	for _, b := range [][]byte{goldenReply, goldenReply[:ReplyLen], goldenReplySession, goldenReplyLocal} {
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
		hierarchyExtensions(t, r.Extensions)
		_ = VerifyReply(b, TypeMobileHome, goldenSAHMAC)
		_ = VerifyReply(b, TypeGeneralizedAuth, goldenSASession)
	})
}

// FuzzParseExtensions fuzzes the extension chain alone, behind a fixed
// reply header, so the fuzzer spends its time on extension octets.
func FuzzParseExtensions(f *testing.F) {
	f.Add(goldenRequestNAI[RequestLen:])
	f.Add(goldenReply[ReplyLen:])
	f.Add([]byte{200, 0, 131, 0, 33, 4, 0, 0, 0, 1})
	f.Add(goldenRequestMNGFA[RequestLen:])
	f.Add(goldenReplySession[ReplyLen:])
	f.Add(goldenReplyLocal[ReplyLen:])
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

// hierarchyExtensions checks that the hierarchy's helpers cope with any
// parsed chain: what they reassemble marshals back to fragments that
// reassemble to the same values.
func hierarchyExtensions(t *testing.T, exts []Extension) {
	t.Helper()
	pks, pkErr := FAPublicKeys(exts)
	if pkErr != nil && !errors.Is(pkErr, ErrMalformed) {
		t.Fatalf("FAPublicKeys: %v does not wrap ErrMalformed", pkErr)
	}
	sks, skErr := FASessionKeys(exts)
	if skErr != nil && !errors.Is(skErr, ErrMalformed) {
		t.Fatalf("FASessionKeys: %v does not wrap ErrMalformed", skErr)
	}
	var b []byte
	for _, k := range pks {
		var err error
		if b, err = AppendFAPublicKey(b, k); err != nil {
			t.Fatalf("AppendFAPublicKey of a reassembled key: %v", err)
		}
	}
	for _, k := range sks {
		var err error
		if b, err = AppendFASessionKey(b, k); err != nil {
			t.Fatalf("AppendFASessionKey of a reassembled key: %v", err)
		}
	}
	again, _, err := parseExtensions(b, 0)
	if err != nil {
		t.Fatalf("parse of re-marshalled fragments: %v", err)
	}
	pks2, err1 := FAPublicKeys(again)
	sks2, err2 := FASessionKeys(again)
	if err1 != nil || err2 != nil || len(pks2) != len(pks) || len(sks2) != len(sks) ||
		(len(pks) > 0 && !reflect.DeepEqual(pks2, pks)) || (len(sks) > 0 && !reflect.DeepEqual(sks2, sks)) {
		t.Fatalf("fragments do not reassemble again: %v %v", err1, err2)
	}
	for _, e := range exts {
		_ = IsHierarchyExtension(e)
	}
	_, _ = FindMobileSessionKey(exts)
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
