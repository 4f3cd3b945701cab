package testbed

import (
	"slices"
	"testing"
)

// Notes ip prints among the links (a veth whose peer namespace is going
// away) are not links: a snapshot taken meanwhile must not show a change.
func TestNormaliseLinkSkipsNotes(t *testing.T) {
	out := "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\n" +
		"Peer netns reference is invalid.\n" +
		"7: eth0@if8: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP\n"
	if got, want := normalise("link", out), []string{"eth0", "lo"}; !slices.Equal(got, want) {
		t.Errorf("normalise = %q, want %q", got, want)
	}
}
