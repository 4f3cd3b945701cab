package ikecrypto

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/internal/tsharktest"
	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// tsharkSuites are the IKE suites checked against tshark, with the names
// tshark's ikev2_decryption_table gives their algorithms.
var tsharkSuites = []struct {
	suite       Suite
	encr, integ string
	spiI, spiR  ikev2.SPI
}{
	{Suite{EncrAESCBC, 128, IntegHMACSHA256128, PRFHMACSHA256, GroupMODP2048}, "AES-CBC-128 [RFC3602]", "HMAC_SHA2_256_128 [RFC4868]", 0x1000000000000001, 0x2000000000000001},
	{Suite{EncrAESCBC, 256, IntegHMACSHA256128, PRFHMACSHA256, GroupMODP2048}, "AES-CBC-256 [RFC3602]", "HMAC_SHA2_256_128 [RFC4868]", 0x1000000000000002, 0x2000000000000002},
	{Suite{EncrAESGCM16, 128, IntegNone, PRFHMACSHA256, GroupCurve25519}, "AES-GCM-128 with 16 octet ICV [RFC5282]", "NONE [RFC4306]", 0x1000000000000003, 0x2000000000000003},
	{Suite{EncrAESGCM16, 256, IntegNone, PRFHMACSHA256, GroupECP256}, "AES-GCM-256 with 16 octet ICV [RFC5282]", "NONE [RFC4306]", 0x1000000000000004, 0x2000000000000004},
}

// TestTsharkDecrypts has tshark, an independent IKEv2 implementation,
// decrypt IKE_AUTH messages sealed with keys from DeriveIKEKeys: it must
// find the inner payloads, check every ICV without complaint, and complain
// about the one message whose ICV was damaged.
func TestTsharkDecrypts(t *testing.T) {
	tsharktest.Require(t)
	mn, ha := netip.MustParseAddr("192.168.100.1"), netip.MustParseAddr("192.168.100.2")
	var packets [][]byte
	var opts []string
	var wantIDs []string
	var damaged [][]byte
	for _, ts := range tsharkSuites {
		k, err := DeriveIKEKeys(ts.suite, testGir, testNi, testNr, ts.spiI, ts.spiR)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, "-o", fmt.Sprintf(`uat:ikev2_decryption_table:%s,%s,%x,%x,"%s",%x,%x,"%s"`,
			ts.spiI, ts.spiR, k.SKei, k.SKer, ts.encr, k.SKai, k.SKar, ts.integ))
		iOut, _, err := k.Ciphers(ts.suite, true)
		if err != nil {
			t.Fatal(err)
		}
		rOut, _, err := k.Ciphers(ts.suite, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, side := range []struct {
			out      Cipher
			flags    ikev2.Flags
			src, dst netip.Addr
			id       string
		}{
			{iOut, ikev2.FlagInitiator, mn, ha, "mn@example.org"},
			{rOut, ikev2.FlagResponse, ha, mn, "ha@example.org"},
		} {
			inner := []ikev2.Payload{
				ikev2.NewID(side.flags.Response(), ikev2.IDRFC822Addr, []byte(side.id)),
				&ikev2.Auth{Method: ikev2.AuthSharedKeyMIC, Data: bytes.Repeat([]byte{0x5a}, 32)},
				ikev2.NewNotify(ikev2.NotifyMOBIKESupported, nil),
			}
			m := &ikev2.Message{Header: ikev2.Header{SPIi: ts.spiI, SPIr: ts.spiR, Exchange: ikev2.ExchangeIKEAuth, Flags: side.flags, MessageID: 1}}
			b, err := SealMessage(side.out, m, inner)
			if err != nil {
				t.Fatal(err)
			}
			packets = append(packets, tsharktest.UDP(side.src, side.dst, 4500, 4500, append([]byte{0, 0, 0, 0}, b...)))
			bad := append([]byte{0, 0, 0, 0}, b...)
			bad[len(bad)-1] ^= 0x80 // the last octet of the ICV
			damaged = append(damaged, tsharktest.UDP(side.src, side.dst, 4500, 4500, bad))
			wantIDs = append(wantIDs, side.id)
		}
	}
	pcap := tsharktest.WritePcap(t, packets)
	rows := tsharktest.Fields(t, pcap, opts, "isakmp.id.data.user_fqdn", "isakmp.notify.msgtype", "isakmp.enc.pad_length")
	if len(rows) != len(packets) {
		t.Fatalf("tshark decoded %d packets, want %d", len(rows), len(packets))
	}
	for i, r := range rows {
		for len(r) < 3 {
			r = append(r, "")
		}
		if r[0] != wantIDs[i] || r[1] != "16396" {
			t.Errorf("packet %d (%s): tshark decrypted ID %q, notify %q; want %s and MOBIKE_SUPPORTED", i+1, tsharkSuites[i/2].suite, r[0], r[1], wantIDs[i])
		}
	}
	for _, p := range tsharktest.Expert(t, pcap, opts...) {
		t.Errorf("tshark: %s", p)
	}

	// The control: tshark does check the ICVs, and finds each damaged one.
	problems := strings.Join(tsharktest.Expert(t, tsharktest.WritePcap(t, damaged), opts...), "\n")
	for i := range damaged {
		if !strings.Contains(problems, fmt.Sprintf("frame %d: expert warning: IKEv2 Integrity Checksum Data is incorrect", i+1)) {
			t.Errorf("tshark found nothing wrong with damaged packet %d (%s); it reported:\n%s", i+1, tsharkSuites[i/2].suite, problems)
		}
	}
}
