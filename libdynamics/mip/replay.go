package mip

import (
	"fmt"
	"net/netip"
	"time"
)

// ReplayMode is how a security association protects registrations from
// replay (RFC 5944 section 5.7).
type ReplayMode uint8

// The replay protection modes. The zero value is ReplayTimestamp, the
// default.
const (
	// ReplayTimestamp fills the identification with an NTP timestamp of
	// the mobile node's clock (section 5.7.1).
	ReplayTimestamp ReplayMode = iota
	// ReplayNonce fills the high 32 bits of the identification with the
	// nonce the home agent sent last and the low 32 bits with a nonce of
	// the mobile node's (section 5.7.2).
	ReplayNonce
)

// String returns the mode's configuration name: "timestamp" or "nonce".
func (m ReplayMode) String() string {
	switch m {
	case ReplayTimestamp:
		return "timestamp"
	case ReplayNonce:
		return "nonce"
	default:
		return fmt.Sprintf("replay(%d)", uint8(m))
	}
}

// ParseReplayMode parses a mode's name as String writes it.
func ParseReplayMode(s string) (ReplayMode, error) {
	switch s {
	case "timestamp":
		return ReplayTimestamp, nil
	case "nonce":
		return ReplayNonce, nil
	default:
		return 0, fmt.Errorf("replay protection %q: want timestamp or nonce: %w", s, ErrInvalid)
	}
}

// DefaultReplayWindow is how far a request's timestamp may be from the home
// agent's clock, either way, unless configured otherwise.
const DefaultReplayWindow = 7 * time.Second

const (
	// ntpEpochOffset is the number of seconds from the NTP epoch,
	// 1900-01-01, to the Unix epoch, 1970-01-01.
	ntpEpochOffset = 2208988800
	// lowMask selects the low 32 bits of an identification: the fraction
	// of a timestamp, or the mobile node's nonce.
	lowMask = 0xffffffff
)

// TimestampID returns now as the identification of a request under
// timestamp replay protection: an NTP timestamp, seconds since 1900 in the
// high 32 bits and the fraction of a second in the low 32.
func TimestampID(now time.Time) uint64 {
	secs := uint64(now.Unix()+ntpEpochOffset) & lowMask
	frac := uint64(now.Nanosecond()) << 32 / uint64(time.Second)
	return secs<<32 | frac
}

// IDTime returns the time a timestamp identification stands for. As RFC
// 4330 section 3 specifies, a timestamp whose most significant bit is clear
// is taken to be in the NTP era that starts in 2036.
func IDTime(id uint64) time.Time {
	secs := int64(id >> 32)
	if secs&0x80000000 == 0 {
		secs += 1 << 32
	}
	nsec := int64((id & lowMask) * uint64(time.Second) >> 32)
	return time.Unix(secs-ntpEpochOffset, nsec).UTC()
}

// NonceID returns the identification of a request under nonce replay
// protection: the home agent's nonce, from the last reply, in the high 32
// bits and the mobile node's new nonce in the low 32.
func NonceID(haNonce, mnNonce uint32) uint64 {
	return uint64(haNonce)<<32 | uint64(mnNonce)
}

// ReplyMatches reports whether a reply's identification answers a
// request's: the low 32 bits, which the home agent always copies, are
// equal. A mobile node discards replies that do not match.
func ReplyMatches(reqID, replyID uint64) bool {
	return reqID&lowMask == replyID&lowMask
}

// MismatchID returns the identification of a reply denying the request
// reqID with CodeIDMismatch under timestamp replay protection: the high 32
// bits the seconds of the home agent's clock now, the low 32 copied from
// the request.
func MismatchID(now time.Time, reqID uint64) uint64 {
	return TimestampID(now)&^lowMask | reqID&lowMask
}

// Resync computes the mobile node's clock offset from a reply denying its
// request reqID with CodeIDMismatch: the home agent's clock, in the reply's
// high 32 bits, less now, the mobile node's time when the reply arrived,
// to the second. The mobile node's next identification is then
// TimestampID(now.Add(offset)). It fails, wrapping ErrIDMismatch, when the
// reply does not answer the request.
func Resync(reqID, replyID uint64, now time.Time) (time.Duration, error) {
	if !ReplyMatches(reqID, replyID) {
		return 0, fmt.Errorf("reply identification %016x does not answer request %016x: %w", replyID, reqID, ErrIDMismatch)
	}
	ha := uint32(replyID >> 32)
	mine := uint32(TimestampID(now) >> 32)
	return time.Duration(int32(ha-mine)) * time.Second, nil
}

