package api

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

func TestPayloadRoundTrip(t *testing.T) {
	full := Tunnel{
		Home: goldenHome, CareOf: netip.MustParseAddr("10.4.0.10"), HA: goldenHA,
		Peer: netip.MustParseAddr("10.0.1.2"), Lower: netip.MustParseAddr("10.2.0.20"),
		ID: 1<<64 - 1, Flags: mip.FlagSimultaneous | mip.FlagBroadcast | mip.FlagReverseTunnel,
		Lifetime: 65535 * time.Second, Remaining: 0, State: "pending", Iface: "dyn-10.2.0.1",
		Link: "veth-visitor", Confirmed: false,
	}
	values := []any{
		nil,
		goldenHome,
		netip.Addr{},
		"",
		"triangle",
		strings.Repeat("x", 65535),
		enableParams{goldenHome, true},
		enableParams{goldenHome, false},
		Tunnel{},
		goldenTunnel,
		full,
		[]Tunnel(nil),
		[]Tunnel{goldenTunnel, full, {}},
		Status{},
		goldenStatus,
		Status{Agent: "ha", Version: "dev", DataPath: "netlink", Uptime: (1<<32 - 1) * time.Second,
			Counters: []Counter{{"", 0}, {"denied.67", 1<<64 - 1}}},
	}
	for _, v := range values {
		b := marshalPayload(t, v)
		var (
			got any
			err error
		)
		switch v.(type) {
		case nil:
			got, err = noPayload(b)
		case netip.Addr:
			got, err = addrPayload(b)
		case string:
			got, err = stringPayload(b)
		case enableParams:
			var e enableParams
			e.home, e.enable, err = ParseEnable(b)
			got = e
		case Tunnel:
			got, err = ParseTunnel(b)
		case []Tunnel:
			got, err = ParseTunnels(b)
		case Status:
			got, err = ParseStatus(b)
		}
		if err != nil {
			t.Errorf("%T: decode: %v", v, err)
			continue
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("round trip\n got %#v\nwant %#v", got, v)
		}
	}
}

// Every proper prefix of a payload is truncated and every extension of it
// has trailing bytes: the decoders take exactly the encoder's bytes.
func TestPayloadTruncatedAndTrailing(t *testing.T) {
	decoders := map[string]struct {
		payload []byte
		decode  func([]byte) error
	}{
		"addr":    {hx("0a01000a"), func(b []byte) error { _, err := ParseAddr(b); return err }},
		"enable":  {hx("0a01000a 01"), func(b []byte) error { _, _, err := ParseEnable(b); return err }},
		"string":  {hx("0004 66756c6c"), func(b []byte) error { _, err := ParseString(b); return err }},
		"tunnel":  {goldenTunnelBytes, func(b []byte) error { _, err := ParseTunnel(b); return err }},
		"tunnels": {append(hx("00000001"), goldenTunnelBytes...), func(b []byte) error { _, err := ParseTunnels(b); return err }},
		"status":  {goldenStatusBytes, func(b []byte) error { _, err := ParseStatus(b); return err }},
	}
	for name, d := range decoders {
		if err := d.decode(d.payload); err != nil {
			t.Fatalf("%s: the whole payload: %v", name, err)
		}
		for n := 0; n < len(d.payload); n++ {
			if err := d.decode(d.payload[:n]); !errors.Is(err, ErrTruncated) {
				t.Errorf("%s: %d of %d bytes: err %v, want ErrTruncated", name, n, len(d.payload), err)
			}
		}
		long := append(append([]byte(nil), d.payload...), 0)
		if err := d.decode(long); !errors.Is(err, ErrTrailing) {
			t.Errorf("%s: one byte more: err %v, want ErrTrailing", name, err)
		}
	}
	if err := ParseEmpty([]byte{0}); !errors.Is(err, ErrTrailing) {
		t.Errorf("ParseEmpty(one byte) = %v, want ErrTrailing", err)
	}
}

func TestPayloadInvalid(t *testing.T) {
	if _, _, err := ParseEnable(hx("0a01000a 02")); !errors.Is(err, ErrInvalid) {
		t.Errorf("enable byte 2: %v, want ErrInvalid", err)
	}
	bad := append([]byte(nil), goldenTunnelBytes...)
	bad[29] = 7 // the confirmed byte
	if _, err := ParseTunnel(bad); !errors.Is(err, ErrInvalid) {
		t.Errorf("confirmed byte 7: %v, want ErrInvalid", err)
	}
	// A count the payload cannot hold is refused before allocating.
	if _, err := ParseTunnels(hx("ffffffff 00")); !errors.Is(err, ErrTruncated) {
		t.Errorf("forged tunnel count: %v, want ErrTruncated", err)
	}
	forged := append([]byte(nil), goldenStatusBytes...)
	if string(forged[71:75]) != string(hx("00000002")) {
		t.Fatalf("the golden status's counter count is not at offset 71")
	}
	copy(forged[71:75], hx("7fffffff"))
	if _, err := ParseStatus(forged); !errors.Is(err, ErrTruncated) {
		t.Errorf("forged counter count: %v, want ErrTruncated", err)
	}

	if _, err := MarshalAddr(netip.MustParseAddr("2001:db8::1")); !errors.Is(err, ErrInvalid) {
		t.Errorf("IPv6 address: %v, want ErrInvalid", err)
	}
	if b, err := MarshalAddr(netip.MustParseAddr("::ffff:10.1.0.10")); err != nil || string(b) != string(hx("0a01000a")) {
		t.Errorf("IPv4-mapped address: %x, %v", b, err)
	}
	if _, err := MarshalString(strings.Repeat("x", 65536)); !errors.Is(err, ErrInvalid) {
		t.Errorf("string of 65536 bytes: %v, want ErrInvalid", err)
	}
	if _, err := MarshalTunnel(Tunnel{State: strings.Repeat("x", 70000)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("tunnel state of 70000 bytes: %v, want ErrInvalid", err)
	}
	// A list too big for one frame is refused by the encoder.
	many := make([]Counter, MaxLength/10)
	if _, err := MarshalStatus(Status{Counters: many}); !errors.Is(err, ErrFrameTooLong) {
		t.Errorf("status of %d counters: %v, want ErrFrameTooLong", len(many), err)
	}
}

// Durations travel as whole seconds; negative ones as 0 and ones beyond a
// u32 as its maximum.
func TestPayloadDurations(t *testing.T) {
	for _, tc := range []struct{ in, want time.Duration }{
		{1500 * time.Millisecond, time.Second},
		{-time.Second, 0},
		{1 << 62, (1<<32 - 1) * time.Second},
	} {
		b, err := MarshalTunnel(Tunnel{Lifetime: tc.in})
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseTunnel(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.Lifetime != tc.want {
			t.Errorf("lifetime %v travels as %v, want %v", tc.in, got.Lifetime, tc.want)
		}
	}
}
