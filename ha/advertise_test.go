package ha

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/discovery"
	"github.com/dynamics-go/dynamics/libdynamics/link"
)

// advert reads the next agent advertisement on the home link.
func (b *bed) advert() (link.IPv4, *discovery.Advertisement) {
	b.t.Helper()
	buf := make([]byte, 2048)
	_ = b.onLink.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer b.onLink.SetReadDeadline(time.Time{})
	for {
		n, hw, err := b.onLink.ReadFrame(buf)
		if err != nil {
			b.t.Fatalf("waiting for an advertisement: %v", err)
		}
		ip, err := link.ParseIPv4(append([]byte(nil), buf[:n]...))
		if err != nil || ip.Protocol != link.ProtoICMP {
			continue
		}
		if hw.String() != haMAC.String() {
			b.t.Errorf("advertisement from %s, want %s", hw, haMAC)
		}
		adv, err := discovery.ParseAdvertisement(ip.Payload)
		if err != nil {
			b.t.Fatalf("advertisement: %v", err)
		}
		if err := adv.Validate(); err != nil {
			b.t.Fatalf("advertisement: %v", err)
		}
		return ip, adv
	}
}

func (b *bed) noAdvert() {
	b.t.Helper()
	buf := make([]byte, 2048)
	_ = b.onLink.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	defer b.onLink.SetReadDeadline(time.Time{})
	if n, _, err := b.onLink.ReadFrame(buf); err == nil {
		b.t.Errorf("home link received %x", buf[:n])
	}
}

// The home agent advertises on the home link every AgentAdvInterval, with
// the H flag, so that a mobile node hearing it knows it is at home.
func TestAdvertisements(t *testing.T) {
	cfg := testConfig()
	cfg.AgentAdvInterval = 2 * time.Second
	cfg.AgentAdvLifetime = 6 * time.Second
	b := newBed(t, cfg)
	ip, adv := b.advert()
	if ip.Src != haAddr || ip.Dst != link.AllSystemsAddr || ip.TTL != 1 {
		t.Errorf("IP header %s -> %s TTL %d", ip.Src, ip.Dst, ip.TTL)
	}
	ma := adv.MobilityAgent()
	if adv.Code != discovery.CodeMobilityOnly || adv.Lifetime != 6 || ma == nil ||
		ma.Flags != discovery.FlagHomeAgent || ma.RegistrationLifetime != 600 || ma.Sequence != 0 || len(ma.CareOfAddresses) != 0 {
		t.Fatalf("advertisement %+v, extension %+v", adv, ma)
	}
	if len(adv.Routers) != 1 || adv.Routers[0].Addr != haAddr || adv.Routers[0].Preference != discovery.NotDefaultRouter {
		t.Errorf("router addresses %+v", adv.Routers)
	}
	if p := adv.Prefixes(); len(p) != 1 || p[0] != homeNet {
		t.Errorf("prefixes %v, want %s", p, homeNet)
	}
	b.advance(time.Second)
	b.noAdvert()
	b.advance(time.Second)
	if _, adv := b.advert(); adv.MobilityAgent().Sequence != 1 {
		t.Errorf("second advertisement sequence %d", adv.MobilityAgent().Sequence)
	}
	if s := b.stats(); s.Advertisements != 2 {
		t.Errorf("stats %+v", s)
	}
}

// A solicitation is answered at once, at the soliciting host's hardware
// address but to IP 224.0.0.1 (RFC 5944 section 2.3.1: an advertisement is
// never sent to a unicast IP address); a flood of them is not.
func TestSolicitation(t *testing.T) {
	b := newBed(t, testConfig()) // no unsolicited advertisements
	b.noAdvert()
	sol, err := (&discovery.Solicitation{}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	send := func(src netip.Addr) {
		pkt := link.AppendIPv4(nil, src, link.AllMobilityAgentsAddr, link.ProtoICMP, 1, sol)
		if err := b.onLink.WriteFrame(pkt, link.AllMobilityAgents); err != nil {
			t.Fatal(err)
		}
	}
	send(home)
	ip, adv := b.advert()
	if ip.Dst != link.AllSystemsAddr || ip.TTL != 1 || adv.MobilityAgent() == nil || adv.MobilityAgent().Sequence != 0 {
		t.Errorf("answer to %s, sequence %d", ip.Dst, adv.MobilityAgent().Sequence)
	}
	send(home)
	b.waitStats("solicitation", func(s Stats) bool { return s.Solicitations == 1 })
	b.noAdvert()
	b.advance(time.Second)
	send(netip.IPv4Unspecified())
	if ip, adv := b.advert(); ip.Dst != link.AllSystemsAddr || adv.MobilityAgent().Sequence != 1 {
		t.Errorf("answer to an unnumbered host went to %s, sequence %d", ip.Dst, adv.MobilityAgent().Sequence)
	}
	// A frame that is not a solicitation is ignored; a broken one counted.
	bad := append([]byte(nil), sol...)
	bad[2] ^= 0xff
	pkt := link.AppendIPv4(nil, home, link.AllMobilityAgentsAddr, link.ProtoICMP, 1, bad)
	if err := b.onLink.WriteFrame(pkt, net.HardwareAddr(link.AllMobilityAgents)); err != nil {
		t.Fatal(err)
	}
	b.waitStats("bad checksum counted", func(s Stats) bool { return s.Discards.Malformed == 1 })
}