// CheckTimestamp applies the home agent's timestamp rule to a request's
// identification id: within window of now, either way, and later than
// last, the identification of the mobile node's last accepted request (0
// for none). Comparisons are modulo 2^64, so they hold across the NTP era
// change in 2036. The error wraps ErrIDMismatch.
func CheckTimestamp(id, last uint64, now time.Time, window time.Duration) error {
	d := int64(id - TimestampID(now))
	if abs := absDiff(d); abs > ntpDuration(window) {
		dir := "ahead of"
		if d < 0 {
			dir = "behind"
		}
		return fmt.Errorf("timestamp %016x is %v %s the home agent's clock, window %v: %w",
			id, durationOf(abs).Round(time.Millisecond), dir, window, ErrIDMismatch)
	}
	if last != 0 && int64(id-last) <= 0 {
		return fmt.Errorf("timestamp %016x is not later than %016x, the last accepted: %w", id, last, ErrIDMismatch)
	}
	return nil
}

// absDiff is the magnitude of a signed difference of timestamps.
func absDiff(d int64) uint64 {
	if d < 0 {
		return uint64(-d)
	}
	return uint64(d)
}

// ntpDuration converts a non-negative duration to NTP units of 2^-32 s.
func ntpDuration(d time.Duration) uint64 {
	if d < 0 {
		return 0
	}
	secs, frac := uint64(d/time.Second), uint64(d%time.Second)
	return secs<<32 + frac<<32/uint64(time.Second)
}

// durationOf converts NTP units of 2^-32 s to a duration.
func durationOf(u uint64) time.Duration {
	return time.Duration(u>>32)*time.Second + time.Duration((u&lowMask)*uint64(time.Second)>>32)
}

// ReplayGuard is a home agent's replay protection state: for each mobile
// node (by home address), the identification it last accepted under
// timestamps and the nonce it sent last under nonces. The zero value is
// ready to use with DefaultReplayWindow. It is not safe for concurrent use;
// the home agent's event loop owns it.
type ReplayGuard struct {
	// Window is how far a timestamp may be from the home agent's clock;
	// 0 means DefaultReplayWindow.
	Window time.Duration

	mobiles map[netip.Addr]replayState
}

type replayState struct {
	last     uint64 // last accepted timestamp identification
	nonce    uint32 // the home agent's nonce in its last reply
	hasNonce bool
}

// Check applies replay protection to the identification id of a request
// from the mobile node home, whose security association uses mode, at time
// now. Call it only once the request has been authenticated, because it
// records what it accepted. It returns the identification to put in the
// reply, whatever the outcome, and a non-nil error wrapping ErrIDMismatch
// when the home agent must deny with CodeIDMismatch.
//
// Under timestamps, the reply identification is id when accepted and
// MismatchID otherwise. Under nonces, nonce is the fresh random nonce the
// home agent gives the mobile node for its next request: it goes in the
// high 32 bits of the reply identification and is what the next request
// must carry. A mobile node the guard has not seen yet is always denied
// once, to receive its first nonce.
func (g *ReplayGuard) Check(home netip.Addr, mode ReplayMode, id uint64, now time.Time, nonce uint32) (uint64, error) {
	if g.mobiles == nil {
		g.mobiles = make(map[netip.Addr]replayState)
	}
	st := g.mobiles[home]
	switch mode {
	case ReplayTimestamp:
		w := g.Window
		if w == 0 {
			w = DefaultReplayWindow
		}
		if err := CheckTimestamp(id, st.last, now, w); err != nil {
			return MismatchID(now, id), fmt.Errorf("mobile node %v: %w", home, err)
		}
		st.last = id
		g.mobiles[home] = st
		return id, nil
	case ReplayNonce:
		var err error
		switch got := uint32(id >> 32); {
		case !st.hasNonce:
			err = fmt.Errorf("mobile node %v: nonce %08x, none given yet: %w", home, got, ErrIDMismatch)
		case got != st.nonce:
			err = fmt.Errorf("mobile node %v: nonce %08x, want %08x: %w", home, got, st.nonce, ErrIDMismatch)
		}
		st.nonce, st.hasNonce = nonce, true
		g.mobiles[home] = st
		return NonceID(nonce, uint32(id)), err
	default:
		return MismatchID(now, id), fmt.Errorf("mobile node %v: %s: %w", home, mode, ErrInvalid)
	}
}

// Forget drops what the guard knows of the mobile node home, for example
// when it is removed from the authorised list.
func (g *ReplayGuard) Forget(home netip.Addr) { delete(g.mobiles, home) }
