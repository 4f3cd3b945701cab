package ike

import (
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/dynamics-go/dynamics/internal/tsharktest"
)

// capture records every datagram on the in-memory network as an IPv4/UDP
// packet, for tshark.
type capture struct {
	mu   sync.Mutex
	pkts [][]byte
}

func (c *capture) hook(from, to netip.AddrPort, b []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pkts = append(c.pkts, tsharktest.UDP(from.Addr(), to.Addr(), from.Port(), to.Port(), b))
	return false
}

// decryptArgs are tshark's options to decrypt the IKE SAs of key logs.
func decryptArgs(logs ...string) []string {
	var args []string
	for _, l := range logs {
		for _, line := range strings.Split(strings.TrimSpace(l), "\n") {
			if line != "" {
				args = append(args, "-o", "uat:ikev2_decryption_table:"+line)
			}
		}
	}
	return args
}

// TestTshark runs every exchange over the in-memory network, then has
// tshark decrypt the capture with the logged keys: every message decodes,
// the SK payloads open (their inner payloads are seen), and tshark reports
// nothing malformed.
func TestTshark(t *testing.T) {
	tsharktest.Require(t)
	for _, f := range []string{"aes128gcm16-prfsha256-x25519", "aes128-sha256-modp2048"} {
		t.Run(f, func(t *testing.T) {
			var c capture
			mn, ha, n := pair(t, func(mc, hc *Config) {
				mc.IKEProposals = []Proposal{MustParseProposal(f, false)}
				hc.IKEProposals = mc.IKEProposals
				mc.MOBIKE, hc.MOBIKE = true, true
				mc.MOBIKEX, hc.MOBIKEX = true, true
			})
			n.Drop = c.hook
			info := up(t, mn)
			if _, err := mn.e.CreateChild(ctx(t), info.LocalSPI); err != nil {
				t.Fatal(err)
			}
			if _, err := mn.e.RekeyChild(ctx(t), info.LocalSPI, info.Children[0].InSPI); err != nil {
				t.Fatal(err)
			}
			if err := mn.e.Liveness(ctx(t), info.LocalSPI); err != nil {
				t.Fatal(err)
			}
			// MOBIKE-X: add a second address, move to it, drop the first.
			mn.addAddress(mnMoved)
			if err := mn.e.AddAddress(ctx(t), info.LocalSPI, netip.MustParseAddr(mnMoved), nil); err != nil {
				t.Fatal(err)
			}
			if err := mn.e.RemoveAddress(ctx(t), info.LocalSPI, netip.MustParseAddr(mnAddr)); err != nil {
				t.Fatal(err)
			}
			nsa, err := mn.e.RekeyIKE(ctx(t), info.LocalSPI)
			if err != nil {
				t.Fatal(err)
			}
			eventually(t, "the old IKE SA deleted", func() bool { return len(ha.sas()) == 1 })
			if err := mn.e.Delete(ctx(t), nsa.LocalSPI); err != nil {
				t.Fatal(err)
			}
			c.mu.Lock()
			pcap := tsharktest.WritePcap(t, c.pkts)
			c.mu.Unlock()
			args := decryptArgs(mn.keys.String())
			if p := tsharktest.Expert(t, pcap, args...); len(p) > 0 {
				t.Errorf("tshark: %s", strings.Join(p, "\n"))
			}
			rows := tsharktest.Fields(t, pcap, args, "isakmp.exchangetype", "isakmp.id.data.user_fqdn", "isakmp.delete.spi", "isakmp.ts.start_ipv4", "isakmp.typepayload")
			c.mu.Lock()
			sent := len(c.pkts)
			c.mu.Unlock()
			if len(rows) != sent {
				t.Fatalf("tshark decoded %d of %d messages", len(rows), sent)
			}
			seen := map[string]int{}
			var ids, deletes, selectors []string
			for _, r := range rows {
				for len(r) < 5 {
					r = append(r, "")
				}
				seen[r[0]]++
				if r[1] != "" {
					ids = append(ids, r[1])
				}
				if r[2] != "" {
					deletes = append(deletes, r[2])
				}
				if r[3] != "" {
					selectors = append(selectors, r[3])
				}
			}
			// IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA and INFORMATIONAL
			// (34, 35, 36, 37), requests and responses.
			for _, x := range []string{"34", "35", "36", "37"} {
				if seen[x] < 2 {
					t.Errorf("exchange type %s seen %d times: %v", x, seen[x], seen)
				}
			}
			// What only decryption shows: the identities in IKE_AUTH,
			// the selectors of the child SAs, the deleted SPIs.
			// IKE_AUTH request: IDi and IDr; response: IDr.
			if strings.Join(ids, " ") != "mn@example.org,ha@example.org ha@example.org" {
				t.Errorf("identities decrypted: %q", ids)
			}
			if len(selectors) < 4 {
				t.Errorf("traffic selectors decrypted: %q", selectors)
			}
			if len(deletes) < 2 {
				t.Errorf("deletes decrypted: %q", deletes)
			}
		})
	}
}
