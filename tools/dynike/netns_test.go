package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/netnstest"
	"github.com/dynamics-go/dynamics/internal/swantest"
)

// buildDynike builds the command into a temporary directory.
func buildDynike(t *testing.T) string {
	t.Helper()
	bin := netnstest.BuildCommand(t, "", "dynike")
	return bin
}

// writeConf writes a dynike configuration for one side of swantest.Pair.
func writeConf(t *testing.T, role string) string {
	t.Helper()
	local, remote, lid, rid, lts, rts := swantest.MNAddr, swantest.HAAddr, "mn@example.org", "ha@example.org", swantest.MNInner, swantest.HAInner
	if role == "responder" {
		local, remote, lid, rid, lts, rts = swantest.HAAddr, "", "ha@example.org", "mn@example.org", swantest.HAInner, swantest.MNInner
	}
	text := fmt.Sprintf("Role %s\nLocalAddress %s\nLocalID %s\nRemoteID %s\nPSK testtesttesttesttesttest\nLocalTS %s/32\nRemoteTS %s/32\nESP userspace\nRetransmit 500ms\n",
		role, local, lid, rid, lts, rts)
	if remote != "" {
		text += "RemoteAddress " + remote + "\n"
	}
	path := filepath.Join(t.TempDir(), role+".conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDynikePair: dynike as responder echoing UDP, dynike as initiator
// sending through the child SA, over the userspace ESP data path.
func TestDynikePair(t *testing.T) {
	netnstest.RequireRoot(t)
	bin := buildDynike(t)
	mnNS, haNS := swantest.Pair(t)
	_, respOut := haNS.Start(bin, "-c", writeConf(t, "responder"), "-echo", "7000", "-timeout", "20s")
	out, err := mnNS.Output(bin, "-c", writeConf(t, "initiator"), "-send", swantest.HAInner+":7000", "-count", "3", "-timeout", "10s")
	if err != nil {
		t.Fatalf("dynike initiator: %v\n%s\nresponder:\n%s", err, out, respOut.String())
	}
	if strings.Count(out, "reply from "+swantest.HAInner+":7000") != 3 || !strings.Contains(out, "UDP-encapsulated, MOBIKE") {
		t.Errorf("initiator output:\n%s", out)
	}
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(respOut.String(), "echo ") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(respOut.String(), "child SA") || !strings.Contains(respOut.String(), "echo ") {
		t.Errorf("responder output:\n%s", respOut.String())
	}
}

// TestDynikeCharon: dynike initiates to strongSwan's charon and gets UDP
// echoed through the child SA by a server behind charon.
func TestDynikeCharon(t *testing.T) {
	swantest.Require(t)
	bin := buildDynike(t)
	mnNS, haNS := swantest.Pair(t)
	swantest.Start(t, haNS, swantest.Options{Swanctl: charonResponder})
	var srv *net.UDPConn
	if err := haNS.Do(func() error {
		var err error
		srv, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(swantest.HAInner), Port: 7000})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := srv.ReadFromUDP(buf)
			if err != nil {
				return
			}
			_, _ = srv.WriteToUDP(buf[:n], from)
		}
	}()
	keylog := filepath.Join(t.TempDir(), "keys")
	out, err := mnNS.Output(bin, "-c", writeConf(t, "initiator"), "-send", swantest.HAInner+":7000", "-count", "2", "-timeout", "10s", "-keylog", keylog)
	if err != nil {
		t.Fatalf("dynike: %v\n%s", err, out)
	}
	if strings.Count(out, "reply from") != 2 {
		t.Errorf("output:\n%s", out)
	}
	if b, err := os.ReadFile(keylog); err != nil || !strings.Contains(string(b), "AES-GCM-128 with 16 octet ICV [RFC5282]") {
		t.Errorf("key log %q: %v", b, err)
	}
}

const charonResponder = `connections {
  ha {
    version = 2
    local_addrs = ` + swantest.HAAddr + `
    remote_addrs = %any
    mobike = yes
    proposals = aes128gcm16-prfsha256-x25519, aes128-sha256-modp2048
    local {
      auth = psk
      id = ha@example.org
    }
    remote {
      auth = psk
      id = mn@example.org
    }
    children {
      mip {
        local_ts = ` + swantest.HAInner + `/32
        remote_ts = ` + swantest.MNInner + `/32
        mode = tunnel
        esp_proposals = aes128gcm16, aes128-sha256
      }
    }
  }
}
secrets {
  ike-1 {
    id-a = mn@example.org
    id-b = ha@example.org
    secret = "0sdGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0"
  }
}
`
