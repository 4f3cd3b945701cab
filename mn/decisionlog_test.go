package mn

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// The outcome of each request is one Info line with the suite's fixed
// keys: home address, care-of address, home agent, the foreign agent
// relaying, identification and code.
func TestDecisionLogLines(t *testing.T) {
	b := newBed(t, testConfig())
	logs := b.logTo()
	fa, hub := b.foreignAgent(1)
	b.move(hub)
	fa.advertise(1000)
	req := fa.request()
	fa.reply(req, mip.CodeHAProhibited, 0)
	b.advance(time.Second) // the retransmission interval
	req2 := fa.request()
	fa.reply(req2, mip.CodeAccepted, 300)
	b.waitState(StateRegistered)

	b.move(b.home)
	b.ha.advertise(1000)
	dereg, _ := b.ha.request()
	b.ha.reply(dereg, mip.CodeAccepted, 0)
	b.waitState(StateHome)

	for _, c := range []struct {
		msg      string
		coa, via string
		id       uint64
		code     mip.Code
	}{
		{"registration denied", fa.cfg.coa.String(), " fa=" + fa.cfg.addr.String(), req.ID, mip.CodeHAProhibited},
		{"registered", fa.cfg.coa.String(), " fa=" + fa.cfg.addr.String(), req2.ID, mip.CodeAccepted},
		{"deregistered", homeAddr.String(), "", dereg.ID, mip.CodeAccepted},
	} {
		msg := c.msg // as slog's text handler writes it
		if strings.Contains(msg, " ") {
			msg = strconv.Quote(msg)
		}
		lines := logs.lines("msg=" + msg + " ")
		want := fmt.Sprintf(`level=INFO msg=%s home=%s coa=%s ha=%s%s id=%d code=%d`, msg, homeAddr, c.coa, haAddr, c.via, c.id, c.code)
		if len(lines) != 1 || !strings.Contains(lines[0], want) {
			t.Errorf("%s: lines %q, want one holding %q", c.msg, lines, want)
		}
	}
}
