package mip

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var (
	t0     = time.Date(2026, 11, 23, 20, 0, 0, 500_000_000, time.UTC)
	mnHome = netip.MustParseAddr("10.1.0.10")
)

func TestTimestampID(t *testing.T) {
	// 2026-11-23 20:00:00.5 UTC is 1795464000.5 s after 1970, so
	// 4004452800.5 s after 1900: 0xeeaf19c0 seconds, 0x80000000 fraction.
	if got, want := TimestampID(t0), uint64(0xeeaf19c0_80000000); got != want {
		t.Errorf("TimestampID(%v) = %016x, want %016x", t0, got, want)
	}
	// The NTP epoch is zero.
	if got := TimestampID(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)); got != 0 {
		t.Errorf("TimestampID(1900) = %016x, want 0", got)
	}
	for _, tm := range []time.Time{
		t0,
		time.Date(1999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2036, 2, 7, 6, 28, 15, 0, time.UTC), // last second of era 0
		time.Date(2036, 2, 7, 6, 28, 16, 250_000_000, time.UTC),
		time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		back := IDTime(TimestampID(tm))
		if d := back.Sub(tm); d < -time.Nanosecond || d > time.Nanosecond {
			t.Errorf("IDTime(TimestampID(%v)) = %v", tm, back)
		}
	}
}

