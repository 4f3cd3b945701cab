package e2e

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/testbed"
	"github.com/dynamics-go/dynamics/libdynamics/api"
)

// apiTimeout bounds one control API call of the test.
const apiTimeout = 5 * time.Second

// TestControlAPI drives the daemons through their control sockets on the
// flat bed: after the mobile registers through fa1 the home agent's table
// shows it with fa1's care-of address and the mobile reports itself
// connected; fa1's destroy_tunnel removes the visitor and its route and
// neighbour entry from fa1's namespace; update_location registers it
// again; the mobile's disconnect deregisters it, emptying the home agent's
// table; and the daemons remove their sockets when they stop.
func TestControlAPI(t *testing.T) {
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
				t.Logf("---- %s in %s (last lines) ----\n%s", p.Name, role, tail(p.Output(), 60))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	home := netip.MustParseAddr(testbed.HomeAddr)
	fa1 := netip.MustParseAddr(testbed.FA1Addr)

	t.Run("sockets", func(t *testing.T) {
		for _, role := range append(bed.Agents(), testbed.MN) {
			for _, s := range []struct {
				path string
				mode fs.FileMode
			}{{bed.AdminSocket(role), 0o600}, {bed.MonitorSocket(role), 0o666}} {
				fi, err := os.Stat(s.path)
				if err != nil {
					t.Errorf("%s: %v", role, err)
					continue
				}
				if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != s.mode {
					t.Errorf("%s: %s has mode %v, want a socket with %v", role, s.path, fi.Mode(), s.mode)
				}
			}
		}
		// The monitor socket answers read-only calls only.
		ha := dial(t, bed.MonitorSocket(testbed.HA))
		if st, err := ha.GetStatus(apiTimeout); err != nil || st.Agent != "ha" || st.DataPath == "" {
			t.Errorf("home agent status over the monitor socket: %+v, %v", st, err)
		}
		if err := ha.DestroyTunnel(home, apiTimeout); !errors.Is(err, api.ErrNotPermitted) {
			t.Errorf("destroy_tunnel over the monitor socket: %v, want not permitted", err)
		}
	})

	haMon := dial(t, bed.MonitorSocket(testbed.HA))
	mnAdmin := dial(t, bed.AdminSocket(testbed.MN))
	fa1Admin := dial(t, bed.AdminSocket(testbed.FA1))

	ok := t.Run("registered-through-fa1", func(t *testing.T) {
		if err := eventually(recoverBound, func() error {
			st, err := mnAdmin.GetStatus(apiTimeout)
			if err == nil && st.State != "At home" {
				err = fmt.Errorf("mobile is %q", st.State)
			}
			return err
		}); err != nil {
			t.Fatalf("the mobile never reported itself at home: %v", err)
		}
		if err := bed.Move(testbed.AtFA1); err != nil {
			t.Fatal(err)
		}
		if err := eventually(recoverBound, func() error {
			list, err := haMon.GetTunnels(apiTimeout)
			switch {
			case err != nil:
				return err
			case len(list) != 1 || list[0].Home != home || list[0].CareOf != fa1 || list[0].Peer != fa1:
				return fmt.Errorf("home agent's tunnels %+v", list)
			case list[0].Iface == "" || list[0].Remaining <= 0:
				return fmt.Errorf("home agent's binding without tunnel or lifetime: %+v", list[0])
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := eventually(settleBound, func() error {
			st, err := mnAdmin.GetStatus(apiTimeout)
			if err == nil && (st.State != "Connected" || st.CareOf != fa1) {
				err = fmt.Errorf("mobile status %q care-of %s", st.State, st.CareOf)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if coa, err := mnAdmin.GetCareOfAddr(netip.Addr{}, apiTimeout); err != nil || coa != fa1 {
			t.Errorf("mobile's care-of address %s, %v; want %s", coa, err, fa1)
		}
		if coa, err := haMon.GetCareOfAddr(home, apiTimeout); err != nil || coa != fa1 {
			t.Errorf("home agent's care-of address for %s: %s, %v; want %s", home, coa, err, fa1)
		}
		v, err := fa1Admin.GetTunnelInfo(home, apiTimeout)
		if err != nil || v.State != "registered" || v.Link != testbed.FAVisitorIface || v.HA.String() != testbed.HAAddr {
			t.Errorf("fa1's visitor %+v, %v", v, err)
		}
		if err := hasVisitorRoute(bed, testbed.FA1, true); err != nil {
			t.Error(err)
		}
	})
	if !ok {
		t.FailNow()
	}

	ok = t.Run("fa1-destroys-the-visitor", func(t *testing.T) {
		if err := fa1Admin.DestroyTunnel(home, apiTimeout); err != nil {
			t.Fatal(err)
		}
		if list, err := fa1Admin.GetTunnels(apiTimeout); err != nil || len(list) != 0 {
			t.Errorf("fa1's tunnels after destroy_tunnel: %+v, %v", list, err)
		}
		if err := hasVisitorRoute(bed, testbed.FA1, false); err != nil {
			t.Error(err)
		}
		if err := fa1Admin.DestroyTunnel(home, apiTimeout); !errors.Is(err, api.ErrNotAvailable) {
			t.Errorf("second destroy_tunnel: %v, want not available", err)
		}
		// update_location registers the mobile through fa1 at once.
		if err := mnAdmin.UpdateLocation(apiTimeout); err != nil {
			t.Fatal(err)
		}
		if err := eventually(settleBound, func() error { return hasVisitorRoute(bed, testbed.FA1, true) }); err != nil {
			t.Fatalf("after update_location: %v", err)
		}
	})
	if !ok {
		t.FailNow()
	}

	t.Run("disconnect-deregisters", func(t *testing.T) {
		if err := mnAdmin.Disconnect(2 * recoverBound); err != nil {
			t.Fatal(err)
		}
		if list, err := haMon.GetTunnels(apiTimeout); err != nil || len(list) != 0 {
			t.Errorf("home agent's tunnels after disconnect: %+v, %v", list, err)
		}
		if st, err := mnAdmin.GetStatus(apiTimeout); err != nil || st.State != "Disconnected" || st.CareOf.IsValid() {
			t.Errorf("mobile after disconnect: %+v, %v", st, err)
		}
		if err := eventually(settleBound, func() error { return hasVisitorRoute(bed, testbed.FA1, false) }); err != nil {
			t.Error(err)
		}
	})

	t.Run("sockets-removed-on-exit", func(t *testing.T) {
		for _, role := range append(bed.Agents(), testbed.MN) {
			p := daemons[role]
			if err := p.Stop(); err != nil {
				t.Errorf("%s: %v", role, err)
			}
			if _, err := p.Exited(); err != nil {
				t.Errorf("%s exited with %v", role, err)
			}
			for _, path := range []string{bed.AdminSocket(role), bed.MonitorSocket(role)} {
				if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s left %s behind (%v)", role, path, err)
				}
			}
		}
	})
}

// dial connects to an agent's socket for the rest of the test.
func dial(t *testing.T, path string) *api.Client {
	t.Helper()
	c, err := api.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// hasVisitorRoute checks, in fa's namespace, whether the host route and
// the neighbour entry of the mobile's home address are there (want) or
// gone.
func hasVisitorRoute(bed *testbed.Bed, fa string, want bool) error {
	route, err := bed.IP(fa, "route", "show", testbed.HomeAddr+"/32")
	if err != nil {
		return err
	}
	neigh, err := bed.IP(fa, "neigh", "show", testbed.HomeAddr, "dev", testbed.FAVisitorIface)
	if err != nil {
		return err
	}
	haveRoute := strings.Contains(route, testbed.HomeAddr)
	haveNeigh := strings.Contains(neigh, "PERMANENT")
	if haveRoute != want || haveNeigh != want {
		return fmt.Errorf("%s: route to %s %q and neighbour entry %q; want them present: %v",
			fa, testbed.HomeAddr, strings.TrimSpace(route), strings.TrimSpace(neigh), want)
	}
	return nil
}
