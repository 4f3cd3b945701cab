package main

import (
	"encoding/json"
	"net/netip"
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
		args     []string
		code     int
		stdout   []string // each must appear
		stderr   string
		calls    []string // the agent's calls, in order
		notCalls bool     // the agent must not be called
	}{
		{args: []string{"list"}, stdout: []string{"HOME", "CARE-OF", "PEER", "REMAINING", "STATE", "TUNNEL",
			"10.1.0.10", "10.2.0.1", "9m0s/10m0s", "registered", "dyn0", "10.1.0.11", "10.3.0.1", "dyn1"},
			calls: []string{"get_tunnels"}},
		{args: []string{"LIST"}, stdout: []string{"10.1.0.10"}, calls: []string{"get_tunnels"}},
		{args: []string{"show", "10.1.0.11"}, stdout: []string{"home:", "10.1.0.11", "care-of:", "10.3.0.1",
			"home agent:", "10.1.0.1", "peer:", "identification: 0xe8f5a1b200000002", "flags:", "T", "lifetime:", "10m0s",
			"remaining:", "8m0s", "state:", "registered", "confirmed:", "yes", "tunnel:", "dyn1"},
			calls: []string{"get_tunnel_info 10.1.0.11"}},
		{args: []string{"Show", "10.1.0.99"}, code: cli.ExitAgent, stderr: "dynha_tool: not available: 10.1.0.99 has no tunnel\n",
			calls: []string{"get_tunnel_info 10.1.0.99"}},
		{args: []string{"show"}, code: cli.ExitUsage, stderr: "dynha_tool: usage: show <home> [interval]\n", notCalls: true},
		{args: []string{"show", "mobile"}, code: cli.ExitUsage,
			stderr: "dynha_tool: \"mobile\" is not a mobile's IPv4 home address; usage: show <home> [interval]\n", notCalls: true},
		{args: []string{"show", "10.1.0.10", "soon"}, code: cli.ExitUsage, stderr: "usage: show <home> [interval]", notCalls: true},
		{args: []string{"careof", "10.1.0.11"}, stdout: []string{"10.3.0.1\n"}, calls: []string{"get_care_of_addr 10.1.0.11"}},
		{args: []string{"careof", "10.1.0.50"}, code: cli.ExitAgent,
			stderr: "not available: 10.1.0.50 is not registered away from home", calls: []string{"get_care_of_addr 10.1.0.50"}},
		{args: []string{"careof"}, code: cli.ExitUsage, stderr: "usage: careof <home>\n", notCalls: true},
		{args: []string{"destroy", "10.1.0.10"}, stdout: []string{"destroyed the tunnel of 10.1.0.10"},
			calls: []string{"destroy_tunnel 10.1.0.10"}},
		{args: []string{"destroy", "10.1.0.99"}, code: cli.ExitAgent, stderr: "not available: 10.1.0.99 has no tunnel",
			calls: []string{"destroy_tunnel 10.1.0.99"}},
		{args: []string{"destroy", "2001:db8::1"}, code: cli.ExitUsage, stderr: "usage: destroy <home>", notCalls: true},
		{args: []string{"enable", "10.1.0.10"}, stdout: []string{"enabled 10.1.0.10"}, calls: []string{"enable_mobile 10.1.0.10 true"}},
		{args: []string{"disable", "10.1.0.10"}, stdout: []string{"disabled 10.1.0.10"}, calls: []string{"enable_mobile 10.1.0.10 false"}},
		{args: []string{"disable", "192.0.2.1"}, code: cli.ExitAgent,
			stderr: "dynha_tool: not available: 192.0.2.1 is not in the authorised list\n", calls: []string{"enable_mobile 192.0.2.1 false"}},
		{args: []string{"enable", "10.1.0.10", "now"}, code: cli.ExitUsage, stderr: "usage: enable <home>", notCalls: true},
		{args: []string{"status"}, stdout: []string{"agent:", "home agent", "version:", "v1.2.3", "data path:", "userspace",
			"uptime:", "1h2m5s", "counters:", "denied.67   1", "requests   42"}, calls: []string{"get_status"}},
		{args: []string{"status", "-1"}, code: cli.ExitUsage, stderr: "usage: status [interval]", notCalls: true},
		{args: []string{"help"}, stdout: []string{"list [interval]", "show <home> [interval]", "careof <home>", "destroy <home>",
			"enable <home>", "disable <home>", "status [interval]", "quit", "Exit status"}, notCalls: true},
		{args: []string{"help", "DESTROY"}, stdout: []string{"usage: destroy <home>"}, notCalls: true},
		{args: []string{"quit"}, notCalls: true},
		{args: []string{"foo"}, code: cli.ExitUsage, stderr: "dynha_tool: unknown command \"foo\"; type help\n", notCalls: true},
		{args: []string{"connect"}, code: cli.ExitUsage, stderr: "unknown command \"connect\"", notCalls: true},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			a := clitest.Start(t, "ha")
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
			if tc.code != 0 && stdout != "" {
				t.Errorf("stdout %q after a failure", stdout)
			}
			calls := a.Calls()
			if tc.notCalls && len(calls) > 0 || tc.calls != nil && !slices.Equal(calls, tc.calls) {
				t.Errorf("agent served %q, want %q", calls, tc.calls)
			}
		})
	}
}

