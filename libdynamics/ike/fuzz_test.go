package ike

import (
	"io"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/dynamics-go/dynamics/internal/memnet"
	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
	"github.com/dynamics-go/dynamics/libdynamics/ikev2/ikecrypto"
)

// fuzzSeeds are an IKE_SA_INIT request as an initiator sends it, and
// encrypted-looking IKE_AUTH and INFORMATIONAL messages.
func fuzzSeeds(f *testing.F) [][]byte {
	dh, err := ikecrypto.NewDH(ikecrypto.GroupCurve25519)
	if err != nil {
		f.Fatal(err)
	}
	nonce := make([]byte, 32)
	spi := ikev2.SPI(0x0102030405060708)
	natd := ikecrypto.NATDetectionHash(spi, 0, netip.MustParseAddrPort(mnAddr+":500"))
	var out [][]byte
	for _, m := range []*ikev2.Message{
		{Header: ikev2.Header{SPIi: spi, Exchange: ikev2.ExchangeIKESAInit, Flags: ikev2.FlagInitiator}, Payloads: []ikev2.Payload{
			saPayload(DefaultIKEProposals, ikev2.ProtocolIKE, nil),
			&ikev2.KE{Group: ikev2.DHCurve25519, Data: dh.PublicValue()},
			&ikev2.Nonce{Data: nonce},
			ikev2.NewNotify(ikev2.NotifyNATDetectionSourceIP, natd[:]),
			ikev2.NewNotify(ikev2.NotifyNATDetectionDestinationIP, natd[:]),
		}},
		{Header: ikev2.Header{SPIi: spi, SPIr: 9, Exchange: ikev2.ExchangeIKEAuth, Flags: ikev2.FlagInitiator, MessageID: 1}, Payloads: []ikev2.Payload{
			&ikev2.SK{NextPayload: ikev2.PayloadIDi, Data: make([]byte, 80)},
		}},
		{Header: ikev2.Header{SPIi: spi, SPIr: 9, Exchange: ikev2.ExchangeInformational, Flags: ikev2.FlagInitiator | ikev2.FlagResponse, MessageID: 2}, Payloads: []ikev2.Payload{
			&ikev2.SK{NextPayload: ikev2.PayloadNone, Data: make([]byte, 32)},
		}},
	} {
		b, err := m.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzHandle feeds a datagram to a responder's loop, as its socket reader
// would, on each of its sockets: whatever arrives, the engine answers or
// drops it without panicking, and its timers still run.
func FuzzHandle(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte{})
	f.Add(make([]byte, ikev2.HeaderLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, hc := baseConfigs()
		hc.CookieThreshold = 2
		n := memnet.New()
		e, err := New(Options{Config: hc, Sockets: sockets(t, n, netip.MustParseAddr(haAddr)), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		from := netip.MustParseAddrPort(mnAddr + ":500")
		for _, s := range e.socks {
			raw := append([]byte(nil), b...)
			m, perr := ikev2.Parse(raw)
			e.handlePacket(packet{msg: m, raw: raw, from: from, sock: s, err: perr})
		}
		e.runDue()
		if len(e.sas) > 2 {
			t.Fatalf("one datagram per socket made %d SAs", len(e.sas))
		}
	})
}
