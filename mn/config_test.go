package mn

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/config"
	"github.com/dynamics-go/dynamics/libdynamics/daemon"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

func TestExampleConfig(t *testing.T) {
	c, err := LoadConfig("../conf/dynmnd.conf")
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Home = netip.MustParseAddr("10.1.0.10")
	want.HA = netip.MustParseAddr("10.1.0.1")
	want.HomeNet = netip.MustParsePrefix("10.1.0.0/24")
	want.HomeGateway = netip.MustParseAddr("10.1.0.254")
	want.Interface = "eth0"
	want.SPI = 1000
	if c.Home != want.Home || c.HA != want.HA || c.HomeNet != want.HomeNet || c.HomeGateway != want.HomeGateway ||
		c.Interface != want.Interface || c.SPI != want.SPI {
		t.Errorf("addresses: got %+v", c)
	}
	if c.Lifetime != want.Lifetime || c.RetryInterval != want.RetryInterval || c.MaxRetryInterval != want.MaxRetryInterval ||
		c.MaxRetryCount != want.MaxRetryCount || c.SolicitInterval != want.SolicitInterval ||
		c.TunnelingMode != TunnelFull || c.TunnelMode != daemon.TunnelAuto || c.TunnelPrefix != "dynmn" ||
		c.StateFile != want.StateFile || c.SyslogFacility != "local0" {
		t.Errorf("the example differs from the defaults it documents: %+v", c)
	}
	sa := c.SA()
	if sa.Alg != mip.HMACMD5 || sa.Replay != mip.ReplayTimestamp || len(sa.Key) != 16 {
		t.Errorf("security association %+v", sa)
	}
	if len(c.Colocated) != 1 || c.Colocated[0].Addr.String() != "10.4.0.10/24" ||
		c.Colocated[0].Gateway != netip.MustParseAddr("10.4.0.1") {
		t.Errorf("COLOCATED: %+v", c.Colocated)
	}
}

const minimal = `MNHomeIPAddress 10.1.0.10
HAIPAddress 10.1.0.1
HomeNetPrefix 10.1.0.0/24
Interface eth0
SPI 1000
SharedSecret 00112233
`

func TestConfigDefaults(t *testing.T) {
	c, err := ParseConfig("dynmnd.conf", strings.NewReader(minimal))
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultConfig()
	if c.Lifetime != d.Lifetime || c.RetryInterval != time.Second || c.MaxRetryInterval != 8*time.Second ||
		c.MaxRetryCount != 5 || c.SolicitInterval != time.Second || c.TunnelingMode != TunnelFull ||
		c.TunnelPrefix != "dynmn" || c.StateFile != "/run/dynamics/dynmnd.state" || c.HomeGateway.IsValid() ||
		c.Colocated != nil {
		t.Errorf("defaults: %+v", c)
	}
	if c.TunnelName() != "dynmn0" {
		t.Errorf("TunnelName() = %q", c.TunnelName())
	}
}

func TestConfigModes(t *testing.T) {
	for text, want := range map[string]TunnelingMode{"full": TunnelFull, "Triangle": TunnelTriangle, "none": TunnelNone} {
		c, err := ParseConfig("dynmnd.conf", strings.NewReader(minimal+"TunnelingMode "+text+"\nReplay nonce\nAlgorithm prefix-suffix\n"))
		if err != nil {
			t.Fatal(err)
		}
		if c.TunnelingMode != want || c.SA().Replay != mip.ReplayNonce || c.SA().Alg != mip.KeyedMD5PrefixSuffix {
			t.Errorf("%s: mode %v, SA %+v", text, c.TunnelingMode, c.SA())
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		add, want string
	}{
		{"TunnelingMode sideways\n", `dynmnd.conf:7: TunnelingMode: "sideways": not a tunneling mode`},
		{"Algorithm md4\n", `dynmnd.conf:7: Algorithm: "md4": not an algorithm`},
		{"Replay sometimes\n", `dynmnd.conf:7: Replay: "sometimes": not a replay protection`},
		{"Lifetime 70000\n", `dynmnd.conf:7: Lifetime: 19h26m40s is outside 1s..65535s`},
		{"MaxRetryInterval 500ms\n", `dynmnd.conf:7: MaxRetryInterval: 500ms is below RetryInterval 1s`},
		{"HomeGateway 10.9.0.1\n", `dynmnd.conf:7: HomeGateway: 10.9.0.1 is outside HomeNetPrefix 10.1.0.0/24`},
		{"SolicitInterval 0\n", `dynmnd.conf:7: SolicitInterval: must be positive`},
		{"HomeAgent 10.1.0.1\n", `dynmnd.conf:7: HomeAgent: unknown label`},
		{"COLOCATED_BEGIN\n10.4.0.10/24 10.5.0.1\nCOLOCATED_END\n", `dynmnd.conf:8: COLOCATED: gateway 10.5.0.1 is outside 10.4.0.0/24`},
		{"COLOCATED_BEGIN\n10.4.0.0/24 10.4.0.1\nCOLOCATED_END\n", `dynmnd.conf:8: COLOCATED: 10.4.0.0/24 is a network address`},
		{"COLOCATED_BEGIN\n10.1.0.20/24 10.1.0.1\nCOLOCATED_END\n", `dynmnd.conf:8: COLOCATED: 10.1.0.0/24 overlaps the home network`},
		{"COLOCATED_BEGIN\n10.4.0.10 10.4.0.1\nCOLOCATED_END\n", `dynmnd.conf:8: COLOCATED: field 1: "10.4.0.10": not an IPv4 address with a prefix length`},
	} {
		_, err := ParseConfig("dynmnd.conf", strings.NewReader(minimal+c.add))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.add, err, c.want)
			continue
		}
		var ce *config.Error
		if !errors.As(err, &ce) || daemon.ExitCode(err) != 2 {
			t.Errorf("%q: %v is not a configuration error (exit status %d)", c.add, err, daemon.ExitCode(err))
		}
	}
	_, err := ParseConfig("dynmnd.conf", strings.NewReader("MNHomeIPAddress 10.2.0.10\n"+minimal[len("MNHomeIPAddress 10.1.0.10\n"):]))
	if err == nil || !strings.Contains(err.Error(), "dynmnd.conf:1: MNHomeIPAddress: 10.2.0.10 is outside HomeNetPrefix") {
		t.Errorf("home address outside the home network: %v", err)
	}
}

