package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/api"
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
		stdout []string
		stderr string
		calls  []string
		state  string // the mobile's state afterwards
		mode   string
	}{
		{args: []string{"status"}, stdout: []string{"agent:         mobile node", "state:         Connected",
			"home:          10.1.0.10", "care-of:       10.2.0.1", "foreign agent: 10.2.0.1", "home agent:    10.1.0.1",
			"lifetime:      10m0s", "remaining:     7m1s", "tunnelling:    full", "interface:     eth0", "counters:"},
			calls: []string{"get_status"}},
		{args: []string{"careof"}, stdout: []string{"10.2.0.1\n"}, calls: []string{"get_care_of_addr invalid IP"}},
		{args: []string{"careof", "10.1.0.10"}, code: cli.ExitUsage, stderr: "dynmn_tool: usage: careof\n"},
		{args: []string{"disconnect"}, stdout: []string{"disconnected\n"}, calls: []string{"disconnect"}, state: "Disconnected"},
		{args: []string{"Connect"}, stdout: []string{"connected\n"}, calls: []string{"connect"}},
		{args: []string{"update"}, stdout: []string{"location update started\n"}, calls: []string{"update_location"}},
		{args: []string{"confirm"}, stdout: []string{"registration confirmed\n"}, calls: []string{"confirm"}},
		{args: []string{"HOME"}, stdout: []string{"the mobile is at home\n"}, calls: []string{"home_update"}, state: "At home"},
		{args: []string{"home", "now"}, code: cli.ExitUsage, stderr: "dynmn_tool: usage: home\n"},
		{args: []string{"tunnel"}, stdout: []string{"tunnelling mode: full\n"}, calls: []string{"get_tunneling_mode"}},
		{args: []string{"tunnel", "NONE"}, stdout: []string{"tunnelling mode set to none\n"}, calls: []string{"set_tunneling_mode none"}, mode: "none"},
		{args: []string{"tunnel", "reverse"}, code: cli.ExitUsage,
			stderr: "dynmn_tool: unknown tunnelling mode \"reverse\"; usage: tunnel [full|triangle|none]\n"},
		{args: []string{"help"}, stdout: []string{"status [interval]", "careof ", "connect ", "disconnect ", "update ", "confirm ",
			"home ", "tunnel [full|triangle|none]", "quit"}},
		{args: []string{"list"}, code: cli.ExitUsage, stderr: "dynmn_tool: unknown command \"list\"; type help\n"},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			a := clitest.Start(t, "mn")
			code, stdout, stderr := runTool("", append([]string{"-p", a.Admin}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.code, stderr)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			if tc.stderr == "" && stderr != "" || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr %q, want %q", stderr, tc.stderr)
			}
			if calls := a.Calls(); !slices.Equal(calls, tc.calls) {
				t.Errorf("agent served %q, want %q", calls, tc.calls)
			}
			if tc.state == "" {
				tc.state = "Connected"
			}
			if tc.mode == "" {
				tc.mode = "full"
			}
			if a.State() != tc.state || a.Mode() != tc.mode {
				t.Errorf("mobile %s in mode %s, want %s in %s", a.State(), a.Mode(), tc.state, tc.mode)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	a := clitest.Start(t, "mn")
	a.FailConnect(&api.Error{Code: api.Denied, Message: "foreign agent: 65 administratively prohibited"})
	code, stdout, stderr := runTool("", "-p", a.Admin, "connect")
	if code != cli.ExitAgent || stdout != "" || stderr != "dynmn_tool: registration denied: foreign agent: 65 administratively prohibited\n" {
		t.Errorf("connect: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	a.FailConnect(api.ErrInProgress)
	if code, _, stderr := runTool("", "-p", a.Admin, "confirm"); code != cli.ExitAgent || stderr != "dynmn_tool: in progress\n" {
		t.Errorf("confirm: exit %d, stderr %q", code, stderr)
	}
	// Changing the mobile needs the admin socket.
	for _, cmd := range []string{"connect", "disconnect", "update", "confirm", "home"} {
		code, _, stderr := runTool("", "-p", a.Monitor, cmd)
		if code != cli.ExitAgent || !strings.HasPrefix(stderr, "dynmn_tool: not permitted") {
			t.Errorf("%s on the monitor socket: exit %d, stderr %q", cmd, code, stderr)
		}
	}
	if code, _, _ := runTool("", "-p", a.Monitor, "careof"); code != 0 {
		t.Errorf("careof on the monitor socket: exit %d", code)
	}
	// Without a care-of address.
	if code, _, _ := runTool("", "-p", a.Admin, "disconnect"); code != 0 {
		t.Fatalf("disconnect: exit %d", code)
	}
	code, stdout, stderr = runTool("", "-p", a.Admin, "-json", "careof")
	if code != cli.ExitAgent || stdout != "" || stderr != "dynmn_tool: not available: the mobile has no care-of address\n" {
		t.Errorf("careof when disconnected: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestJSON(t *testing.T) {
	a := clitest.Start(t, "mn")
	var st cli.StatusJSON
	_, stdout, _ := runTool("", "-p", a.Admin, "-json", "status")
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatal(err)
	}
	want := cli.MobileJSON{State: "Connected", Home: "10.1.0.10", CareOf: "10.2.0.1", FA: "10.2.0.1", HA: "10.1.0.1",
		Lifetime: 600, Remaining: 421, TunnelingMode: "full", Iface: "eth0"}
	if st.Agent != "mn" || st.Mobile == nil || *st.Mobile != want || st.Counters["denied.67"] != 1 {
		t.Fatalf("status: %+v %+v", st, st.Mobile)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"careof"}, `{"home":"","care_of":"10.2.0.1"}`},
		{[]string{"tunnel"}, `{"tunneling_mode":"full"}`},
		{[]string{"tunnel", "triangle"}, `{"command":"tunnel","tunneling_mode":"triangle","ok":true}`},
		{[]string{"disconnect"}, `{"command":"disconnect","ok":true}`},
	} {
		_, stdout, stderr := runTool("", append([]string{"-p", a.Admin, "-json"}, tc.args...)...)
		if stdout != tc.want+"\n" {
			t.Errorf("%q: %q (stderr %q), want %s", tc.args, stdout, stderr, tc.want)
		}
	}
}

func TestInteractive(t *testing.T) {
	a := clitest.Start(t, "mn")
	in := "Tunnel triangle\ntunnel\ndisconnect\nstatus\nconnect\ncareof\nhelp tunnel\nfly\nquit\n"
	code, stdout, stderr := runTool(in, "-p", a.Admin)
	if code != cli.ExitUsage || stderr != "unknown command \"fly\"; type help\n" {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	for _, w := range []string{"tunnelling mode set to triangle\ntunnelling mode: triangle\ndisconnected\n",
		"state:         Disconnected", "connected\n10.2.0.1\nusage: tunnel [full|triangle|none]\n"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout)
		}
	}
}
