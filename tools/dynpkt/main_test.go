package main

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// dynpkt runs the command in-process and returns its exit status and
// output.
func dynpkt(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

const key = "00112233445566778899aabbccddeeff"

// goldenRequest is a request with flags B and T and a Mobile-Home
// authenticator by HMAC-MD5 under SPI 1000 and key, computed independently
// (Python's hmac module); it is the mip package's golden request.
const goldenRequest = "014202580a01000a0a0100010a020001eb8f2f4012345678" +
	"2014000003e8" + "7d899d7ad453f0e03c10023a2fc0e42f"

// goldenReply is the matching accepting reply.
const goldenReply = "030002580a01000a0a010001eb8f2f4012345678" +
	"2014000003e8" + "cd097ed7b41cb9de62cbc9b3d2371281"

func TestEncodeGolden(t *testing.T) {
	code, out, errOut := dynpkt(t, "", "encode", "request", "-home", "10.1.0.10", "-ha", "10.1.0.1",
		"-coa", "10.2.0.1", "-id", "eb8f2f4012345678", "-lifetime", "600", "-flags", "BT",
		"-spi", "1000", "-key", key, "-alg", "hmac-md5")
	if code != 0 || strings.TrimSpace(out) != goldenRequest {
		t.Errorf("encode request = %d %q %q, want %s", code, out, errOut, goldenRequest)
	}
	code, out, errOut = dynpkt(t, "", "encode", "reply", "-code", "0", "-home", "10.1.0.10", "-ha", "10.1.0.1",
		"-id", "eb8f2f4012345678", "-lifetime", "600", "-spi", "1000", "-key", key)
	if code != 0 || strings.TrimSpace(out) != goldenReply {
		t.Errorf("encode reply = %d %q %q, want %s", code, out, errOut, goldenReply)
	}
}

type decodedJSON struct {
	Type       string           `json:"type"`
	Code       *int             `json:"code"`
	Flags      *string          `json:"flags"`
	Lifetime   int              `json:"lifetime"`
	Home       string           `json:"home"`
	HA         string           `json:"ha"`
	CoA        *string          `json:"coa"`
	ID         string           `json:"id"`
	Extensions []map[string]any `json:"extensions"`
}

func decodeJSON(t *testing.T, out string) decodedJSON {
	t.Helper()
	var d decodedJSON
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("decode output %q: %v", out, err)
	}
	return d
}

// TestEncodeDecodeVerify runs what a user does: encode with each
// algorithm, decode the result, verify with the right association and
// fail with a wrong key, SPI or algorithm.
func TestEncodeDecodeVerify(t *testing.T) {
	for _, alg := range []string{"hmac-md5", "prefix-suffix"} {
		t.Run(alg, func(t *testing.T) {
			code, out, errOut := dynpkt(t, "", "encode", "request", "-home", "10.1.0.10", "-ha", "10.1.0.1",
				"-coa", "10.3.0.1", "-id", "0x00000000000000ff", "-lifetime", "65535", "-flags", "SDrT",
				"-spi", "0x1234", "-key", "c0ffee", "-alg", alg)
			if code != 0 {
				t.Fatalf("encode: %d %s", code, errOut)
			}
			msg := strings.TrimSpace(out)

			code, out, errOut = dynpkt(t, "", "decode", msg)
			if code != 0 {
				t.Fatalf("decode: %d %s", code, errOut)
			}
			d := decodeJSON(t, out)
			if d.Type != "request" || d.Code != nil || d.Flags == nil || *d.Flags != "SDrT" ||
				d.Lifetime != 65535 || d.Home != "10.1.0.10" || d.HA != "10.1.0.1" ||
				d.CoA == nil || *d.CoA != "10.3.0.1" || d.ID != "00000000000000ff" {
				t.Errorf("decode = %s", out)
			}
			if len(d.Extensions) != 1 || d.Extensions[0]["type"] != 32.0 || d.Extensions[0]["spi"] != float64(0x1234) ||
				len(d.Extensions[0]["auth"].(string)) != 32 || d.Extensions[0]["data"] != nil {
				t.Errorf("decode extensions = %v", d.Extensions)
			}

			if code, _, errOut := dynpkt(t, "", "verify", msg, "-spi", "4660", "-key", "c0ffee", "-alg", alg); code != 0 {
				t.Errorf("verify with the right association: %d %s", code, errOut)
			}
			// Flags first, message last, and the message on stdin.
			if code, _, errOut := dynpkt(t, msg, "verify", "-spi", "4660", "-key", "c0ffee", "-alg", alg, "-"); code != 0 {
				t.Errorf("verify from stdin: %d %s", code, errOut)
			}
			other := map[string]string{"hmac-md5": "prefix-suffix", "prefix-suffix": "hmac-md5"}[alg]
			for name, args := range map[string][]string{
				"wrong key":       {"-spi", "4660", "-key", "c0ffef", "-alg", alg},
				"wrong SPI":       {"-spi", "4661", "-key", "c0ffee", "-alg", alg},
				"wrong algorithm": {"-spi", "4660", "-key", "c0ffee", "-alg", other},
			} {
				code, _, errOut := dynpkt(t, "", append([]string{"verify", msg}, args...)...)
				if code != 1 || !strings.Contains(errOut, "dynpkt:") {
					t.Errorf("verify with %s = %d %q, want 1 and an error", name, code, errOut)
				}
			}
		})
	}
}

