package discovery

import (
	"bytes"
	"reflect"
	"testing"
)

// Seed corpora live in testdata/fuzz/FuzzParse*, as do crashers once
// fixed. Each input is tried as it is and with its checksum corrected, so
// the fuzzer reaches the field checks behind the checksum.

func FuzzParseAdvertisement(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		checkAdvertisement(t, b)
		checkAdvertisement(t, withChecksum(b))
	})
}

// checkAdvertisement requires that b, if it parses, marshals again to the
// same bytes and parses to the same value.
func checkAdvertisement(t *testing.T, b []byte) {
	t.Helper()
	a, err := ParseAdvertisement(b)
	if err != nil {
		return
	}
	m, err := a.Marshal()
	if err != nil {
		t.Fatalf("parsed %+v but cannot marshal it: %v", a, err)
	}
	// Byte for byte, apart from the checksum, which may be either
	// encoding of zero.
	if !bytes.Equal(m[:2], b[:2]) || !bytes.Equal(m[4:], b[4:]) {
		t.Fatalf("marshal after parse differs:\n got % x\nwant % x", m, b)
	}
	again, err := ParseAdvertisement(m)
	if err != nil {
		t.Fatalf("cannot parse own marshalling % x: %v", m, err)
	}
	if !reflect.DeepEqual(again, a) {
		t.Fatalf("parse, marshal, parse disagree:\n first %+v\nsecond %+v", a, again)
	}
}

func FuzzParseSolicitation(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		checkSolicitation(t, b)
		checkSolicitation(t, withChecksum(b))
	})
}

// checkSolicitation requires that b, if it parses, marshals again to its
// first eight octets (checksum aside) and parses to the same value.
func checkSolicitation(t *testing.T, b []byte) {
	t.Helper()
	s, err := ParseSolicitation(b)
	if err != nil {
		return
	}
	m, err := s.Marshal()
	if err != nil {
		t.Fatalf("parsed %+v but cannot marshal it: %v", s, err)
	}
	if len(m) != solicitationLen || !bytes.Equal(m[:2], b[:2]) || !bytes.Equal(m[4:], b[4:solicitationLen]) {
		t.Fatalf("marshal after parse = % x, input % x", m, b)
	}
	again, err := ParseSolicitation(m)
	if err != nil {
		t.Fatalf("cannot parse own marshalling % x: %v", m, err)
	}
	if *again != *s {
		t.Fatalf("parse, marshal, parse disagree: %+v then %+v", s, again)
	}
}
