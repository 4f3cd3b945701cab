package nlkernel

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/arp"

	"github.com/dynamics-go/dynamics/internal/netnstest"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
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

// countingARP wraps the real ARP client and counts what a Kernel does with
// it.
type countingARP struct {
	conn   arpConn
	fail   *bool // the next write fails
	writes *int
	closed *int
}

func (c countingARP) WriteTo(p *arp.Packet, addr net.HardwareAddr) error {
	if *c.fail {
		*c.fail = false
		return errors.New("write failed")
	}
	*c.writes++
	return c.conn.WriteTo(p, addr)
}

func (c countingARP) Close() error { *c.closed++; return c.conn.Close() }

// TestGratuitousARPReusesClient: announcements on a device share one ARP
// client (one packet socket) for the Kernel's lifetime; a client whose
// write fails is replaced, a device made again gets a new one, and Close
// closes them.
func TestGratuitousARPReusesClient(t *testing.T) {
	netnstest.RequireRoot(t)
	h := newHost(t)
	k := newKernel(t, h.ns, nil, Options{})
	var dials, writes, closed int
	var fail bool
	k.dialARP = func(ifi *net.Interface) (arpConn, error) {
		dials++
		c, err := dialARP(ifi)
		if err != nil {
			return nil, err
		}
		return countingARP{conn: c, fail: &fail, writes: &writes, closed: &closed}, nil
	}
	for range 9 {
		if err := k.GratuitousARP("eth0", mobile); err != nil {
			t.Fatal(err)
		}
	}
	if dials != 1 || writes != 18 || closed != 0 {
		t.Errorf("9 announcements: %d sockets opened, %d frames, %d closed; want 1, 18, 0", dials, writes, closed)
	}

	fail = true
	if err := k.GratuitousARP("eth0", mobile); err == nil || !strings.Contains(err.Error(), "write failed") {
		t.Errorf("a failed write gave %v", err)
	}
	if err := k.GratuitousARP("eth0", mobile); err != nil {
		t.Fatal(err)
	}
	if dials != 2 || closed != 1 {
		t.Errorf("after a failed write: %d sockets opened, %d closed; want 2, 1", dials, closed)
	}

	// eth0 made again under the same name: a new index, a new client.
	h.ns.Run("ip", "link", "del", "eth0")
	netnstest.Veth(t, h.ns, "eth0", h.peer, "eth0")
	h.ns.Addr("eth0", "10.1.0.1/24")
	if err := k.GratuitousARP("eth0", mobile); err != nil {
		t.Fatal(err)
	}
	if dials != 3 || closed != 2 {
		t.Errorf("after eth0 was made again: %d sockets opened, %d closed; want 3, 2", dials, closed)
	}

	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if closed != 3 {
		t.Errorf("Close left %d ARP clients open", 3-closed)
	}
	if err := k.GratuitousARP("eth0", mobile); !errors.Is(err, kernel.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}
