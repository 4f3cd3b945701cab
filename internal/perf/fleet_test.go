package perf

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

func testFleet(t *testing.T, n int) *Fleet {
	t.Helper()
	f, err := NewFleet(FleetOptions{Mobiles: n, HomeAgent: benchHA, HomeNet: benchHomeNet, CareOfs: benchCareOfs(3), Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestFleetRequests checks the generator's requests with package mip as the
// oracle: each parses, names its mobile's home address, the home agent and
// its care-of address, and carries a Mobile-Home authenticator that mip
// verifies with that mobile's key and no other's. Home addresses and keys
// are distinct, and AUTHORIZEDLIST lists every mobile as ha.Config reads it.
func TestFleetRequests(t *testing.T) {
	f := testFleet(t, 50)
	homes := map[netip.Addr]bool{}
	keys := map[string]bool{}
	for i := range f.Len() {
		id := mip.TimestampID(time.Now())
		b := f.AppendRequest([]byte("prefix"), i, 600, id)
		if !bytes.HasPrefix(b, []byte("prefix")) {
			t.Fatal("AppendRequest did not append")
		}
		raw := b[len("prefix"):]
		r, err := mip.ParseRequest(raw)
		if err != nil {
			t.Fatal(err)
		}
		if r.Home != f.Home(i) || r.HomeAgent != benchHA || r.CareOf != f.CareOf(i) || r.ID != id || r.Lifetime != 600 {
			t.Errorf("mobile %d: request %+v", i, r)
		}
		if err := mip.VerifyRequest(raw, mip.TypeMobileHome, f.SA(i)); err != nil {
			t.Errorf("mobile %d: %v", i, err)
		}
		if err := mip.VerifyRequest(raw, mip.TypeMobileHome, f.SA((i+1)%f.Len())); err == nil {
			t.Errorf("mobile %d: verified with mobile %d's key", i, (i+1)%f.Len())
		}
		homes[f.Home(i)] = true
		keys[string(f.SA(i).Key)] = true
	}
	if len(homes) != f.Len() || len(keys) != f.Len() {
		t.Errorf("%d distinct home addresses and %d distinct keys for %d mobiles", len(homes), len(keys), f.Len())
	}
	var conf strings.Builder
	if err := f.WriteAuthorizedList(&conf); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(conf.String()), "\n")
	if len(lines) != f.Len()+2 || lines[0] != "AUTHORIZEDLIST_BEGIN" || lines[len(lines)-1] != "AUTHORIZEDLIST_END" {
		t.Fatalf("AUTHORIZEDLIST of %d lines: %q ...", len(lines), lines[:2])
	}
}

// reply builds a Registration Reply with package mip, authenticated with
// sa, the way a home agent answers.
func reply(t *testing.T, home netip.Addr, code mip.Code, id uint64, sa mip.SecurityAssociation, exts ...mip.Extension) []byte {
	t.Helper()
	r := &mip.Reply{Code: code, Lifetime: 600, Home: home, HomeAgent: benchHA, ID: id, Extensions: exts}
	if err := r.Authenticate(mip.TypeMobileHome, sa); err != nil {
		t.Fatal(err)
	}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCheckReply checks the reply checking: a reply mip builds with the
// mobile's key is valid (also after a skippable extension); a wrong
// authenticator, a wrong SPI, no authenticator, a denial, a foreign home
// address, another home agent and truncated or overrunning messages each
// fail with their error, and no input panics.
func TestCheckReply(t *testing.T) {
	f := testFleet(t, 10)
	sa := f.SA(3)
	home := f.Home(3)
	other := f.SA(4)
	good := reply(t, home, mip.CodeAccepted, 99, sa)
	noAuth, err := (&mip.Reply{Code: mip.CodeAccepted, Lifetime: 600, Home: home, HomeAgent: benchHA, ID: 99}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)-1] ^= 1
	otherHA := reply(t, home, mip.CodeAccepted, 99, sa)
	copy(otherHA[8:12], []byte{10, 1, 0, 2})
	tests := []struct {
		name string
		b    []byte
		echo bool
		want error
	}{
		{"accepted", good, false, nil},
		{"accepted, code 1", reply(t, home, mip.CodeAcceptedNoSimultaneous, 99, sa), false, nil},
		{"after a skippable extension", reply(t, home, mip.CodeAccepted, 99, sa, &mip.RawExtension{Type: 200, Data: []byte{1, 2}}), false, nil},
		{"another mobile's key", reply(t, home, mip.CodeAccepted, 99, mip.SecurityAssociation{SPI: sa.SPI, Key: other.Key}), false, ErrAuth},
		{"wrong SPI", reply(t, home, mip.CodeAccepted, 99, mip.SecurityAssociation{SPI: sa.SPI + 1, Key: sa.Key}), false, ErrAuth},
		{"flipped authenticator bit", flipped, false, ErrAuth},
		{"no authenticator", noAuth, false, ErrAuth},
		{"denied 131", reply(t, home, mip.CodeHAMobileAuthFailed, 99, sa), false, ErrDenied},
		{"denied 133", reply(t, home, mip.CodeIDMismatch, 99, sa), false, ErrDenied},
		{"unknown home", reply(t, netip.MustParseAddr("10.1.0.7"), mip.CodeAccepted, 99, sa), false, ErrUnknownHome},
		{"other home agent", otherHA, false, ErrMalformed},
		{"truncated fixed part", good[:mip.ReplyLen-1], false, ErrMalformed},
		{"extension overruns", append(bytes.Clone(good[:mip.ReplyLen]), 32, 20, 0, 0), false, ErrMalformed},
		{"request where a reply is due", f.AppendRequest(nil, 3, 600, 99), false, ErrMalformed},
		{"echoed request", f.AppendRequest(nil, 3, 600, 99), true, nil},
		{"reply where an echo is due", good, true, ErrMalformed},
	}
	for _, tt := range tests {
		c, err := f.check(tt.b, tt.echo)
		if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("%s: check = %v, want %v", tt.name, err, tt.want)
		}
		if tt.want == nil && (c.mobile != 3 || c.id != 99) {
			t.Errorf("%s: checked %+v, want mobile 3, id 99", tt.name, c)
		}
	}
	// Every prefix of a valid reply, and garbage, is an error, not a panic.
	for n := range len(good) {
		if _, err := f.check(good[:n], false); err == nil {
			t.Errorf("check of %d of %d bytes passed", n, len(good))
		}
	}
	for _, b := range [][]byte{{3}, {1}, {}, bytes.Repeat([]byte{0xff}, 64)} {
		if len(b) == 0 {
			continue
		}
		if _, err := f.check(b, false); err == nil {
			t.Errorf("check(%x) passed", b)
		}
	}
}

// badServer answers every request with a reply built by answer, until its
// socket closes.
func badServer(t *testing.T, f *Fleet, answer func(r *mip.Request, sa mip.SecurityAssociation) []byte) net.PacketConn {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			n, src, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			r, err := mip.ParseRequest(buf[:n])
			if err != nil {
				continue
			}
			i, ok := f.index(r.Home.As4())
			if !ok {
				continue
			}
			if b := answer(r, f.SA(i)); b != nil {
				_, _ = conn.WriteTo(b, src)
			}
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestLoadCountsErrors runs the generator against servers that answer
// wrongly: every wrong reply counts as an error of its kind and none as
// accepted; a server that answers nothing loses every request; one that
// answers right gets every request accepted.
func TestLoadCountsErrors(t *testing.T) {
	f := testFleet(t, 40)
	gen, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Close()
	wrongKey := mip.SecurityAssociation{SPI: 0, Key: []byte("not the key")}
	tests := []struct {
		name     string
		answer   func(r *mip.Request, sa mip.SecurityAssociation) []byte
		kind     string // the error kind every request ends in; "" accepted, "lost" lost
		accepted bool
	}{
		{"right", func(r *mip.Request, sa mip.SecurityAssociation) []byte {
			return reply(t, r.Home, mip.CodeAccepted, r.ID, sa)
		}, "", true},
		{"wrong authenticator", func(r *mip.Request, sa mip.SecurityAssociation) []byte {
			wrongKey.SPI = sa.SPI
			return reply(t, r.Home, mip.CodeAccepted, r.ID, wrongKey)
		}, "authenticator", false},
		{"denied", func(r *mip.Request, sa mip.SecurityAssociation) []byte {
			return reply(t, r.Home, mip.CodeHAProhibited, r.ID, sa)
		}, "denied 129", false},
		{"wrong identification", func(r *mip.Request, sa mip.SecurityAssociation) []byte {
			return reply(t, r.Home, mip.CodeAccepted, r.ID+1, sa)
		}, "identification", false},
		{"silent", func(*mip.Request, mip.SecurityAssociation) []byte { return nil }, "lost", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := badServer(t, f, tt.answer)
			res, err := RunLoad(context.Background(), LoadOptions{
				Fleet: f, Conn: gen, Target: srv.LocalAddr().(*net.UDPAddr).AddrPort(),
				Window: 8, Batch: 4, Once: true, Timeout: 300 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			n := uint64(f.Len())
			if res.Sent != n {
				t.Fatalf("%d sent, want %d", res.Sent, n)
			}
			switch {
			case tt.accepted:
				if res.Accepted != n || res.Errors != 0 || res.Lost != 0 || res.Rate <= 0 || res.P50 <= 0 {
					t.Errorf("result %s", res)
				}
			case tt.kind == "lost":
				if res.Accepted != 0 || res.Lost != n {
					t.Errorf("result %s, want every request lost", res)
				}
			default:
				if res.Accepted != 0 || res.Errors != n || res.ErrorKinds[tt.kind] != n {
					t.Errorf("result %s %v, want %d errors of kind %q", res, res.ErrorKinds, n, tt.kind)
				}
			}
		})
	}
}

// FuzzCheck requires that no input makes the reply check panic, and that
// whatever it accepts names one of the fleet's mobiles and carries a
// Mobile-Home authenticator made with that mobile's key (mip agrees).
func FuzzCheck(f *testing.F) {
	fl, err := NewFleet(FleetOptions{Mobiles: 4, HomeAgent: benchHA, HomeNet: benchHomeNet, CareOfs: benchCareOfs(1), Seed: 7})
	if err != nil {
		f.Fatal(err)
	}
	r := &mip.Reply{Code: mip.CodeAccepted, Lifetime: 600, Home: fl.Home(1), HomeAgent: benchHA, ID: 5}
	if err := r.Authenticate(mip.TypeMobileHome, fl.SA(1)); err != nil {
		f.Fatal(err)
	}
	good, _ := r.Marshal()
	f.Add(good, false)
	f.Add(fl.AppendRequest(nil, 2, 600, 5), true)
	f.Add([]byte{3, 0}, false)
	f.Fuzz(func(t *testing.T, b []byte, echo bool) {
		c, err := fl.check(b, echo)
		if err != nil {
			return
		}
		fixed := mip.ReplyLen
		if echo {
			fixed = mip.RequestLen
		}
		var verr error
		if echo {
			verr = mip.VerifyRequest(b, mip.TypeMobileHome, fl.SA(c.mobile))
		} else {
			verr = mip.VerifyReply(b, mip.TypeMobileHome, fl.SA(c.mobile))
		}
		// mip refuses unknown extensions below 128 that check skips; only
		// messages mip parses are comparable.
		if _, perr := mip.Parse(b); perr == nil && verr != nil {
			t.Fatalf("check accepted %x (fixed part %d), mip says %v", b, fixed, verr)
		}
	})
}
