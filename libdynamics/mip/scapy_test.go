package mip

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// python is the interpreter with scapy that the scapy oracle uses.
const python = "/usr/bin/python3"

// scapyScript builds each message described on stdin (one JSON object per
// line) with scapy's MobileIPRRQ or MobileIPRRP and prints its bytes in
// hex, one line each.
const scapyScript = `
import json, sys
from scapy.layers.mobileip import MobileIP, MobileIPRRQ, MobileIPRRP
for line in sys.stdin:
    m = json.loads(line)
    if m["type"] == 1:
        p = MobileIP(type=1) / MobileIPRRQ(flags=m["flags"], lifetime=m["lifetime"],
            homeaddr=m["home"], haaddr=m["ha"], coaddr=m["coa"], id=m["id"])
    else:
        p = MobileIP(type=3) / MobileIPRRP(code=m["code"], lifetime=m["lifetime"],
            homeaddr=m["home"], haaddr=m["ha"], id=m["id"])
    print(bytes(p).hex())
`

// requireScapy skips the test unless python3 can import scapy's Mobile IP
// layer.
func requireScapy(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(python); err != nil {
		t.Skipf("skipped: %s is not installed (apt-get install python3-scapy)", python)
	}
	out, err := exec.Command(python, "-c", "import scapy.layers.mobileip").CombinedOutput()
	if err != nil {
		t.Skipf("skipped: %s cannot import scapy.layers.mobileip (apt-get install python3-scapy): %v: %s",
			python, err, strings.TrimSpace(string(out)))
	}
}

// TestScapy builds requests and replies with scapy, a second encoder, from
// the same field values: its bytes must equal the fixed parts this package
// writes.
func TestScapy(t *testing.T) {
	requireScapy(t)
	var (
		msgs  []Message
		input bytes.Buffer
	)
	for i, f := range []Flags{0, FlagBroadcast | FlagReverseTunnel, 0xff, FlagSimultaneous | FlagDecapsulation | FlagGRE} {
		msgs = append(msgs, &Request{
			Flags: f, Lifetime: []uint16{0, 600, Infinite, 1}[i], ID: goldenID + uint64(i)<<40,
			Home: netip.MustParseAddr("10.1.0.10"), HomeAgent: netip.MustParseAddr("10.1.0.1"),
			CareOf: netip.AddrFrom4([4]byte{10, 2, 0, byte(i)}),
		})
	}
	for i, c := range []Code{CodeAccepted, CodeIDMismatch, CodeFAReverseTunnel, 255} {
		msgs = append(msgs, &Reply{
			Code: c, Lifetime: uint16(300 * i), ID: ^uint64(i),
			Home: netip.MustParseAddr("0.0.0.0"), HomeAgent: netip.MustParseAddr("255.255.255.255"),
		})
	}
	for _, m := range msgs {
		d := map[string]any{"type": int(m.MessageType())}
		switch m := m.(type) {
		case *Request:
			d["flags"], d["lifetime"], d["home"], d["ha"], d["coa"], d["id"] =
				int(m.Flags), int(m.Lifetime), m.Home.String(), m.HomeAgent.String(), m.CareOf.String(), m.ID
		case *Reply:
			d["code"], d["lifetime"], d["home"], d["ha"], d["id"] =
				int(m.Code), int(m.Lifetime), m.Home.String(), m.HomeAgent.String(), m.ID
		}
		line, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		input.Write(append(line, '\n'))
	}
	cmd := exec.Command(python, "-c", scapyScript)
	cmd.Stdin = &input
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scapy: %v\n%s", err, stderr.String())
	}
	lines := strings.Fields(string(out))
	if len(lines) != len(msgs) {
		t.Fatalf("scapy printed %d messages, want %d\n%s", len(lines), len(msgs), out)
	}
	for i, m := range msgs {
		ours, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := hex.DecodeString(lines[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours, theirs) {
			t.Errorf("%s %d:\n  ours  %x\n scapy  %x", m.MessageType(), i, ours, theirs)
		}
		// And scapy's bytes parse back to the same fields.
		back, err := Parse(theirs)
		if err != nil {
			t.Errorf("%s %d: parsing scapy's bytes: %v", m.MessageType(), i, err)
			continue
		}
		if !reflect.DeepEqual(fieldsOf(back), fieldsOf(m)) {
			t.Errorf("%s %d: scapy's bytes parse to %+v, want %+v", m.MessageType(), i, fieldsOf(back), fieldsOf(m))
		}
	}
}
