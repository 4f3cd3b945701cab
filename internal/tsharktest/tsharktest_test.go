package tsharktest

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
)

// TestExpertSeverities checks that Expert reports warnings and errors and
// only those: a note alone is not a problem.
func TestExpertSeverities(t *testing.T) {
	Require(t)
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")

	clean := UDP(a, b, 40000, 9, []byte("discard"))
	// A TTL other than 1 to the local network control block is a note.
	note := UDP(a, netip.MustParseAddr("224.0.0.5"), 40000, 9, []byte("x"))
	// A reset carrying an acknowledgment number without the ACK flag is a
	// warning (and a chat for the reset itself).
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 9)
	binary.BigEndian.PutUint32(tcp[8:], 5) // acknowledgment number
	tcp[12] = 5 << 4                       // data offset
	tcp[13] = 0x04                         // RST
	warning := IPv4(a, b, 6, tcp)
	// A UDP header cut short is malformed: an error.
	malformed := IPv4(a, b, 17, []byte{0x9c, 0x40, 0x00})

	pcap := WritePcap(t, [][]byte{clean, note, warning, malformed})
	got := Expert(t, pcap)
	var f1, f2, f3, f4 []string
	for _, p := range got {
		switch {
		case strings.HasPrefix(p, "frame 1:"):
			f1 = append(f1, p)
		case strings.HasPrefix(p, "frame 2:"):
			f2 = append(f2, p)
		case strings.HasPrefix(p, "frame 3:"):
			f3 = append(f3, p)
		case strings.HasPrefix(p, "frame 4:"):
			f4 = append(f4, p)
		}
	}
	if len(f1) != 0 || len(f2) != 0 {
		t.Errorf("clean packet or note reported: %q", append(f1, f2...))
	}
	if len(f3) != 1 || !strings.Contains(f3[0], "expert warning") {
		t.Errorf("warning frame: %q, want one warning", f3)
	}
	if len(f4) == 0 || !strings.Contains(strings.Join(f4, "\n"), "malformed") {
		t.Errorf("malformed frame: %q, want it reported", f4)
	}
}
