package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
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

// tshark runs tshark on a capture with a private HOME (tshark writes its
// profile there) and returns its standard output.
func tshark(args ...string) (string, error) {
	home, err := os.MkdirTemp("", "dyn-e2e-tshark-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(home)
	cmd := exec.Command("tshark", args...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("tshark %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// infoField names the Info column as a field: _ws.col.info since
// Wireshark 4.2, _ws.col.Info before.
var infoField = sync.OnceValue(func() string {
	out, err := tshark("-G", "fields")
	if err == nil && strings.Contains(out, "\t_ws.col.info\t") {
		return "_ws.col.info"
	}
	return "_ws.col.Info"
})

// tsharkCount counts the packets of pcap matching the display filter.
func tsharkCount(pcap, filter string) (int, error) {
	out, err := tshark("-r", pcap, "-Y", filter, "-T", "fields", "-e", "frame.number")
	if err != nil {
		return 0, err
	}
	return len(strings.Fields(out)), nil
}

// tsharkProblems returns tshark's malformed-packet markers and expert
// warnings and errors for the packets of pcap matching the display filter,
// as libdynamics/internal/tsharktest.Expert does for the unit tests (which
// e2e cannot import: it is internal to libdynamics).
//
// tshark warns about a TTL below 5 on a packet to a unicast or broadcast
// address ("Time To Live" only 1); agent discovery messages carry TTL 1, so
// they must go to 224.0.0.1 or 224.0.0.11 as docs/PROTOCOL.md says, and the
// problem then says so.
func tsharkProblems(pcap, filter string) (problems []string, err error) {
	out, err := tshark("-r", pcap, "-Y", filter, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a",
		"-E", "aggregator=,", "-e", "frame.number", "-e", "_ws.malformed", "-e", "_ws.expert.severity",
		"-e", "_ws.expert.message", "-e", infoField(), "-e", "icmp.type", "-e", "ip.ttl")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		r := strings.Split(line, "\t")
		for len(r) < 7 {
			r = append(r, "")
		}
		frame, info := r[0], r[4]
		icmpType, _, _ := strings.Cut(r[5], ",")
		ttl, _, _ := strings.Cut(r[6], ",")
		discovery := (icmpType == "9" || icmpType == "10") && ttl == "1"
		if r[1] != "" {
			problems = append(problems, fmt.Sprintf("frame %s (%s): malformed", frame, info))
		}
		if r[2] == "" {
			continue
		}
		sev, msg := strings.Split(r[2], ","), strings.Split(r[3], ",")
		for i, s := range sev {
			// 0x00400000 warning, 0x00800000 error; notes and chats pass.
			if s != "4194304" && s != "8388608" && !strings.EqualFold(s, "0x00400000") && !strings.EqualFold(s, "0x00800000") {
				continue
			}
			m := ""
			if i < len(msg) {
				m = msg[i]
			}
			p := fmt.Sprintf("frame %s (%s): expert %s: %s", frame, info, s, m)
			if discovery && strings.Contains(m, "Time To Live") {
				p += " (a discovery message with TTL 1 to a unicast or broadcast address; " +
					"docs/PROTOCOL.md sends them to 224.0.0.1 or 224.0.0.11)"
			}
			problems = append(problems, p)
		}
	}
	return problems, nil
}
