package perf

import (
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/ha"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
)

// TestProtectedConfig checks that the protected run's dynhad.conf is one
// dynhad takes: the fleet, the userspace ESP path, and the generator's
// address as the one IPSEC peer, identified by its address, with the
// run's key.
func TestProtectedConfig(t *testing.T) {
	opts := DaemonOptions{RegistrationOptions: RegistrationOptions{Mobiles: 20, CareOfs: 3}.withDefaults(), TunnelMode: "auto"}
	fleet, err := opts.fleet()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "dynhad.conf")
	if err := writeHAConfig(conf, dir, opts, fleet, false); err != nil {
		t.Fatal(err)
	}
	psk, err := randomPSK()
	if err != nil {
		t.Fatal(err)
	}
	if err := appendFile(conf, protectedConfig(protGenESP.Addr(), psk)); err != nil {
		t.Fatal(err)
	}
	cfg, err := ha.LoadConfig(conf)
	if err != nil {
		t.Fatalf("dynhad.conf: %v", err)
	}
	if err := cfg.Config.Validate(); err != nil {
		t.Fatalf("IPsec part: %v", err)
	}
	if len(cfg.Authorized) != fleet.Len() {
		t.Errorf("%d mobiles authorized, want %d", len(cfg.Authorized), fleet.Len())
	}
	if cfg.IPsecESP != secure.ESPUserspace || cfg.IPsecDevice != protDevice {
		t.Errorf("ESP path %q on %q, want userspace on %s", cfg.IPsecESP, cfg.IPsecDevice, protDevice)
	}
	want := netip.PrefixFrom(protGenESP.Addr(), 32)
	if len(cfg.Peers) != 1 || cfg.Peers[0].Peer.Prefix() != want || cfg.Peers[0].ID != "-" || cfg.Peers[0].PSK != psk {
		t.Errorf("IPSEC entries %+v, want %s with its address as identity and key %s", cfg.Peers, want, psk)
	}
	// The clear generator and the mobiles' home addresses are not peers:
	// only the ESP generator's requests require protection.
	for _, p := range cfg.Peers {
		for _, a := range []netip.Addr{protGenClr.Addr(), fleet.Home(0), benchHA} {
			if p.Peer.Prefix().Contains(a) {
				t.Errorf("IPSEC entry %s covers %s", p.Peer, a)
			}
		}
	}
	other, err := randomPSK()
	if err != nil || other == psk || len(psk) != 32 {
		t.Errorf("keys %q and %q (%v): want a fresh 32-digit key each run", psk, other, err)
	}
}

// TestProtectedCheck checks that a protected run is refused unless the
// counters show its requests went through ESP.
func TestProtectedCheck(t *testing.T) {
	good := func() protectedCheck {
		return protectedCheck{
			Before: map[string]uint64{"accepted": 500, "discards.unprotected": 0, "ipsec.esp_in": 3},
			After:  map[string]uint64{"accepted": 1500, "discards.unprotected": 0, "ipsec.esp_in": 403},
			ESP:    LoadResult{Sent: 400, Accepted: 400}, Clear: LoadResult{Sent: 600, Accepted: 600},
			GenOpened: 400, GenInitiated: 1,
		}
	}
	if err := good().verify(); err != nil {
		t.Fatalf("a good run refused: %v", err)
	}
	// Replies lost after dynhad accepted the request: the generator
	// counts them lost, dynhad accepted.
	lossy := good()
	lossy.After["accepted"] += 3
	lossy.ESP.Lost, lossy.Clear.Lost = 2, 1
	if err := lossy.verify(); err != nil {
		t.Errorf("a run with lost replies refused: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*protectedCheck)
		want   string
	}{
		{"unprotected drops", func(c *protectedCheck) { c.After["discards.unprotected"] = 2 }, "dropped 2 registration messages as unprotected"},
		{"requests in clear", func(c *protectedCheck) { c.After["ipsec.esp_in"] = 100 }, "opened 97 ESP datagrams but accepted 400"},
		{"replies in clear", func(c *protectedCheck) { c.GenOpened = 0 }, "generator's ESP path opened 0 datagrams for 400"},
		{"a second IKE SA", func(c *protectedCheck) { c.GenInitiated = 2 }, "bring up 2 IKE SAs"},
		{"no IKE SA", func(c *protectedCheck) { c.GenInitiated = 0 }, "bring up 0 IKE SAs"},
		{"counts disagree", func(c *protectedCheck) { c.After["accepted"] = 1400 }, "dynhad counted 900 re-registrations accepted, the generators 1000 with 0 more"},
		{"more than lost", func(c *protectedCheck) {
			c.After["accepted"] = 1503
			c.ESP.Lost = 2
		}, "dynhad counted 1003 re-registrations accepted, the generators 1000 with 2 more lost or wrong"},
		{"nothing through ESP", func(c *protectedCheck) {
			c.ESP = LoadResult{Sent: 400, Lost: 400}
			c.After["accepted"], c.GenOpened = 1100, 0
		}, "nothing accepted"},
		{"no ESP counters", func(c *protectedCheck) { delete(c.After, "ipsec.esp_in") }, `no counter "ipsec.esp_in"`},
	} {
		c := good()
		tc.change(&c)
		err := c.verify()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

// TestProtectedSection checks that the section is listed, after the
// clear registration section.
func TestProtectedSection(t *testing.T) {
	i, j := slices.Index(Sections, SectionRegistration), slices.Index(Sections, SectionProtected)
	if j < 0 || j < i {
		t.Errorf("sections %v: want %q listed after %q", Sections, SectionProtected, SectionRegistration)
	}
}

// TestSNMPCounter reads counters out of /proc/net/snmp's format.
func TestSNMPCounter(t *testing.T) {
	const text = "Ip: Forwarding DefaultTTL\nIp: 1 64\n" +
		"Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdp: 188990407 0 1366 188991776 1365 7\n" +
		"UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdpLite: 0 0 0 0 0 0\n"
	for _, tc := range []struct {
		proto, name string
		want        uint64
	}{{"Udp", "RcvbufErrors", 1365}, {"Udp", "InDatagrams", 188990407}, {"Udp", "SndbufErrors", 7}, {"UdpLite", "RcvbufErrors", 0}, {"Ip", "DefaultTTL", 64}} {
		got, err := snmpCounter(text, tc.proto, tc.name)
		if err != nil || got != tc.want {
			t.Errorf("%s %s = %d, %v; want %d", tc.proto, tc.name, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ text, proto, name string }{
		{text, "Udp", "Nope"},
		{text, "Tcp", "InSegs"},
		{"Udp: RcvbufErrors\n", "Udp", "RcvbufErrors"},
		{"Udp: RcvbufErrors\nUdp: x\n", "Udp", "RcvbufErrors"},
		{"Udp: InDatagrams RcvbufErrors\nUdp: 1\n", "Udp", "RcvbufErrors"},
	} {
		if v, err := snmpCounter(tc.text, tc.proto, tc.name); err == nil {
			t.Errorf("%q %s %s = %d, want an error", tc.text, tc.proto, tc.name, v)
		}
	}
}
