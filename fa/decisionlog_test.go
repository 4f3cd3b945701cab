package fa

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// decisionMsgs are the messages of the agent's registration decisions,
// its own and the home agent's it relays.
var decisionMsgs = regexp.MustCompile(`msg="(registration accepted|registration denied|registration denied by home agent|deregistration accepted)"`)

// Every registration decision the mobile hears of is one Info line with
// the suite's fixed keys: home address, care-of address, home agent,
// identification, code and the visitor interface.
func TestDecisionLogLines(t *testing.T) {
	id := mip.TimestampID(start)
	otherCoA := netip.MustParseAddr("10.0.2.2")
	for _, c := range []struct {
		name string
		cfg  func(*Config)
		req  *mip.Request
		raw  func([]byte) []byte
		ha   func(b *bed, relayed *mip.Request) // the home agent's part; nil: none
		msg  string
		coa  netip.Addr
		code mip.Code
	}{
		{name: "accepted", req: request(home, id, 600, 0), msg: "registration accepted", code: mip.CodeAccepted,
			ha: func(b *bed, r *mip.Request) { b.haSend(marshal(t, haReply(r, mip.CodeAccepted, 600, fhSA))) }},
		{name: "deregistration", req: request(home, id, 0, 0), msg: "deregistration accepted", code: mip.CodeAccepted,
			ha: func(b *bed, r *mip.Request) { b.haSend(marshal(t, haReply(r, mip.CodeAccepted, 0, fhSA))) }},
		{name: "denied by the home agent", req: request(home, id, 600, 0), msg: "registration denied by home agent",
			code: mip.CodeHAMobileAuthFailed,
			ha:   func(b *bed, r *mip.Request) { b.haSend(marshal(t, haReply(r, mip.CodeHAMobileAuthFailed, 0, fhSA))) }},
		{name: "home agent failed authentication", req: request(home, id, 600, 0), msg: "registration denied",
			code: mip.CodeFAHomeAgentAuthFailed, ha: func(b *bed, r *mip.Request) {
				wrong := mip.SecurityAssociation{SPI: fhSA.SPI, Alg: fhSA.Alg, Key: []byte("wrong")}
				b.haSend(marshal(t, haReply(r, mip.CodeAccepted, 600, wrong)))
			}},
		{name: "timeout", req: request(home, id, 600, 0), msg: "registration denied", code: mip.CodeFATimeout,
			ha: func(b *bed, _ *mip.Request) { b.advance(7 * time.Second) }},
		{name: "lifetime too long", req: request(home, id, 601, 0), msg: "registration denied", code: mip.CodeFALifetimeTooLong},
		{name: "encapsulation", req: request(home, id, 600, mip.FlagGRE), msg: "registration denied", code: mip.CodeFAEncapsulation},
		{name: "reverse tunnel", cfg: func(c *Config) { c.ReverseTunnel = false }, req: request(home, id, 600, mip.FlagReverseTunnel),
			msg: "registration denied", code: mip.CodeFAReverseTunnel},
		{name: "visitor list full", cfg: func(c *Config) { c.MaxVisitors = 1 }, req: request(home2, id, 600, 0),
			msg: "registration denied", code: mip.CodeFAInsufficientResources},
		{name: "care-of address", coa: otherCoA, req: func() *mip.Request {
			r := &mip.Request{Lifetime: 600, Home: home, HomeAgent: haAddr, CareOf: otherCoA, ID: id}
			_ = r.Authenticate(mip.TypeMobileHome, mnSA)
			return r
		}(), msg: "registration denied", code: mip.CodeFAInvalidCareOf},
		{name: "poorly formed", req: request(home, id, 600, 0), raw: func(b []byte) []byte { return b[:len(b)-3] },
			msg: "registration denied", code: mip.CodeFAPoorRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig()
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			b := newBed(t, cfg)
			if c.code == mip.CodeFAInsufficientResources {
				b.register(b.mn, home, id-1, 600, 0)
			}
			raw := marshal(t, c.req)
			if c.raw != nil {
				raw = c.raw(raw)
			}
			mark := len(b.logs.String())
			b.send(b.mn, c.req.Home, raw)
			if c.ha != nil {
				c.ha(b, b.haRelayed())
			}
			if r := b.replyFor(b.mn); r.Code != c.code {
				t.Fatalf("reply %s, want %s", r.Code, c.code)
			}
			var lines []string
			for _, l := range strings.Split(b.logs.String()[mark:], "\n") {
				if decisionMsgs.MatchString(l) {
					lines = append(lines, l)
				}
			}
			if len(lines) != 1 {
				t.Fatalf("%d decision lines, want 1: %q", len(lines), lines)
			}
			coaWant := coa
			if c.coa.IsValid() {
				coaWant = c.coa
			}
			want := fmt.Sprintf(`level=INFO msg="%s" home=%s coa=%s ha=%s id=%d code=%d iface=eth1`,
				c.msg, c.req.Home, coaWant, haAddr, c.req.ID, c.code)
			if !strings.Contains(lines[0], want) {
				t.Errorf("decision line\n%s\nwant it to hold\n%s", lines[0], want)
			}
		})
	}
}
