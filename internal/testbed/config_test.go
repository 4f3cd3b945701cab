package testbed

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/fa"
	"github.com/dynamics-go/dynamics/libdynamics/config"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
	"github.com/dynamics-go/dynamics/mn"
)

func TestWriteConfigs(t *testing.T) {
	for _, hier := range []bool{false, true} {
		dir := t.TempDir()
		b := &Bed{opts: Options{Hierarchical: hier, AdvInterval: 500 * time.Millisecond}.withDefaults(),
			prefix: "dynbedtest", plan: topology(hier)}
		if got := b.AdminSocket(HA); got != "" {
			t.Errorf("AdminSocket before WriteConfigs = %q, want none", got)
		}
		if err := b.WriteConfigs(dir); err != nil {
			t.Fatal(err)
		}
		want := map[string]map[string]string{
			"dynhad.conf": {"HAIPAddress": HAAddr, "HomeNetPrefix": HomePrefix, "HomeInterface": "eth0",
				"AgentAdvInterval": "500ms", "StateFile": filepath.Join(dir, "dynhad.state")},
			"dynfad-fa1.conf": {"UpstreamInterface": "eth0", "AgentAdvInterval": "500ms"},
			"dynfad-fa2.conf": {"UpstreamInterface": "eth0", "StateFile": filepath.Join(dir, "dynfad-fa2.state")},
			"dynmnd.conf": {"MNHomeIPAddress": HomeAddr, "HAIPAddress": HAAddr, "Interface": "eth0",
				"SharedSecret": MNHAKey, "SPI": "1000", "Lifetime": "60", "HomeGateway": HomeGateway},
		}
		// Every daemon has sockets of its own in dir, and the bed names them.
		sockets := map[string]bool{}
		for _, role := range append(b.Agents(), MN) {
			admin, monitor := b.AdminSocket(role), b.MonitorSocket(role)
			if filepath.Dir(admin) != dir || filepath.Dir(monitor) != dir || admin == monitor {
				t.Errorf("hier=%v: %s: sockets %q and %q, want two in %s", hier, role, admin, monitor, dir)
			}
			if sockets[admin] || sockets[monitor] {
				t.Errorf("hier=%v: %s shares a socket with another daemon", hier, role)
			}
			sockets[admin], sockets[monitor] = true, true
			file := ConfigFile(role)
			if want[file] == nil {
				want[file] = map[string]string{}
			}
			want[file]["AdminSocket"] = admin
			want[file]["MonitorSocket"] = monitor
		}
		if got := b.AdminSocket(CN); got != "" {
			t.Errorf("hier=%v: cn runs no daemon but has the socket %q", hier, got)
		}
		if hier {
			want["dynfad-gfa.conf"]["HighestFAIPAddress"] = GFAAddr
			want["dynfad-fa1.conf"]["UpperFAIPAddress"] = FA1Upper
			want["dynfad-fa2.conf"]["UpperFAIPAddress"] = FA2Upper
			for _, role := range []string{GFA, FA1, FA2} {
				priv, pub := KeyFiles(dir, role)
				want[ConfigFile(role)]["PrivateKeyFile"] = priv
				want[ConfigFile(role)]["PublicKeyFile"] = pub
			}
		}
		for file, labels := range want {
			f, err := config.Load(filepath.Join(dir, file))
			if err != nil {
				t.Fatalf("hier=%v: %v", hier, err)
			}
			for label, v := range labels {
				if got, _ := f.Value(label); got != v {
					t.Errorf("hier=%v: %s: %s = %q, want %q", hier, file, label, got, v)
				}
			}
		}
		// Every foreign agent's file is one dynfad accepts, with a key
		// pair that belongs together on the hierarchical bed.
		for _, role := range b.Agents() {
			if role == HA {
				continue
			}
			c, err := fa.LoadConfig(filepath.Join(dir, ConfigFile(role)))
			if err != nil {
				t.Fatalf("hier=%v: %v", hier, err)
			}
			key, err := fa.LoadKeys(c)
			if err != nil || (key != nil) != hier {
				t.Errorf("hier=%v: %s: key pair %v, %v", hier, role, key != nil, err)
			}
			if hier && role == GFA && len(c.Interfaces) != 0 {
				t.Errorf("gfa has visitor interfaces %v", c.Interfaces)
			}
		}
		f, err := config.Load(filepath.Join(dir, "dynhad.conf"))
		if err != nil {
			t.Fatal(err)
		}
		sec, ok := f.Section("SECURITY")
		if !ok {
			t.Fatal("dynhad.conf: no SECURITY section")
		}
		var fas []string
		for _, e := range sec.Entries {
			fas = append(fas, e.Fields[0])
		}
		wantFAs := []string{FA1Addr, FA2Addr}
		if hier {
			wantFAs = append(wantFAs, GFAAddr)
		}
		if !slices.Equal(fas, wantFAs) {
			t.Errorf("hier=%v: home agent knows foreign agents %v, want %v", hier, fas, wantFAs)
		}
		sec, _ = f.Section("AUTHORIZEDLIST")
		if len(sec.Entries) != 1 || sec.Entries[0].Fields[3] != MNHAKey {
			t.Errorf("hier=%v: AUTHORIZEDLIST %+v", hier, sec.Entries)
		}
		m, err := config.Load(filepath.Join(dir, "dynmnd.conf"))
		if err != nil {
			t.Fatal(err)
		}
		if sec, _ := m.Section("COLOCATED"); len(sec.Entries) != 1 ||
			!slices.Equal(sec.Entries[0].Fields, []string{ColocatedAddr + "/24", ColocatedGateway}) {
			t.Errorf("hier=%v: COLOCATED %+v", hier, sec.Entries)
		}
	}
}

