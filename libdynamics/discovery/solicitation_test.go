package discovery

import (
	"bytes"
	"errors"
	"testing"
)

func TestSolicitationGolden(t *testing.T) {
	got, err := (&Solicitation{}).Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if !bytes.Equal(got, goldenSolicitation) {
		t.Errorf("Marshal = % x, want % x", got, goldenSolicitation)
	}
	s, err := ParseSolicitation(goldenSolicitation)
	if err != nil {
		t.Fatalf("ParseSolicitation: %v", err)
	}
	if *s != (Solicitation{}) {
		t.Errorf("ParseSolicitation = %+v, want zero", s)
	}
}

func TestSolicitationRoundTrip(t *testing.T) {
	want := &Solicitation{Reserved: 0xdeadbeef}
	b, err := want.AppendMarshal([]byte{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b[:3], []byte{1, 2, 3}) || len(b) != 3+solicitationLen {
		t.Fatalf("AppendMarshal = % x: prefix lost or wrong length", b)
	}
	got, err := ParseSolicitation(b[3:])
	if err != nil {
		t.Fatal(err)
	}
	if *got != *want {
		t.Errorf("round trip = %+v, want %+v", got, want)
	}
}

func TestParseSolicitationTrailingOctets(t *testing.T) {
	// RFC 1256: octets beyond the eighth are ignored, but the checksum
	// covers them.
	long := withChecksum(append(bytes.Clone(goldenSolicitation), 1, 2, 3))
	s, err := ParseSolicitation(long)
	if err != nil {
		t.Fatalf("ParseSolicitation with trailing octets: %v", err)
	}
	if *s != (Solicitation{}) {
		t.Errorf("got %+v, want zero", s)
	}
	stale := append(bytes.Clone(goldenSolicitation), 1, 2, 3)
	if _, err := ParseSolicitation(stale); !errors.Is(err, ErrChecksum) {
		t.Errorf("trailing octets outside the checksum: err = %v, want ErrChecksum", err)
	}
}

func TestParseSolicitationErrors(t *testing.T) {
	for n := range len(goldenSolicitation) {
		if _, err := ParseSolicitation(goldenSolicitation[:n]); !errors.Is(err, ErrTruncated) {
			t.Errorf("length %d: err = %v, want ErrTruncated", n, err)
		}
	}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"bad checksum", []byte{10, 0, 0xf5, 0xfe, 0, 0, 0, 0}, ErrChecksum},
		{"zero checksum", []byte{10, 0, 0, 0, 0, 0, 0, 0}, ErrChecksum},
		{"code 1", withChecksum([]byte{10, 1, 0, 0, 0, 0, 0, 0}), ErrCode},
		{"advertisement type", withChecksum([]byte{9, 0, 0, 0, 0, 0, 0, 0}), ErrType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSolicitation(tt.b)
			if !errors.Is(err, tt.want) || s != nil {
				t.Errorf("= %v, %v; want nil, %v", s, err, tt.want)
			}
		})
	}
}
