package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/internal/testbed"
)

// TestTools runs the operator tools, as an operator would, against the
// daemons on the flat bed: after a move to fa1 `dynha_tool list` shows the
// mobile with fa1's care-of address and `dynmn_tool status` shows it
// Connected there; `dynfa_tool destroy` removes fa1's visitor route and
// neighbour entry; `dynmn_tool update` brings them back; `dynmn_ctl
// disconnect` deregisters, after which `dynha_tool list` has no tunnels.
func TestTools(t *testing.T) {
	requireHost(t)
	bin := requireDaemons(t)
	bed := newBed(t, false)
	conf := filepath.Join(t.TempDir(), "conf")
	if err := bed.WriteConfigs(conf); err != nil {
		t.Fatal(err)
	}
	daemons, err := bed.StartAgents(bin, conf)
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, role := range append(bed.Agents(), testbed.MN) {
			if p := daemons[role]; p != nil {
				t.Logf("---- %s in %s (last lines) ----\n%s", p.Name, role, tail(p.Output(), 40))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	// tool runs one command of a tool against role's admin socket and
	// returns its standard output and exit status.
	tool := func(name, role string, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, name), append([]string{"-p", bed.AdminSocket(role)}, args...)...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("$ %s %s  (exit %d)\n%s%s", name, strings.Join(args, " "), code, out.String(), errOut.String())
		return out.String(), code
	}
	expect := func(name, role string, want []string, args ...string) error {
		out, code := tool(name, role, args...)
		if code != 0 {
			return fmt.Errorf("%s %s: exit status %d", name, strings.Join(args, " "), code)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				return fmt.Errorf("%s %s: output lacks %q", name, strings.Join(args, " "), w)
			}
		}
		return nil
	}

	if err := bed.Move(testbed.AtFA1); err != nil {
		t.Fatal(err)
	}
	if err := eventually(recoverBound, func() error {
		return expect("dynha_tool", testbed.HA, []string{testbed.HomeAddr, testbed.FA1Addr}, "list")
	}); err != nil {
		t.Fatal(err)
	}
	if err := eventually(settleBound, func() error {
		return expect("dynmn_tool", testbed.MN, []string{"Connected", testbed.FA1Addr}, "status")
	}); err != nil {
		t.Fatal(err)
	}

	// The JSON form carries the same table for scripts.
	out, code := tool("dynha_tool", testbed.HA, "-json", "list")
	var doc struct {
		Tunnels []struct {
			Home   string `json:"home"`
			CareOf string `json:"care_of"`
		} `json:"tunnels"`
	}
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil || len(doc.Tunnels) != 1 ||
		doc.Tunnels[0].Home != testbed.HomeAddr || doc.Tunnels[0].CareOf != testbed.FA1Addr {
		t.Errorf("dynha_tool -json list: exit %d, %v: %q", code, err, out)
	}

	if err := expect("dynfa_tool", testbed.FA1, nil, "destroy", testbed.HomeAddr); err != nil {
		t.Fatal(err)
	}
	if err := hasVisitorRoute(bed, testbed.FA1, false); err != nil {
		t.Error(err)
	}
	if _, code := tool("dynfa_tool", testbed.FA1, "destroy", testbed.HomeAddr); code != 1 {
		t.Errorf("destroying a tunnel that is gone: exit status %d, want 1", code)
	}
	if err := expect("dynmn_tool", testbed.MN, nil, "update"); err != nil {
		t.Fatal(err)
	}
	if err := eventually(settleBound, func() error { return hasVisitorRoute(bed, testbed.FA1, true) }); err != nil {
		t.Fatalf("after dynmn_tool update: %v", err)
	}

	if err := expect("dynmn_ctl", testbed.MN, nil, "disconnect"); err != nil {
		t.Fatal(err)
	}
	if err := eventually(settleBound, func() error {
		return expect("dynha_tool", testbed.HA, []string{"no tunnels"}, "list")
	}); err != nil {
		t.Error(err)
	}
	if err := expect("dynmn_tool", testbed.MN, []string{"Disconnected"}, "status"); err != nil {
		t.Error(err)
	}
}
