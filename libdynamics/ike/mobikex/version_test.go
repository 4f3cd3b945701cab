package mobikex

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// TestSupportedNotify checks the initiator's offers on the wire.
func TestSupportedNotify(t *testing.T) {
	n := SupportedNotify(VersionParam(VersionMOBIKEX, true), VersionParam(VersionMOBIKE, false))
	if n.NotifyType != ikev2.NotifyMOBIKESupported || !bytes.Equal(n.Data, unhex(t, "81 00 0001 02 | 01 00 0001 01")) {
		t.Fatalf("required MOBIKE-X offer: %v", n)
	}
	if n := SupportedNotify(); len(n.Data) != 0 || n.NotifyType != ikev2.NotifyMOBIKESupported {
		t.Fatalf("RFC 4555 offer: %v", n)
	}
	n = UnsupportedNotify(VersionNone)
	if n.NotifyType != ikev2.NotifyMOBIKEUnsupportedVersion || !bytes.Equal(n.Data, unhex(t, "01 00 0001 00")) {
		t.Fatalf("NONE: %v", n)
	}
}

// TestReadOffer covers empty data, critical flags, unknown versions and
// malformed data.
func TestReadOffer(t *testing.T) {
	o, err := ReadOffer(SupportedNotify())
	if err != nil || !reflect.DeepEqual(o, Offer{Versions: []Version{1}}) {
		t.Fatalf("empty: %+v %v", o, err)
	}
	o, err = ReadOffer(SupportedNotify(VersionParam(2, true), VersionParam(1, false), VersionParam(7, false),
		Param{Type: 40, Value: []byte{1}}))
	if err != nil || !reflect.DeepEqual(o, Offer{Versions: []Version{2, 1, 7}, Critical: []Version{2}}) {
		t.Fatalf("full: %+v %v", o, err)
	}
	if _, err := ReadOffer(ikev2.NewNotify(ikev2.NotifyMOBIKESupported, []byte{1, 0, 0})); !errors.Is(err, ErrMalformed) {
		t.Fatalf("malformed: %v", err)
	}
	if _, err := ReadOffer(UnsupportedNotify(1)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("wrong type: %v", err)
	}
	if _, err := ReadOffer(nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("nil: %v", err)
	}
}

// TestChoose is the responder's rule, one row per case of the
// negotiation (docs/IPSEC.md, "Version negotiation").
func TestChoose(t *testing.T) {
	only1 := []Version{VersionMOBIKE}
	both := []Version{VersionMOBIKE, VersionMOBIKEX}
	for _, c := range []struct {
		name      string
		offer     *ikev2.Notify // the initiator's MOBIKE_SUPPORTED
		supported []Version
		want      Version
		wantType  ikev2.NotifyType // 0: no notification
		wantData  string
	}{
		{"RFC 4555 offer, MOBIKE-X responder", SupportedNotify(), both, 1, ikev2.NotifyMOBIKESupported, "01 00 0001 01"},
		{"RFC 4555 offer, MOBIKE responder", SupportedNotify(), only1, 1, ikev2.NotifyMOBIKESupported, ""},
		{"2 and 1 offered, both supported", SupportedNotify(VersionParam(2, false), VersionParam(1, false)), both, 2,
			ikev2.NotifyMOBIKESupported, "01 00 0001 02"},
		{"2 required, both supported", SupportedNotify(VersionParam(2, true), VersionParam(1, false)), both, 2,
			ikev2.NotifyMOBIKESupported, "01 00 0001 02"},
		{"2 offered, MOBIKE responder answers empty", SupportedNotify(VersionParam(2, false), VersionParam(1, false)), only1, 1,
			ikev2.NotifyMOBIKESupported, ""},
		{"case 1: 2 required, MOBIKE responder", SupportedNotify(VersionParam(2, true), VersionParam(1, false)), only1, 0,
			ikev2.NotifyMOBIKEUnsupportedVersion, "01 00 0001 01"},
		{"case 1: unknown critical version", SupportedNotify(VersionParam(9, true), VersionParam(2, false), VersionParam(1, false)), both, 0,
			ikev2.NotifyMOBIKEUnsupportedVersion, "01 00 0001 01 | 01 00 0001 02"},
		{"case 2: nothing in common", SupportedNotify(VersionParam(2, false)), only1, 0,
			ikev2.NotifyMOBIKEUnsupportedVersion, "01 00 0001 01"},
		{"case 2: only unknown versions", SupportedNotify(VersionParam(9, false)), both, 0,
			ikev2.NotifyMOBIKEUnsupportedVersion, "01 00 0001 01 | 01 00 0001 02"},
		{"case 2: only NONE", SupportedNotify(VersionParam(0, false)), both, 0,
			ikev2.NotifyMOBIKEUnsupportedVersion, "01 00 0001 01 | 01 00 0001 02"},
		{"unknown non-critical version ignored", SupportedNotify(VersionParam(9, false), VersionParam(2, false)), both, 2,
			ikev2.NotifyMOBIKESupported, "01 00 0001 02"},
		{"1 required, both supported", SupportedNotify(VersionParam(1, true)), both, 1,
			ikev2.NotifyMOBIKESupported, "01 00 0001 01"},
		{"case 4: no MOBIKE at all", SupportedNotify(VersionParam(2, true)), nil, 0, 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			offer, err := ReadOffer(c.offer)
			if err != nil {
				t.Fatal(err)
			}
			v, n := Choose(offer, c.supported)
			if v != c.want {
				t.Errorf("version %v, want %v", v, c.want)
			}
			if c.wantType == 0 {
				if n != nil {
					t.Errorf("notification %v, want none", n)
				}
				return
			}
			if n == nil || n.NotifyType != c.wantType || !bytes.Equal(n.Data, unhex(t, c.wantData)) {
				t.Errorf("notification %v, want %s data %s", n, c.wantType, c.wantData)
			}
		})
	}
}

