package mip

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/tsharktest"
)

// tsharkFields are the fields compared with tshark's decoding, in order.
// tshark 4.0 calls the r flag "mip.v" (Van Jacobson, its RFC 2002 meaning)
// and shows the identification as an absolute time.
var tsharkFields = []string{
	"mip.type", "mip.flags",
	"mip.s", "mip.b", "mip.d", "mip.m", "mip.g", "mip.v", "mip.t", "mip.x",
	"mip.code", "mip.life", "mip.homeaddr", "mip.haaddr", "mip.coa", "mip.ident",
	"mip.ext.type", "mip.ext.len", "mip.auth.spi", "mip.auth.auth", "mip.nai", "mip.extension",
	"mip.ext.auth.subtype",
}

// tsharkMessages are the messages tshark must decode: the golden ones,
// requests with every flag and each authentication extension, and replies
// from the home agent and from a foreign agent.
func tsharkMessages(t *testing.T) []Message {
	t.Helper()
	var msgs []Message
	for _, b := range [][]byte{goldenRequestHMAC, goldenRequestPrefixSuffix, goldenRequestNAI, goldenReply} {
		m, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	mf := SecurityAssociation{SPI: 3000, Alg: KeyedMD5PrefixSuffix, Key: []byte("mobile-foreign")}
	fh := SecurityAssociation{SPI: 2001, Alg: HMACMD5, Key: []byte("foreign-home")}
	// Each flag alone, and all of them, with Mobile-Foreign after
	// Mobile-Home as a mobile node sends it to a foreign agent.
	for i := 0; i <= 8; i++ {
		f := Flags(0xff)
		if i < 8 {
			f = 1 << (7 - i)
		}
		r := &Request{
			Flags: f, Lifetime: uint16(100 * i), ID: TimestampID(time.Date(2026, 3, 5+i, 7, 8, 9, 123456789, time.UTC)),
			Home: netip.AddrFrom4([4]byte{10, 1, 0, byte(10 + i)}), HomeAgent: netip.MustParseAddr("10.1.0.1"),
			CareOf: netip.AddrFrom4([4]byte{10, 2, 0, byte(1 + i)}),
		}
		mustAuth(t, r, TypeMobileHome, goldenSAHMAC)
		mustAuth(t, r, TypeMobileForeign, mf)
		msgs = append(msgs, r)
	}
	// Relayed by the foreign agent: Foreign-Home after Mobile-Home;
	// infinite lifetime.
	r := goldenRequestValue()
	r.Lifetime = Infinite
	mustAuth(t, r, TypeMobileHome, goldenSAPrefix)
	mustAuth(t, r, TypeForeignHome, fh)
	msgs = append(msgs, r)
	// The home agent's denial on a bad identification, and a foreign
	// agent's on a reverse tunnel it cannot offer.
	deny := &Reply{Code: CodeIDMismatch, Lifetime: 0, Home: r.Home, HomeAgent: r.HomeAgent,
		ID: MismatchID(time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC), r.ID)}
	mustAuth(t, deny, TypeMobileHome, goldenSAHMAC)
	mustAuth(t, deny, TypeForeignHome, fh)
	fa := &Reply{Code: CodeFAReverseTunnel, Home: r.Home, HomeAgent: r.HomeAgent, ID: r.ID,
		Extensions: []Extension{&RawExtension{Type: 250, Data: []byte{1, 2, 3, 4, 5}}}}
	mustAuth(t, fa, TypeMobileForeign, mf)
	return append(append(msgs, deny, fa), tsharkHierarchyMessages(t)...)
}

