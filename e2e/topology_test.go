package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/dynamics-go/dynamics/internal/testbed"
)

// TestTopology needs no daemon: it builds the flat and the hierarchical bed,
// checks that cn reaches the mobile at home once a home route is added by
// hand (and no longer once it is removed), and that Close leaves nothing.
func TestTopology(t *testing.T) {
	requireHost(t)
	for _, tc := range []struct {
		name string
		hier bool
	}{{"flat", false}, {"hierarchical", true}} {
		t.Run(tc.name, func(t *testing.T) {
			bed, err := testbed.New(testbed.Options{Hierarchical: tc.hier, Logger: logger(t)})
			if err != nil {
				t.Fatal(err)
			}
			names := bed.Namespaces()
			defer bed.Close()

			pingOnce := func(from, to string) error {
				_, err := bed.Exec(from, "ping", "-n", "-q", "-c", "1", "-W", "1", to)
				return err
			}
			routes := [][]string{
				{testbed.HomePrefix, "dev", testbed.MNIface, "src", testbed.HomeAddr},
				{"default", "via", testbed.HomeGateway},
			}
			if pingOnce(testbed.CN, testbed.HomeAddr) == nil {
				t.Error("cn reaches the mobile before it has any route")
			}
			for _, r := range routes {
				if _, err := bed.IP(testbed.MN, append([]string{"route", "add"}, r...)...); err != nil {
					t.Fatal(err)
				}
			}
			if err := pingOnce(testbed.CN, testbed.HomeAddr); err != nil {
				t.Errorf("cn cannot reach the mobile at home with a home route: %v", err)
			}
			for _, r := range routes {
				if _, err := bed.IP(testbed.MN, append([]string{"route", "del"}, r...)...); err != nil {
					t.Fatal(err)
				}
			}
			if pingOnce(testbed.CN, testbed.HomeAddr) == nil {
				t.Error("cn still reaches the mobile after its routes were removed")
			}
			for _, fa := range bed.Agents()[1:] {
				if err := pingOnce(testbed.HA, map[string]string{
					testbed.FA1: testbed.FA1Addr, testbed.FA2: testbed.FA2Addr, testbed.GFA: testbed.GFAAddr}[fa]); err != nil {
					t.Errorf("the home agent cannot reach %s: %v", fa, err)
				}
			}

			if err := bed.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			out, err := exec.Command("ip", "netns", "list").Output()
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range names {
				if strings.Contains(string(out), n) {
					t.Errorf("namespace %s is left after Close", n)
				}
			}
		})
	}
}
