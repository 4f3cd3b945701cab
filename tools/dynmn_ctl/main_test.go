package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/tools/internal/cli"
	"github.com/dynamics-go/dynamics/tools/internal/clitest"
)

func runTool(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errb strings.Builder
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCommands(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
		calls  []string
	}{
		{args: []string{"tunnel", "triangle"}, stdout: "tunnelling mode set to triangle\n", calls: []string{"set_tunneling_mode triangle"}},
		{args: []string{"Tunnel", "FULL"}, stdout: "tunnelling mode set to full\n", calls: []string{"set_tunneling_mode full"}},
		{args: []string{"tunnel"}, code: cli.ExitUsage, stderr: "dynmn_ctl: usage: tunnel <full|triangle|none>\n"},
		{args: []string{"tunnel", "ipip"}, code: cli.ExitUsage,
			stderr: "dynmn_ctl: unknown tunnelling mode \"ipip\"; usage: tunnel <full|triangle|none>\n"},
		{args: []string{"disconnect"}, stdout: "disconnected\n", calls: []string{"disconnect"}},
		{args: []string{"connect"}, stdout: "connected\n", calls: []string{"connect"}},
		{args: []string{"UPDATE"}, stdout: "location update started\n", calls: []string{"update_location"}},
		{args: []string{"status", "2"}, code: cli.ExitUsage, stderr: "dynmn_ctl: usage: status\n"},
		{args: []string{"confirm"}, code: cli.ExitUsage, stderr: "dynmn_ctl: unknown command \"confirm\"; type help\n"},
		{args: []string{"quit"}},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			a := clitest.Start(t, "mn")
			code, stdout, stderr := runTool("", append([]string{"-p", a.Admin}, tc.args...)...)
			if code != tc.code || stdout != tc.stdout || stderr != tc.stderr {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
			}
			if calls := a.Calls(); !slices.Equal(calls, tc.calls) {
				t.Errorf("agent served %q, want %q", calls, tc.calls)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	a := clitest.Start(t, "mn")
	code, stdout, _ := runTool("", "-p", a.Admin, "status")
	if code != 0 || !strings.Contains(stdout, "state:         Connected") || !strings.Contains(stdout, "tunnelling:    full") {
		t.Errorf("exit %d:\n%s", code, stdout)
	}
	code, stdout, _ = runTool("", "-json", "-p", a.Admin, "status")
	var st cli.StatusJSON
	if err := json.Unmarshal([]byte(stdout), &st); code != 0 || err != nil || st.Mobile == nil || st.Mobile.CareOf != "10.2.0.1" {
		t.Errorf("-json: exit %d, %v, %q", code, err, stdout)
	}
}

func TestInteractive(t *testing.T) {
	a := clitest.Start(t, "mn")
	code, stdout, stderr := runTool("help\ntunnel none\nstatus\nnope\ndisconnect\n", "-p", a.Admin)
	if code != cli.ExitUsage || stderr != "unknown command \"nope\"; type help\n" {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	for _, w := range []string{"dynmn_ctl commands:", "tunnel <full|triangle|none>", "tunnelling mode set to none",
		"tunnelling:    none", "disconnected\n"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout)
		}
	}
	if a.State() != "Disconnected" {
		t.Errorf("state %s", a.State())
	}
}

func TestUsage(t *testing.T) {
	code, stdout, _ := runTool("", "-h")
	if code != 0 || !strings.Contains(stdout, "/run/dynamics/mn.sock") || !strings.Contains(stdout, "Exit status") {
		t.Errorf("exit %d:\n%s", code, stdout)
	}
	if code, _, stderr := runTool("", "-p", "/nonexistent/mn.sock", "update"); code != cli.ExitUnreachable ||
		!strings.Contains(stderr, "is dynmnd running?") {
		t.Errorf("unreachable: exit %d, %q", code, stderr)
	}
}
