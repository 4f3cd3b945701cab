package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/config"
	"github.com/dynamics-go/dynamics/libdynamics/ike"
)

// TestExampleConfig parses conf/dynike.conf.
func TestExampleConfig(t *testing.T) {
	c, err := loadConfig("../../conf/dynike.conf")
	if err != nil {
		t.Fatal(err)
	}
	if !c.initiator || c.local.String() != "192.168.100.1" || c.esp != "auto" {
		t.Errorf("config %+v", c)
	}
	p := c.ike.Peers[0]
	if p.Address.String() != "192.168.100.2:500" || p.RemoteID != "ha@example.org" || p.Mode != ike.ModeTunnel {
		t.Errorf("peer %+v", p)
	}
	if len(c.ike.IKEProposals) != 2 || c.ike.IKEProposals[1].String() != "aes128-sha256-modp2048" || len(c.ike.ESPProposals) != 2 {
		t.Errorf("proposals %v %v", c.ike.IKEProposals, c.ike.ESPProposals)
	}
	if string(c.ike.PSK) != "testtesttesttesttesttest" || !c.ike.MOBIKE || !c.ike.ForceEncap {
		t.Errorf("ike config %+v", c.ike)
	}
	if len(p.LocalTS) != 1 || p.LocalTS[0].String() != "10.1.0.1/32" || p.RemoteTS[0].String() != "10.2.0.1/32" {
		t.Errorf("selectors %v %v", p.LocalTS, p.RemoteTS)
	}
}

// TestConfigErrors: a broken file names its line and label.
func TestConfigErrors(t *testing.T) {
	base := "LocalAddress 192.168.100.1\nRemoteAddress 192.168.100.2\nPSK secretsecretsecret\n"
	for _, tc := range []struct{ name, text, want string }{
		{"no address", "PSK x\n", "LocalAddress"},
		{"initiator without peer", "LocalAddress 192.168.100.1\nPSK x\n", "RemoteAddress"},
		{"bad role", base + "Role server\n", "Role"},
		{"no credentials", "LocalAddress 192.168.100.1\nRole responder\n", "PSK"},
		{"bad proposal", base + "IKEProposals aes128-md5-modp1024\n", "IKEProposals"},
		{"bad selector", base + "LocalTS 10.1.0.0/33\n", "LocalTS"},
		{"bad mode", base + "Mode beet\n", "Mode"},
		{"bad ESP", base + "ESP kernel\n", "ESP"},
		{"both PSKs", base + "PSKHex 0011\n", "PSKHex"},
		{"unknown label", base + "Colour blue\n", "Colour"},
		{"missing key file", base + "Certificate /nonexistent.crt\nPrivateKey /nonexistent.key\n", "Certificate"},
	} {
		path := filepath.Join(t.TempDir(), "dynike.conf")
		if err := os.WriteFile(path, []byte(tc.text), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := loadConfig(path)
		var ce *config.Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "dynike.conf:") {
			t.Errorf("%s: %v, want a file:line error naming %s", tc.name, err, tc.want)
		}
	}
}

// TestUsage: bad command lines exit 2, -h exits 0.
func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"-h"}, exitOK},
		{[]string{"-c", "../../conf/dynike.conf", "extra"}, exitUsage},
		{[]string{"-c", "../../conf/dynike.conf", "-send", "nowhere"}, exitUsage},
		{[]string{"-c", "../../conf/dynike.conf", "-echo", "70000"}, exitUsage},
		{[]string{"-c", "/nonexistent/dynike.conf"}, exitUsage},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), tc.args, &out, &errb); code != tc.code {
			t.Errorf("dynike %v: exit %d, want %d\n%s", tc.args, code, tc.code, errb.String())
		}
	}
}
