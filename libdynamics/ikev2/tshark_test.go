package ikev2

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/internal/tsharktest"
)

// tsharkFields are the isakmp dissector's fields compared with the
// package's view of each message. Each field lists every occurrence in
// the packet, in tree order, joined by commas.
var tsharkFields = []string{
	"isakmp.ispi", "isakmp.rspi", "isakmp.version", "isakmp.exchangetype", "isakmp.flags",
	"isakmp.messageid", "isakmp.length", "isakmp.typepayload", "isakmp.criticalpayload",
	"isakmp.prop.number", "isakmp.prop.protoid", "isakmp.spisize", "isakmp.spi", "isakmp.prop.transforms",
	"isakmp.tf.type", "isakmp.tf.id.encr", "isakmp.tf.id.prf", "isakmp.tf.id.integ", "isakmp.tf.id.dh",
	"isakmp.tf.id.esn", "isakmp.ike2.attr.key_length",
	"isakmp.key_exchange.dh_group", "isakmp.key_exchange.data", "isakmp.nonce",
	"isakmp.notify.protoid", "isakmp.notify.msgtype", "isakmp.notify.data",
	"isakmp.notify.data.accepted_dh_group", "isakmp.notify.data.signature_hash_algorithms",
	"isakmp.id.type", "isakmp.id.data.user_fqdn", "isakmp.id.data.fqdn",
	"isakmp.auth.method", "isakmp.auth.data.sig.asn1.data", "isakmp.auth.data.sig.value",
	"isakmp.ts.number", "isakmp.ts.type", "isakmp.ts.protoid", "isakmp.ts.start_port", "isakmp.ts.end_port",
	"isakmp.ts.start_ipv4", "isakmp.ts.end_ipv4", "isakmp.ts.start_ipv6", "isakmp.ts.end_ipv6",
	"isakmp.delete.protoid", "isakmp.spinum", "isakmp.delete.spi",
	"isakmp.vid_bytes", "isakmp.cfg.type", "isakmp.cfg.attr.type",
	"isakmp.cert.encoding", "isakmp.certreq.type", "isakmp.enc.pad_length",
}

// tsharkExpect collects what tshark should print for each field.
type tsharkExpect map[string][]string

func (e tsharkExpect) add(field string, format string, args ...any) {
	e[field] = append(e[field], fmt.Sprintf(format, args...))
}

// message records the header and payloads of m; plain maps an SK payload
// to its plaintext when tshark can decrypt it.
func (e tsharkExpect) message(m *Message, plain map[*SK][]Payload) {
	e.add("isakmp.ispi", "%s", m.SPIi)
	e.add("isakmp.rspi", "%s", m.SPIr)
	e.add("isakmp.version", "0x%02x", MajorVersion<<4|m.MinorVersion)
	e.add("isakmp.exchangetype", "%d", m.Exchange)
	e.add("isakmp.flags", "0x%02x", uint8(m.Flags))
	e.add("isakmp.messageid", "0x%08x", m.MessageID)
	e.add("isakmp.length", "%d", m.Length)
	e.payloads(m.Payloads, plain)
}

