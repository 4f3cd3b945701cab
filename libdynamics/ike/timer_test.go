package ike

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// TestHalfOpenTimeout: a responder drops an IKE SA whose IKE_AUTH never
// comes.
func TestHalfOpenTimeout(t *testing.T) {
	mn, ha, n := pair(t, func(mc, hc *Config) { hc.HalfOpenTimeout = 100 * time.Millisecond })
	n.Drop = func(from, to netip.AddrPort, b []byte) bool {
		// Lose every IKE_AUTH request.
		return to.Addr().String() == haAddr && (to.Port() == 4500 || b[18] == byte(ikev2.ExchangeIKEAuth))
	}
	go func() { _, _ = mn.e.Initiate(ctx(t), "ha") }()
	eventually(t, "a half-open SA", func() bool { s := ha.sas(); return len(s) == 1 && s[0].State == StateHalfOpen })
	eventually(t, "the half-open SA gone", func() bool { return len(ha.sas()) == 0 })
}

// TestKeepalive: a side behind a NAT (here: one that claims to be, with
// ForceEncap) sends NAT keepalives to the peer's port 4500.
func TestKeepalive(t *testing.T) {
	var mu sync.Mutex
	keepalives := 0
	mn, _, n := pair(t, func(mc, hc *Config) {
		mc.ForceEncap = true
		mc.Keepalive = 20 * time.Millisecond
	})
	n.Drop = func(from, to netip.AddrPort, b []byte) bool {
		if len(b) == 1 && b[0] == 0xff && from.Addr().String() == mnAddr && to == netip.MustParseAddrPort(haAddr+":4500") {
			mu.Lock()
			keepalives++
			mu.Unlock()
		}
		return false
	}
	info := up(t, mn)
	if !info.NATLocal {
		t.Fatal("ForceEncap does not count as a NAT before this side")
	}
	eventually(t, "three keepalives", func() bool { mu.Lock(); defer mu.Unlock(); return keepalives >= 3 })
}

// TestAutomaticRekey: lifetimes rekey the child and IKE SAs without
// being asked.
func TestAutomaticRekey(t *testing.T) {
	mn, ha, _ := pair(t, func(mc, hc *Config) {
		mc.ChildLifetime = 150 * time.Millisecond
		mc.IKELifetime = 250 * time.Millisecond
	})
	info := up(t, mn)
	eventually(t, "the child and IKE SA rekeyed", func() bool {
		s := mn.sas()
		return len(s) == 1 && s[0].SPIi != info.SPIi && len(s[0].Children) == 1 && s[0].Children[0].InSPI != info.Children[0].InSPI
	})
	eventually(t, "the responder following", func() bool {
		s := ha.sas()
		return len(s) == 1 && s[0].SPIi != info.SPIi
	})
}

// TestLiveness: an SA idle for the liveness interval is checked with empty
// INFORMATIONAL requests, which the peer answers.
func TestLiveness(t *testing.T) {
	var mu sync.Mutex
	checks, answers := 0, 0
	mn, _, n := pair(t, func(mc, hc *Config) { hc.Liveness = 30 * time.Millisecond })
	n.Drop = func(from, to netip.AddrPort, b []byte) bool {
		if m, err := ikev2.Parse(b); err == nil && m.Exchange == ikev2.ExchangeInformational {
			mu.Lock()
			if from.Addr().String() == haAddr && !m.IsResponse() {
				checks++
			}
			if from.Addr().String() == mnAddr && m.IsResponse() {
				answers++
			}
			mu.Unlock()
		}
		return false
	}
	up(t, mn)
	eventually(t, "three liveness checks answered", func() bool { mu.Lock(); defer mu.Unlock(); return checks >= 3 && answers >= 3 })
}

// TestGarbage: datagrams that are not IKE, truncated or tampered messages
// and unknown SPIs are counted and dropped; the engine keeps working, and
// an IKE_SA_INIT with an unknown critical payload is answered with
// UNSUPPORTED_CRITICAL_PAYLOAD.
func TestGarbage(t *testing.T) {
	mn, ha, n := pair(t, nil)
	info := up(t, mn)
	src, err := n.Listen("10.0.0.66:500")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	to := udp(netip.MustParseAddrPort(haAddr + ":500"))
	before := ha.stats()
	// An IKE message for our SA with a flipped ciphertext bit.
	b, err := func() ([]byte, error) {
		var out []byte
		err := mn.e.Do(ctx(t), func(*State) {
			sa := mn.e.sas[info.LocalSPI]
			out, err = sa.seal(ikev2.ExchangeInformational, false, sa.nextID, nil)
		})
		return out, err
	}()
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1
	crit := &ikev2.Message{Header: ikev2.Header{SPIi: 0x1122334455667788, Exchange: ikev2.ExchangeIKESAInit, Flags: ikev2.FlagInitiator},
		Payloads: []ikev2.Payload{&ikev2.RawPayload{PayloadType: 200, Critical: true, Data: []byte{1, 2, 3}}}}
	cb, err := crit.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range [][]byte{{1, 2, 3}, make([]byte, 28), b[:30], b, cb} {
		if _, err := src.WriteTo(d, to); err != nil {
			t.Fatal(err)
		}
	}
	_ = src.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 1500)
	k, _, err := src.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no answer to the critical payload: %v", err)
	}
	m, err := ikev2.Parse(buf[:k])
	if err != nil || ikev2.FindNotify(m.Payloads, ikev2.NotifyUnsupportedCriticalPayload) == nil {
		t.Fatalf("answer %v: %v", m, err)
	}
	eventually(t, "five datagrams handled", func() bool { return ha.stats().Received >= before.Received+5 })
	s := ha.stats()
	if s.Malformed < before.Malformed+4 || s.Integrity < before.Integrity+1 {
		t.Errorf("malformed %d->%d, integrity %d->%d", before.Malformed, s.Malformed, before.Integrity, s.Integrity)
	}
	if err := mn.e.Liveness(ctx(t), info.LocalSPI); err != nil {
		t.Fatal(err)
	}
}
