package ike

import (
	"errors"
	"fmt"
	"github.com/dynamics-go/dynamics/libdynamics/esp"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/memnet"
	"github.com/dynamics-go/dynamics/libdynamics/ike/mobikex"
	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// The MOBIKE-X tests (draft-mglt-ipsec-mm-mobikex-00 section 7): two
// engines over memnet with the recording esp.Kernel; every IKE message's
// payloads are recorded in clear as the engines send them, so the order of
// the messages and the selector sets in them are checked.

// recorder records the INFORMATIONAL and IKE_AUTH messages a node sends.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = nil
}

// render writes a payload list as "N(SELECTOR id=1) N(UPDATE_SA_ADDRESSES O
// 10.0.0.1 N 10.0.0.3) ...": the MOBIKE-X notifications with their
// parameters, the others by name.
func render(ps []ikev2.Payload) string {
	var parts []string
	for _, p := range ps {
		n, ok := p.(*ikev2.Notify)
		if !ok {
			parts = append(parts, p.Type().String())
			continue
		}
		s := n.NotifyType.String()
		switch {
		case n.NotifyType == ikev2.NotifyCookie2, n.NotifyType == ikev2.NotifyNATDetectionSourceIP, n.NotifyType == ikev2.NotifyNATDetectionDestinationIP:
		case n.NotifyType == ikev2.NotifySelector && len(n.Data) >= 4:
			if n.Data[0]&0x80 != 0 {
				s += " CHECK"
			}
			s += params(n.Data[4:])
		case len(n.Data) > 0 && (n.NotifyType >= 40970 || (n.NotifyType >= 8200 && n.NotifyType <= 8204) ||
			n.NotifyType == ikev2.NotifyUpdateSAAddresses || n.NotifyType == ikev2.NotifyMOBIKESupported):
			s += params(n.Data)
		}
		parts = append(parts, "N("+s+")")
	}
	return strings.Join(parts, " ")
}

func params(b []byte) string {
	// Walked by hand: an unknown critical parameter (echoed in an error)
	// is what ParseParams refuses.
	var ps []mobikex.Param
	for len(b) >= 4 {
		n := int(b[2])<<8 | int(b[3])
		if len(b) < 4+n {
			return " malformed"
		}
		ps = append(ps, mobikex.Param{Critical: b[0]&0x80 != 0, Type: mobikex.ParamType(b[0] & 0x7f), Value: b[4 : 4+n]})
		b = b[4+n:]
	}
	if len(b) != 0 {
		return " malformed"
	}
	var out string
	for _, p := range ps {
		switch p.Type {
		case mobikex.ParamID:
			id, _ := p.ID()
			out += fmt.Sprintf(" id=%d", id)
		case mobikex.ParamIP:
			ip, _ := p.IP()
			out += " " + ipString(ip)
		case mobikex.ParamVersion:
			v, _ := p.Version()
			c := ""
			if p.Critical {
				c = "!"
			}
			out += fmt.Sprintf(" v%d%s", v, c)
		default:
			out += " " + p.Type.String()
		}
	}
	return out
}

func ipString(ip mobikex.IP) string {
	f := ""
	for _, x := range []struct {
		on bool
		c  string
	}{{ip.Old, "O"}, {ip.New, "N"}, {ip.Receiver, "H"}, {ip.Child, "C"}, {ip.IKE, "I"}, {ip.Info != nil, "M"}} {
		if x.on {
			f += x.c
		}
	}
	if f == "" {
		return ip.Addr.String()
	}
	return f + " " + ip.Addr.String()
}

// record taps the node's engine: each message it sends or reads is a line
// "<name> <exchange> request|response sent|read: <payloads>" (IKE_SA_INIT
// and CREATE_CHILD_SA left out).
func (nd *node) record(r *recorder) {
	nd.t.Helper()
	err := nd.e.Do(ctx(nd.t), func(*State) {
		nd.e.tap = func(out bool, h ikev2.Header, ps []ikev2.Payload) {
			if h.Exchange != ikev2.ExchangeInformational && h.Exchange != ikev2.ExchangeIKEAuth {
				return
			}
			dir := "request"
			if h.IsResponse() {
				dir = "response"
			}
			if !out {
				return // the peer's recorder has it
			}
			r.mu.Lock()
			r.msgs = append(r.msgs, fmt.Sprintf("%s %s %s: %s", nd.name, h.Exchange, dir, render(ps)))
			r.mu.Unlock()
		}
	})
	if err != nil {
		nd.t.Fatal(err)
	}
}

// mxPair starts a pair speaking MOBIKE-X, recording their messages.
func mxPair(t *testing.T, edit func(mc, hc *Config)) (mn, ha *node, r *recorder) {
	t.Helper()
	mn, ha, _ = pair(t, func(mc, hc *Config) {
		mc.MOBIKE, hc.MOBIKE, mc.MOBIKEX, hc.MOBIKEX = true, true, true, true
		if edit != nil {
			edit(mc, hc)
		}
	})
	r = &recorder{}
	mn.record(r)
	ha.record(r)
	return mn, ha, r
}

