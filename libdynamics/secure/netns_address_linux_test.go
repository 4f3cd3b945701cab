package secure

import (
	"context"
	"fmt"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// TestGuardSecondAddress: a second interface's address is offered to the
// home agent (ADD_SA_ADDRESS) and withdrawn (REMOVE_SA_ADDRESS); the
// signalling from the address in use stays inside ESP throughout, and
// withdrawing the address in use moves the SAs to the other one.
func TestGuardSecondAddress(t *testing.T) {
	mnNS, haNS, mn, ha := pair(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	mnSock, haSock := listen(t, mnNS, nsInitiator), listen(t, haNS, nsResponder)
	roundTrip := func(from *ipv4.PacketConn, src, text string) {
		t.Helper()
		r := exchange(t, from, haSock, nsResponder, "request "+text)
		if v := ha.Check(r.src, r.ifindex); r.src != addr(src) || !v.Required || !v.Protected {
			t.Errorf("request %s at the home agent: from %s on %d: %+v", text, r.src, r.ifindex, v)
		}
		to := map[*ipv4.PacketConn]string{mnSock: nsInitiator}[from]
		if to == "" {
			to = src
		}
		r = exchange(t, haSock, from, to, "reply "+text)
		if v := mn.Check(r.src, r.ifindex); !v.Protected {
			t.Errorf("reply %s at the mobile: from %s on %d: %+v", text, r.src, r.ifindex, v)
		}
	}
	roundTrip(mnSock, nsInitiator, "before")

	mnNS.Addr("eth0", nsMoved+"/24")
	if err := mnNS.Do(func() error { return mn.AddAddress(ctx, addr(nsMoved)) }); err != nil {
		t.Fatalf("add address: %v", err)
	}
	if hsas, _ := ha.SAs(ctx); len(hsas) != 1 || fmt.Sprint(hsas[0].Addresses) != "["+nsMoved+"]" {
		t.Errorf("home agent's SAs after the offer: %v", hsas)
	}
	if !ha.Requires(addr(nsMoved)) || !ha.Ready(addr(nsMoved)) {
		t.Error("the offered address has no policies at the home agent")
	}
	roundTrip(mnSock, nsInitiator, "after the offer")

	if err := mn.RemoveAddress(ctx, addr(nsMoved)); err != nil {
		t.Fatalf("withdraw the second address: %v", err)
	}
	if hsas, _ := ha.SAs(ctx); len(hsas) != 1 || len(hsas[0].Addresses) != 0 {
		t.Errorf("home agent's SAs after the withdrawal: %v", hsas)
	}
	if ha.Requires(addr(nsMoved)) {
		t.Error("the withdrawn address is still a protected peer's")
	}
	roundTrip(mnSock, nsInitiator, "after the withdrawal")

	// Offer it again, then withdraw the address in use: the SAs move.
	if err := mnNS.Do(func() error { return mn.AddAddress(ctx, addr(nsMoved)) }); err != nil {
		t.Fatalf("add address again: %v", err)
	}
	if err := mn.RemoveAddress(ctx, addr(nsInitiator)); err != nil {
		t.Fatalf("withdraw the address in use: %v", err)
	}
	if sas, _ := mn.SAs(ctx); len(sas) != 1 || sas[0].Local.Addr() != addr(nsMoved) {
		t.Fatalf("mobile's SAs after withdrawing the address in use: %v", sas)
	}
	roundTrip(listen(t, mnNS, nsMoved), nsMoved, "from the second address")
	if ms := mn.Stats(); ms.IKESAs != 1 || ms.IKEInitiated != 1 {
		t.Errorf("stats: %+v", ms)
	}
}
