package fa

import (
	"bytes"
	"crypto/rsa"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/sessionkey"
)

// opsAround splits the kernel changes made since from into those made
// before the datagram m was sent and those made after it.
func (b *bed) opsAround(from int, m sentMark) (before, after []string) {
	ops := b.kern.Ops()
	return ops[from:m.ops], ops[m.ops:]
}

// hasOp reports whether one of ops starts with prefix ("add ", "del ", ...)
// and contains each of words.
func hasOp(ops []string, prefix string, words ...string) bool {
	return slices.ContainsFunc(ops, func(op string) bool {
		if !strings.HasPrefix(op, prefix) {
			return false
		}
		for _, w := range words {
			if !strings.Contains(op, w) {
				return false
			}
		}
		return true
	})
}

// TestLocalAnswerBeforeOldBranch: the switching agent makes the new
// branch (the tunnel to the new lower agent, the mobile's host route and
// reverse tunnel rule into it) before it sends its answer, and removes the
// old branch's rule (and, without a linger, its tunnel) only after the
// answer left, before revoking the old branch.
func TestLocalAnswerBeforeOldBranch(t *testing.T) {
	for _, linger := range []time.Duration{0, time.Minute} {
		t.Run("linger "+linger.String(), func(t *testing.T) {
			cfg := highestConfig()
			cfg.TunnelLinger = linger
			b := newBed(t, cfg)
			fa1, fa2 := b.peer(coa), b.peer(fa2Addr)
			id := mip.TimestampID(start)
			registerHighest(t, b, fa1, id, 300)
			from := len(b.kern.Ops())

			fa2.send(gfaAddr, relayedBy(t, hierRequest(t, id+1, 600, mip.FlagReverseTunnel, &testSess), fa2.addr))
			if r, err := mip.ParseReply(first(fa2.recv())); err != nil || r.Code != mip.CodeAccepted {
				t.Fatalf("local answer %+v, %v", r, err)
			}
			fa1.recv() // the revocation
			answer, ok := b.up.lastSentTo(fa2Addr, mip.MessageReply)
			if !ok {
				t.Fatal("no answer recorded")
			}
			before, after := b.opsAround(from, answer)
			// gfa's tunnels: dynfa1 to the home agent, dynfa2 to fa1,
			// dynfa3 to fa2.
			for _, want := range []struct{ prefix, what string }{
				{"add ", "ip tunnel add dynfa3"},
				{"replace ", "ip route replace 10.1.0.10/32 dev dynfa3"},
				{"add ", "ip rule add priority 2000 from 10.1.0.10/32 iif dynfa3 lookup 2001"},
			} {
				if !hasOp(before, want.prefix, want.what) {
					t.Errorf("before the answer, want %s%s; the kernel changed:\n%s", want.prefix, want.what, strings.Join(before, "\n"))
				}
			}
			if hasOp(before, "del ") {
				t.Errorf("the old branch was removed before the answer was sent:\n%s", strings.Join(before, "\n"))
			}
			if !hasOp(after, "del ", "ip rule add priority 2000 from 10.1.0.10/32 iif dynfa2") {
				t.Errorf("after the answer, want the old branch's rule removed; the kernel changed:\n%s", strings.Join(after, "\n"))
			}
			if gone := hasOp(after, "del ", "ip tunnel add dynfa2"); gone != (linger == 0) {
				t.Errorf("the tunnel to fa1 removed after the answer: %v, want %v (linger %v)", gone, linger == 0, linger)
			}
			rev, ok := b.up.lastSentTo(coa, mip.MessageRevocation)
			if !ok || rev.ops < answer.ops || slices.IndexFunc(b.up.sent, func(m sentMark) bool { return bytes.Equal(m.payload, rev.payload) }) <
				slices.IndexFunc(b.up.sent, func(m sentMark) bool { return bytes.Equal(m.payload, answer.payload) }) {
				t.Error("the old branch was revoked before the answer was sent")
			}
		})
	}
}