// transport makes the pair's child SA a transport-mode one between the
// two IKE addresses.
func transport(mc, hc *Config) {
	for _, c := range []*Config{mc, hc} {
		c.Peers[0].Mode = ModeTransport
		c.Peers[0].LocalTS, c.Peers[0].RemoteTS = nil, nil
	}
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func host(s string) []Selector { return []Selector{sel(s + "/32")} }

// wantLines compares recorded messages.
func wantLines(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("messages:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// state is what a test compares before and after a refused set: both
// sides' SAs and kernels.
func state(mn, ha *node) string {
	var b strings.Builder
	for _, nd := range []*node{mn, ha} {
		for _, s := range nd.sas() {
			fmt.Fprintf(&b, "%s: %s v%d %s %s alts %v\n", nd.name, s.SPIi, s.MOBIKEVersion, s.Local, s.Remote, s.Addresses)
			for _, c := range s.Children {
				fmt.Fprintf(&b, "  %08x %s %s %v %v %v\n", c.InSPI, c.Local, c.Remote, c.LocalTS, c.RemoteTS, c.PeerAddresses)
			}
		}
		in, out, pols := nd.esp.snapshot()
		for _, s := range append(in, out...) {
			fmt.Fprintf(&b, "  sa %s %08x %s %s\n", s.Direction, s.SPI, s.Local, s.Remote)
		}
		var ps []string
		for _, p := range pols {
			ps = append(ps, p.String())
		}
		slices.Sort(ps)
		fmt.Fprintf(&b, "  policies %v\n", ps)
	}
	return b.String()
}

// TestMOBIKEXNegotiation covers draft section 7.1 end to end: what each
// side offers and answers in IKE_AUTH and the version both settle on.
func TestMOBIKEXNegotiation(t *testing.T) {
	for _, tc := range []struct {
		name         string
		mn, ha       func(*Config)
		offer, reply string
		version      uint8
	}{
		{"both MOBIKE-X", mx, mx, "N(MOBIKE_SUPPORTED v2 v1)", "N(MOBIKE_SUPPORTED v2)", 2},
		{"responder MOBIKE only", mx, mobike, "N(MOBIKE_SUPPORTED v2 v1)", "N(MOBIKE_SUPPORTED)", 1},
		{"initiator MOBIKE only", mobike, mx, "N(MOBIKE_SUPPORTED)", "N(MOBIKE_SUPPORTED)", 1},
		{"responder without MOBIKE", mx, func(*Config) {}, "N(MOBIKE_SUPPORTED v2 v1)", "", 0},
		{"MOBIKE-X required, responder MOBIKE only", required, mobike, "N(MOBIKE_SUPPORTED v2! v1)", "N(MOBIKE_UNSUPPORTED_VERSION v1)", 0},
		{"MOBIKE-X required, responder MOBIKE-X", required, mx, "N(MOBIKE_SUPPORTED v2! v1)", "N(MOBIKE_SUPPORTED v2)", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mn, ha, _ := pair(t, func(mc, hc *Config) { tc.mn(mc); tc.ha(hc) })
			r := &recorder{}
			mn.record(r)
			ha.record(r)
			info := up(t, mn)
			lines := r.lines()
			if len(lines) != 2 {
				t.Fatalf("IKE_AUTH messages %q", lines)
			}
			if !strings.Contains(lines[0], tc.offer) {
				t.Errorf("offer %q, want %s", lines[0], tc.offer)
			}
			if tc.reply == "" && strings.Contains(lines[1], "MOBIKE") || tc.reply != "" && !strings.Contains(lines[1], tc.reply) {
				t.Errorf("answer %q, want %q", lines[1], tc.reply)
			}
			if info.MOBIKEVersion != tc.version || ha.only().MOBIKEVersion != tc.version || info.MOBIKE != (tc.version > 0) {
				t.Errorf("versions: initiator %d, responder %d, want %d", info.MOBIKEVersion, ha.only().MOBIKEVersion, tc.version)
			}
		})
	}
}

func mobike(c *Config)   { c.MOBIKE = true }
func mx(c *Config)       { c.MOBIKE, c.MOBIKEX = true, true }
func required(c *Config) { c.MOBIKE, c.MOBIKEX, c.RequireMOBIKEX = true, true, true }

// TestMOBIKEXOffers runs the responder's and the initiator's rules on
// offers an engine of the suite would not send: a critical version the
// responder does not know, an RFC 4555 answer to a required MOBIKE-X.
func TestMOBIKEXOffers(t *testing.T) {
	e, err := New(Options{Config: Config{MOBIKE: true, MOBIKEX: true}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	sa := &ikeSA{e: e}
	offer := func(ps ...mobikex.Param) []ikev2.Payload {
		return []ikev2.Payload{mobikex.SupportedNotify(ps...)}
	}
	for _, tc := range []struct {
		name   string
		offer  []ikev2.Payload
		want   mobikex.Version
		answer ikev2.NotifyType
	}{
		{"critical version 3", offer(mobikex.VersionParam(3, true), mobikex.VersionParam(2, false)), 0, ikev2.NotifyMOBIKEUnsupportedVersion},
		{"unknown version 3 not critical", offer(mobikex.VersionParam(3, false), mobikex.VersionParam(2, false)), 2, ikev2.NotifyMOBIKESupported},
		{"only version 3", offer(mobikex.VersionParam(3, false)), 0, ikev2.NotifyMOBIKEUnsupportedVersion},
		{"RFC 4555 (empty)", offer(), 1, ikev2.NotifyMOBIKESupported},
		{"no MOBIKE", nil, 0, 0},
	} {
		v, n := sa.chooseVersion(tc.offer)
		if v != tc.want || (n == nil) != (tc.answer == 0) || n != nil && n.NotifyType != tc.answer {
			t.Errorf("%s: version %d, answer %v; want %d, %v", tc.name, v, n, tc.want, tc.answer)
		}
		if tc.name == "RFC 4555 (empty)" && len(n.Data) != 0 {
			t.Errorf("an RFC 4555 offer is answered with data %x", n.Data)
		}
	}
	// An initiator that required MOBIKE-X and hears an RFC 4555 answer
	// keeps MOBIKE.
	e2, _ := New(Options{Config: Config{MOBIKE: true, MOBIKEX: true, RequireMOBIKEX: true}, Logger: slog.New(slog.DiscardHandler)})
	ini := &ikeSA{e: e2}
	ini.mobikeOffer()
	if v := ini.acceptedVersion(offer()); v != mobikex.VersionMOBIKE {
		t.Errorf("required MOBIKE-X, RFC 4555 answer: version %d, want 1", v)
	}
	if v := ini.acceptedVersion(offer(mobikex.VersionParam(3, false))); v != mobikex.VersionNone {
		t.Errorf("answer with a version not offered: %d, want 0", v)
	}
}

// TestMOBIKEXDowngrade lowers the version later with
// MOBIKE_UNSUPPORTED_VERSION from either side: to MOBIKE, after which a
// transport-mode SA cannot move, then to none, after which nothing moves;
// versions never go back up.
func TestMOBIKEXDowngrade(t *testing.T) {
	mn, ha, r := mxPair(t, transport)
	info := up(t, mn)
	mn.addAddress(mnMoved)
	r.reset()
	if err := ha.e.SetMOBIKEVersion(ctx(t), ha.only().LocalSPI, mobikex.VersionMOBIKE); err != nil {
		t.Fatal(err)
	}
	wantLines(t, r.lines(), []string{
		"ha INFORMATIONAL request: N(MOBIKE_UNSUPPORTED_VERSION v1)",
		"mn INFORMATIONAL response: ",
	})
	if a, b := mn.only().MOBIKEVersion, ha.only().MOBIKEVersion; a != 1 || b != 1 {
		t.Fatalf("versions after the downgrade to MOBIKE: %d, %d", a, b)
	}
	err := mn.e.UpdateAddress(ctx(t), info.LocalSPI, addr(mnAddr), addr(mnMoved))
	errIs(t, err, ErrNoMOBIKEX, "UpdateAddress of a transport SA with MOBIKE")
	if err := mn.e.SetMOBIKEVersion(ctx(t), info.LocalSPI, mobikex.VersionMOBIKEX); err == nil {
		t.Error("the version went back up")
	}
	if err := mn.e.SetMOBIKEVersion(ctx(t), info.LocalSPI, mobikex.VersionNone); err != nil {
		t.Fatal(err)
	}
	if a, b := mn.only(), ha.only(); a.MOBIKEVersion != 0 || b.MOBIKEVersion != 0 || a.MOBIKE || b.MOBIKE {
		t.Fatalf("versions after the downgrade to none: %d, %d", a.MOBIKEVersion, b.MOBIKEVersion)
	}
	errIs(t, mn.e.UpdateAddress(ctx(t), info.LocalSPI, addr(mnAddr), addr(mnMoved)), ErrNoMOBIKE, "UpdateAddress without mobility")
	errIs(t, mn.e.UpdateAddress(ctx(t), info.LocalSPI, addr(mnAddr), addr("10.0.0.8")), ErrNoSocket, "UpdateAddress to an address without a socket")
	errIs(t, mn.e.AddAddress(ctx(t), info.LocalSPI, addr("10.0.0.8"), nil), ErrNoSocket, "AddAddress of an address without a socket")
	errIs(t, mn.e.Move(ctx(t), info.LocalSPI, addr(mnMoved)), ErrNoMOBIKE, "Move without mobility")
}

// TestMOBIKEXUpdate moves the mobile's SAs with one UPDATE_SA_ADDRESSES
// (OLD_IP, NEW_IP) in a default selector set sent from the new address:
// both sides' IKE SA and child SAs move at once (the new address is the
// request's source), a transport-mode child's selectors and policies
// follow, and ESP sealed by one side opens at the other.
func TestMOBIKEXUpdate(t *testing.T) {
	for _, mode := range []Mode{ModeTunnel, ModeTransport} {
		t.Run(mode.String(), func(t *testing.T) {
			mn, ha, r := mxPair(t, func(mc, hc *Config) {
				if mode == ModeTransport {
					transport(mc, hc)
				}
			})
			info := up(t, mn)
			mn.addAddress(mnMoved)
			r.reset()
			if err := mn.e.UpdateAddress(ctx(t), info.LocalSPI, addr(mnAddr), addr(mnMoved)); err != nil {
				t.Fatal(err)
			}
			wantLines(t, r.lines(), []string{
				"mn INFORMATIONAL request: N(NAT_DETECTION_SOURCE_IP) N(NAT_DETECTION_DESTINATION_IP) N(COOKIE2) " +
					"N(SELECTOR id=1) N(UPDATE_SA_ADDRESSES O 10.0.0.1 N 10.0.0.3) N(END_OF_SELECTOR id=1)",
				"ha INFORMATIONAL response: N(COOKIE2) N(NAT_DETECTION_SOURCE_IP) N(NAT_DETECTION_DESTINATION_IP)",
			})
			moved := netip.MustParseAddrPort(mnMoved + ":4500")
			a, b := mn.only(), ha.only()
			if a.Local != moved || b.Remote != moved || a.SPIi != info.SPIi {
				t.Errorf("IKE SA: initiator %s, responder %s", a.Local, b.Remote)
			}
			if c := a.Children[0]; c.Local != addr(mnMoved) || c.Remote != addr(haAddr) {
				t.Errorf("initiator's child at %s === %s", c.Local, c.Remote)
			}
			if c := b.Children[0]; c.Remote != addr(mnMoved) || c.Local != addr(haAddr) {
				t.Errorf("responder's child at %s === %s", c.Local, c.Remote)
			}
			for _, nd := range []*node{mn, ha} {
				in, out, pols := nd.esp.snapshot()
				for _, s := range append(in, out...) {
					if s.Local != moved && s.Remote != moved {
						t.Errorf("%s: SA %08x at %s === %s", nd.name, s.SPI, s.Local, s.Remote)
					}
				}
				for _, p := range pols {
					if p.Local != addr(mnMoved) && p.Remote != addr(mnMoved) {
						t.Errorf("%s: policy %s", nd.name, p)
					}
					if mode == ModeTransport && (p.Selector.Src.Addr() == addr(mnAddr) || p.Selector.Dst.Addr() == addr(mnAddr)) {
						t.Errorf("%s: policy of the old address left: %s", nd.name, p)
					}
				}
				if len(pols) != 2 {
					t.Errorf("%s: %d policies, want 2", nd.name, len(pols))
				}
			}
			if mode == ModeTransport {
				if got := a.Children[0].LocalTS; !slices.Equal(got, host(mnMoved)) {
					t.Errorf("initiator's local selectors %v", got)
				}
				if got := b.Children[0].RemoteTS; !slices.Equal(got, host(mnMoved)) {
					t.Errorf("responder's remote selectors %v", got)
				}
			} else {
				espEcho(t, mn, ha, "after the update")
			}
			checkChildPair(t, mn, ha, a.Children[0].InSPI)
			checkChildPair(t, ha, mn, a.Children[0].OutSPI)
		})
	}
}

// TestMOBIKEXResponderUpdates: the responder (home agent side) moves its
// own address; either side may send MOBIKE-X requests.
func TestMOBIKEXResponderUpdates(t *testing.T) {
	mn, ha, _ := mxPair(t, nil)
	up(t, mn)
	const haMoved = "10.0.0.12"
	ha.addAddress(haMoved)
	if err := ha.e.UpdateAddress(ctx(t), ha.only().LocalSPI, addr(haAddr), addr(haMoved)); err != nil {
		t.Fatal(err)
	}
	to := netip.MustParseAddrPort(haMoved + ":4500")
	if a, b := mn.only(), ha.only(); a.Remote != to || b.Local != to || a.Children[0].Remote != addr(haMoved) {
		t.Errorf("after the responder's update: initiator %s, responder %s", a.Remote, b.Local)
	}
	checkChildPair(t, mn, ha, mn.only().Children[0].InSPI)
	espEcho(t, mn, ha, "after the responder moved")
}

// TestMOBIKEXAddRemove adds a second address, then removes it (nothing
// moves), adds it again and removes the address in use (the SAs move to
// it), and finally removes the last address (CLOSING_SA: the SAs are gone
// on both sides).
func TestMOBIKEXAddRemove(t *testing.T) {
	for _, mode := range []Mode{ModeTunnel, ModeTransport} {
		t.Run(mode.String(), func(t *testing.T) {
			mn, ha, r := mxPair(t, func(mc, hc *Config) {
				if mode == ModeTransport {
					transport(mc, hc)
				}
			})
			info := up(t, mn)
			spi := info.LocalSPI
			mn.addAddress(mnMoved)
			before := state(mn, ha)
			r.reset()
			if err := mn.e.AddAddress(ctx(t), spi, addr(mnMoved), &mobikex.Info{Preference: 10, Class: mobikex.ClassWLAN}); err != nil {
				t.Fatal(err)
			}
			wantLines(t, r.lines(), []string{
				"mn INFORMATIONAL request: N(NAT_DETECTION_SOURCE_IP) N(NAT_DETECTION_DESTINATION_IP) N(COOKIE2) " +
					"N(SELECTOR id=1) N(ADD_SA_ADDRESS M 10.0.0.3) N(END_OF_SELECTOR id=1)",
				"ha INFORMATIONAL response: N(COOKIE2)",
			})
			b := ha.only()
			if !slices.Equal(b.Addresses, []netip.Addr{addr(mnMoved)}) || !slices.Equal(b.Children[0].PeerAddresses, []netip.Addr{addr(mnMoved)}) {
				t.Errorf("responder's addresses %v, child's %v", b.Addresses, b.Children[0].PeerAddresses)
			}
			if b.Remote.Addr() != addr(mnAddr) || b.Children[0].Remote != addr(mnAddr) {
				t.Errorf("the SAs moved on ADD: %s, %s", b.Remote, b.Children[0].Remote)
			}
			if mode == ModeTransport {
				want := append(host(mnAddr), host(mnMoved)...)
				if got := b.Children[0].RemoteTS; !slices.Equal(got, want) {
					t.Errorf("responder's remote selectors %v, want %v", got, want)
				}
				if got := mn.only().Children[0].LocalTS; !slices.Equal(got, want) {
					t.Errorf("initiator's local selectors %v, want %v", got, want)
				}
				for _, nd := range []*node{mn, ha} {
					if _, _, pols := nd.esp.snapshot(); len(pols) != 4 {
						t.Errorf("%s: %d policies with the added address, want 4", nd.name, len(pols))
					}
				}
			}
			if err := mn.e.RemoveAddress(ctx(t), spi, addr(mnMoved)); err != nil {
				t.Fatal(err)
			}
			if got := state(mn, ha); got != before {
				t.Errorf("after ADD then REMOVE:\n%s\nwant\n%s", got, before)
			}

			// The address in use goes: the SAs move to the added one,
			// the request leaving from it.
			if err := mn.e.AddAddress(ctx(t), spi, addr(mnMoved), nil); err != nil {
				t.Fatal(err)
			}
			r.reset()
			if err := mn.e.RemoveAddress(ctx(t), spi, addr(mnAddr)); err != nil {
				t.Fatal(err)
			}
			moved := netip.MustParseAddrPort(mnMoved + ":4500")
			a, b := mn.only(), ha.only()
			if a.Local != moved || b.Remote != moved || b.Children[0].Remote != addr(mnMoved) || a.Children[0].Local != addr(mnMoved) {
				t.Errorf("after removing the address in use: initiator %s, responder %s, children %s, %s",
					a.Local, b.Remote, a.Children[0].Local, b.Children[0].Remote)
			}
			if len(b.Addresses) != 0 {
				t.Errorf("responder's addresses %v", b.Addresses)
			}
			if mode == ModeTransport {
				if got := b.Children[0].RemoteTS; !slices.Equal(got, host(mnMoved)) {
					t.Errorf("responder's remote selectors %v", got)
				}
			} else {
				espEcho(t, mn, ha, "after removing the address in use")
			}
			checkChildPair(t, mn, ha, a.Children[0].InSPI)

			// The last address goes: CLOSING_SA, and nothing is left.
			r.reset()
			errIs(t, mn.e.RemoveAddress(ctx(t), spi, addr(mnMoved)), ErrClosing, "removing the last address")
			lines := r.lines()
			if len(lines) != 2 || !strings.Contains(lines[1], "N(CLOSING_SA id=") {
				t.Errorf("messages %q", lines)
			}
			eventually(t, "the SAs gone on both sides", func() bool { return len(mn.sas()) == 0 && len(ha.sas()) == 0 })
			for _, nd := range []*node{mn, ha} {
				if in, out, pols := nd.esp.snapshot(); len(in)+len(out)+len(pols) != 0 {
					t.Errorf("%s kept %d SAs and %d policies", nd.name, len(in)+len(out), len(pols))
				}
			}
		})
	}
}

// TestMOBIKEXCheck: a set with the CHECK bit is validated and answered,
// and nothing changes on either side.
func TestMOBIKEXCheck(t *testing.T) {
	mn, ha, r := mxPair(t, nil)
	info := up(t, mn)
	mn.addAddress(mnMoved)
	before := state(mn, ha)
	r.reset()
	update := mobikex.Action{Kind: mobikex.ActionUpdate, IPs: []mobikex.IP{{Addr: addr(mnAddr), Old: true}, {Addr: addr(mnMoved), New: true}}}
	rs, err := mn.e.Exchange(ctx(t), info.LocalSPI, []mobikex.Set{
		{ID: 5, Check: true, Actions: []mobikex.Action{update}},
		{ID: 6, Check: true, Actions: []mobikex.Action{{Kind: mobikex.ActionRemove, IPs: []mobikex.IP{{Addr: addr("10.0.0.9")}}}}},
		{ID: 7, Check: true, Actions: []mobikex.Action{{Kind: mobikex.ActionRemove, IPs: []mobikex.IP{{Addr: addr(mnAddr)}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Err != nil || rs[1].Err == nil || rs[1].Err.Type != ikev2.NotifyUnacceptableAddress || rs[1].Err.ID != 6 || len(rs[2].Closing) != 1 {
		t.Errorf("results %+v", rs)
	}
	if got := state(mn, ha); got != before {
		t.Errorf("CHECK changed things:\n%s\nwant\n%s", got, before)
	}
	lines := r.lines()
	if len(lines) != 2 || !strings.Contains(lines[0], "N(SELECTOR CHECK id=5)") || !strings.Contains(lines[1], "N(UNACCEPTABLE_ADDRESS id=6 10.0.0.9)") ||
		!strings.Contains(lines[1], "N(CLOSING_SA id=7 SPI)") {
		t.Errorf("messages %q", lines)
	}
}

// TestMOBIKEXErrors: each of the five errors, with the set's ID echoed,
// and nothing changed.
func TestMOBIKEXErrors(t *testing.T) {
	mn, ha, r := mxPair(t, func(mc, hc *Config) {
		hc.Peers[0].Addresses = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/30")}
	})
	info := up(t, mn)
	spi := info.LocalSPI
	mn.addAddress(mnMoved)
	mn.addAddress("10.0.0.5")
	before := state(mn, ha)
	set := func(id uint32, kind mobikex.ActionKind, ips ...mobikex.IP) mobikex.Set {
		return mobikex.Set{ID: id, Actions: []mobikex.Action{{Kind: kind, IPs: ips}}}
	}
	for _, tc := range []struct {
		name string
		set  mobikex.Set
		want ikev2.NotifyType
	}{
		{"unknown child SPI", mobikex.Set{ID: 11, SPIs: []mobikex.SPI{mobikex.ChildSPI(0x7ffffff1)},
			Actions: []mobikex.Action{{Kind: mobikex.ActionAdd, IPs: []mobikex.IP{{Addr: addr(mnMoved)}}}}}, ikev2.NotifyUnmatchedSelectorSet},
		{"no transport-mode child SA", mobikex.Set{ID: 12, Mode: mobikex.ModeTransport,
			Actions: []mobikex.Action{{Kind: mobikex.ActionAdd, IPs: []mobikex.IP{{Addr: addr(mnMoved)}}}}}, ikev2.NotifyUnmatchedSelectorSet},
		{"old address not the SA's", set(13, mobikex.ActionUpdate, mobikex.IP{Addr: addr("10.0.0.9"), Old: true}, mobikex.IP{Addr: addr(mnMoved), New: true}), ikev2.NotifyUnacceptableAddress},
		{"new address not the source", set(14, mobikex.ActionUpdate, mobikex.IP{Addr: addr(mnAddr), Old: true}, mobikex.IP{Addr: addr("10.0.0.6"), New: true}), ikev2.NotifyUnacceptableAddress},
		{"multicast", set(15, mobikex.ActionAdd, mobikex.IP{Addr: addr("224.0.0.5")}), ikev2.NotifyUnacceptableAddress},
		{"loopback", set(16, mobikex.ActionAdd, mobikex.IP{Addr: addr("127.0.0.1")}), ikev2.NotifyUnacceptableAddress},
		{"receiver's address it does not have", set(17, mobikex.ActionAdd, mobikex.IP{Addr: addr("10.0.0.99"), Receiver: true}), ikev2.NotifyUnacceptableAddress},
		{"outside the peer's prefixes", set(18, mobikex.ActionAdd, mobikex.IP{Addr: addr("10.0.0.5")}), ikev2.NotifyDoesNotFitSPD},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.reset()
			rs, err := mn.e.Exchange(ctx(t), spi, []mobikex.Set{tc.set})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 1 || rs[0].Err == nil || rs[0].Err.Type != tc.want || rs[0].Err.ID != tc.set.ID {
				t.Fatalf("results %+v, want %s for set %d", rs, tc.want, tc.set.ID)
			}
			if lines := r.lines(); len(lines) != 2 || !strings.Contains(lines[1], fmt.Sprintf("N(%s id=%d", tc.want, tc.set.ID)) {
				t.Errorf("messages %q", lines)
			}
			if got := state(mn, ha); got != before {
				t.Errorf("a refused set changed things:\n%s\nwant\n%s", got, before)
			}
		})
	}
	// The grammar and state machine errors need payloads Exchange does
	// not build.
	selector := func(id uint32) *ikev2.Notify {
		return ikev2.NewNotify(ikev2.NotifySelector, append([]byte{0, 0, 0, 0}, mobikex.MarshalParams([]mobikex.Param{mobikex.IDParam(id)})...))
	}
	end := func(id uint32) *ikev2.Notify {
		return ikev2.NewNotify(ikev2.NotifyEndOfSelector, mobikex.MarshalParams([]mobikex.Param{mobikex.IDParam(id)}))
	}
	add := ikev2.NewNotify(ikev2.NotifyAddSAAddress, mobikex.MarshalParams([]mobikex.Param{mobikex.IPParam(mobikex.IP{Addr: addr(mnMoved)})}))
	oldOnly := ikev2.NewNotify(ikev2.NotifyUpdateSAAddresses, mobikex.MarshalParams([]mobikex.Param{mobikex.IPParam(mobikex.IP{Addr: addr(mnAddr), Old: true})}))
	critical := ikev2.NewNotify(ikev2.NotifyAddSAAddress, mobikex.MarshalParams([]mobikex.Param{
		mobikex.IPParam(mobikex.IP{Addr: addr(mnMoved)}), {Critical: true, Type: 99, Value: []byte{1}}}))
	for _, tc := range []struct {
		name string
		ps   []ikev2.Payload
		want string
	}{
		{"UPDATE without NEW_IP", []ikev2.Payload{selector(21), oldOnly, end(21)}, "N(UNACCEPTABLE_PARAMETER id=21"},
		{"unknown critical parameter", []ikev2.Payload{selector(22), critical, end(22)}, "N(UNACCEPTABLE_PARAMETER id=22"},
		{"a Delete inside a set", []ikev2.Payload{selector(23), &ikev2.Delete{Protocol: ikev2.ProtocolESP, SPIs: []uint32{0x7ffffff2}}, add, end(23)},
			"N(UNEXPECTED_PAYLOAD_AFTER_SELECTOR id=23)"},
		{"a SELECTOR inside a set", []ikev2.Payload{selector(24), selector(25), add, end(25), end(24)},
			"N(UNEXPECTED_PAYLOAD_AFTER_SELECTOR id=24) N(UNMATCHED_SELECTOR_SET id=24)"},
		{"END_OF_SELECTOR of another set", []ikev2.Payload{selector(26), add, end(27)}, "N(UNMATCHED_SELECTOR_SET id=26)"},
		{"END_OF_SELECTOR alone", []ikev2.Payload{end(28)}, "N(UNMATCHED_SELECTOR_SET id=28)"},
		{"no END_OF_SELECTOR", []ikev2.Payload{selector(29), add}, "N(UNMATCHED_SELECTOR_SET id=29)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := render(informational(t, mn, spi, tc.ps))
			if got != tc.want && !strings.HasPrefix(got, tc.want) {
				t.Errorf("answer %q, want %q", got, tc.want)
			}
			if got := state(mn, ha); got != before {
				t.Errorf("a refused set changed things:\n%s\nwant\n%s", got, before)
			}
		})
	}
}

// informational sends one INFORMATIONAL request with payloads ps on the
// node's IKE SA spi and returns the answer's payloads.
func informational(t *testing.T, nd *node, spi ikev2.SPI, ps []ikev2.Payload) []ikev2.Payload {
	t.Helper()
	type res struct {
		ps  []ikev2.Payload
		err error
	}
	ch := make(chan res, 1)
	err := nd.e.Do(ctx(t), func(*State) {
		sa := nd.e.sas[spi]
		sa.enqueue(&task{name: "test", start: func() error {
			return sa.sendRequest(ikev2.ExchangeInformational, ps, func(_ packet, rs []ikev2.Payload) { ch <- res{rs, nil} }, func(err error) { ch <- res{nil, err} })
		}})
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.ps
	case <-ctx(t).Done():
		t.Fatal("no answer")
	}
	return nil
}

// TestMOBIKEXImplicitAndVersion1: an action outside any set is an
// implicit set (ID 0, default selection), applied; on an SA with MOBIKE
// (version 1) the MOBIKE-X notifications are unknown status types and
// ignored.
func TestMOBIKEXImplicitAndVersion1(t *testing.T) {
	mn, ha, _ := mxPair(t, nil)
	info := up(t, mn)
	mn.addAddress(mnMoved)
	add := ikev2.NewNotify(ikev2.NotifyAddSAAddress, mobikex.MarshalParams([]mobikex.Param{mobikex.IPParam(mobikex.IP{Addr: addr(mnMoved)})}))
	if got := informational(t, mn, info.LocalSPI, []ikev2.Payload{add}); len(got) != 0 {
		t.Errorf("answer to an implicit set %q", render(got))
	}
	if got := ha.only().Addresses; !slices.Equal(got, []netip.Addr{addr(mnMoved)}) {
		t.Errorf("implicit ADD: responder's addresses %v", got)
	}

	mn1, ha1, _ := mxPair(t, func(mc, hc *Config) { hc.MOBIKEX = false })
	info1 := up(t, mn1)
	if info1.MOBIKEVersion != 1 {
		t.Fatalf("version %d", info1.MOBIKEVersion)
	}
	before := state(mn1, ha1)
	sp, _ := (mobikex.Set{ID: 3, Actions: []mobikex.Action{{Kind: mobikex.ActionRemove, IPs: []mobikex.IP{{Addr: addr(mnAddr)}}}}}).Payloads()
	if got := informational(t, mn1, info1.LocalSPI, sp); len(got) != 0 {
		t.Errorf("a MOBIKE peer answered %q", render(got))
	}
	if got := state(mn1, ha1); got != before {
		t.Errorf("a MOBIKE peer acted on MOBIKE-X:\n%s\nwant\n%s", got, before)
	}
	_, err := mn1.e.Exchange(ctx(t), info1.LocalSPI, []mobikex.Set{{Actions: []mobikex.Action{{Kind: mobikex.ActionRemove, IPs: []mobikex.IP{{Addr: addr(mnAddr)}}}}}})
	errIs(t, err, ErrNoMOBIKEX, "Exchange on a MOBIKE SA")
}

// TestMOBIKEXSeveralSets: sets apply in order, each whole or not at all;
// one failing leaves the others applied on both sides.
func TestMOBIKEXSeveralSets(t *testing.T) {
	mn, ha, r := mxPair(t, nil)
	info := up(t, mn)
	mn.addAddress(mnMoved)
	mn.addAddress("10.0.0.4")
	add := func(a string) mobikex.Action {
		return mobikex.Action{Kind: mobikex.ActionAdd, IPs: []mobikex.IP{{Addr: addr(a), Info: &mobikex.Info{Preference: 5}}}}
	}
	r.reset()
	rs, err := mn.e.Exchange(ctx(t), info.LocalSPI, []mobikex.Set{
		{Actions: []mobikex.Action{add(mnMoved)}},
		// Whole or nothing: the ADD before the bad REMOVE is not applied.
		{Actions: []mobikex.Action{add("10.0.0.4"), {Kind: mobikex.ActionRemove, IPs: []mobikex.IP{{Addr: addr("10.0.0.9")}}}}},
		{Actions: []mobikex.Action{add("10.0.0.4")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Err != nil || rs[1].Err == nil || rs[1].Err.Type != ikev2.NotifyUnacceptableAddress || rs[1].Err.ID != rs[1].ID || rs[2].Err != nil {
		t.Fatalf("results %+v", rs)
	}
	lines := r.lines()
	want := fmt.Sprintf("ha INFORMATIONAL response: N(COOKIE2) N(UNACCEPTABLE_ADDRESS id=%d 10.0.0.9)", rs[1].ID)
	if len(lines) != 2 || lines[1] != want {
		t.Errorf("messages %q, want the answer %q", lines, want)
	}
	wantAddrs := []netip.Addr{addr(mnMoved), addr("10.0.0.4")}
	if got := ha.only().Addresses; !slices.Equal(got, wantAddrs) {
		t.Errorf("responder's addresses %v, want %v", got, wantAddrs)
	}
	if got := ha.only().Children[0].PeerAddresses; !slices.Equal(got, wantAddrs) {
		t.Errorf("responder's child's addresses %v, want %v", got, wantAddrs)
	}
}

// TestMOBIKEXIdentity: a selector set reaches the SAs of the same peer
// identity (another IKE SA of the mobile) and never those of another
// identity, whose SPIs are unknown to it (UNMATCHED_SELECTOR_SET).
func TestMOBIKEXIdentity(t *testing.T) {
	n := memnet.New()
	mc, hc := baseConfigs()
	for _, c := range []*Config{&mc, &hc} {
		c.MOBIKE, c.MOBIKEX = true, true
	}
	other := mc
	other.LocalID = "mn2@example.org"
	other.Peers = slices.Clone(mc.Peers)
	other.Peers[0].LocalTS = host("10.1.0.2")
	hc.Peers = append(hc.Peers, Peer{Name: "mn2", RemoteID: "mn2@example.org", LocalTS: hc.Peers[0].LocalTS, RemoteTS: hc.Peers[0].RemoteTS})
	ha := newNode(t, n, "ha", haAddr, hc)
	mn := newNode(t, n, "mn", mnAddr, mc)
	mn2 := newNode(t, n, "mn2", "10.0.0.7", other)
	first := up(t, mn)
	second := up(t, mn)
	stranger := up(t, mn2)
	mn.addAddress(mnMoved)
	add := []mobikex.Action{{Kind: mobikex.ActionAdd, IPs: []mobikex.IP{{Addr: addr(mnMoved)}}}}
	rs, err := mn.e.Exchange(ctx(t), first.LocalSPI, []mobikex.Set{
		{SPIs: []mobikex.SPI{mobikex.ChildSPI(stranger.Children[0].InSPI)}, Actions: add},
		{SPIs: []mobikex.SPI{mobikex.IKESPI(stranger.SPIi, stranger.SPIr)}, Actions: add},
		{SPIs: []mobikex.SPI{mobikex.ChildSPI(second.Children[0].InSPI)}, Actions: add},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Err == nil || rs[0].Err.Type != ikev2.NotifyUnmatchedSelectorSet || rs[1].Err == nil || rs[1].Err.Type != ikev2.NotifyUnmatchedSelectorSet || rs[2].Err != nil {
		t.Fatalf("results %+v", rs)
	}
	for _, s := range ha.sas() {
		var want []netip.Addr
		if s.SPIi == second.SPIi {
			want = []netip.Addr{addr(mnMoved)}
		}
		if got := s.Children[0].PeerAddresses; !slices.Equal(got, want) {
			t.Errorf("responder's SA with %s (%s): child addresses %v, want %v", s.Peer, s.SPIi, got, want)
		}
	}
}

// TestMOBIKEXSignallingSelectors: transport-mode child SAs with the
// suite's signalling selectors (the initiator: its address, UDP, any port
// === the responder's address, UDP 434; the responder the mirror image,
// accepting mobiles anywhere in a prefix) move with their ports kept; a
// responder whose policy names the mobile's old address refuses the move
// (DOES_NOT_FIT_SPD) and nothing changes.
func TestMOBIKEXSignallingSelectors(t *testing.T) {
	udp := func(p string, port uint16) Selector {
		s := sel(p)
		s.Protocol = 17
		if port != 0 {
			s.StartPort, s.EndPort = port, port
		}
		return s
	}
	for _, tc := range []struct {
		name     string
		haRemote string
		refused  bool
	}{
		{"mobiles in a prefix", "10.0.0.0/24", false},
		{"policy names the old address", mnAddr + "/32", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mn, ha, _ := mxPair(t, func(mc, hc *Config) {
				mc.Peers[0].Mode, hc.Peers[0].Mode = ModeTransport, ModeTransport
				mc.Peers[0].LocalTS = []Selector{udp(mnAddr+"/32", 0)}
				mc.Peers[0].RemoteTS = []Selector{udp(haAddr+"/32", 434)}
				hc.Peers[0].LocalTS = []Selector{udp(haAddr+"/32", 434)}
				hc.Peers[0].RemoteTS = []Selector{udp(tc.haRemote, 0)}
			})
			info := up(t, mn)
			mn.addAddress(mnMoved)
			before := state(mn, ha)
			err := mn.e.UpdateAddress(ctx(t), info.LocalSPI, addr(mnAddr), addr(mnMoved))
			if tc.refused {
				var mxErr *mobikex.Error
				if !errors.As(err, &mxErr) || mxErr.Type != ikev2.NotifyDoesNotFitSPD {
					t.Fatalf("UpdateAddress: %v, want DOES_NOT_FIT_SPD", err)
				}
				if got := state(mn, ha); got != before {
					t.Errorf("a refused update changed things:\n%s\nwant\n%s", got, before)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a, b := mn.only().Children[0], ha.only().Children[0]
			if !slices.Equal(a.LocalTS, []Selector{udp(mnMoved+"/32", 0)}) || !slices.Equal(a.RemoteTS, []Selector{udp(haAddr+"/32", 434)}) {
				t.Errorf("initiator's selectors %v === %v", a.LocalTS, a.RemoteTS)
			}
			if !slices.Equal(b.RemoteTS, []Selector{udp(mnMoved+"/32", 0)}) || !slices.Equal(b.LocalTS, []Selector{udp(haAddr+"/32", 434)}) {
				t.Errorf("responder's selectors %v === %v", b.LocalTS, b.RemoteTS)
			}
			_, _, pols := ha.esp.snapshot()
			for _, p := range pols {
				want := esp.Selector{Src: netip.MustParsePrefix(haAddr + "/32"), Dst: netip.MustParsePrefix(mnMoved + "/32"), Protocol: 17, SrcPort: 434}
				if p.Direction == esp.Inbound {
					want = esp.Selector{Src: want.Dst, Dst: want.Src, Protocol: 17, DstPort: 434}
				}
				if p.Selector != want {
					t.Errorf("responder's policy %s, want %s", p, want)
				}
			}
			checkChildPair(t, mn, ha, a.InSPI)
		})
	}
}

// TestMOBIKEXReturnRoutability: a set moving only the child SAs to an
// address that is not the request's source: the responder moves them after
// a return routability check to the new address (RFC 4555 section 3.7);
// the IKE SA stays.
func TestMOBIKEXReturnRoutability(t *testing.T) {
	mn, ha, r := mxPair(t, nil)
	info := up(t, mn)
	mn.addAddress(mnMoved)
	r.reset()
	rs, err := mn.e.Exchange(ctx(t), info.LocalSPI, []mobikex.Set{{Actions: []mobikex.Action{{Kind: mobikex.ActionUpdate,
		IPs: []mobikex.IP{{Addr: addr(mnAddr), Old: true, Child: true}, {Addr: addr(mnMoved), New: true, Child: true}}}}}})
	if err != nil || rs[0].Err != nil {
		t.Fatalf("Exchange: %v %+v", err, rs)
	}
	eventually(t, "the responder's child at the new address", func() bool { return ha.only().Children[0].Remote == addr(mnMoved) })
	a, b := mn.only(), ha.only()
	if a.Local.Addr() != addr(mnAddr) || b.Remote.Addr() != addr(mnAddr) || a.Children[0].Local != addr(mnMoved) {
		t.Errorf("IKE SA %s === %s, initiator's child from %s", a.Local, b.Remote, a.Children[0].Local)
	}
	lines := r.lines()
	if len(lines) != 4 || lines[2] != "ha INFORMATIONAL request: N(COOKIE2)" || lines[3] != "mn INFORMATIONAL response: N(COOKIE2)" {
		t.Errorf("messages %q", lines)
	}
	checkChildPair(t, mn, ha, a.Children[0].InSPI)
	checkChildPair(t, ha, mn, a.Children[0].OutSPI)
	espEcho(t, mn, ha, "children moved, IKE SA not")
}

// TestMOBIKEXAdditional: ADDITIONAL_IP_ADDRESS inside a set records the
// sender's later addresses for the IKE SA.
func TestMOBIKEXAdditional(t *testing.T) {
	mn, ha, _ := mxPair(t, nil)
	info := up(t, mn)
	rs, err := mn.e.Exchange(ctx(t), info.LocalSPI, []mobikex.Set{{Actions: []mobikex.Action{{Kind: mobikex.ActionAdditional,
		IPs: []mobikex.IP{{Addr: addr("10.0.0.4"), Info: &mobikex.Info{Preference: 3, Class: mobikex.ClassCellular}}}}}}})
	if err != nil || rs[0].Err != nil {
		t.Fatalf("Exchange: %v %+v", err, rs)
	}
	if got := ha.only().PeerAddresses; !slices.Equal(got, []netip.Addr{addr("10.0.0.4")}) {
		t.Errorf("responder's record of the peer's addresses %v", got)
	}
}

// TestMOBIKEXRekeyKeeps: an IKE rekey keeps the version and the added
// addresses; a child rekey keeps the child's addresses, and the moved
// transport selectors.
func TestMOBIKEXRekeyKeeps(t *testing.T) {
	mn, ha, _ := mxPair(t, transport)
	info := up(t, mn)
	mn.addAddress(mnMoved)
	mn.addAddress("10.0.0.4")
	if err := mn.e.UpdateAddress(ctx(t), info.LocalSPI, addr(mnAddr), addr("10.0.0.4")); err != nil {
		t.Fatal(err)
	}
	if err := mn.e.AddAddress(ctx(t), info.LocalSPI, addr(mnMoved), nil); err != nil {
		t.Fatal(err)
	}
	n, err := mn.e.RekeyIKE(ctx(t), info.LocalSPI)
	if err != nil {
		t.Fatal(err)
	}
	c, err := mn.e.RekeyChild(ctx(t), n.LocalSPI, n.Children[0].InSPI)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "one IKE SA and one child on the responder", func() bool {
		s := ha.sas()
		return len(s) == 1 && len(s[0].Children) == 1 && s[0].Children[0].OutSPI == c.InSPI
	})
	b := ha.only()
	want := []netip.Addr{addr(mnMoved)}
	if b.MOBIKEVersion != 2 || !slices.Equal(b.Addresses, want) || !slices.Equal(b.Children[0].PeerAddresses, want) {
		t.Errorf("after the rekeys: version %d, addresses %v, child's %v", b.MOBIKEVersion, b.Addresses, b.Children[0].PeerAddresses)
	}
	if got, want := b.Children[0].RemoteTS, append(host("10.0.0.4"), host(mnMoved)...); !slices.Equal(got, want) {
		t.Errorf("rekeyed child's remote selectors %v, want %v", got, want)
	}
	if b.Children[0].Remote != addr("10.0.0.4") || c.Local != addr("10.0.0.4") {
		t.Errorf("rekeyed child at %s (responder's view), %s (initiator's)", b.Children[0].Remote, c.Local)
	}
	checkChildPair(t, mn, ha, c.InSPI)
	// The addresses still work after the rekeys: removing the one in use
	// moves everything to the added one.
	if err := mn.e.RemoveAddress(ctx(t), n.LocalSPI, addr("10.0.0.4")); err != nil {
		t.Fatal(err)
	}
	if b := ha.only(); b.Remote.Addr() != addr(mnMoved) || b.Children[0].Remote != addr(mnMoved) {
		t.Errorf("after removing the address in use: %s, child %s", b.Remote, b.Children[0].Remote)
	}
}

// isIKE says whether a datagram is an IKE message: anything on port 500,
// and on port 4500 what starts with the non-ESP marker (RFC 3948).
func isIKE(from, to netip.AddrPort, b []byte) bool {
	if from.Port() == 500 || to.Port() == 500 {
		return true
	}
	return len(b) >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0
}

// espSources records the source address of each ESP packet sent to the
// responder, and loses the IKE datagrams to the initiator's new address
// while lose is set: the mobile coming home, whose home agent's answers go
// to the care-of address it leaves until the deregistration.
type espSources struct {
	mu   sync.Mutex
	from []netip.Addr
	lose atomic.Bool
	lost atomic.Int64
}

func (s *espSources) drop(from, to netip.AddrPort, b []byte) bool {
	if isIKE(from, to, b) {
		if s.lose.Load() && to.Addr() == addr(mnMoved) {
			s.lost.Add(1)
			return true
		}
		return false
	}
	if to.Addr() == addr(haAddr) {
		s.mu.Lock()
		s.from = append(s.from, from.Addr())
		s.mu.Unlock()
	}
	return false
}

func (s *espSources) last() netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.from) == 0 {
		return netip.Addr{}
	}
	return s.from[len(s.from)-1]
}

// TestMOBIKEXUpdateAhead: UpdateAddressAhead moves this side's SAs as the
// request leaves and returns then, while the responder's answers to the
// new address are lost; ESP already leaves from the new address and the
// responder (which moved on the request) opens it, both ways. When the
// answers get through again the retransmitted request is answered.
func TestMOBIKEXUpdateAhead(t *testing.T) {
	for _, mode := range []Mode{ModeTunnel, ModeTransport} {
		t.Run(mode.String(), func(t *testing.T) {
			mn, ha, _ := mxPair(t, func(mc, hc *Config) {
				// Slow enough that the peer is not declared dead
				// while its answers are lost.
				mc.Retransmit = 200 * time.Millisecond
				if mode == ModeTransport {
					transport(mc, hc)
				}
			})
			src := &espSources{}
			mn.net.Drop = src.drop
			info := up(t, mn)
			mn.addAddress(mnMoved)
			src.lose.Store(true)
			start := time.Now()
			answered, err := mn.e.UpdateAddressAhead(ctx(t), info.LocalSPI, addr(mnAddr), addr(mnMoved))
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("UpdateAddressAhead returned after %v, want before any answer", d)
			}
			a := mn.only()
			if a.Local != netip.MustParseAddrPort(mnMoved+":4500") || a.Children[0].Local != addr(mnMoved) || a.SPIi != info.SPIi {
				t.Fatalf("initiator after UpdateAddressAhead: IKE SA at %s, child from %s", a.Local, a.Children[0].Local)
			}
			if mode == ModeTransport && !slices.Equal(a.Children[0].LocalTS, host(mnMoved)) {
				t.Errorf("initiator's local selectors %v", a.Children[0].LocalTS)
			}
			eventually(t, "the responder's SAs on the new address", func() bool {
				b := ha.only()
				return b.Remote.Addr() == addr(mnMoved) && b.Children[0].Remote == addr(mnMoved)
			})
			select {
			case err := <-answered:
				t.Fatalf("answered (%v) while every answer is lost", err)
			default:
			}
			if mode == ModeTunnel {
				espEcho(t, mn, ha, "answers lost")
				if got := src.last(); got != addr(mnMoved) {
					t.Errorf("ESP to the responder left from %s, want %s", got, mnMoved)
				}
			}
			in, out, _ := mn.esp.snapshot()
			for _, s := range append(in, out...) {
				if s.Local.Addr() != addr(mnMoved) {
					t.Errorf("initiator's ESP SA %08x at %s", s.SPI, s.Local)
				}
			}
			checkChildPair(t, mn, ha, a.Children[0].InSPI)
			checkChildPair(t, ha, mn, a.Children[0].OutSPI)
			if src.lost.Load() == 0 {
				t.Error("no answer was lost: the test proves nothing")
			}
			src.lose.Store(false)
			select {
			case err := <-answered:
				if err != nil {
					t.Fatalf("answered: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the retransmitted update was never answered")
			}
			if a := mn.only(); a.Local.Addr() != addr(mnMoved) || a.Children[0].Local != addr(mnMoved) {
				t.Errorf("initiator after the answer: %s, child from %s", a.Local, a.Children[0].Local)
			}
			if s := mn.stats(); s.Retransmits == 0 {
				t.Errorf("no retransmission: %+v", s)
			}
			if mode == ModeTunnel {
				espEcho(t, mn, ha, "answered")
			}
		})
	}
}

// TestMOBIKEXUpdateAheadRefused: a refused update (the responder's policy
// keeps the peer on its address: DOES_NOT_FIT_SPD) moves this side back
// where it was, and the SAs work as before; an update never answered
// closes the IKE SA as a dead peer does.
func TestMOBIKEXUpdateAheadRefused(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		mn, ha, _ := mxPair(t, func(mc, hc *Config) {
			transport(mc, hc)
			hc.Peers[0].Addresses = []netip.Prefix{netip.MustParsePrefix(mnAddr + "/32")}
		})
		info := up(t, mn)
		mn.addAddress(mnMoved)
		before := state(mn, ha)
		answered, err := mn.e.UpdateAddressAhead(ctx(t), info.LocalSPI, addr(mnAddr), addr(mnMoved))
		if err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-answered:
			var mxErr *mobikex.Error
			if !errors.As(err, &mxErr) || mxErr.Type != ikev2.NotifyDoesNotFitSPD || !errors.Is(err, ErrRefused) {
				t.Fatalf("answered %v, want a refusal with DOES_NOT_FIT_SPD", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no answer")
		}
		if got := state(mn, ha); got != before {
			t.Errorf("after the refusal:\n%s\nwant\n%s", got, before)
		}
		if !strings.Contains(mn.log.String(), "moving back") {
			t.Error("no warning logged for the refusal")
		}
		checkChildPair(t, mn, ha, info.Children[0].InSPI)
		// The SA still works: an update that fits goes through.
		ha2 := addr("10.0.0.12")
		ha.addAddress(ha2.String())
		if err := ha.e.UpdateAddress(ctx(t), ha.only().LocalSPI, addr(haAddr), ha2); err != nil {
			t.Fatalf("the SA after the refusal: %v", err)
		}
	})
	t.Run("unanswered", func(t *testing.T) {
		mn, _, _ := mxPair(t, nil)
		src := &espSources{}
		mn.net.Drop = src.drop
		info := up(t, mn)
		mn.addAddress(mnMoved)
		src.lose.Store(true)
		answered, err := mn.e.UpdateAddressAhead(ctx(t), info.LocalSPI, addr(mnAddr), addr(mnMoved))
		if err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-answered:
			if !errors.Is(err, ErrPeerDead) {
				t.Fatalf("answered %v, want the peer dead", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no end to the unanswered update")
		}
		if s := mn.sas(); len(s) != 0 {
			t.Errorf("SAs left after the dead peer: %v", s)
		}
	})
	t.Run("MOBIKE only", func(t *testing.T) {
		mn, _, _ := pair(t, func(mc, hc *Config) { mc.MOBIKE, hc.MOBIKE = true, true })
		info := up(t, mn)
		mn.addAddress(mnMoved)
		if _, err := mn.e.UpdateAddressAhead(ctx(t), info.LocalSPI, addr(mnAddr), addr(mnMoved)); !errors.Is(err, ErrNoMOBIKEX) {
			t.Errorf("UpdateAddressAhead on a MOBIKE SA: %v, want ErrNoMOBIKEX", err)
		}
		if a := mn.only(); a.Local.Addr() != addr(mnAddr) {
			t.Errorf("the SA moved: %s", a.Local)
		}
	})
}

// TestMOBIKEXUpdateAheadThenMove: the mobile that came home leaves again
// before the answer to its update from home came (it never will there):
// the next update sends the outstanding request again from the address it
// moves to (RFC 4555 section 3.5), where the responder's answer from its
// cache reaches it, and then moves the SAs there.
func TestMOBIKEXUpdateAheadThenMove(t *testing.T) {
	const third = "10.0.0.4"
	mn, ha, _ := mxPair(t, func(mc, hc *Config) {
		mc.Retransmit = time.Second
		transport(mc, hc)
	})
	src := &espSources{}
	mn.net.Drop = src.drop
	info := up(t, mn)
	mn.addAddress(mnMoved)
	mn.addAddress(third)
	src.lose.Store(true)
	answered, err := mn.e.UpdateAddressAhead(ctx(t), info.LocalSPI, addr(mnAddr), addr(mnMoved))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the responder's SAs on the second address", func() bool { return ha.only().Remote.Addr() == addr(mnMoved) })
	start := time.Now()
	if err := mn.e.UpdateAddress(ctx(t), info.LocalSPI, addr(mnMoved), addr(third)); err != nil {
		t.Fatalf("the next update: %v", err)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("the next update took %v: it waited for a retransmission", d)
	}
	select {
	case err := <-answered:
		if err != nil {
			t.Errorf("the update sent ahead: %v", err)
		}
	default:
		t.Error("the update sent ahead was not answered before the next one")
	}
	a, b := mn.only(), ha.only()
	if a.Local.Addr() != addr(third) || b.Remote.Addr() != addr(third) || !slices.Equal(b.Children[0].RemoteTS, host(third)) {
		t.Errorf("after the second update: initiator %s, responder %s %v", a.Local, b.Remote, b.Children[0].RemoteTS)
	}
	checkChildPair(t, mn, ha, a.Children[0].InSPI)
	if src.lost.Load() == 0 {
		t.Error("no answer was lost: the test proves nothing")
	}
}
