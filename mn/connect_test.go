package mn

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// callResult is a blocking call run in its own goroutine.
type callResult chan error

// goCall runs call (Connect, Confirm or Disconnect) and waits until the
// loop holds it (or has answered it).
func (b *bed) goCall(call func(context.Context) error) callResult {
	b.t.Helper()
	before := b.calls()
	r := make(callResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
		defer cancel()
		r <- call(ctx)
	}()
	deadline := time.Now().Add(wait)
	for b.calls() == before && len(r) == 0 {
		if time.Now().After(deadline) {
			b.t.Fatal("the call did not reach the loop")
		}
		time.Sleep(time.Millisecond)
	}
	return r
}

// calls describes the blocking calls the loop holds: the Connect or
// Confirm, and how many Disconnects.
func (b *bed) calls() [2]any {
	b.t.Helper()
	var c [2]any
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := b.node.Do(ctx, func(l *Loop) { c = [2]any{l.call, len(l.disconnecting)} }); err != nil {
		b.t.Fatalf("Do: %v", err)
	}
	return c
}

// result waits for the call's answer.
func (r callResult) result(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r:
		return err
	case <-time.After(wait):
		t.Fatal("the call did not return")
		return nil
	}
}

// pending checks the call has not returned.
func (r callResult) pending(t *testing.T) {
	t.Helper()
	select {
	case err := <-r:
		t.Fatalf("the call returned early: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
}

func disconnectedConfig() Config {
	c := testConfig()
	c.StartDisconnected = true
	return c
}

// Started disconnected, the mobile neither solicits nor registers with the
// agent it hears; Connect registers through that agent and returns once
// the registration is accepted. A second Connect meanwhile gets
// ErrInProgress at once.
func TestConnectFromDisconnected(t *testing.T) {
	b := newBed(t, disconnectedConfig())
	if s := b.status(); s.State != StateDisconnected || s.State.String() != "disconnected" {
		t.Fatalf("state %v, want disconnected", s.State)
	}
	fa, hub := b.foreignAgent(1)
	b.move(hub)
	fa.advertise(1000)
	fa.noRequest()
	b.advance(5 * time.Second)
	fa.noRequest()
	if st := b.stats(); st.Solicitations != 0 || st.Requests != 0 {
		t.Errorf("disconnected: %d solicitations, %d requests; want none", st.Solicitations, st.Requests)
	}
	b.wantKernel()

	conn := b.goCall(b.node.Connect)
	req := fa.request()
	if req.CareOf != fa.cfg.coa || req.Lifetime == 0 {
		t.Errorf("request coa %s lifetime %d", req.CareOf, req.Lifetime)
	}
	conn.pending(t)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := b.node.Connect(ctx); !errors.Is(err, ErrInProgress) {
		t.Errorf("second Connect: %v, want ErrInProgress", err)
	}
	if err := b.node.Confirm(ctx); !errors.Is(err, ErrInProgress) {
		t.Errorf("Confirm during Connect: %v, want ErrInProgress", err)
	}
	fa.reply(req, mip.CodeAccepted, 300)
	if err := conn.result(t); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	b.waitState(StateRegistered)
	b.wantKernel(agentSet(fa, true)...)
	// Connected already: Connect returns at once.
	if err := b.node.Connect(ctx); err != nil {
		t.Errorf("Connect when registered: %v", err)
	}
}

// Started disconnected with nothing heard, Connect solicits and waits.
func TestConnectSolicits(t *testing.T) {
	b := newBed(t, disconnectedConfig())
	conn := b.goCall(b.node.Connect)
	if s := b.waitState(StateFindingAgent); s.Location != "unknown" {
		t.Errorf("status %+v", s)
	}
	if st := b.stats(); st.Solicitations != 1 {
		t.Errorf("%d solicitations, want 1", st.Solicitations)
	}
	b.ha.advertise(1000)
	req, _ := b.ha.request()
	conn.pending(t)
	b.ha.reply(req, mip.CodeAccepted, 0)
	if err := conn.result(t); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	b.waitState(StateHome)
}

// Disconnect cancels a pending Connect with ErrCancelled and deregisters
// through the agent (lifetime 0, the care-of address in use); once the
// deregistration is accepted the mobile is Disconnected, removes its
// kernel entries and stays quiet.
func TestDisconnectCancelsConnect(t *testing.T) {
	b := newBed(t, disconnectedConfig())
	fa, hub := b.foreignAgent(1)
	b.move(hub)
	fa.advertise(1000)
	conn := b.goCall(b.node.Connect)
	fa.request()
	b.waitState(StateRegistering)

	disc := b.goCall(b.node.Disconnect)
	if err := conn.result(t); !errors.Is(err, ErrCancelled) {
		t.Fatalf("Connect: %v, want ErrCancelled", err)
	}
	dereg := fa.request()
	if dereg.Lifetime != 0 || dereg.CareOf != fa.cfg.coa || dereg.Home != homeAddr {
		t.Errorf("deregistration lifetime %d coa %s home %s", dereg.Lifetime, dereg.CareOf, dereg.Home)
	}
	b.waitState(StateDeregistering)
	disc.pending(t)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := b.node.Confirm(ctx); !errors.Is(err, ErrDisconnected) {
		t.Errorf("Confirm while disconnecting: %v, want ErrDisconnected", err)
	}
	fa.reply(dereg, mip.CodeAccepted, 0)
	if err := disc.result(t); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	if s := b.waitState(StateDisconnected); s.Pending || s.CareOf.IsValid() || s.Location != "unknown" {
		t.Errorf("status %+v", s)
	}
	b.wantKernel()
	fa.advertise(1000)
	b.advance(10 * time.Second)
	fa.noRequest()
	if err := b.node.Disconnect(ctx); err != nil {
		t.Errorf("Disconnect when disconnected: %v", err)
	}
	// Connect again: straight back to the agent heard.
	conn = b.goCall(b.node.Connect)
	req := fa.request()
	fa.reply(req, mip.CodeAccepted, 300)
	if err := conn.result(t); err != nil {
		t.Fatalf("Connect: %v", err)
	}
}

// A registered co-located mobile deregisters from its care-of address
// straight to the home agent; unanswered, it is Disconnected all the same
// once the retransmissions are used up.
func TestDisconnectColocated(t *testing.T) {
	b := newBed(t, testConfig())
	b.prober.set(colocGW, true)
	unanswered(b)
	req, _ := b.ha.request()
	b.ha.reply(req, mip.CodeAccepted, 600)
	b.waitState(StateRegistered)

	disc := b.goCall(b.node.Disconnect)
	dereg, from := b.ha.request()
	if dereg.Lifetime != 0 || dereg.CareOf != coa || from != netip.AddrPortFrom(coa, 434) {
		t.Errorf("deregistration lifetime %d coa %s from %s", dereg.Lifetime, dereg.CareOf, from)
	}
	b.wantKernel(colocatedSet(false)...)
	for _, d := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		b.advance(d)
		b.ha.request()
	}
	b.advance(4 * time.Second)
	if err := disc.result(t); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	b.waitState(StateDisconnected)
	b.wantKernel()
}

// Confirm sends a fresh request now and returns once it is accepted; a
// denial ends it with the code.
func TestConfirm(t *testing.T) {
	b, fa, first := registeredAt(t, testConfig(), 300)
	conf := b.goCall(b.node.Confirm)
	req := fa.request()
	if req.ID == first.ID || req.Lifetime == 0 || req.CareOf != fa.cfg.coa {
		t.Errorf("confirmation request id %#x lifetime %d coa %s", req.ID, req.Lifetime, req.CareOf)
	}
	conf.pending(t)
	// A late reply to the earlier request confirms nothing.
	fa.reply(first, mip.CodeAccepted, 300)
	conf.pending(t)
	fa.reply(req, mip.CodeAccepted, 300)
	if err := conf.result(t); err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	if s := b.status(); s.State != StateRegistered || s.Pending {
		t.Errorf("status %+v", s)
	}

	for _, code := range []mip.Code{mip.CodeHAProhibited, mip.CodeFAInsufficientResources} {
		conf = b.goCall(b.node.Confirm)
		req = fa.request()
		fa.reply(req, code, 0)
		err := conf.result(t)
		var denied *DeniedError
		if !errors.As(err, &denied) || denied.Code != code {
			t.Fatalf("Confirm denied with %d: %v", code, err)
		}
		if by := map[bool]string{true: "foreign agent", false: "home agent"}[code.FromFA()]; !strings.Contains(err.Error(), by) {
			t.Errorf("error %q does not name the %s", err, by)
		}
	}
}

// At home Confirm sends a fresh deregistration and waits for its reply.
func TestConfirmAtHome(t *testing.T) {
	b := newBed(t, testConfig())
	b.ha.advertise(1000)
	req, _ := b.ha.request()
	b.ha.reply(req, mip.CodeAccepted, 0)
	b.waitState(StateHome)
	conf := b.goCall(b.node.Confirm)
	req, _ = b.ha.request()
	if req.Lifetime != 0 || req.CareOf != homeAddr {
		t.Errorf("request lifetime %d coa %s, want a deregistration", req.Lifetime, req.CareOf)
	}
	b.ha.reply(req, mip.CodeAccepted, 0)
	if err := conf.result(t); err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	b.waitState(StateHome)
}

// Disconnect cancels a pending Confirm; at home it needs no
// deregistration and removes the home routes.
func TestDisconnectCancelsConfirmAtHome(t *testing.T) {
	b := newBed(t, testConfig())
	b.ha.advertise(1000)
	req, _ := b.ha.request()
	b.ha.reply(req, mip.CodeAccepted, 0)
	b.waitState(StateHome)
	conf := b.goCall(b.node.Confirm)
	b.ha.request()
	b.ha.reply(req, mip.CodeAccepted, 0) // answers the old request only
	b.waitState(StateDeregistering)
	disc := b.goCall(b.node.Disconnect)
	if err := conf.result(t); !errors.Is(err, ErrCancelled) {
		t.Fatalf("Confirm: %v, want ErrCancelled", err)
	}
	disc.pending(t) // the deregistration at home goes on
	b.advance(time.Second)
	dereg, _ := b.ha.request()
	b.ha.reply(dereg, mip.CodeAccepted, 0)
	if err := disc.result(t); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	b.waitState(StateDisconnected)
	b.wantKernel()
}

// A call whose ctx ends returns ctx.Err() and is abandoned: the next call
// is not refused with ErrInProgress.
func TestCallTimeout(t *testing.T) {
	b := newBed(t, disconnectedConfig())
	b.move(link.NewHub()) // no agent there
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		err := b.node.Connect(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Connect: %v, want context.DeadlineExceeded", err)
		}
	}
	if s := b.status(); s.State != StateFindingAgent {
		t.Errorf("state %v after an abandoned Connect, want finding-agent", s.State)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := b.node.Confirm(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Confirm: %v, want context.DeadlineExceeded", err)
	}
}

func TestStartDisconnectedConfig(t *testing.T) {
	for in, want := range map[string]bool{"": false, "StartDisconnected yes\n": true, "StartDisconnected no\n": false} {
		c, err := ParseConfig("dynmnd.conf", strings.NewReader(minimal+in))
		if err != nil {
			t.Fatal(err)
		}
		if c.StartDisconnected != want {
			t.Errorf("%q: StartDisconnected %v, want %v", in, c.StartDisconnected, want)
		}
	}
}
