package nlkernel

import (
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/netnstest"
)

// TestGratuitousARP checks what a home agent relies on when a mobile leaves
// home: hosts on the link that hold the mobile's address in their ARP cache
// move it to the agent's hardware address.
func TestGratuitousARP(t *testing.T) {
	netnstest.RequireRoot(t)
	netnstest.RequireCommand(t, "tcpdump", "to watch the link from the peer")
	h := newHost(t)
	k := newKernel(t, h.ns, nil, Options{})
	agentHW := strings.TrimSpace(h.ns.Run("cat", "/sys/class/net/eth0/address"))

	// The peer knows the mobile at its own hardware address, long enough ago
	// (more than locktime, 1 s) for an announcement to override it.
	h.peer.Run("ip", "neigh", "replace", "10.1.0.10", "lladdr", "02:00:00:00:00:10", "dev", "eth0", "nud", "stale")
	_, out := h.peer.Start("tcpdump", "-l", "-n", "-e", "-i", "eth0", "-c", "2", "arp")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "listening on") {
		if time.Now().After(deadline) {
			t.Fatalf("tcpdump did not start:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(1100 * time.Millisecond)

	if err := k.GratuitousARP("eth0", mobile); err != nil {
		t.Fatal(err)
	}
	for strings.Count(out.String(), "ARP") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the peer saw fewer than two ARP packets:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	lines := out.String()
	for _, want := range []string{
		agentHW + " > ff:ff:ff:ff:ff:ff",
		"Request who-has 10.1.0.10 tell 10.1.0.10",
		"Reply 10.1.0.10 is-at " + agentHW,
	} {
		if !strings.Contains(lines, want) {
			t.Errorf("tcpdump in the peer lacks %q:\n%s", want, lines)
		}
	}
	if got := h.peer.Run("ip", "neigh", "show", "10.1.0.10", "dev", "eth0"); !strings.Contains(got, "lladdr "+agentHW) {
		t.Errorf("the peer's ARP cache was not updated to the agent's %s: %s", agentHW, got)
	}
	if k.Changes() != 0 {
		t.Errorf("a gratuitous ARP counted %d changes to kernel state", k.Changes())
	}
}
