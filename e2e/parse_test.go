package e2e

import "testing"

// TestParsePacket checks the reading of tcpdump's lines the scenario's
// tunnel and registration checks rely on.
func TestParsePacket(t *testing.T) {
	lines := []string{
		"IP 10.0.1.2 > 10.1.0.1: IP 10.1.0.10 > 198.51.100.10: ICMP echo reply, id 7, seq 3, length 64",
		"IP 10.1.0.1 > 10.0.1.2: IP 198.51.100.10 > 10.1.0.10: ICMP echo request, id 7, seq 4, length 64",
		"IP 10.0.1.2.434 > 10.1.0.1.434: UDP, length 50",
		"IP 10.1.0.1.434 > 10.0.1.2.434: UDP, length 44",
		"ARP, Request who-has 10.0.1.1 tell 10.0.1.2, length 28",
	}
	var pkts []packet
	for _, l := range lines {
		if p, ok := parsePacket(l); ok {
			pkts = append(pkts, p)
		}
	}
	if len(pkts) != 4 {
		t.Fatalf("parsed %d packets, want 4: %+v", len(pkts), pkts)
	}
	if p := pkts[2]; p.src != "10.0.1.2" || p.sport != 434 || p.dst != "10.1.0.1" || p.dport != 434 {
		t.Errorf("UDP packet parsed as %+v", p)
	}
	if n := tunnelled(pkts, "10.0.1.2", "10.1.0.1", "10.1.0.10", "198.51.100.10"); n != 1 {
		t.Errorf("reverse-tunnelled packets %d, want 1", n)
	}
	if n := tunnelled(pkts, "10.1.0.1", "10.0.1.2", "198.51.100.10", "10.1.0.10"); n != 1 {
		t.Errorf("tunnelled packets %d, want 1", n)
	}
	if n := tunnelled(pkts, "10.1.0.1", "10.0.1.2", "10.1.0.10", "198.51.100.10"); n != 0 {
		t.Errorf("tunnelled packets the wrong way round %d, want 0", n)
	}
	if a, b := registrations(pkts, "10.0.1.2", "10.1.0.1"), registrations(pkts, "10.1.0.1", "10.0.1.2"); a != 1 || b != 1 {
		t.Errorf("registrations %d and %d, want 1 each way", a, b)
	}
}