// The IPsec labels and the IPSEC section are the mobile's too, with the
// IPSEC_INTERFACES section of the mobile alone; without them nothing is
// protected.
func TestConfigIPsec(t *testing.T) {
	c, err := ParseConfig("dynmnd.conf", strings.NewReader(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.Config.Enabled() || c.IPsecInterfaces != nil || !c.IPsecMOBIKEX || c.IPsecESP != "auto" || c.IPsecDevice != "dynesp0" {
		t.Errorf("IPsec defaults: %+v, interfaces %v", c.Config, c.IPsecInterfaces)
	}
	if d := DefaultConfig(); d.Config.IPsecMOBIKEX != c.IPsecMOBIKEX || d.IPsecESP != c.IPsecESP || d.IPsecDevice != c.IPsecDevice {
		t.Errorf("DefaultConfig's IPsec part %+v differs from an empty file's %+v", d.Config, c.Config)
	}
	c, err = ParseConfig("dynmnd.conf", strings.NewReader(minimal+`IPsecPSK s3cret
IPsecESP userspace
IPSEC_BEGIN
10.1.0.1 ha.example.org
IPSEC_END
IPSEC_INTERFACES_BEGIN
wlan0
eth1
IPSEC_INTERFACES_END
`))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Config.Enabled() || c.IPsecPSK != "s3cret" || c.IPsecESP != "userspace" || len(c.Peers) != 1 ||
		c.Peers[0].Peer.Prefix() != netip.MustParsePrefix("10.1.0.1/32") || c.Peers[0].ID != "ha.example.org" {
		t.Errorf("IPsec part %+v", c.Config)
	}
	if got := c.ipsecInterfaceNames(); len(got) != 2 || got[0] != "wlan0" || got[1] != "eth1" || c.IPsecInterfaces[1].Line != 14 {
		t.Errorf("IPSEC_INTERFACES %+v", c.IPsecInterfaces)
	}

	ipsec := "IPsecPSK s3cret\nIPSEC_BEGIN\n10.1.0.1\nIPSEC_END\n" // lines 7-10
	for _, tc := range []struct{ add, want string }{
		{"IPSEC_INTERFACES_BEGIN\nwlan0\nIPSEC_INTERFACES_END\n", `dynmnd.conf:8: IPSEC_INTERFACES: needs IPSEC entries`},
		{ipsec + "IPSEC_INTERFACES_BEGIN\neth0\nIPSEC_INTERFACES_END\n", `dynmnd.conf:12: IPSEC_INTERFACES: eth0 is the roaming Interface`},
		{ipsec + "IPSEC_INTERFACES_BEGIN\nwlan0\nwlan0\nIPSEC_INTERFACES_END\n", `dynmnd.conf:13: IPSEC_INTERFACES: wlan0 is listed twice`},
		{ipsec + "IPSEC_INTERFACES_BEGIN\nwlan0-with-a-long-name\nIPSEC_INTERFACES_END\n", `dynmnd.conf:12: IPSEC_INTERFACES: "wlan0-with-a-long-name" is not an interface name`},
		{"IPSEC_BEGIN\n10.1.0.1\nIPSEC_END\n", `dynmnd.conf:8: IPSEC: no pre-shared key for 10.1.0.1`},
		{ipsec + "IPsecESP sideways\n", `dynmnd.conf:11: IPsecESP: "sideways" is none of auto, xfrm, userspace`},
	} {
		_, err := ParseConfig("dynmnd.conf", strings.NewReader(minimal+tc.add))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.add, err, tc.want)
			continue
		}
		var ce *config.Error
		if !errors.As(err, &ce) || daemon.ExitCode(err) != 2 {
			t.Errorf("%q: %v is not a configuration error (exit status %d)", tc.add, err, daemon.ExitCode(err))
		}
	}
}
