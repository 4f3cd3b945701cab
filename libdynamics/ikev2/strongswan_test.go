package ikev2

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// strongSwanNames maps charon's short payload and notification names to
// the package's.
var strongSwanNames = map[string]string{
	"No":                "Nonce",
	"N(NATD_S_IP)":      "N(NAT_DETECTION_SOURCE_IP)",
	"N(NATD_D_IP)":      "N(NAT_DETECTION_DESTINATION_IP)",
	"N(FRAG_SUP)":       "N(IKEV2_FRAGMENTATION_SUPPORTED)",
	"N(HASH_ALG)":       "N(SIGNATURE_HASH_ALGORITHMS)",
	"N(REDIR_SUP)":      "N(REDIRECT_SUPPORTED)",
	"N(CHDLESS_SUP)":    "N(CHILDLESS_IKEV2_SUPPORTED)",
	"N(MULT_AUTH)":      "N(MULTIPLE_AUTH_SUPPORTED)",
	"N(INIT_CONTACT)":   "N(INITIAL_CONTACT)",
	"N(MOBIKE_SUP)":     "N(MOBIKE_SUPPORTED)",
	"N(NO_ADD_ADDR)":    "N(NO_ADDITIONAL_ADDRESSES)",
	"N(EAP_ONLY)":       "N(EAP_ONLY_AUTHENTICATION)",
	"N(MSG_ID_SYN_SUP)": "N(IKEV2_MESSAGE_ID_SYNC_SUPPORTED)",
	"N(UPD_SA_ADDR)":    "N(UPDATE_SA_ADDRESSES)",
	"N(COOKIE2)":        "N(COOKIE2)",
	"N(REKEY_SA)":       "N(REKEY_SA)",
}

// capture is one message of testdata/strongswan-5.9.8.txt.
type capture struct {
	log   string // charon's summary
	msg   []byte
	first PayloadType
	plain []byte // the SK payload's plaintext, if encrypted
}

func readCaptures(t testing.TB, path string) []capture {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cs []capture
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		key, val, _ := strings.Cut(line, ": ")
		var err error
		switch key {
		case "log":
			cs = append(cs, capture{log: val})
		case "msg":
			cs[len(cs)-1].msg, err = hex.DecodeString(val)
		case "plain":
			first, data, _ := strings.Cut(val, " ")
			var n uint64
			n, err = strconv.ParseUint(first, 10, 8)
			cs[len(cs)-1].first = PayloadType(n)
			if err == nil {
				cs[len(cs)-1].plain, err = hex.DecodeString(data)
			}
		}
		if err != nil {
			t.Fatalf("%s: %q: %v", path, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestStrongSwanCaptures parses the messages two strongSwan charons
// exchanged, with the inner payloads of the encrypted ones: each must
// parse to the payloads charon says it sent and marshal back to the same
// bytes.
func TestStrongSwanCaptures(t *testing.T) {
	cs := readCaptures(t, "testdata/strongswan-5.9.8.txt")
	if len(cs) != 16 {
		t.Fatalf("%d captured messages, want 16", len(cs))
	}
	for i, c := range cs {
		t.Run(fmt.Sprint(i+1), func(t *testing.T) {
			m, err := Parse(c.msg)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			out, err := m.Marshal()
			if err != nil || !bytes.Equal(out, c.msg) {
				t.Fatalf("Marshal: %v\n got %x\nwant %x", err, out, c.msg)
			}
			ps := m.Payloads
			if c.plain != nil {
				sk, ok := Find(m.Payloads, PayloadSK).(*SK)
				if !ok || sk.NextPayload != c.first {
					t.Fatalf("no SK payload whose first inner payload is %s: %s", c.first, m)
				}
				if ps, err = ParsePayloads(c.first, c.plain); err != nil {
					t.Fatalf("ParsePayloads: %v", err)
				}
				first, out, err := MarshalPayloads(ps)
				if err != nil || (len(ps) > 0 && first != c.first) || !bytes.Equal(out, c.plain) {
					t.Fatalf("MarshalPayloads: %s %v\n got %x\nwant %x", first, err, out, c.plain)
				}
			}
			var want []string
			for _, f := range strings.Fields(c.log) {
				if n, ok := strongSwanNames[f]; ok {
					f = n
				}
				want = append(want, f)
			}
			got := (&Message{Header: m.Header, Payloads: ps}).String()
			if w := strings.Join(want, " "); strings.Join(strings.Fields(got), " ") != w {
				t.Errorf("got  %s\nwant %s (charon: %s)", got, w, c.log)
			}
		})
	}

	// What the engine reads from them.
	upd, err := ParsePayloads(cs[8].first, cs[8].plain)
	if err != nil {
		t.Fatal(err)
	}
	if n := FindNotify(upd, NotifyCookie2); n == nil || len(n.Data) < 8 {
		t.Errorf("UPDATE_SA_ADDRESSES request without a usable COOKIE2: %v", n)
	}
	rekey, err := ParsePayloads(cs[9].first, cs[9].plain)
	if err != nil {
		t.Fatal(err)
	}
	if n := FindNotify(rekey, NotifyRekeySA); n == nil {
		t.Error("CREATE_CHILD_SA without REKEY_SA")
	} else if _, ok := n.ChildSPI(); !ok {
		t.Errorf("REKEY_SA without an ESP SPI: %v", n)
	}
	init, err := Parse(cs[0].msg)
	if err != nil {
		t.Fatal(err)
	}
	sa := init.Payloads[0].(*SA)
	if len(sa.Proposals) != 2 || sa.Proposals[0].Number != 1 || sa.Proposals[1].Number != 2 {
		t.Errorf("charon's offer: %v", sa.Proposals)
	}
	if ke := init.Payloads[1].(*KE); ke.Group != DHMODP2048 || len(ke.Data) != 256 {
		t.Errorf("charon's KE: group %s, %d octets", ke.Group, len(ke.Data))
	}
}