// TestWriteConfigsLongDir checks that a directory too long for the socket
// paths is refused before anything is written.
func TestWriteConfigsLongDir(t *testing.T) {
	b := &Bed{opts: Options{}.withDefaults(), prefix: "dynbedtest", plan: topology(false)}
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	err := b.WriteConfigs(dir)
	if err == nil || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("WriteConfigs(%s) = %v, want a path too long for the sockets", dir, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s was made anyway (%v)", dir, err)
	}
}

// TestForeignHomeSA checks that the security association the bed reports
// for a foreign agent is the one in the home agent's SECURITY section.
func TestForeignHomeSA(t *testing.T) {
	dir := t.TempDir()
	b := &Bed{opts: Options{Hierarchical: true}.withDefaults(), prefix: "dynbedtest", plan: topology(true)}
	if err := b.WriteConfigs(dir); err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(filepath.Join(dir, ConfigFile(HA)))
	if err != nil {
		t.Fatal(err)
	}
	sec, _ := f.Section("SECURITY")
	for role, addr := range map[string]string{FA1: FA1Addr, FA2: FA2Addr, GFA: GFAAddr} {
		spi, key, ok := ForeignHomeSA(role)
		if !ok {
			t.Fatalf("no security association for %s", role)
		}
		found := false
		for _, e := range sec.Entries {
			if e.Fields[0] == addr {
				found = e.Fields[1] == fmt.Sprint(spi) && e.Fields[3] == key
			}
		}
		if !found {
			t.Errorf("%s: SPI %d key %s is not the home agent's entry for %s: %+v", role, spi, key, addr, sec.Entries)
		}
	}
	if _, _, ok := ForeignHomeSA(MN); ok {
		t.Error("the mobile has a Foreign-Home security association")
	}
}

func TestConfigFile(t *testing.T) {
	for role, want := range map[string]string{HA: "dynhad.conf", MN: "dynmnd.conf", FA1: "dynfad-fa1.conf", GFA: "dynfad-gfa.conf"} {
		if got := ConfigFile(role); got != want {
			t.Errorf("ConfigFile(%s) = %s, want %s", role, got, want)
		}
	}
}