func TestDecodeReply(t *testing.T) {
	// A reply with an NAI and an unknown skippable extension after the
	// authenticator.
	msg := goldenReply + "8303612e62" + "c80101"
	code, out, errOut := dynpkt(t, "", "decode", msg)
	if code != 0 {
		t.Fatalf("decode: %d %s", code, errOut)
	}
	d := decodeJSON(t, out)
	if d.Type != "reply" || d.Code == nil || *d.Code != 0 || d.Flags != nil || d.CoA != nil ||
		d.ID != "eb8f2f4012345678" || d.Lifetime != 600 {
		t.Errorf("decode = %s", out)
	}
	want := `[{"auth":"cd097ed7b41cb9de62cbc9b3d2371281","spi":1000,"type":32},{"data":"612e62","type":131},{"data":"01","type":200}]`
	got, _ := json.Marshal(d.Extensions)
	if string(got) != want {
		t.Errorf("extensions = %s, want %s", got, want)
	}
	if code, _, errOut := dynpkt(t, "", "verify", goldenReply, "-spi", "1000", "-key", key); code != 0 {
		t.Errorf("verify reply: %d %s", code, errOut)
	}
}

func TestMalformed(t *testing.T) {
	for name, msg := range map[string]string{
		"truncated":          goldenRequest[:40],
		"extension past end": goldenRequest[:len(goldenRequest)-2],
		"unknown type":       "05" + goldenRequest[2:],
		"non-skippable ext":  goldenRequest + "2300",
		"not hex":            "zz",
		"odd digits":         "014",
	} {
		for _, cmd := range [][]string{{"decode", msg}, {"verify", msg, "-spi", "1000", "-key", key}} {
			code, out, errOut := dynpkt(t, "", cmd...)
			if code != 1 || out != "" || !strings.HasPrefix(errOut, "dynpkt: ") {
				t.Errorf("%s %s: %d %q %q, want exit 1 with an error on stderr", cmd[0], name, code, out, errOut)
			}
		}
	}
	code, _, errOut := dynpkt(t, "", "decode", goldenRequest+"2300")
	if code != 1 || !strings.Contains(errOut, "type 35") {
		t.Errorf("non-skippable extension error %q does not name the type", errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	base := []string{"-home", "10.1.0.10", "-ha", "10.1.0.1", "-spi", "1", "-key", "aa"}
	req := append([]string{"encode", "request", "-coa", "10.2.0.1"}, base...)
	tests := []struct {
		name string
		args []string
		text string
	}{
		{"no arguments", nil, "usage"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"encode what", append([]string{"encode"}, base...), "encode request"},
		{"encode twice", append([]string{"encode", "request", "reply"}, base...), "encode request"},
		{"unknown flag", append(req, "-bogus"), "-bogus"},
		{"bad flag letter", append(req, "-flags", "BZ"), "letters"},
		{"bad address", append(req, "-home", "10.1.0.300"), "not an IPv4 address"},
		{"IPv6 address", append(req, "-ha", "2001:db8::1"), "not an IPv4 address"},
		{"lifetime too big", append(req, "-lifetime", "65536"), "out of range"},
		{"negative lifetime", append(req, "-lifetime", "-1"), "not a number"},
		{"SPI too big", append(req, "-spi", "4294967296"), "out of range"},
		{"long id", append(req, "-id", "00112233445566778"), "16 hex digits"},
		{"bad key", append(req, "-key", "xyz"), "not hex"},
		{"bad algorithm", append(req, "-alg", "sha1"), "hmac-md5 or prefix-suffix"},
		{"code on a request", append(req, "-code", "1"), "-code does not apply"},
		{"coa on a reply", append([]string{"encode", "reply", "-coa", "10.2.0.1"}, base...), "-coa does not apply"},
		{"flags on a reply", append([]string{"encode", "reply", "-flags", "T"}, base...), "-flags does not apply"},
		{"code too big", append([]string{"encode", "reply", "-code", "256"}, base...), "out of range"},
		{"missing coa", append([]string{"encode", "request"}, base...), "-coa is required"},
		{"missing home", []string{"encode", "reply", "-ha", "10.1.0.1", "-spi", "1", "-key", "aa"}, "-home is required"},
		{"missing key", []string{"encode", "reply", "-home", "10.1.0.10", "-ha", "10.1.0.1", "-spi", "1"}, "-key is required"},
		{"missing spi", []string{"verify", goldenRequest, "-key", key}, "-spi is required"},
		{"verify without message", []string{"verify", "-spi", "1", "-key", key}, "want one hex message"},
		{"decode two messages", []string{"decode", goldenRequest, goldenReply}, "got 2 arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := dynpkt(t, "", tt.args...)
			if code != 2 || out != "" || !strings.Contains(errOut, tt.text) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q", code, out, errOut, tt.text)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"encode", "-h"}, {"verify", "-h"}} {
		code, out, errOut := dynpkt(t, "", args...)
		if code != 0 || !strings.Contains(out, "dynpkt encode request") || errOut != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

// TestDefaultID checks that without -id the identification is the current
// time as an NTP timestamp.
func TestDefaultID(t *testing.T) {
	args := []string{"encode", "request", "-home", "10.1.0.10", "-ha", "10.1.0.1", "-coa", "10.2.0.1", "-spi", "1", "-key", "aa"}
	before := time.Now()
	_, enc, _ := dynpkt(t, "", args...)
	after := time.Now()
	_, out, _ := dynpkt(t, "", "decode", strings.TrimSpace(enc))
	id, err := strconv.ParseUint(decodeJSON(t, out).ID, 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	if at := mip.IDTime(id); at.Before(before.Add(-time.Microsecond)) || at.After(after) {
		t.Errorf("default id %016x is %v, want between %v and %v", id, at, before, after)
	}
}