func TestCheckTimestamp(t *testing.T) {
	w := DefaultReplayWindow
	now := TimestampID(t0)
	tests := []struct {
		name     string
		id, last uint64
		ok       bool
		text     string
	}{
		{"now", now, 0, true, ""},
		{"6.9 s ahead", TimestampID(t0.Add(6900 * time.Millisecond)), 0, true, ""},
		{"6.9 s behind", TimestampID(t0.Add(-6900 * time.Millisecond)), 0, true, ""},
		{"7.1 s ahead", TimestampID(t0.Add(7100 * time.Millisecond)), 0, false, "7.1s ahead of"},
		{"7.1 s behind", TimestampID(t0.Add(-7100 * time.Millisecond)), 0, false, "7.1s behind"},
		{"an hour off", TimestampID(t0.Add(time.Hour)), 0, false, "1h0m0s ahead"},
		{"later than last", now, now - 1, true, ""},
		{"equal to last (replay)", now, now, false, "not later"},
		{"earlier than last", now - 1, now, false, "not later"},
		{"zero", 0, 0, false, "window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckTimestamp(tt.id, tt.last, t0, w)
			if tt.ok {
				if err != nil {
					t.Fatalf("CheckTimestamp = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrIDMismatch) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("CheckTimestamp = %v, want ErrIDMismatch mentioning %q", err, tt.text)
			}
		})
	}
	// Across the NTP era change in 2036 the order still holds.
	before := TimestampID(time.Date(2036, 2, 7, 6, 28, 15, 0, time.UTC))
	after := TimestampID(time.Date(2036, 2, 7, 6, 28, 17, 0, time.UTC))
	if after > before {
		t.Fatal("era change: expected the raw value to wrap")
	}
	if err := CheckTimestamp(after, before, time.Date(2036, 2, 7, 6, 28, 17, 0, time.UTC), w); err != nil {
		t.Errorf("across the era change: %v", err)
	}
}

func TestReplayGuardTimestamps(t *testing.T) {
	var g ReplayGuard
	id1 := TimestampID(t0)
	reply, err := g.Check(mnHome, ReplayTimestamp, id1, t0, 0)
	if err != nil || reply != id1 {
		t.Fatalf("first request: %016x, %v; want %016x accepted", reply, err, id1)
	}
	// The same request again is a replay, even inside the window.
	if _, err := g.Check(mnHome, ReplayTimestamp, id1, t0.Add(time.Second), 0); !errors.Is(err, ErrIDMismatch) {
		t.Fatalf("replayed request: %v, want ErrIDMismatch", err)
	}
	// A later one is accepted; another mobile node has its own history.
	id2 := TimestampID(t0.Add(2 * time.Second))
	if _, err := g.Check(mnHome, ReplayTimestamp, id2, t0.Add(2*time.Second), 0); err != nil {
		t.Fatalf("later request: %v", err)
	}
	other := netip.MustParseAddr("10.1.0.11")
	if _, err := g.Check(other, ReplayTimestamp, id1, t0.Add(2*time.Second), 0); err != nil {
		t.Fatalf("other mobile: %v", err)
	}
	// A denied request does not move the floor: id2+1 is still fine.
	if _, err := g.Check(mnHome, ReplayTimestamp, id2-5, t0.Add(2*time.Second), 0); err == nil {
		t.Fatal("earlier request accepted")
	}
	if _, err := g.Check(mnHome, ReplayTimestamp, id2+1, t0.Add(2*time.Second), 0); err != nil {
		t.Fatalf("after a denial: %v", err)
	}
	// Forgetting drops the history.
	g.Forget(mnHome)
	if _, err := g.Check(mnHome, ReplayTimestamp, id1, t0, 0); err != nil {
		t.Fatalf("after Forget: %v", err)
	}
}

func TestReplayGuardWindow(t *testing.T) {
	g := ReplayGuard{Window: 2 * time.Second}
	id := TimestampID(t0.Add(-3 * time.Second))
	if _, err := g.Check(mnHome, ReplayTimestamp, id, t0, 0); !errors.Is(err, ErrIDMismatch) {
		t.Fatalf("3 s old with a 2 s window: %v", err)
	}
	var d ReplayGuard // default 7 s
	if _, err := d.Check(mnHome, ReplayTimestamp, id, t0, 0); err != nil {
		t.Fatalf("3 s old with the default window: %v", err)
	}
}

// TestResynchronisation runs the exchange of RFC 5944 section 5.7.1: a
// mobile node whose clock is 100 s slow is denied with 133, computes its
// offset from the reply and is accepted on the next try.
func TestResynchronisation(t *testing.T) {
	var g ReplayGuard
	haNow := t0
	mnNow := t0.Add(-100 * time.Second)

	req := TimestampID(mnNow)
	replyID, err := g.Check(mnHome, ReplayTimestamp, req, haNow, 0)
	if !errors.Is(err, ErrIDMismatch) {
		t.Fatalf("slow clock accepted: %v", err)
	}
	if uint32(replyID) != uint32(req) {
		t.Fatalf("reply low bits %08x, want the request's %08x", uint32(replyID), uint32(req))
	}
	if replyID>>32 != TimestampID(haNow)>>32 {
		t.Fatalf("reply high bits %08x, want the home agent's seconds %08x", replyID>>32, TimestampID(haNow)>>32)
	}

	offset, err := Resync(req, replyID, mnNow.Add(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if offset < 99*time.Second || offset > 101*time.Second {
		t.Fatalf("offset %v, want about 100s", offset)
	}
	mnNow = mnNow.Add(time.Second)
	haNow = haNow.Add(time.Second)
	req2 := TimestampID(mnNow.Add(offset))
	if got, err := g.Check(mnHome, ReplayTimestamp, req2, haNow, 0); err != nil || got != req2 {
		t.Fatalf("after resynchronisation: %016x, %v", got, err)
	}

	// A reply to some other request is refused.
	if _, err := Resync(req^1, replyID, mnNow); !errors.Is(err, ErrIDMismatch) {
		t.Errorf("Resync with a foreign reply: %v", err)
	}
	// A fast clock gives a negative offset.
	fast := TimestampID(t0.Add(time.Hour))
	off, err := Resync(fast, MismatchID(t0, fast), t0.Add(time.Hour))
	if err != nil || off != -time.Hour {
		t.Errorf("fast clock: %v, %v; want -1h", off, err)
	}
}

func TestReplayGuardNonces(t *testing.T) {
	var g ReplayGuard
	// First contact: denied, and given nonce 0x1111.
	replyID, err := g.Check(mnHome, ReplayNonce, NonceID(0, 0xaaaa), t0, 0x1111)
	if !errors.Is(err, ErrIDMismatch) {
		t.Fatalf("first contact: %v", err)
	}
	if replyID != NonceID(0x1111, 0xaaaa) {
		t.Fatalf("reply id %016x, want HA nonce 1111 and MN nonce aaaa", replyID)
	}
	// The mobile node uses it: accepted, with the next nonce.
	replyID, err = g.Check(mnHome, ReplayNonce, NonceID(0x1111, 0xbbbb), t0, 0x2222)
	if err != nil || replyID != NonceID(0x2222, 0xbbbb) {
		t.Fatalf("with the nonce: %016x, %v", replyID, err)
	}
	if !ReplyMatches(NonceID(0x1111, 0xbbbb), replyID) {
		t.Error("ReplyMatches: reply does not match its request")
	}
	// Replaying that request fails: the nonce has moved on.
	replyID, err = g.Check(mnHome, ReplayNonce, NonceID(0x1111, 0xbbbb), t0, 0x3333)
	if !errors.Is(err, ErrIDMismatch) || !strings.Contains(err.Error(), "want 00002222") {
		t.Fatalf("replay: %v", err)
	}
	if replyID != NonceID(0x3333, 0xbbbb) {
		t.Fatalf("replay reply id %016x", replyID)
	}
	// Nonces need no clock: an hour later is fine.
	if _, err := g.Check(mnHome, ReplayNonce, NonceID(0x3333, 0xcccc), t0.Add(time.Hour), 0x4444); err != nil {
		t.Fatalf("next request: %v", err)
	}
}

func TestReplayModeNames(t *testing.T) {
	for _, m := range []ReplayMode{ReplayTimestamp, ReplayNonce} {
		got, err := ParseReplayMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseReplayMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseReplayMode("none"); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParseReplayMode(none) = %v", err)
	}
	var sa SecurityAssociation
	if sa.Replay != ReplayTimestamp || sa.Alg != HMACMD5 {
		t.Error("the zero security association is not timestamp with HMAC-MD5")
	}
}
