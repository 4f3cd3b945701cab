package e2e

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/internal/tsharktest"
)

// packet is one IPv4 packet of a capture as `tcpdump -nt` prints it.
type packet struct {
	src, dst     string
	sport, dport int    // 0 unless UDP or TCP
	rest         string // after "src > dst: "; for IP-in-IP the inner packet
}

var packetRE = regexp.MustCompile(`^IP (\d+\.\d+\.\d+\.\d+)(?:\.(\d+))? > (\d+\.\d+\.\d+\.\d+)(?:\.(\d+))?: (.*)$`)

func parsePacket(line string) (packet, bool) {
	m := packetRE.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return packet{}, false
	}
	p := packet{src: m[1], dst: m[3], rest: m[5]}
	p.sport, _ = strconv.Atoi(m[2])
	p.dport, _ = strconv.Atoi(m[4])
	return p, true
}

// readPcap returns the IPv4 packets of file that match the pcap filter
// words, decoded by tcpdump.
func readPcap(file string, filter ...string) ([]packet, error) {
	args := append([]string{"-nt", "-Z", "root", "-r", file}, filter...)
	out, err := exec.Command("tcpdump", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("tcpdump -r %s: %v", file, err)
	}
	var pkts []packet
	for _, l := range strings.Split(string(out), "\n") {
		if p, ok := parsePacket(l); ok {
			pkts = append(pkts, p)
		}
	}
	return pkts, nil
}

// tunnelled counts the IP-in-IP packets from outerSrc to outerDst whose
// inner packet goes from innerSrc to innerDst.
func tunnelled(pkts []packet, outerSrc, outerDst, innerSrc, innerDst string) int {
	n := 0
	for _, p := range pkts {
		if p.src != outerSrc || p.dst != outerDst {
			continue
		}
		if in, ok := parsePacket(p.rest); ok && in.src == innerSrc && in.dst == innerDst {
			n++
		}
	}
	return n
}

// registrations counts the UDP packets to or from port 434 from src to dst.
func registrations(pkts []packet, src, dst string) int {
	n := 0
	for _, p := range pkts {
		if p.src == src && p.dst == dst && (p.sport == 434 || p.dport == 434) {
			n++
		}
	}
	return n
}

// tsharkCount counts the packets of pcap matching the display filter.
func tsharkCount(t *testing.T, pcap, filter string) int {
	t.Helper()
	return len(tsharktest.Fields(t, pcap, []string{"-Y", filter}, "frame.number"))
}