func (e tsharkExpect) payloads(ps []Payload, plain map[*SK][]Payload) {
	for _, p := range ps {
		e.add("isakmp.typepayload", "%d", p.Type())
		critical := "0"
		if r, ok := p.(*RawPayload); ok && r.Critical {
			critical = "1"
		}
		e.add("isakmp.criticalpayload", "%s", critical)
		switch p := p.(type) {
		case *SA:
			for _, pr := range p.Proposals {
				e.add("isakmp.typepayload", "2")
				e.add("isakmp.prop.number", "%d", pr.Number)
				e.add("isakmp.prop.protoid", "%d", pr.Protocol)
				e.add("isakmp.spisize", "%d", len(pr.SPI))
				if len(pr.SPI) > 0 {
					e.add("isakmp.spi", "%x", pr.SPI)
				}
				e.add("isakmp.prop.transforms", "%d", len(pr.Transforms))
				for _, t := range pr.Transforms {
					e.add("isakmp.typepayload", "3")
					e.add("isakmp.tf.type", "%d", t.Type)
					field := map[TransformType]string{TransformEncr: "encr", TransformPRF: "prf",
						TransformInteg: "integ", TransformDH: "dh", TransformESN: "esn"}[t.Type]
					e.add("isakmp.tf.id."+field, "%d", t.ID)
					if bits, ok := t.KeyLength(); ok {
						e.add("isakmp.ike2.attr.key_length", "%d", bits)
					}
				}
			}
		case *KE:
			e.add("isakmp.key_exchange.dh_group", "%d", p.Group)
			e.add("isakmp.key_exchange.data", "%x", p.Data)
		case *Nonce:
			e.add("isakmp.nonce", "%x", p.Data)
		case *Notify:
			e.add("isakmp.notify.protoid", "%d", p.Protocol)
			e.add("isakmp.spisize", "%d", len(p.SPI))
			if len(p.SPI) > 0 {
				e.add("isakmp.spi", "%x", p.SPI)
			}
			e.add("isakmp.notify.msgtype", "%d", p.NotifyType)
			switch {
			case len(p.Data) == 0:
				e.add("isakmp.notify.data", "<MISSING>")
			default:
				e.add("isakmp.notify.data", "%x", p.Data)
			}
			if g, ok := p.Group(); ok {
				e.add("isakmp.notify.data.accepted_dh_group", "%d", g)
			}
			for _, h := range p.Hashes() {
				e.add("isakmp.notify.data.signature_hash_algorithms", "%d", h)
			}
		case *ID:
			e.add("isakmp.id.type", "%d", p.IDType)
			switch p.IDType {
			case IDRFC822Addr:
				e.add("isakmp.id.data.user_fqdn", "%s", p.Data)
			case IDFQDN:
				e.add("isakmp.id.data.fqdn", "%s", p.Data)
			}
		case *Auth:
			e.add("isakmp.auth.method", "%d", p.Method)
			if alg, sig, err := p.DigitalSignature(); err == nil {
				e.add("isakmp.auth.data.sig.asn1.data", "%x", alg)
				e.add("isakmp.auth.data.sig.value", "%x", sig)
			}
		case *TS:
			e.add("isakmp.ts.number", "%d", len(p.Selectors))
			for _, s := range p.Selectors {
				e.add("isakmp.ts.type", "%d", s.Type)
				e.add("isakmp.ts.protoid", "%d", s.Protocol)
				e.add("isakmp.ts.start_port", "%d", s.StartPort)
				e.add("isakmp.ts.end_port", "%d", s.EndPort)
				v := "ipv4"
				if s.Type == TSIPv6AddrRange {
					v = "ipv6"
				}
				e.add("isakmp.ts.start_"+v, "%s", s.Start)
				e.add("isakmp.ts.end_"+v, "%s", s.End)
			}
		case *Delete:
			e.add("isakmp.delete.protoid", "%d", p.Protocol)
			size := 4
			if p.Protocol == ProtocolIKE {
				size = 0
			}
			e.add("isakmp.spisize", "%d", size)
			e.add("isakmp.spinum", "%d", len(p.SPIs))
			for _, spi := range p.SPIs {
				e.add("isakmp.delete.spi", "%08x", spi)
			}
		case *VendorID:
			e.add("isakmp.vid_bytes", "%x", p.Data)
		case *CP:
			e.add("isakmp.cfg.type", "%d", p.CFGType)
			for _, a := range p.Attributes {
				e.add("isakmp.cfg.attr.type", "%d", a.Type)
			}
		case *Cert:
			e.add("isakmp.cert.encoding", "%d", p.Encoding)
		case *CertReq:
			e.add("isakmp.certreq.type", "%d", p.Encoding)
		case *SK:
			if inner, ok := plain[p]; ok {
				e.payloads(inner, plain)
				e.add("isakmp.enc.pad_length", "0")
			}
		}
	}
}

// Keys of the messages tshark decrypts: ENCR_NULL and no integrity, so
// an SK payload's content is the plaintext followed by a zero Pad Length
// octet (RFC 7296 section 3.14).
const (
	tsharkNullSPIi = SPI(0x0102030405060708)
	tsharkNullSPIr = SPI(0x1112131415161718)
)

