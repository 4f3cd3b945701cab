package fa

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/discovery"
	"github.com/dynamics-go/dynamics/libdynamics/link"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// TestAdvertisement checks what a mobile hears on the visitor link: RFC
// 5944 section 2.1's advertisement with the agent's care-of address and the
// flags of what it offers, every AgentAdvInterval and at once on
// solicitation, numbered by the rollover rule.
func TestAdvertisement(t *testing.T) {
	b := newBed(t, testConfig())

	b.advance(time.Second)
	got := b.advert(b.other) // the onlooker hears the first (start-up) one too
	if got.adv.MobilityAgent().Sequence != 0 {
		t.Errorf("first advertisement numbered %d", got.adv.MobilityAgent().Sequence)
	}
	got = b.advert(b.mn)
	if got.ip.Src != faAddr.Addr() || got.ip.Dst != link.AllSystemsAddr || got.ip.TTL != 1 {
		t.Errorf("IP header: %s -> %s ttl %d", got.ip.Src, got.ip.Dst, got.ip.TTL)
	}
	adv := got.adv
	if adv.Code != discovery.CodeRouter || adv.Lifetime != 3 {
		t.Errorf("code %s lifetime %d", adv.Code, adv.Lifetime)
	}
	if len(adv.Routers) != 1 || adv.Routers[0].Addr != faAddr.Addr() {
		t.Errorf("routers %+v", adv.Routers)
	}
	if l, ok := adv.PrefixLength(faAddr.Addr()); !ok || l != 24 {
		t.Errorf("prefix length %d %v", l, ok)
	}
	ma := adv.MobilityAgent()
	if ma.Sequence != 1 || ma.RegistrationLifetime != 600 || !slices.Equal(ma.CareOfAddresses, []netip.Addr{coa}) {
		t.Errorf("mobility agent extension %+v", ma)
	}
	if want := discovery.FlagForeignAgent | discovery.FlagReverseTunnel | discovery.FlagRevocation; ma.Flags != want {
		t.Errorf("flags %s, want %s", ma.Flags, want)
	}

	// A solicitation is answered at once, without the clock moving.
	sol, _ := (&discovery.Solicitation{}).Marshal()
	pkt := link.AppendIPv4(nil, netip.IPv4Unspecified(), link.AllMobilityAgentsAddr, link.ProtoICMP, 1, sol)
	if err := b.mn.WriteFrame(pkt, link.AllMobilityAgents); err != nil {
		t.Fatal(err)
	}
	if seq := b.advert(b.mn).adv.MobilityAgent().Sequence; seq != 2 {
		t.Errorf("solicited advertisement numbered %d, want 2", seq)
	}

	// After 0xffff the count goes on at 256 (RFC 5944 2.3.2).
	b.do(func(*State) { b.agent.seq[0] = 0xffff })
	b.advance(time.Second)
	if seq := b.advert(b.mn).adv.MobilityAgent().Sequence; seq != 0xffff {
		t.Errorf("sequence %d, want 65535", seq)
	}
	b.advance(time.Second)
	if seq := b.advert(b.mn).adv.MobilityAgent().Sequence; seq != 256 {
		t.Errorf("sequence after 65535 is %d, want 256", seq)
	}
	if s := b.stats(); s.Advertisements != 5 || s.Solicitations != 1 {
		t.Errorf("advertisements %d, solicitations %d", s.Advertisements, s.Solicitations)
	}
}

// TestAdvertisementFlags checks that the flags follow the configuration
// and the load: T only with ReverseTunnel, R only when configured, B once
// MaxVisitors mobiles are registered.
func TestAdvertisementFlags(t *testing.T) {
	cfg := testConfig()
	cfg.ReverseTunnel = false
	cfg.RegistrationRequired = true
	cfg.MaxVisitors = 1
	cfg.AgentAdvInterval = 500 * time.Millisecond
	cfg.AgentAdvLifetime = 1500 * time.Millisecond
	cfg.MaxLifetime = 0xffff * time.Second
	b := newBed(t, cfg)
	b.advance(500 * time.Millisecond)
	adv := b.advert(b.mn).adv
	want := discovery.FlagRegistrationRequired | discovery.FlagForeignAgent | discovery.FlagRevocation
	if ma := adv.MobilityAgent(); ma.Flags != want || ma.RegistrationLifetime != discovery.InfiniteLifetime {
		t.Errorf("flags %s lifetime %d, want %s and infinite", ma.Flags, ma.RegistrationLifetime, want)
	}
	if adv.Lifetime != 2 {
		t.Errorf("ICMP lifetime %d, want 1.5s rounded up to 2", adv.Lifetime)
	}

	b.register(b.mn, home, mip.TimestampID(start), 600, 0)
	b.advance(500 * time.Millisecond)
	if ma := b.advert(b.mn).adv.MobilityAgent(); ma.Flags != want|discovery.FlagBusy {
		t.Errorf("flags with the list full: %s, want B too", ma.Flags)
	}
}

// TestNoUnsolicitedAdvertisements: AgentAdvInterval 0 leaves only the
// answers to solicitations.
func TestNoUnsolicitedAdvertisements(t *testing.T) {
	cfg := testConfig()
	cfg.AgentAdvInterval = 0
	n := newBed(t, cfg)
	n.advance(time.Hour)
	if s := n.stats(); s.Advertisements != 0 {
		t.Errorf("%d advertisements sent with AgentAdvInterval 0", s.Advertisements)
	}
}