// TestReplyBeforeOldBranch: a reply from the home agent that moves a
// visitor's way down to another lower agent (a full registration through
// the new branch) reaches the new lower agent once the new branch is in
// place, and the old branch's rule goes after it.
func TestReplyBeforeOldBranch(t *testing.T) {
	b := newBed(t, highestConfig())
	fa1, fa2 := b.peer(coa), b.peer(fa2Addr)
	id := mip.TimestampID(start)
	registerHighest(t, b, fa1, id, 300)
	from := len(b.kern.Ops())

	fa2.send(gfaAddr, relayedBy(t, hierRequest(t, id+1, 300, mip.FlagReverseTunnel, nil), fa2.addr))
	b.haRecv()
	b.haSend(haHierReply(t, id+1, mip.CodeAccepted, 300, otherSess, []netip.Addr{gfaAddr, fa2Addr}, fhSA))
	if r, err := mip.ParseReply(first(fa2.recv())); err != nil || r.Code != mip.CodeAccepted {
		t.Fatalf("reply %+v, %v", r, err)
	}
	b.do(nil) // the agent has finished with the reply
	reply, _ := b.up.lastSentTo(fa2Addr, mip.MessageReply)
	before, after := b.opsAround(from, reply)
	if !hasOp(before, "add ", "ip rule add priority 2000 from 10.1.0.10/32 iif dynfa3") ||
		!hasOp(before, "replace ", "ip route replace 10.1.0.10/32 dev dynfa3") || hasOp(before, "del ") {
		t.Errorf("before the reply the kernel changed:\n%s", strings.Join(before, "\n"))
	}
	if !hasOp(after, "del ", "iif dynfa2") {
		t.Errorf("after the reply the kernel changed:\n%s", strings.Join(after, "\n"))
	}
}

// TestUpwardTunnelAtStart: an agent below the highest one makes its
// tunnel to the upper agent at start, so a mobile's first registration
// makes no tunnel; the tunnel stays while no visitor uses it, and goes when
// the agent stops. Without reverse tunnelling or decapsulation there is
// none.
func TestUpwardTunnelAtStart(t *testing.T) {
	b := newBed(t, lowestConfig())
	b.onlyBase()
	made := len(b.kern.Ops())
	registerLowest(t, b, mip.TimestampID(start), 300)
	b.hasAll(visitorKernel(home, mnMAC, true)...)
	if ops := b.kern.Ops()[made:]; hasOp(ops, "add ", "ip tunnel") {
		t.Errorf("the first registration made a tunnel:\n%s", strings.Join(ops, "\n"))
	}
	if v, _ := b.visitorOf(home); v.Tunnel != 1 {
		t.Errorf("the visitor's tunnel is %d, want the one held from start", v.Tunnel)
	}
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	if got := b.kern.Render(); strings.Contains(got, "tunnel") || strings.Contains(got, "dynfa1") {
		t.Errorf("after the agent stopped the kernel holds:\n%s", got)
	}

	cfg := lowestConfig()
	cfg.ReverseTunnel, cfg.EnableFADecapsulation = false, false
	plain := newBed(t, cfg)
	if got := plain.kern.Render(); strings.Contains(got, "tunnel") {
		t.Errorf("without reverse tunnelling or decapsulation the agent made a tunnel:\n%s", got)
	}
}

// revocationBy is an upper agent's revocation of the mobile's binding,
// authenticated with sa.
func revocationBy(t *testing.T, id uint32, sa mip.SecurityAssociation) []byte {
	t.Helper()
	r := &mip.Revocation{Flags: mip.RevocationHomeAgent, Home: home, HomeDomain: haAddr, ForeignDomain: gfaAddr, ID: id}
	if err := r.Authenticate(mip.TypeForeignHome, sa); err != nil {
		t.Fatal(err)
	}
	return marshal(t, r)
}

