package swantest

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// The configuration of the interop notes: PSK, MOBIKE, both proposal
// families, a tunnel-mode child between the inner addresses.
const (
	mnConf = `connections {
  mn {
    version = 2
    local_addrs = ` + MNAddr + `
    remote_addrs = ` + HAAddr + `
    mobike = yes
    proposals = aes128-sha256-modp2048, aes128gcm16-prfsha256-x25519
    local {
      auth = psk
      id = mn@example.org
    }
    remote {
      auth = psk
      id = ha@example.org
    }
    children {
      mip {
        local_ts = ` + MNInner + `/32
        remote_ts = ` + HAInner + `/32
        mode = tunnel
        esp_proposals = aes128gcm16, aes128-sha256
      }
    }
  }
}
` + secrets
	haConf = `connections {
  ha {
    version = 2
    local_addrs = ` + HAAddr + `
    remote_addrs = %any
    mobike = yes
    proposals = aes128-sha256-modp2048, aes128gcm16-prfsha256-x25519
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
        local_ts = ` + HAInner + `/32
        remote_ts = ` + MNInner + `/32
        mode = tunnel
        esp_proposals = aes128gcm16, aes128-sha256
      }
    }
  }
}
` + secrets
	secrets = `secrets {
  ike-1 {
    id-a = mn@example.org
    id-b = ha@example.org
    secret = "0sdGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0"
  }
}
`
)

// TestCharonToCharon checks the harness itself: two charons in their own
// namespaces bring up an IKE SA and a child SA, carry pings through
// kernel-libipsec, log their keys at ike level 4, and follow a MOBIKE move of
// the initiator's address.
func TestCharonToCharon(t *testing.T) {
	Require(t)
	mnNS, haNS := Pair(t)
	ha := Start(t, haNS, Options{Swanctl: haConf})
	mn := Start(t, mnNS, Options{Swanctl: mnConf, IKELevel: 4})
	if err := mn.Initiate("mip"); err != nil {
		t.Fatal(err)
	}
	out, err := ha.WaitSAs(10*time.Second, regexp.MustCompile(`ESTABLISHED`), regexp.MustCompile(`INSTALLED, TUNNEL-in-UDP`))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := mnNS.Output("ping", "-c", "2", "-W", "2", "-I", MNInner, HAInner); err != nil {
		t.Fatalf("ping through the child SA: %v\n%s", err, out)
	}

	keys := mn.LoggedSecrets()
	for _, k := range []string{"SK_d", "SK_ai", "SK_ar", "SK_ei", "SK_er", "SK_pi", "SK_pr"} {
		if len(keys[k]) == 0 {
			t.Errorf("charon logged no %s at ike level 4", k)
		}
	}

	// MOBIKE: the initiator's address moves; the same IKE SA follows.
	spi := regexp.MustCompile(`([0-9a-f]{16})_i ([0-9a-f]{16})_r`).FindString(out)
	// Keep the added address when the first one in its subnet goes.
	mnNS.Sysctl("net.ipv4.conf.all.promote_secondaries", "1")
	mnNS.Sysctl("net.ipv4.conf."+Dev+".promote_secondaries", "1")
	mnNS.Addr(Dev, MNMoved+"/24")
	mnNS.Run("ip", "addr", "del", MNAddr+"/24", "dev", Dev)
	out, err = ha.WaitSAs(20*time.Second, regexp.MustCompile(`remote 'mn@example.org' @ `+regexp.QuoteMeta(MNMoved)))
	if err != nil {
		t.Fatalf("MOBIKE move not seen by the responder: %v\n%s", err, out)
	}
	if spi == "" || !strings.Contains(out, spi) {
		t.Errorf("the IKE SA after the move is not the one before (%q):\n%s", spi, out)
	}
	if out, err := mnNS.Output("ping", "-c", "2", "-W", "2", "-I", MNInner, HAInner); err != nil {
		t.Fatalf("ping after the move: %v\n%s", err, out)
	}
}

func TestParseSecrets(t *testing.T) {
	// As charon writes them: without a time format, and with one.
	log := `07[IKE] Sk_ei secret => 16 bytes @ 0x7f3790002270
07[IKE]    0: 00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE FF  ."3DUfw........
Nov 22 22:10:01 08[IKE] Sk_ai secret => 20 bytes @ 0x7f3790002230
Nov 22 22:10:01 08[IKE]    0: 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10  ................
Nov 22 22:10:01 08[IKE]   16: 11 12 13 14                                      ....
07[IKE] Sk_er secret => 16 bytes @ 0x7f3790002280
07[IKE] something else
`
	s := ParseSecrets(log)
	if got := string(s["SK_ei"]); got != "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff" {
		t.Errorf("SK_ei = %x", got)
	}
	if len(s["SK_ai"]) != 20 || s["SK_ai"][19] != 0x14 {
		t.Errorf("SK_ai = %x", s["SK_ai"])
	}
	if _, ok := s["SK_er"]; ok {
		t.Errorf("a key cut short was kept: %x", s["SK_er"])
	}
}