// The commands change the agent as they say.
func TestCommandsTakeEffect(t *testing.T) {
	a := clitest.Start(t, "ha")
	home := netip.MustParseAddr("10.1.0.10")
	if code, _, stderr := runTool("", "-p", a.Admin, "disable", "10.1.0.10"); code != 0 || !a.Disabled(home) {
		t.Fatalf("disable: exit %d %q; disabled %v", code, stderr, a.Disabled(home))
	}
	if code, _, _ := runTool("", "-p", a.Admin, "enable", "10.1.0.10"); code != 0 || a.Disabled(home) {
		t.Fatalf("enable: exit %d; disabled %v", code, a.Disabled(home))
	}
	if code, _, _ := runTool("", "-p", a.Admin, "destroy", "10.1.0.10"); code != 0 {
		t.Fatalf("destroy: exit %d", code)
	}
	_, stdout, _ := runTool("", "-p", a.Admin, "list")
	if strings.Contains(stdout, "10.1.0.10") || !strings.Contains(stdout, "10.1.0.11") {
		t.Fatalf("list after destroy:\n%s", stdout)
	}
	a.SetTunnels(nil)
	if code, stdout, _ := runTool("", "-p", a.Admin, "list"); code != 0 || stdout != "no tunnels\n" {
		t.Fatalf("empty list: exit %d, %q", code, stdout)
	}
}

