package ha

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// decisionMsgs are the messages of the agent's registration decisions.
var decisionMsgs = regexp.MustCompile(`msg="(registration accepted|registration denied|deregistration accepted)"`)

// decisionLines returns the decision lines logged since mark bytes of log.
func (b *bed) decisionLines(mark int) []string {
	var out []string
	for _, l := range strings.Split(b.logs.String()[mark:], "\n") {
		if decisionMsgs.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// Every registration decision is one log line, at Info (Debug for a
// renewal to the same care-of address, Warn for failed authentication,
// Error for a kernel failure), carrying the suite's fixed
// keys: the home address, care-of address, home agent named by the
// request, the sender (fa), the identification and the reply code.
func TestDecisionLogLines(t *testing.T) {
	wrong := mip.SecurityAssociation{SPI: mnSA.SPI, Alg: mnSA.Alg, Key: []byte("not the key")}
	other := netip.MustParseAddr("10.1.0.99")
	tests := []struct {
		name  string
		cfg   func(*Config)
		setup func(*bed)
		req   req
		raw   func([]byte) []byte // what is sent instead of the request
		msg   string
		level string
		code  mip.Code
	}{
		{name: "accepted", req: req{support: true, fh: &fa1SA}, msg: "registration accepted", level: "INFO", code: mip.CodeAccepted},
		{name: "accepted, S", req: req{flags: mip.FlagSimultaneous, fh: &fa1SA}, msg: "registration accepted", level: "INFO",
			code: mip.CodeAcceptedNoSimultaneous},
		{name: "renewal, same care-of address", setup: func(b *bed) { b.register(req{}) }, req: req{support: true, fh: &fa1SA},
			msg: "registration accepted", level: "DEBUG", code: mip.CodeAccepted},
		{name: "move", setup: func(b *bed) { b.register(req{coa: fa2Addr}) }, req: req{support: true, fh: &fa1SA},
			msg: "registration accepted", level: "INFO", code: mip.CodeAccepted},
		{name: "deregistration", setup: func(b *bed) { b.register(req{}) }, req: req{lifetime: 0, fh: &fa1SA},
			msg: "deregistration accepted", level: "INFO", code: mip.CodeAccepted},
		{name: "unknown mobile", req: req{home: other, fh: &fa1SA}, msg: "registration denied", level: "WARN", code: mip.CodeHAMobileAuthFailed},
		{name: "wrong key", req: req{mh: &wrong, fh: &fa1SA}, msg: "registration denied", level: "WARN", code: mip.CodeHAMobileAuthFailed},
		{name: "no foreign-home authenticator", req: req{}, msg: "registration denied", level: "WARN",
			code: mip.CodeHAForeignAgentAuthFailed},
		{name: "RequireFAAuth", cfg: func(c *Config) { c.Security = c.Security[1:]; c.RequireFAAuth = true }, req: req{},
			msg: "registration denied", level: "WARN", code: mip.CodeHAForeignAgentAuthFailed},
		{name: "disabled", setup: func(b *bed) { b.do(func(s *State) { _ = s.SetEnabled(home, false) }) }, req: req{fh: &fa1SA},
			msg: "registration denied", level: "INFO", code: mip.CodeHAProhibited},
		{name: "stale identification", req: req{id: mip.TimestampID(start.Add(-time.Hour)), fh: &fa1SA},
			msg: "registration denied", level: "INFO", code: mip.CodeIDMismatch},
		{name: "unknown home agent", req: req{ha: netip.MustParseAddr("10.1.0.2"), fh: &fa1SA},
			msg: "registration denied", level: "INFO", code: mip.CodeHAUnknownHomeAgent},
		{name: "unusable care-of address", req: req{coa: netip.MustParseAddr("224.0.0.1"), fh: &fa1SA},
			msg: "registration denied", level: "INFO", code: mip.CodeHAPoorRequest},
		{name: "poorly formed", req: req{fh: &fa1SA}, raw: func(b []byte) []byte { return b[:len(b)-3] },
			msg: "registration denied", level: "INFO", code: mip.CodeHAPoorRequest},
		{name: "binding list full", cfg: func(c *Config) { c.MaxBindings = 1 },
			setup: func(b *bed) { b.register(req{home: home2, mh: &mn2SA}) }, req: req{fh: &fa1SA},
			msg: "registration denied", level: "INFO", code: mip.CodeHAInsufficientResources},
		{name: "encapsulation", req: req{flags: mip.FlagGRE, fh: &fa1SA}, msg: "registration denied", level: "INFO",
			code: mip.CodeHAEncapsulation},
		{name: "kernel failure", setup: func(b *bed) { b.kern.FailOn(kernel.KindRoute, errTest) }, req: req{fh: &fa1SA},
			msg: "registration denied", level: "ERROR", code: mip.CodeHAUnspecified},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			b := newBed(t, cfg)
			if tt.setup != nil {
				tt.setup(b)
			}
			if tt.req.lifetime == 0 && tt.name != "deregistration" {
				tt.req.lifetime = 600
			}
			m := b.build(tt.req)
			raw := marshal(t, m)
			if tt.raw != nil {
				raw = tt.raw(raw)
			}
			mark := len(b.logs.String())
			b.send(b.fa1, raw)
			if rep := b.replyAt(b.fa1); rep.Code != tt.code {
				t.Fatalf("reply %s, want %s", rep.Code, tt.code)
			}
			lines := b.decisionLines(mark)
			if len(lines) != 1 {
				t.Fatalf("%d decision lines, want 1: %q", len(lines), lines)
			}
			want := fmt.Sprintf(`level=%s msg="%s" home=%s coa=%s ha=%s fa=%s id=%d code=%d`,
				tt.level, tt.msg, m.Home, m.CareOf, m.HomeAgent, fa1Addr, m.ID, tt.code)
			if !strings.Contains(lines[0], want) {
				t.Errorf("decision line\n%s\nwant it to hold\n%s", lines[0], want)
			}
		})
	}
}
