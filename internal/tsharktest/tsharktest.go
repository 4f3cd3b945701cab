// Package tsharktest writes packets to pcap files and decodes them with
// tshark, the independent oracle the wire-format tests compare against.
package tsharktest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// linkTypeRaw is LINKTYPE_RAW: each record is a bare IPv4 or IPv6 packet.
const linkTypeRaw = 101

// Require skips the test unless tshark is installed.
func Require(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("skipped: tshark is not installed (apt-get install tshark; .ci/run installs it)")
	}
}

// WritePcap writes raw IPv4 packets to a new pcap file in t.TempDir and
// returns its path.
func WritePcap(t testing.TB, packets [][]byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "packets.pcap")
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, 0xa1b2c3d4)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = binary.LittleEndian.AppendUint32(b, 0) // thiszone
	b = binary.LittleEndian.AppendUint32(b, 0) // sigfigs
	b = binary.LittleEndian.AppendUint32(b, 65535)
	b = binary.LittleEndian.AppendUint32(b, linkTypeRaw)
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, p := range packets {
		b = binary.LittleEndian.AppendUint32(b, uint32(ts.Unix())+uint32(i))
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// IPv4 wraps payload in an IPv4 header (no options, TTL 64) with a correct
// header checksum.
func IPv4(src, dst netip.Addr, proto uint8, payload []byte) []byte {
	h := make([]byte, 20, 20+len(payload))
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	h[8] = 64
	h[9] = proto
	s, d := src.As4(), dst.As4()
	copy(h[12:16], s[:])
	copy(h[16:20], d[:])
	binary.BigEndian.PutUint16(h[10:], Checksum(h))
	return append(h, payload...)
}

// UDP wraps payload in UDP and IPv4 with correct checksums.
func UDP(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	u := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(payload)))
	u = append(u, payload...)
	s, d := src.As4(), dst.As4()
	pseudo := append(append(append([]byte{}, s[:]...), d[:]...), 0, 17, byte(len(u)>>8), byte(len(u)))
	sum := Checksum(append(pseudo, u...))
	if sum == 0 {
		sum = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:], sum)
	return IPv4(src, dst, 17, u)
}

// Checksum is the Internet checksum (RFC 1071) of b.
func Checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// Fields runs `tshark -r pcap -T fields` with -e for each field and returns
// one row per packet, each with one value per field (multiple occurrences
// joined by commas, as tshark prints them).
func Fields(t testing.TB, pcap string, extra []string, fields ...string) [][]string {
	t.Helper()
	args := []string{"-r", pcap, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"}
	args = append(args, extra...)
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out := run(t, args...)
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		rows = append(rows, strings.Split(line, "\t"))
	}
	return rows
}

// JSON runs `tshark -r pcap -T json` and returns the decoded packets.
func JSON(t testing.TB, pcap string, extra ...string) []map[string]any {
	t.Helper()
	out := run(t, append([]string{"-r", pcap, "-T", "json"}, extra...)...)
	var pkts []map[string]any
	if err := json.Unmarshal([]byte(out), &pkts); err != nil {
		t.Fatalf("tshark json: %v", err)
	}
	return pkts
}

// Expert severities as tshark prints _ws.expert.severity (`tshark -G
// values`): comment 0x00100000, chat 0x00200000, note 0x00400000, warning
// 0x00600000, error 0x00800000.
const (
	severityMask = 0x00f00000
	severityWarn = 0x00600000
)

// expertAggregator separates repeated values of one field in Expert's
// query; expert messages themselves contain commas.
const expertAggregator = "\x1f"

// Expert returns tshark's expert information lines (warnings and errors)
// and every malformed-packet marker for the capture; an empty result means
// tshark found nothing wrong. Notes, chats and comments are ignored.
func Expert(t testing.TB, pcap string, extra ...string) []string {
	t.Helper()
	args := []string{"-r", pcap, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a",
		"-E", "aggregator=" + expertAggregator}
	args = append(args, extra...)
	for _, f := range []string{"frame.number", "_ws.malformed", "_ws.expert.severity", "_ws.expert.message"} {
		args = append(args, "-e", f)
	}
	var problems []string
	for _, line := range strings.Split(strings.TrimRight(run(t, args...), "\n"), "\n") {
		if line == "" {
			continue
		}
		r := strings.Split(line, "\t")
		for len(r) < 4 {
			r = append(r, "")
		}
		if r[1] != "" {
			problems = append(problems, fmt.Sprintf("frame %s: malformed", r[0]))
		}
		if r[2] == "" {
			continue
		}
		sev := strings.Split(r[2], expertAggregator)
		msg := strings.Split(r[3], expertAggregator)
		for i, s := range sev {
			v, err := strconv.ParseUint(s, 0, 32)
			if err != nil {
				t.Fatalf("tshark: frame %s: expert severity %q is not a number", r[0], s)
			}
			if v&severityMask < severityWarn {
				continue
			}
			m := ""
			if i < len(msg) {
				m = msg[i]
			}
			level := "warning"
			if v&severityMask > severityWarn {
				level = "error"
			}
			problems = append(problems, fmt.Sprintf("frame %s: expert %s: %s", r[0], level, m))
		}
	}
	return problems
}

func run(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("tshark", args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}
