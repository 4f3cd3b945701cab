package esp

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/internal/tsharktest"
)

// TestTsharkDecrypts hands UDP-encapsulated ESP packets of both algorithms
// to tshark, an independent ESP implementation, with the SAs' keys: it must
// find the ESP header after the UDP header on port 4500, check the ICV,
// decrypt the packet and decode the inner ICMP echo, with nothing malformed.
func TestTsharkDecrypts(t *testing.T) {
	tsharktest.Require(t)
	cases := []struct {
		spi               uint32
		alg               Algorithm
		keys              Keys
		encName, authName string
		encKey, authKey   string
		wantICV           bool
	}{
		{0x00001001, AESGCM16, gcmKey, "AES-GCM with 16 octet ICV [RFC4106]", "NULL", hex.EncodeToString(gcmKey.Enc), "", false},
		{0x00001002, AESCBCHMACSHA256, cbcKey, "AES-CBC [RFC3602]", "HMAC-SHA-256-128 [RFC4868]", hex.EncodeToString(cbcKey.Enc), hex.EncodeToString(cbcKey.Auth), true},
	}
	var (
		pkts [][]byte
		uat  []string
	)
	for _, c := range cases {
		s, _ := mustPair(t, c.spi, ModeTunnel, c.alg, c.keys)
		for i := range 2 {
			inner := icmpEcho(innerA, innerB, fmt.Sprintf("tshark oracle %s %d", c.alg, i))
			esp, err := s.SealPacket(nil, inner)
			if err != nil {
				t.Fatal(err)
			}
			pkts = append(pkts, tsharktest.UDP(outerA.Addr(), outerB.Addr(), EncapPort, EncapPort, esp))
		}
		auth := `""`
		if c.authKey != "" {
			auth = `"0x` + c.authKey + `"`
		}
		uat = append(uat, fmt.Sprintf(`"IPv4","%s","%s","0x%08x","%s","0x%s","%s",%s`,
			outerA.Addr(), outerB.Addr(), c.spi, c.encName, c.encKey, c.authName, auth))
	}
	pcap := tsharktest.WritePcap(t, pkts)
	var opts []string
	opts = append(opts, "-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE")
	for _, u := range uat {
		opts = append(opts, "-o", "uat:esp_sa:"+u)
	}
	rows := tsharktest.Fields(t, pcap, opts, "esp.spi", "esp.sequence", "esp.protocol", "icmp.type", "ip.dst", "data.text", "esp.icv_good")
	if len(rows) != 4 {
		t.Fatalf("tshark decoded %d packets, want 4: %v", len(rows), rows)
	}
	for i, r := range rows {
		c := cases[i/2]
		if !strings.Contains(r[0], fmt.Sprintf("%#08x", c.spi)) && !strings.Contains(r[0], fmt.Sprint(c.spi)) {
			t.Errorf("packet %d: SPI %q, want %#x", i, r[0], c.spi)
		}
		if r[1] != fmt.Sprint(i%2+1) {
			t.Errorf("packet %d: sequence %q, want %d", i, r[1], i%2+1)
		}
		if r[2] != "0x04" && r[2] != "4" {
			t.Errorf("packet %d: next header %q, want 4 (IPv4)", i, r[2])
		}
		if r[3] != "8" || !strings.Contains(r[4], innerB.String()) {
			t.Errorf("packet %d: tshark did not decode the inner ICMP echo to %s: %q", i, innerB, r)
		}
		if c.wantICV && r[6] != "1" && !strings.EqualFold(r[6], "true") {
			t.Errorf("packet %d: tshark did not find the ICV good: %q", i, r[6])
		}
	}
	if problems := tsharktest.Expert(t, pcap, opts...); len(problems) > 0 {
		t.Errorf("tshark found problems:\n%s", strings.Join(problems, "\n"))
	}
}
