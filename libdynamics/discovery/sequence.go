package discovery

// firstRolloverSequence is where an agent's sequence number continues after
// 0xffff. Numbers below it appear only after the agent (re)starts.
const firstRolloverSequence = 256

// NextSequence returns the sequence number of the advertisement after one
// numbered seq. An agent numbers its first advertisement 0 and counts up;
// after 0xffff it continues at 256, so 0-255 are seen only after a restart
// (RFC 5944 section 2.3.2).
func NextSequence(seq uint16) uint16 {
	if seq == 0xffff {
		return firstRolloverSequence
	}
	return seq + 1
}

// Rebooted reports whether an agent whose previous advertisement carried
// sequence number prev has restarted, now that it advertises cur: cur is
// below 256 and lower than prev, which counting and rollover alone never
// produce. Lost advertisements (cur above prev) and a repeated number are
// not a restart. A mobile node registered through the agent registers again
// when this holds.
func Rebooted(prev, cur uint16) bool {
	return cur < firstRolloverSequence && cur < prev
}