// tsharkHierarchyMessages are the foreign agent hierarchy's messages: a
// local-move request with the MN-GFA authenticator and the FA Public Key
// fragments of two agents (a 2048-bit key's DER takes two), the home
// agent's reply with the Mobile Session Key and FA Session Key fragments,
// and a switching agent's reply with an MN-GFA authenticator.
func tsharkHierarchyMessages(t *testing.T) []Message {
	t.Helper()
	der := make([]byte, 294)
	for i := range der {
		der[i] = byte(i)
	}
	req := bytes.Clone(goldenRequestMNGFA)
	var err error
	if req, err = AppendFAPublicKey(req, FAPublicKey{Agent: netip.MustParseAddr("10.0.1.1"), DER: der}); err != nil {
		t.Fatal(err)
	}
	if req, err = AppendFAPublicKey(req, FAPublicKey{Agent: netip.MustParseAddr("10.0.0.2"), DER: der[:200]}); err != nil {
		t.Fatal(err)
	}
	if req, err = AppendAuth(req, TypeForeignHome, SecurityAssociation{SPI: 2001, Key: []byte("foreign-home")}); err != nil {
		t.Fatal(err)
	}
	rep := bytes.Clone(goldenReplySession)
	for _, a := range []string{"10.0.1.1", "10.0.0.2"} {
		if rep, err = AppendFASessionKey(rep, FASessionKey{Agent: netip.MustParseAddr(a), SPI: 0x1234, Ciphertext: der[:256]}); err != nil {
			t.Fatal(err)
		}
	}
	var msgs []Message
	for _, b := range [][]byte{req, rep, goldenReplyLocal} {
		m, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func mustAuth(t *testing.T, m interface {
	Authenticate(Type, SecurityAssociation) error
}, typ Type, sa SecurityAssociation) {
	t.Helper()
	if err := m.Authenticate(typ, sa); err != nil {
		t.Fatal(err)
	}
}

// expectedTshark renders m's fields as tshark prints them, in the order of
// tsharkFields.
func expectedTshark(m Message) []string {
	var (
		flags, code, coa string
		bits             = make([]string, 8)
		life             uint16
		home, ha         netip.Addr
		id               uint64
		exts             []Extension
	)
	switch m := m.(type) {
	case *Request:
		flags = fmt.Sprintf("0x%02x", uint8(m.Flags))
		for i := range bits {
			bits[i] = "0"
			if m.Flags&(1<<(7-i)) != 0 {
				bits[i] = "1"
			}
		}
		life, home, ha, coa, id, exts = m.Lifetime, m.Home, m.HomeAgent, m.CareOf.String(), m.ID, m.Extensions
	case *Reply:
		code = strconv.Itoa(int(m.Code))
		life, home, ha, id, exts = m.Lifetime, m.Home, m.HomeAgent, m.ID, m.Extensions
	}
	var types, lens, spis, auths, nai, data, subtypes []string
	for _, e := range exts {
		b, _ := e.AppendMarshal(nil)
		types = append(types, strconv.Itoa(int(b[0])))
		if e.Kind() == TypeGeneralizedAuth {
			// RFC 3012's 16-bit length; tshark shows the sub-type.
			lens = append(lens, strconv.Itoa(int(b[2])<<8|int(b[3])))
			subtypes = append(subtypes, strconv.Itoa(int(b[1])))
		} else {
			lens = append(lens, strconv.Itoa(int(b[1])))
		}
		switch e := e.(type) {
		case *Auth:
			spis = append(spis, fmt.Sprintf("0x%08x", e.SPI))
			auths = append(auths, hex.EncodeToString(e.Authenticator))
		case *NAI:
			nai = append(nai, e.Name)
		case *RawExtension:
			data = append(data, hex.EncodeToString(e.Data))
		case *MobileSessionKey:
			data = append(data, hex.EncodeToString(b[2:]))
		}
	}
	row := []string{strconv.Itoa(int(m.MessageType())), flags}
	row = append(row, bits...)
	return append(row, code, strconv.Itoa(int(life)), home.String(), ha.String(), coa,
		IDTime(id).Format("Jan _2, 2006 15:04:05.000000000 UTC"),
		strings.Join(types, ","), strings.Join(lens, ","), strings.Join(spis, ","),
		strings.Join(auths, ","), strings.Join(nai, ","), strings.Join(data, ","),
		strings.Join(subtypes, ","))
}

// TestTshark has tshark decode every kind of message the package builds:
// each must decode with the same field values and without a malformed
// packet or an expert warning.
func TestTshark(t *testing.T) {
	tsharktest.Require(t)
	msgs := tsharkMessages(t)
	mn, ha := netip.MustParseAddr("10.2.0.50"), netip.MustParseAddr("10.1.0.1")
	var packets [][]byte
	for _, m := range msgs {
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		src, dst := mn, ha
		if m.MessageType() == MessageReply {
			src, dst = ha, mn
		}
		packets = append(packets, tsharktest.UDP(src, dst, 434, 434, b))
	}
	pcap := tsharktest.WritePcap(t, packets)
	rows := tsharktest.Fields(t, pcap, nil, tsharkFields...)
	if len(rows) != len(msgs) {
		t.Fatalf("tshark decoded %d packets, want %d", len(rows), len(msgs))
	}
	for i, m := range msgs {
		want := expectedTshark(m)
		got := rows[i]
		for len(got) < len(want) {
			got = append(got, "")
		}
		for j, f := range tsharkFields {
			if got[j] != want[j] {
				t.Errorf("packet %d (%s): %s = %q, want %q", i+1, m.MessageType(), f, got[j], want[j])
			}
		}
	}
	for _, p := range tsharktest.Expert(t, pcap) {
		t.Errorf("tshark: %s", p)
	}
}