var tsharkNullTable = fmt.Sprintf(`uat:ikev2_decryption_table:%s,%s,"","","NULL [RFC2410]","","","NONE [RFC4306]"`,
	tsharkNullSPIi, tsharkNullSPIr)

// nullSK returns a message of exchange ex carrying inner in an SK payload
// with ENCR_NULL.
func nullSK(t *testing.T, ex ExchangeType, flags Flags, id uint32, inner []Payload) (*Message, *SK) {
	t.Helper()
	first, b, err := MarshalPayloads(inner)
	if err != nil {
		t.Fatal(err)
	}
	sk := &SK{NextPayload: first, Data: append(b, 0)}
	m := &Message{Header: Header{SPIi: tsharkNullSPIi, SPIr: tsharkNullSPIr, Exchange: ex, Flags: flags, MessageID: id},
		Payloads: []Payload{sk}}
	return m, sk
}

// TestTshark has tshark's isakmp dissector decode the messages of an IKE SA's
// life as the package writes them: IKE_SA_INIT request and response with
// SA, KE, Nonce, NAT detection and other notifications, the
// INVALID_KE_PAYLOAD and COOKIE answers, an IKE_AUTH whose SK payload it
// cannot open, and, through its decryption table with ENCR_NULL, IKE_AUTH,
// MOBIKE INFORMATIONAL, CREATE_CHILD_SA and delete exchanges whose inner
// payloads it decodes. Every field must match the package's view, with no
// malformed packet and no expert warning.
func TestTshark(t *testing.T) {
	tsharktest.Require(t)
	var msgs []*Message
	plain := map[*SK][]Payload{}
	for _, b := range [][]byte{goldenInitRequest, goldenInitResponse, goldenInvalidKE, goldenCookie, goldenAuthRequest} {
		m, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	for _, c := range []struct {
		ex    ExchangeType
		flags Flags
		id    uint32
		inner []Payload
	}{
		{ExchangeIKEAuth, FlagInitiator, 1, goldenAuthPlainValue()},
		{ExchangeIKEAuth, FlagResponse, 1, []Payload{
			&ID{Responder: true, IDType: IDFQDN, Data: []byte("ha.example.org")},
			&Auth{Method: AuthSharedKeyMIC, Data: fill(0x70, 32)},
			goldenAuthPlainValue()[4], goldenAuthPlainValue()[5], goldenAuthPlainValue()[6],
			NewNotify(NotifyMOBIKESupported, nil),
			NewNotify(NotifyNoAdditionalAddresses, nil),
		}},
		{ExchangeInformational, FlagInitiator, 2, goldenMOBIKEPlainValue()},
		{ExchangeInformational, FlagResponse, 2, goldenMOBIKEPlainValue()[1:4]},
		{ExchangeCreateChildSA, FlagResponse, 3, goldenRekeyPlainValue()},
		{ExchangeInformational, FlagInitiator, 4, goldenDeletePlainValue()},
		{ExchangeIKEAuth, FlagInitiator, 5, append(goldenCertPlainValue()[:3:3], goldenCertPlainValue()[4])},
	} {
		m, sk := nullSK(t, c.ex, c.flags, c.id, c.inner)
		plain[sk] = c.inner
		msgs = append(msgs, m)
	}

	mn, ha := netip.MustParseAddr("192.168.100.1"), netip.MustParseAddr("192.168.100.2")
	var packets [][]byte
	for i, m := range msgs {
		b, err := m.Marshal()
		if err != nil {
			t.Fatalf("message %d: %v", i+1, err)
		}
		m.Length = uint32(len(b))
		src, dst := mn, ha
		if m.IsResponse() {
			src, dst = ha, mn
		}
		packets = append(packets, tsharktest.UDP(src, dst, 500, 500, b))
	}
	pcap := tsharktest.WritePcap(t, packets)
	opts := []string{"-o", tsharkNullTable}
	rows := tsharktest.Fields(t, pcap, opts, tsharkFields...)
	if len(rows) != len(msgs) {
		t.Fatalf("tshark decoded %d packets, want %d", len(rows), len(msgs))
	}
	for i, m := range msgs {
		want := tsharkExpect{}
		want.message(m, plain)
		got := rows[i]
		for j, f := range tsharkFields {
			g := ""
			if j < len(got) {
				g = got[j]
			}
			if w := strings.Join(want[f], ","); g != w {
				t.Errorf("packet %d (%s): %s = %q, want %q", i+1, m, f, g, w)
			}
		}
	}
	for _, p := range tsharktest.Expert(t, pcap, opts...) {
		t.Errorf("tshark: %s", p)
	}
}

// TestTsharkNames checks the package's IANA names and numbers against the
// value tables of tshark's isakmp dissector, a registry copy kept apart
// from this package: every notification, exchange, integrity transform,
// traffic selector and hash type tshark knows by the same name must have
// the same number.
func TestTsharkNames(t *testing.T) {
	tsharktest.Require(t)
	tables := tsharkValues(t)
	check := func(field string, ours map[uint64]string) {
		t.Helper()
		theirs := tables[field]
		if len(theirs) == 0 {
			t.Fatalf("tshark has no value table for %s", field)
		}
		matched := 0
		for v, name := range ours {
			names := theirs[v]
			if len(names) == 0 {
				continue // newer than tshark 4.0
			}
			ok := false
			for _, n := range names {
				if normalise(n) == normalise(name) {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s %d: ours %q, tshark %q", field, v, name, names)
				continue
			}
			matched++
		}
		if matched < len(ours)/2 {
			t.Errorf("%s: only %d of %d names found in tshark's table", field, matched, len(ours))
		}
	}
	notify := map[uint64]string{}
	for v, n := range notifyNames {
		// tshark 4.0 labels 46 CHILD_SA_NOT_FOUND, a copy of 44.
		if v != NotifyAuthorizationFailed {
			notify[uint64(v)] = n
		}
	}
	check("isakmp.notify.msgtype", notify)
	exch := map[uint64]string{}
	for v, n := range exchangeNames {
		exch[uint64(v)] = n
	}
	check("isakmp.exchangetype", exch)
	integ := map[uint64]string{}
	for v, n := range integNames {
		if v != IntegNone {
			integ[uint64(v)] = n
		}
	}
	check("isakmp.tf.id.integ", integ)
	ts := map[uint64]string{}
	for v, n := range tsTypeNames {
		ts[uint64(v)] = n
	}
	check("isakmp.ts.type", ts)
	hashes := map[uint64]string{}
	for v, n := range hashNames {
		hashes[uint64(v)] = n
	}
	check("isakmp.notify.data.signature_hash_algorithms", hashes)
	prf := map[uint64]string{}
	for v, n := range prfNames {
		// tshark 4.0 misspells 4 (PRF_AES128_CBC) and 8 (PRF_AES128_CMAC6).
		if v != PRFAES128XCBC && v != PRFAES128CMAC {
			prf[uint64(v)] = n
		}
	}
	check("isakmp.tf.id.prf", prf)
}

// normalise folds the spelling differences between registries' names:
// case, hyphens and underscores.
func normalise(s string) string {
	return strings.NewReplacer("-", "", "_", "", " ", "").Replace(strings.ToUpper(s))
}

// tsharkValues reads `tshark -G values`: for each isakmp field, the names
// of each value (value strings "V" and single-value ranges "R").
func tsharkValues(t *testing.T) map[string]map[uint64][]string {
	t.Helper()
	cmd := exec.Command("tshark", "-G", "values")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark -G values: %v", err)
	}
	out := string(raw)
	tables := map[string]map[uint64][]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "\t")
		var (
			v    uint64
			name string
			err  error
		)
		switch {
		case len(f) == 4 && f[0] == "V" && strings.HasPrefix(f[1], "isakmp."):
			v, err = strconv.ParseUint(f[2], 0, 64)
			name = f[3]
		case len(f) == 5 && f[0] == "R" && strings.HasPrefix(f[1], "isakmp.") && f[2] == f[3]:
			v, err = strconv.ParseUint(f[2], 0, 64)
			name = f[4]
		default:
			continue
		}
		if err != nil {
			continue
		}
		if tables[f[1]] == nil {
			tables[f[1]] = map[uint64][]string{}
		}
		tables[f[1]][v] = append(tables[f[1]][v], strings.TrimSpace(name))
	}
	return tables
}