func TestJSON(t *testing.T) {
	a := clitest.Start(t, "ha")
	decode := func(v any, args ...string) {
		t.Helper()
		code, stdout, stderr := runTool("", append([]string{"-p", a.Admin, "-json"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d, %s", args, code, stderr)
		}
		if strings.Count(stdout, "\n") != 1 {
			t.Fatalf("%v: want one document on one line, got %q", args, stdout)
		}
		if err := json.Unmarshal([]byte(stdout), v); err != nil {
			t.Fatalf("%v: %v in %q", args, err, stdout)
		}
	}

	var list struct {
		Tunnels []map[string]any `json:"tunnels"`
	}
	decode(&list, "list")
	if len(list.Tunnels) != 2 {
		t.Fatalf("list: %d tunnels, want 2", len(list.Tunnels))
	}
	want := map[string]any{"home": "10.1.0.10", "care_of": "10.2.0.1", "ha": "10.1.0.1", "peer": "10.2.0.1", "lower": "",
		"id": float64(0xe8f5a1b200000001), "flags": "T", "lifetime": float64(600), "remaining": float64(540),
		"state": "registered", "confirmed": true, "iface": "dyn0", "link": ""}
	for k, v := range want {
		if got := list.Tunnels[0][k]; got != v {
			t.Errorf("list: tunnels[0].%s = %v, want %v", k, got, v)
		}
	}
	if len(list.Tunnels[0]) != len(want) {
		t.Errorf("list: fields %v, want exactly %v", list.Tunnels[0], want)
	}

	var show cli.TunnelJSON
	decode(&show, "show", "10.1.0.11")
	if show.Home != "10.1.0.11" || show.CareOf != "10.3.0.1" || show.Iface != "dyn1" || show.Remaining != 480 {
		t.Errorf("show: %+v", show)
	}

	var status cli.StatusJSON
	decode(&status, "status")
	if status.Agent != "ha" || status.DataPath != "userspace" || status.Uptime != 3725 ||
		status.Counters["requests"] != 42 || status.Counters["denied.67"] != 1 || status.Mobile != nil {
		t.Errorf("status: %+v", status)
	}

	var coa cli.CareOfJSON
	decode(&coa, "careof", "10.1.0.10")
	if coa != (cli.CareOfJSON{Home: "10.1.0.10", CareOf: "10.2.0.1"}) {
		t.Errorf("careof: %+v", coa)
	}

	var done cli.DoneJSON
	decode(&done, "disable", "10.1.0.11")
	if done != (cli.DoneJSON{Command: "disable", Home: "10.1.0.11", OK: true}) {
		t.Errorf("disable: %+v", done)
	}

	a.SetTunnels(nil)
	_, stdout, _ := runTool("", "-p", a.Admin, "-json", "list")
	if stdout != "{\"tunnels\":[]}\n" {
		t.Errorf("empty list: %q", stdout)
	}
}

func TestInteractive(t *testing.T) {
	a := clitest.Start(t, "ha")
	in := strings.Join([]string{
		"list",
		"",
		"# a comment",
		"HELP",
		"foo bar",
		"Show 10.1.0.10",
		"destroy 10.1.0.10",
		"quit",
		"status", // after quit: never run
	}, "\n")
	code, stdout, stderr := runTool(in, "-p", a.Admin)
	if code != cli.ExitUsage {
		t.Errorf("exit %d, want %d (the unknown command's)", code, cli.ExitUsage)
	}
	for _, w := range []string{"dyn0", "dynha_tool commands:", "show <home> [interval]", "identification:", "destroyed the tunnel of 10.1.0.10"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout)
		}
	}
	if strings.Contains(stdout, "dynha> ") {
		t.Errorf("prompt printed without a terminal:\n%s", stdout)
	}
	if stderr != "unknown command \"foo\"; type help\n" {
		t.Errorf("stderr %q", stderr)
	}
	want := []string{"get_tunnels", "get_tunnel_info 10.1.0.10", "destroy_tunnel 10.1.0.10"}
	if calls := a.Calls(); !slices.Equal(calls, want) {
		t.Errorf("agent served %q, want %q", calls, want)
	}

	// End of input ends the session; all went well.
	code, stdout, _ = runTool("status\ncareof 10.1.0.11\n", "-p", a.Admin)
	if code != 0 || !strings.Contains(stdout, "counters:") || !strings.HasSuffix(stdout, "10.3.0.1\n") {
		t.Errorf("exit %d, stdout:\n%s", code, stdout)
	}
}

func TestUnreachable(t *testing.T) {
	a := clitest.Start(t, "ha")
	missing := a.Dir + "/none.sock"
	code, stdout, stderr := runTool("", "-p", missing, "list")
	if code != cli.ExitUnreachable || stdout != "" {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
	want := "dynha_tool: agent unreachable: is dynhad running? socket " + missing + " (connect: no such file or directory)\n"
	if stderr != want {
		t.Errorf("stderr %q\nwant   %q", stderr, want)
	}
}

func TestUsage(t *testing.T) {
	code, stdout, _ := runTool("", "-h")
	if code != 0 {
		t.Errorf("-h: exit %d", code)
	}
	for _, w := range []string{"usage: dynha_tool [-p PATH] [-json] [-t DURATION]", "/run/dynamics/ha.sock",
		"/run/dynamics/ha-monitor.sock", "destroy <home>", "Exit status: 0 success", "4 timeout"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("-h lacks %q:\n%s", w, stdout)
		}
	}
	for _, args := range [][]string{{"-x"}, {"-t", "soon", "list"}, {"-t", "0", "list"}, {"-p"}} {
		if code, _, stderr := runTool("", args...); code != cli.ExitUsage || !strings.Contains(stderr, "dynha_tool -h") {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr)
		}
	}
}

// A write command on the monitor socket is refused by the agent.
func TestMonitorSocketRefusesChanges(t *testing.T) {
	a := clitest.Start(t, "ha")
	if code, stdout, _ := runTool("", "-p", a.Monitor, "list"); code != 0 || !strings.Contains(stdout, "10.1.0.10") {
		t.Errorf("list on the monitor socket: exit %d", code)
	}
	code, _, stderr := runTool("", "-p", a.Monitor, "destroy", "10.1.0.10")
	if code != cli.ExitAgent || !strings.Contains(stderr, "not permitted") {
		t.Errorf("destroy on the monitor socket: exit %d, stderr %q", code, stderr)
	}
	if slices.Contains(a.Calls(), "destroy_tunnel 10.1.0.10") {
		t.Error("the agent destroyed the tunnel")
	}
}