// TestAccepted is the initiator's rule reading the IKE_AUTH response.
func TestAccepted(t *testing.T) {
	offered := []Version{VersionMOBIKEX, VersionMOBIKE}
	for _, c := range []struct {
		name    string
		offered []Version
		resp    []ikev2.Payload
		want    Version
		warn    bool
	}{
		{"RFC 4555 peer (empty)", offered, []ikev2.Payload{SupportedNotify()}, 1, false},
		{"MOBIKE-X chosen", offered, []ikev2.Payload{SupportedNotify(VersionParam(2, false))}, 2, false},
		{"MOBIKE chosen", offered, []ikev2.Payload{SupportedNotify(VersionParam(1, false))}, 1, false},
		{"version not offered", []Version{VersionMOBIKE}, []ikev2.Payload{SupportedNotify(VersionParam(2, false))}, 0, true},
		{"unknown version", offered, []ikev2.Payload{SupportedNotify(VersionParam(5, false))}, 0, true},
		{"NONE in MOBIKE_SUPPORTED", offered, []ikev2.Payload{SupportedNotify(VersionParam(0, false))}, 0, true},
		{"no VERSION in data", offered, []ikev2.Payload{SupportedNotify(Param{Type: 50})}, 0, true},
		{"MOBIKE_UNSUPPORTED_VERSION", offered, []ikev2.Payload{UnsupportedNotify(1)}, 0, true},
		{"unsupported wins over supported", offered, []ikev2.Payload{SupportedNotify(), UnsupportedNotify(1)}, 0, true},
		{"nothing", offered, []ikev2.Payload{&ikev2.Notify{NotifyType: ikev2.NotifyNoAdditionalAddresses}}, 0, false},
		{"unreadable data", offered, []ikev2.Payload{ikev2.NewNotify(ikev2.NotifyMOBIKESupported, []byte{1})}, 1, true},
		{"empty answer to a MOBIKE-X-only offer", []Version{VersionMOBIKEX}, []ikev2.Payload{SupportedNotify()}, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, w := Accepted(c.offered, c.resp)
			if v != c.want || (w != "") != c.warn {
				t.Fatalf("got %v %q, want %v warning %v", v, w, c.want, c.warn)
			}
		})
	}
}

// TestNegotiation runs both sides' rules over the notifications as they
// would travel.
func TestNegotiation(t *testing.T) {
	for _, c := range []struct {
		name      string
		offer     []Param
		offered   []Version
		supported []Version
		want      Version
	}{
		{"MOBIKE-X both", []Param{VersionParam(2, true), VersionParam(1, false)}, []Version{2, 1}, []Version{1, 2}, 2},
		{"MOBIKE-X initiator, MOBIKE responder", []Param{VersionParam(2, false), VersionParam(1, false)}, []Version{2, 1}, []Version{1}, 1},
		{"required MOBIKE-X, MOBIKE responder", []Param{VersionParam(2, true), VersionParam(1, false)}, []Version{2, 1}, []Version{1}, 0},
		{"MOBIKE initiator, MOBIKE-X responder", nil, []Version{1}, []Version{1, 2}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			offer, err := ReadOffer(SupportedNotify(c.offer...))
			if err != nil {
				t.Fatal(err)
			}
			rv, n := Choose(offer, c.supported)
			iv, _ := Accepted(c.offered, []ikev2.Payload{n})
			if rv != c.want || iv != c.want {
				t.Fatalf("responder %v, initiator %v, want %v", rv, iv, c.want)
			}
		})
	}
}

// TestLowered: a later MOBIKE_UNSUPPORTED_VERSION only lowers the version.
func TestLowered(t *testing.T) {
	both := []Version{1, 2}
	for _, c := range []struct {
		current   Version
		supported []Version
		list      []Version
		want      Version
	}{
		{2, both, []Version{1}, 1},
		{2, both, []Version{0}, 0},
		{2, both, []Version{2, 1}, 2},
		{1, both, []Version{2, 1}, 1}, // never up
		{1, both, []Version{2}, 0},
		{2, both, []Version{7}, 0},
		{2, []Version{1}, []Version{2}, 0},
		{2, both, nil, 0},
	} {
		if got := Lowered(c.current, c.supported, c.list); got != c.want {
			t.Errorf("Lowered(%v, %v, %v) = %v, want %v", c.current, c.supported, c.list, got, c.want)
		}
	}
	vs, err := ReadVersions(UnsupportedNotify(0))
	if err != nil || !reflect.DeepEqual(vs, []Version{0}) {
		t.Fatalf("ReadVersions: %v %v", vs, err)
	}
	if _, err := ReadVersions(ikev2.NewNotify(ikev2.NotifyMOBIKEUnsupportedVersion, []byte{9})); err == nil ||
		!strings.Contains(err.Error(), "MOBIKE_UNSUPPORTED_VERSION") {
		t.Fatalf("ReadVersions of bad data: %v", err)
	}
}