// TestWriteConfigsIPsec checks the IPsec part of the files: each hop's two
// ends name each other by the addresses the hop uses, with the identity the
// other announces and the same key, the keys differ between pairs, every
// daemon logs its keys into the directory, and a bed without IPsec writes
// none of it.
func TestWriteConfigsIPsec(t *testing.T) {
	for _, hier := range []bool{false, true} {
		dir := t.TempDir()
		b := &Bed{opts: Options{Hierarchical: hier, IPsec: true}.withDefaults(), prefix: "dynbedtest", plan: topology(hier)}
		if err := b.WriteConfigs(dir); err != nil {
			t.Fatal(err)
		}
		type entry struct{ id, psk string }
		files := map[string]*config.File{}
		entries := map[string]map[netip.Prefix]entry{}
		for _, role := range append(b.Agents(), MN) {
			f, err := config.Load(filepath.Join(dir, ConfigFile(role)))
			if err != nil {
				t.Fatalf("hier=%v: %v", hier, err)
			}
			files[role] = f
			if got, _ := f.Value("IPsecLocalID"); got != IPsecID(role) {
				t.Errorf("hier=%v: %s: IPsecLocalID %q, want %q", hier, role, got, IPsecID(role))
			}
			// An FQDN (ID_FQDN): not an address, no '@' (ID_RFC822_ADDR).
			if _, err := netip.ParseAddr(IPsecID(role)); err == nil || strings.ContainsAny(IPsecID(role), "@: ") {
				t.Errorf("hier=%v: %s: identity %q is not an FQDN", hier, role, IPsecID(role))
			}
			if got, _ := f.Value("IPsecKeyLog"); got != KeyLogFile(dir, role) || filepath.Dir(got) != dir {
				t.Errorf("hier=%v: %s: IPsecKeyLog %q, want %q", hier, role, got, KeyLogFile(dir, role))
			}
			sec, ok := f.Section("IPSEC")
			if !ok {
				t.Fatalf("hier=%v: %s: no IPSEC section", hier, role)
			}
			entries[role] = map[netip.Prefix]entry{}
			for _, e := range sec.Entries {
				var p secure.PeerPrefix
				if len(e.Fields) != 3 {
					t.Fatalf("hier=%v: %s: IPSEC entry %q, want peer, identity, key", hier, role, e.Fields)
				}
				if err := p.UnmarshalText([]byte(e.Fields[0])); err != nil {
					t.Fatalf("hier=%v: %s: %v", hier, role, err)
				}
				entries[role][p.Prefix()] = entry{e.Fields[1], e.Fields[2]}
			}
		}
		hops := b.IPsecHops()
		want := 3
		if hier {
			want = 4
		}
		if len(hops) != want {
			t.Fatalf("hier=%v: %d hops, want %d", hier, len(hops), want)
		}
		peers := map[string]int{}
		keys := map[string]bool{}
		for _, h := range hops {
			i := entries[h.Initiator][netip.MustParsePrefix(h.ResponderAddr+"/32")]
			r := entries[h.Responder][netip.MustParsePrefix(h.InitiatorAddr+"/32")]
			if i.id != IPsecID(h.Responder) || r.id != IPsecID(h.Initiator) {
				t.Errorf("hier=%v: %s-%s: the ends expect %q and %q, want %q and %q", hier, h.Initiator, h.Responder,
					i.id, r.id, IPsecID(h.Responder), IPsecID(h.Initiator))
			}
			if i.psk == "" || i.psk != r.psk || i.psk != h.PSK {
				t.Errorf("hier=%v: %s-%s: keys %q and %q, want both %q", hier, h.Initiator, h.Responder, i.psk, r.psk, h.PSK)
			}
			if keys[h.PSK] {
				t.Errorf("hier=%v: %s-%s shares its key with another pair", hier, h.Initiator, h.Responder)
			}
			keys[h.PSK] = true
			peers[h.Initiator]++
			peers[h.Responder]++
		}
		// No entry beyond the hops: fa1 and fa2 never talk to the home
		// agent directly under gfa, so it must not require IPsec of them.
		for role, es := range entries {
			if len(es) != peers[role] {
				t.Errorf("hier=%v: %s has %d IPSEC entries, want %d (one per hop)", hier, role, len(es), peers[role])
			}
		}
		if hier {
			for _, fa := range []string{FA1Addr, FA2Addr} {
				if _, ok := entries[HA][netip.MustParsePrefix(fa+"/32")]; ok {
					t.Errorf("the home agent requires IPsec of %s, which talks to gfa only", fa)
				}
			}
		}
		if _, ok := entries[HA][netip.MustParsePrefix(HomeAddr+"/32")]; !ok {
			t.Errorf("hier=%v: the home agent has no IPSEC entry for the mobile's home address", hier)
		}
	}
	// Without IPsec nothing of it is written.
	dir := t.TempDir()
	b := &Bed{opts: Options{}.withDefaults(), prefix: "dynbedtest", plan: topology(false)}
	if err := b.WriteConfigs(dir); err != nil {
		t.Fatal(err)
	}
	for _, role := range append(b.Agents(), MN) {
		text, err := os.ReadFile(filepath.Join(dir, ConfigFile(role)))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(text), "\nIPsec") || strings.Contains(string(text), "\nIPSEC") {
			t.Errorf("%s has IPsec settings on a bed without IPsec:\n%s", role, text)
		}
	}
}

