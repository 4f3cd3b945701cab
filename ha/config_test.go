package ha

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

// The example configuration parses and says what the testbed needs.
func TestExampleConfig(t *testing.T) {
	c, err := LoadConfig("../conf/dynhad.conf")
	if err != nil {
		t.Fatal(err)
	}
	if c.HAIPAddress != netip.MustParseAddr("10.1.0.1") || c.HomeNetPrefix != netip.MustParsePrefix("10.1.0.0/24") ||
		c.HomeInterface != "eth0" || c.TunnelPrefix != "dynha" || c.TunnelMode != daemon.TunnelAuto {
		t.Errorf("decoded %+v", c)
	}
	if len(c.Authorized) != 1 || c.Authorized[0].Home != netip.MustParseAddr("10.1.0.10") ||
		c.Authorized[0].SA().SPI != 1000 || c.Authorized[0].SA().Replay != mip.ReplayTimestamp {
		t.Errorf("AUTHORIZEDLIST %+v", c.Authorized)
	}
	if len(c.Security) != 2 || c.Security[0].Peer != netip.MustParseAddr("10.0.1.2") || c.Security[0].SPI != 2001 {
		t.Errorf("SECURITY %+v", c.Security)
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := ParseConfig("dynhad.conf", strings.NewReader(
		"HAIPAddress 10.1.0.1\nHomeNetPrefix 10.1.0.0/24\nHomeInterface eth0\nAgentAdvInterval 500ms\n"+
			"AUTHORIZEDLIST_BEGIN\n10.1.0.10 7 prefix-suffix 0a0b nonce\n10.1.0.11 8 hmac-md5 0c0d\nAUTHORIZEDLIST_END\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	if c.MaxBindings != want.MaxBindings || c.MaxLifetime != want.MaxLifetime || c.ReplayWindow != want.ReplayWindow ||
		c.RequireFAAuth || c.StateFile != want.StateFile || c.SyslogFacility != "local0" {
		t.Errorf("defaults %+v", c)
	}
	if c.AgentAdvLifetime != 1500*time.Millisecond {
		t.Errorf("AgentAdvLifetime = %s, want three intervals", c.AgentAdvLifetime)
	}
	sa := c.Authorized[0].SA()
	if sa.Alg != mip.KeyedMD5PrefixSuffix || sa.Replay != mip.ReplayNonce || string(sa.Key) != "\x0a\x0b" {
		t.Errorf("first mobile %+v", sa)
	}
	if c.Authorized[1].SA().Replay != mip.ReplayTimestamp {
		t.Errorf("replay default %v", c.Authorized[1].SA().Replay)
	}
}

// Configuration errors name the file, line and label.
func TestConfigErrors(t *testing.T) {
	base := "HAIPAddress 10.1.0.1\nHomeNetPrefix 10.1.0.0/24\nHomeInterface eth0\n"
	tests := []struct{ text, want string }{
		{"HAIPAddress 10.2.0.1\nHomeNetPrefix 10.1.0.0/24\nHomeInterface eth0\n",
			"dynhad.conf:1: HAIPAddress: 10.2.0.1 is outside HomeNetPrefix 10.1.0.0/24"},
		{base + "MaxLifetime 0\n", "dynhad.conf:4: MaxLifetime:"},
		{base + "MaxBindings 0\n", "dynhad.conf:4: MaxBindings:"},
		{base + "TunnelPrefix dyn/ha\n", "dynhad.conf:4: TunnelPrefix:"},
		{base + "AUTHORIZEDLIST_BEGIN\n10.9.0.10 1 hmac-md5 00\nAUTHORIZEDLIST_END\n",
			"dynhad.conf:5: AUTHORIZEDLIST: 10.9.0.10 is outside HomeNetPrefix"},
		{base + "AUTHORIZEDLIST_BEGIN\n10.1.0.10 1 md4 00\nAUTHORIZEDLIST_END\n", "dynhad.conf:5: AUTHORIZEDLIST:"},
		{base + "AUTHORIZEDLIST_BEGIN\n10.1.0.10 1 hmac-md5 00 sometimes\nAUTHORIZEDLIST_END\n", "dynhad.conf:5: AUTHORIZEDLIST:"},
		{base + "AUTHORIZEDLIST_BEGIN\n10.1.0.10 1 hmac-md5 00\n10.1.0.10 2 hmac-md5 01\nAUTHORIZEDLIST_END\n",
			"dynhad.conf:6: AUTHORIZEDLIST: 10.1.0.10 listed twice"},
		{base + "SECURITY_BEGIN\n10.0.1.2 1 hmac-md5 00\n10.0.1.2 2 hmac-md5 01\nSECURITY_END\n",
			"dynhad.conf:6: SECURITY: 10.0.1.2 listed twice"},
		{base + "HomeInterfce eth1\n", "dynhad.conf:4: HomeInterfce: unknown label"},
		{"HAIPAddress 10.1.0.1\n", "dynhad.conf: HomeNetPrefix: required label missing"},
	}
	for _, tt := range tests {
		_, err := ParseConfig("dynhad.conf", strings.NewReader(tt.text))
		var ce *config.Error
		if err == nil || !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want one containing %q", tt.text, err, tt.want)
		}
		if daemon.ExitCode(err) != 2 {
			t.Errorf("%q: exit code %d, want 2", tt.text, daemon.ExitCode(err))
		}
	}
}
