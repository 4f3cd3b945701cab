package main

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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
	}{
		{args: []string{"list"}, stdout: []string{"HOME", "CARE-OF", "HA ", "REMAINING", "STATE", "TUNNEL",
			"10.1.0.10", "10.2.0.1", "10.1.0.1", "9m0s/10m0s", "registered", "dynfa0"}, calls: []string{"get_tunnels"}},
		{args: []string{"List"}, stdout: []string{"10.1.0.11", "dynfa1"}, calls: []string{"get_tunnels"}},
		{args: []string{"show", "10.1.0.10"}, stdout: []string{"home agent:     10.1.0.1", "peer:           10.1.0.1",
			"lower:          10.1.0.10", "link:           veth-vis", "tunnel:         dynfa0"}, calls: []string{"get_tunnel_info 10.1.0.10"}},
		{args: []string{"show", "10.1.0.99"}, code: cli.ExitAgent, stderr: "dynfa_tool: not available: 10.1.0.99 has no tunnel\n",
			calls: []string{"get_tunnel_info 10.1.0.99"}},
		{args: []string{"show", "10.1.0.10", "2", "3"}, code: cli.ExitUsage, stderr: "dynfa_tool: usage: show <home> [interval]\n"},
		{args: []string{"DESTROY", "10.1.0.11"}, stdout: []string{"destroyed the tunnel of 10.1.0.11"}, calls: []string{"destroy_tunnel 10.1.0.11"}},
		{args: []string{"destroy"}, code: cli.ExitUsage, stderr: "dynfa_tool: usage: destroy <home>\n"},
		{args: []string{"status"}, stdout: []string{"agent:     foreign agent", "data path: userspace", "requests   42"},
			calls: []string{"get_status"}},
		{args: []string{"help"}, stdout: []string{"list [interval]", "show <home> [interval]", "destroy <home>", "status [interval]"}},
		{args: []string{"quit"}},
		// The home agent's commands are not the foreign agent's.
		{args: []string{"careof", "10.1.0.10"}, code: cli.ExitUsage, stderr: "dynfa_tool: unknown command \"careof\"; type help\n"},
		{args: []string{"enable", "10.1.0.10"}, code: cli.ExitUsage, stderr: "unknown command \"enable\""},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			a := clitest.Start(t, "fa")
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
		})
	}
}

func TestJSON(t *testing.T) {
	a := clitest.Start(t, "fa")
	code, stdout, stderr := runTool("", "-p", a.Admin, "-json", "list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var list cli.ListJSON
	if err := json.Unmarshal([]byte(stdout), &list); err != nil {
		t.Fatal(err)
	}
	want := cli.TunnelJSON{Home: "10.1.0.11", CareOf: "10.3.0.1", HA: "10.1.0.1", Peer: "10.1.0.1", Lower: "10.1.0.11",
		ID: 0xe8f5a1b200000002, Flags: "T", Lifetime: 600, Remaining: 480, State: "registered", Confirmed: true,
		Iface: "dynfa1", Link: "veth-vis"}
	if len(list.Tunnels) != 2 || list.Tunnels[1] != want {
		t.Fatalf("list: %+v", list.Tunnels)
	}
	code, stdout, _ = runTool("", "-p", a.Admin, "-json", "status")
	var st cli.StatusJSON
	if err := json.Unmarshal([]byte(stdout), &st); code != 0 || err != nil || st.Agent != "fa" || st.Counters["requests"] != 42 {
		t.Fatalf("status: exit %d, %v, %+v", code, err, st)
	}
}

func TestInteractive(t *testing.T) {
	a := clitest.Start(t, "fa")
	code, stdout, stderr := runTool("status\nhelp\nbogus\nlist\nQUIT\nlist\n", "-p", a.Admin)
	if code != cli.ExitUsage {
		t.Errorf("exit %d", code)
	}
	if !strings.Contains(stdout, "foreign agent") || !strings.Contains(stdout, "dynfa_tool commands:") ||
		strings.Count(stdout, "dynfa0") != 1 {
		t.Errorf("stdout:\n%s", stdout)
	}
	if stderr != "unknown command \"bogus\"; type help\n" {
		t.Errorf("stderr %q", stderr)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// list with an interval prints a table per interval until SIGINT, which
// ends it successfully.
func TestRefreshUntilSIGINT(t *testing.T) {
	a := clitest.Start(t, "fa")
	var out, errb syncBuffer
	done := make(chan int)
	go func() { done <- run([]string{"-p", a.Admin, "list", "0.02"}, nil, &out, &errb) }()
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(out.String(), "== list every 20ms") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no two blocks: %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The refresh holds SIGINT from before its first block.
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 || errb.String() != "" {
			t.Fatalf("exit %d, stderr %q", code, errb.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SIGINT did not end the refresh")
	}
	if n := strings.Count(out.String(), "dynfa1"); n < 2 {
		t.Fatalf("%d tables:\n%s", n, out.String())
	}
}

func TestUnreachable(t *testing.T) {
	code, _, stderr := runTool("", "-p", "/nonexistent/fa.sock", "status")
	if code != cli.ExitUnreachable ||
		stderr != "dynfa_tool: agent unreachable: is dynfad running? socket /nonexistent/fa.sock (connect: no such file or directory)\n" {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestTimeout(t *testing.T) {
	a := clitest.Start(t, "fa")
	a.Hang()
	code, _, stderr := runTool("", "-p", a.Admin, "-t", "50ms", "destroy", "10.1.0.10")
	if code != cli.ExitTimeout || stderr != "dynfa_tool: timeout: dynfad did not answer within 50ms\n" {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