// TestWriteConfigsSecondInterface checks that the mobile's second
// interface is what dynmnd will watch: its file, which dynmnd accepts,
// lists eth1 in IPSEC_INTERFACES, and no file does without the option.
func TestWriteConfigsSecondInterface(t *testing.T) {
	for _, second := range []bool{false, true} {
		dir := t.TempDir()
		opts := Options{IPsec: true, SecondInterface: second}
		b := &Bed{opts: opts.withDefaults(), prefix: "dynbedtest", plan: planFor(opts)}
		if err := b.WriteConfigs(dir); err != nil {
			t.Fatal(err)
		}
		c, err := mn.LoadConfig(filepath.Join(dir, ConfigFile(MN)))
		if err != nil {
			t.Fatalf("second=%v: dynmnd refuses the file: %v", second, err)
		}
		var names []string
		for _, f := range c.IPsecInterfaces {
			names = append(names, f.Name)
		}
		var want []string
		if second {
			want = []string{MNSecondIface}
		}
		if !slices.Equal(names, want) {
			t.Errorf("second=%v: IPSEC_INTERFACES %v, want %v", second, names, want)
		}
		for _, role := range b.Agents() {
			text, err := os.ReadFile(filepath.Join(dir, ConfigFile(role)))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(text), "IPSEC_INTERFACES") {
				t.Errorf("second=%v: %s lists IPSEC_INTERFACES, which only the mobile has", second, role)
			}
		}
	}
	// The plan: one more link, from the mobile to the bridge of the link
	// without an agent, with SecondAddr/24 on it.
	flat, second := topology(false), planFor(Options{IPsec: true, SecondInterface: true})
	if len(second.links) != len(flat.links)+1 || len(second.addrs) != len(flat.addrs)+1 || len(second.routes) != len(flat.routes) {
		t.Fatalf("second interface plan: %d links, %d addresses, %d routes; want %d, %d, %d",
			len(second.links), len(second.addrs), len(second.routes), len(flat.links)+1, len(flat.addrs)+1, len(flat.routes))
	}
	if l := second.links[len(second.links)-1]; l.a != MN || l.aDev != MNSecondIface || l.bridge != bridges[AtColocated] {
		t.Errorf("second interface link %+v, want the mobile's %s on %s", l, MNSecondIface, bridges[AtColocated])
	}
	if a := second.addrs[len(second.addrs)-1]; a != (addr{MN, MNSecondIface, SecondAddr + "/24"}) {
		t.Errorf("second interface address %+v", a)
	}
	if len(topology(false).links) != len(flat.links) {
		t.Error("planFor changed the flat plan it started from")
	}
	// Only with IPsec: without, the mobile would have no SAs to offer it to.
	if _, err := New(Options{SecondInterface: true}); !errors.Is(err, ErrSecondWithoutIPsec) {
		t.Errorf("New with a second interface and no IPsec: %v, want ErrSecondWithoutIPsec", err)
	}
}