// undecryptableAnswer is a switching agent's answer whose FA Session Key
// extension for the agent under test (coa) does not decrypt with its key
// (it is wrapped with fa2's), with an MN-GFA authenticator made with auth.
func undecryptableAnswer(t *testing.T, id uint64, auth session) []byte {
	t.Helper()
	b := marshal(t, &mip.Reply{Code: mip.CodeAccepted, Lifetime: 200, Home: home, HomeAgent: haAddr, ID: id})
	ct, err := sessionkey.WrapForFA(nil, &agentKey(t, fa2Addr).PublicKey, testSess.key, sessionkey.Label(home))
	if err != nil {
		t.Fatal(err)
	}
	if b, err = mip.AppendFASessionKey(b, mip.FASessionKey{Agent: coa, SPI: testSess.spi, Ciphertext: ct}); err != nil {
		t.Fatal(err)
	}
	if b, err = mip.AppendAuth(b, mip.TypeGeneralizedAuth, auth.sa()); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestKnownSessionSparesDecryption: a mobile that comes back to a lowest
// agent under the session key of its last binding there is confirmed with
// that key when the switching agent's answer verifies with it, without
// decrypting the FA Session Key extension; an agent that never held the
// key must decrypt it, and an answer that does not verify is denied.
func TestKnownSessionSparesDecryption(t *testing.T) {
	id := mip.TimestampID(start)
	back := func(t *testing.T, b *bed, upper *peer, auth session) *mip.Reply {
		t.Helper()
		b.send(b.mn, home, hierRequest(t, id+1, 600, mip.FlagReverseTunnel, &testSess))
		upper.recv()
		upper.send(coa, undecryptableAnswer(t, id+1, auth))
		return b.replyFor(b.mn)
	}
	leave := func(t *testing.T, b *bed, upper *peer) {
		t.Helper()
		upper.send(coa, revocationBy(t, mip.RevocationTimestamp(start), testSess.sa()))
		upper.recv() // the acknowledgment
		b.onlyBase()
	}

	t.Run("held before", func(t *testing.T) {
		b := newBed(t, lowestConfig())
		upper := registerLowest(t, b, id, 300)
		leave(t, b, upper)
		if r := back(t, b, upper, testSess); r.Code != mip.CodeAccepted {
			t.Fatalf("coming back: %s, want accepted with the session key held before", r.Code)
		}
		v, ok := b.visitorOf(home)
		if !ok || !v.HasKey || v.Key != testSess.key || v.SPI != testSess.spi {
			t.Errorf("visitor %+v", v)
		}
		b.hasAll(visitorKernel(home, mnMAC, true)...)
	})
	t.Run("forged", func(t *testing.T) {
		b := newBed(t, lowestConfig())
		upper := registerLowest(t, b, id, 300)
		leave(t, b, upper)
		if r := back(t, b, upper, otherSess); r.Code != mip.CodeFAHomeAgentAuthFailed {
			t.Errorf("an answer made with another key: %s, want 68", r.Code)
		}
		b.onlyBase()
	})
	t.Run("never held", func(t *testing.T) {
		b := newBed(t, lowestConfig())
		if r := back(t, b, b.peer(fa1Upper), testSess); r.Code != mip.CodeFAHomeAgentAuthFailed {
			t.Errorf("an undecryptable key this agent never held: %s, want 68", r.Code)
		}
		b.onlyBase()
	})
}

func first[A, B any](a A, _ B) A { return a }

// TestHomeReplyBeforeDecryption: an agent passes the home agent's reply
// down before it decrypts its own session key, which only later local
// moves need; the binding has the key once the reply has been handled.
func TestHomeReplyBeforeDecryption(t *testing.T) {
	b := newBed(t, highestConfig())
	fa1 := b.peer(coa)
	var sentBefore []sentMark
	b.do(func(*State) {
		unwrap := b.agent.unwrap
		b.agent.unwrap = func(priv *rsa.PrivateKey, ct, label []byte) (sessionkey.Key, error) {
			b.up.mu.Lock()
			sentBefore = slices.Clone(b.up.sent)
			b.up.mu.Unlock()
			return unwrap(priv, ct, label)
		}
	})
	registerHighest(t, b, fa1, mip.TimestampID(start), 300)
	v, ok := b.visitorOf(home)
	if !ok || !v.HasKey || v.Key != testSess.key {
		t.Fatalf("visitor %+v, want the session key", v)
	}
	if !slices.ContainsFunc(sentBefore, func(m sentMark) bool {
		return m.to.Addr() == coa && len(m.payload) > 0 && m.payload[0] == byte(mip.MessageReply)
	}) {
		t.Error("the session key was decrypted before the reply went down to the lower agent")
	}
}
