package mobikex

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/internal/tsharktest"
	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// The IKE SA of the tshark test: ENCR_NULL without integrity, so tshark's
// decryption table opens the SK payloads and decodes the notifications
// inside.
const (
	tsharkSPIi = ikev2.SPI(0x0102030405060708)
	tsharkSPIr = ikev2.SPI(0x1112131415161718)
)

// TestTshark has tshark's isakmp dissector decode INFORMATIONAL exchanges
// carrying selector sets, the answers (errors, CLOSING_SA) and the version
// notifications as the package writes them: every notification's type and
// data must be what the package sent, with no malformed packet and no
// expert warning.
func TestTshark(t *testing.T) {
	tsharktest.Require(t)
	var request []ikev2.Payload
	for _, s := range testSets() {
		ps, err := s.Payloads()
		if err != nil {
			t.Fatal(err)
		}
		request = append(request, ps...)
	}
	response := []ikev2.Payload{
		(&Error{Type: ikev2.NotifyUnacceptableAddress, ID: 3, Param: ipParam(IP{Addr: v4b, New: true})}).Notify(),
		(&Error{Type: ikev2.NotifyUnacceptableParameter, ID: 0, Param: unknownParam(90)}).Notify(),
		(&Error{Type: ikev2.NotifyDoesNotFitSPD, ID: 1}).Notify(),
		(&Error{Type: ikev2.NotifyUnexpectedPayloadAfterSelector, ID: 4}).Notify(),
		(&Error{Type: ikev2.NotifyUnmatchedSelectorSet, ID: 5}).Notify(),
		ClosingNotify(2, ChildSPI(0xabcdef01), CurrentIKE()),
		UnsupportedNotify(VersionMOBIKE),
		SupportedNotify(VersionParam(VersionMOBIKEX, true), VersionParam(VersionMOBIKE, false)),
	}
	msgs := []struct {
		flags   ikev2.Flags
		payload []ikev2.Payload
	}{
		{ikev2.FlagInitiator, request},
		{ikev2.FlagResponse, response},
	}
	mn, ha := netip.MustParseAddr("192.168.100.1"), netip.MustParseAddr("192.168.100.2")
	var packets [][]byte
	var wantTypes, wantData []string
	for _, m := range msgs {
		first, plain, err := ikev2.MarshalPayloads(m.payload)
		if err != nil {
			t.Fatal(err)
		}
		msg := &ikev2.Message{
			Header: ikev2.Header{SPIi: tsharkSPIi, SPIr: tsharkSPIr, Exchange: ikev2.ExchangeInformational,
				Flags: m.flags, MessageID: 7},
			Payloads: []ikev2.Payload{&ikev2.SK{NextPayload: first, Data: append(plain, 0)}}, // pad length 0
		}
		b, err := msg.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		src, dst := mn, ha
		if m.flags&ikev2.FlagResponse != 0 {
			src, dst = ha, mn
		}
		packets = append(packets, tsharktest.UDP(src, dst, 500, 500, b))
		var types, data []string
		for _, p := range m.payload {
			n := p.(*ikev2.Notify)
			types = append(types, fmt.Sprint(uint16(n.NotifyType)))
			if len(n.Data) > 0 {
				data = append(data, hex.EncodeToString(n.Data))
			}
		}
		wantTypes = append(wantTypes, strings.Join(types, ","))
		wantData = append(wantData, strings.Join(data, ","))
	}
	pcap := tsharktest.WritePcap(t, packets)
	opts := []string{"-o", fmt.Sprintf(`uat:ikev2_decryption_table:%s,%s,"","","NULL [RFC2410]","","","NONE [RFC4306]"`,
		tsharkSPIi, tsharkSPIr)}
	rows := tsharktest.Fields(t, pcap, opts, "isakmp.notify.msgtype", "isakmp.notify.data")
	if len(rows) != len(msgs) {
		t.Fatalf("tshark decoded %d packets, want %d", len(rows), len(msgs))
	}
	for i, row := range rows {
		if len(row) < 2 {
			t.Fatalf("packet %d: fields %q", i+1, row)
		}
		if row[0] != wantTypes[i] {
			t.Errorf("packet %d: notify types %q, want %q", i+1, row[0], wantTypes[i])
		}
		if strings.ReplaceAll(row[1], ":", "") != wantData[i] {
			t.Errorf("packet %d: notify data\n %q\nwant %q", i+1, row[1], wantData[i])
		}
	}
	for _, p := range tsharktest.Expert(t, pcap, opts...) {
		t.Errorf("tshark: %s", p)
	}
}
