package fa

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

// TestExampleConfig parses conf/dynfad.conf, the example shipped with the
// suite.
func TestExampleConfig(t *testing.T) {
	c, err := LoadConfig("../conf/dynfad.conf")
	if err != nil {
		t.Fatal(err)
	}
	if c.UpstreamInterface != "eth0" || c.CareOfAddress != netip.MustParseAddr("10.0.1.2") ||
		len(c.Interfaces) != 1 || c.Interfaces[0] != "eth1" {
		t.Errorf("interfaces: %+v", c)
	}
	if c.AgentAdvInterval != time.Second || c.AgentAdvLifetime != 3*time.Second || c.MaxLifetime != 600*time.Second ||
		c.PendingTimeout != 7*time.Second || c.MaxVisitors != 1000 || !c.ReverseTunnel || !c.EnableFADecapsulation ||
		c.RegistrationRequired || c.TunnelPrefix != "dynfa" || c.TunnelMode != daemon.TunnelAuto {
		t.Errorf("values: %+v", c)
	}
	if len(c.Security) != 1 {
		t.Fatalf("security: %+v", c.Security)
	}
	sa := c.Security[0].SA()
	if c.Security[0].Peer != netip.MustParseAddr("10.1.0.1") || sa.SPI != 2001 || sa.Alg != mip.HMACMD5 || len(sa.Key) != 16 {
		t.Errorf("security entry: %+v", c.Security[0])
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := ParseConfig("dynfad.conf", strings.NewReader(
		"UpstreamInterface eth0\nAgentAdvInterval 500ms\nINTERFACES_BEGIN\neth1\neth2\nINTERFACES_END\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.UpstreamInterface = "eth0"
	want.AgentAdvInterval = 500 * time.Millisecond
	want.AgentAdvLifetime = 1500 * time.Millisecond
	want.Interfaces = []string{"eth1", "eth2"}
	if c.AgentAdvLifetime != want.AgentAdvLifetime || c.MaxLifetime != want.MaxLifetime ||
		c.PendingTimeout != want.PendingTimeout || c.MaxVisitors != want.MaxVisitors ||
		c.ReverseTunnel != want.ReverseTunnel || c.EnableFADecapsulation != want.EnableFADecapsulation ||
		c.TunnelPrefix != want.TunnelPrefix || c.StateFile != want.StateFile || c.SyslogFacility != want.SyslogFacility ||
		c.CareOfAddress.IsValid() || c.Security != nil || c.TunnelLinger != time.Minute || want.TunnelLinger != time.Minute {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
	c, err = ParseConfig("dynfad.conf", strings.NewReader("UpstreamInterface eth0\nTunnelLinger 0\nINTERFACES_BEGIN\neth1\nINTERFACES_END\n"))
	if err != nil || c.TunnelLinger != 0 {
		t.Errorf("TunnelLinger 0: %v, %v", c.TunnelLinger, err)
	}
}

func TestConfigErrors(t *testing.T) {
	base := "UpstreamInterface eth0\n"
	ifs := "INTERFACES_BEGIN\neth1\nINTERFACES_END\n"
	for _, c := range []struct{ text, want string }{
		{ifs, "dynfad.conf: UpstreamInterface: required label missing"},
		{base, "dynfad.conf: INTERFACES: required section missing"},
		{base + "INTERFACES_BEGIN\neth0\nINTERFACES_END\n", "dynfad.conf:2: INTERFACES: eth0 is the upstream interface"},
		{base + ifs + "MaxLifetime 70000\n", "dynfad.conf:5: MaxLifetime: 19h26m40s is outside"},
		{base + ifs + "MaxVisitors 0\n", "dynfad.conf:5: MaxVisitors: 0: must be at least 1"},
		{base + ifs + "TunnelLinger -1s\n", `dynfad.conf:5: TunnelLinger: "-1s" is negative`},
		{base + ifs + "CareOfAddress 10.0.1\n", "dynfad.conf:5: CareOfAddress:"},
		{base + ifs + "ReverseTunel yes\n", "dynfad.conf:5: ReverseTunel: unknown label"},
		{base + ifs + "SECURITY_BEGIN\n10.1.0.1 2001 sha1 00ff\nSECURITY_END\n", "dynfad.conf:6: SECURITY: field 3:"},
		{base + ifs + "SECURITY_BEGIN\n10.1.0.1 2001 hmac-md5 00ff\n10.1.0.1 2002 hmac-md5 00ff\nSECURITY_END\n",
			"dynfad.conf:7: SECURITY: 10.1.0.1 listed twice"},
		{base + ifs + "UpperFAIPAddress 10.0.1.1\n", "dynfad.conf:5: UpperFAIPAddress: needs HighestFAIPAddress"},
		{base + ifs + "HighestFAIPAddress 10.0.0.2\nPublicKeyFile /k.pub\n", "dynfad.conf: PrivateKeyFile: required in a hierarchy"},
		{base + ifs + "HighestFAIPAddress 10.0.0.2\nPrivateKeyFile /k\n", "dynfad.conf: PublicKeyFile: required in a hierarchy"},
		{base + "CareOfAddress 10.0.1.2\nUpperFAIPAddress 10.0.1.2\nHighestFAIPAddress 10.0.0.2\nPrivateKeyFile k\nPublicKeyFile p\n",
			"dynfad.conf:3: UpperFAIPAddress: 10.0.1.2 is this agent's own CareOfAddress"},
	} {
		_, err := ParseConfig("dynfad.conf", strings.NewReader(c.text))
		var cerr *config.Error
		if !errors.As(err, &cerr) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant %s", c.text, err, c.want)
		}
		if daemon.ExitCode(err) != 2 {
			t.Errorf("%q: exit code %d, want 2", c.text, daemon.ExitCode(err))
		}
	}
}

// TestHierarchyConfig: an agent in a hierarchy may have no visitor
// interface (the highest agent of the testbed serves lower agents only).
func TestHierarchyConfig(t *testing.T) {
	c, err := ParseConfig("dynfad.conf", strings.NewReader("UpstreamInterface eth0\nHighestFAIPAddress 10.0.0.2\n"+
		"PrivateKeyFile /etc/dynamics/gfa.key\nPublicKeyFile /etc/dynamics/gfa.pub\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Hierarchy() || !c.Highest() || len(c.Interfaces) != 0 || c.PrivateKeyFile != "/etc/dynamics/gfa.key" ||
		c.AdvertisedCareOf() != netip.MustParseAddr("10.0.0.2") {
		t.Errorf("%+v", c)
	}
	c, err = ParseConfig("dynfad.conf", strings.NewReader("UpstreamInterface eth0\nCareOfAddress 10.0.1.2\n"+
		"UpperFAIPAddress 10.0.1.1\nHighestFAIPAddress 10.0.0.2\nPrivateKeyFile k\nPublicKeyFile p\n"+
		"INTERFACES_BEGIN\neth1\nINTERFACES_END\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Hierarchy() || c.Highest() || c.AdvertisedCareOf() != netip.MustParseAddr("10.0.0.2") {
		t.Errorf("%+v", c)
	}
	if flat := DefaultConfig(); flat.Hierarchy() || flat.Highest() {
		t.Error("the default configuration is in a hierarchy")
	}
}
