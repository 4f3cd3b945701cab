package kernel

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

var (
	hw     = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x10}
	tunnel = Tunnel{Name: "dyn1", Local: netip.MustParseAddr("10.1.0.1"), Remote: netip.MustParseAddr("10.0.1.2")}
	route  = Route{Dst: netip.MustParsePrefix("10.1.0.10/32"), Dev: "dyn1"}
	rule   = Rule{Priority: 100, Src: netip.MustParsePrefix("10.1.0.10/32"), IIf: "eth1", Table: 100}
	proxy  = ProxyARP{IP: netip.MustParseAddr("10.1.0.10"), Dev: "eth0"}
	neigh  = Neighbor{IP: netip.MustParseAddr("10.1.0.10"), Dev: "eth1", HWAddr: hw}
	fwd    = Sysctl{Name: "net/ipv4/ip_forward", Value: "1"}
)

func TestValidate(t *testing.T) {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	tests := []struct {
		name string
		e    Entry
		ok   bool
	}{
		{"tunnel", tunnel, true},
		{"tunnel with mtu and ttl", Tunnel{Name: "dyn2", Local: a("10.0.0.1"), Remote: a("10.0.0.2"), TTL: 10, MTU: 1480}, true},
		{"tunnel without name", Tunnel{Local: a("10.0.0.1"), Remote: a("10.0.0.2")}, false},
		{"tunnel name too long", Tunnel{Name: "dyn4567890123456", Local: a("10.0.0.1"), Remote: a("10.0.0.2")}, false},
		{"tunnel name with slash", Tunnel{Name: "dyn/1", Local: a("10.0.0.1"), Remote: a("10.0.0.2")}, false},
		{"tunnel IPv6", Tunnel{Name: "dyn1", Local: a("2001:db8::1"), Remote: a("10.0.0.2")}, false},
		{"tunnel without remote", Tunnel{Name: "dyn1", Local: a("10.0.0.1")}, false},
		{"tunnel mtu too small", Tunnel{Name: "dyn1", Local: a("10.0.0.1"), Remote: a("10.0.0.2"), MTU: 67}, false},
		{"route", route, true},
		{"route via gateway in a table", Route{Dst: p("0.0.0.0/0"), Dev: "eth0", Gw: a("10.2.0.1"), Src: a("10.1.0.10"), Table: 100}, true},
		{"route without device", Route{Dst: p("10.1.0.10/32")}, false},
		{"route without destination", Route{Dev: "eth0"}, false},
		{"route with host bits", Route{Dst: p("10.1.0.10/24"), Dev: "eth0"}, false},
		{"route IPv6", Route{Dst: p("2001:db8::/64"), Dev: "eth0"}, false},
		{"route IPv6 gateway", Route{Dst: p("10.1.0.0/24"), Dev: "eth0", Gw: a("fe80::1")}, false},
		{"route negative table", Route{Dst: p("10.1.0.0/24"), Dev: "eth0", Table: -1}, false},
		{"rule", rule, true},
		{"rule without iif", Rule{Priority: 1, Src: p("10.1.0.0/24"), Table: 7}, true},
		{"rule priority 0", Rule{Src: p("10.1.0.0/24"), Table: 7}, false},
		{"rule priority of main", Rule{Priority: 32766, Src: p("10.1.0.0/24"), Table: 7}, false},
		{"rule main table", Rule{Priority: 5, Src: p("10.1.0.0/24"), Table: 254}, false},
		{"rule no table", Rule{Priority: 5, Src: p("10.1.0.0/24")}, false},
		{"rule host bits", Rule{Priority: 5, Src: p("10.1.0.1/24"), Table: 7}, false},
		{"proxy", proxy, true},
		{"proxy without device", ProxyARP{IP: a("10.1.0.10")}, false},
		{"proxy IPv6", ProxyARP{IP: a("2001:db8::1"), Dev: "eth0"}, false},
		{"neighbor", neigh, true},
		{"neighbor short hwaddr", Neighbor{IP: a("10.1.0.10"), Dev: "eth1", HWAddr: hw[:4]}, false},
		{"sysctl", fwd, true},
		{"sysctl absolute", Sysctl{Name: "/proc/sys/net/ipv4/ip_forward", Value: "1"}, false},
		{"sysctl escaping", Sysctl{Name: "net/../../etc/passwd", Value: "1"}, false},
		{"sysctl empty value", Sysctl{Name: "net/ipv4/ip_forward"}, false},
		{"pointer", &route, false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.e)
			if tt.ok && err != nil {
				t.Fatalf("Validate(%v) = %v, want nil", tt.e, err)
			}
			if !tt.ok && !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate(%v) = %v, want ErrInvalid", tt.e, err)
			}
		})
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		e    Entry
		want string
	}{
		{tunnel, "ip tunnel add dyn1 mode ipip local 10.1.0.1 remote 10.0.1.2 ttl 64"},
		{Tunnel{Name: "dyn2", Local: tunnel.Local, Remote: tunnel.Remote, TTL: 9, MTU: 1400},
			"ip tunnel add dyn2 mode ipip local 10.1.0.1 remote 10.0.1.2 ttl 9 && ip link set dyn2 mtu 1400"},
		{route, "ip route replace 10.1.0.10/32 dev dyn1"},
		{Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: "eth0", Gw: netip.MustParseAddr("10.2.0.1"), Src: netip.MustParseAddr("10.1.0.10"), Table: 100},
			"ip route replace 0.0.0.0/0 via 10.2.0.1 dev eth0 src 10.1.0.10 table 100"},
		{Route{Dst: route.Dst, Dev: "dyn1", Table: 254}, "ip route replace 10.1.0.10/32 dev dyn1"},
		{rule, "ip rule add priority 100 from 10.1.0.10/32 iif eth1 lookup 100"},
		{proxy, "ip neigh add proxy 10.1.0.10 dev eth0"},
		{neigh, "ip neigh replace 10.1.0.10 lladdr 02:00:00:00:00:10 dev eth1 nud permanent"},
		{fwd, "sysctl -w net.ipv4.ip_forward=1"},
	}
	for _, tt := range tests {
		if got := tt.e.String(); got != tt.want {
			t.Errorf("String() = %q\nwant       %q", got, tt.want)
		}
	}
}

func TestKey(t *testing.T) {
	// Same key: the kernel cannot hold both, so one replaces the other.
	sameKey := [][2]Entry{
		{route, Route{Dst: route.Dst, Dev: "dyn2", Gw: netip.MustParseAddr("10.9.9.9")}},
		{rule, Rule{Priority: rule.Priority, Src: rule.Src, IIf: rule.IIf, Table: 200}},
		{tunnel, Tunnel{Name: "dyn1", Local: tunnel.Remote, Remote: tunnel.Local}},
		{neigh, Neighbor{IP: neigh.IP, Dev: neigh.Dev, HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 0x99}}},
		{fwd, Sysctl{Name: fwd.Name, Value: "0"}},
	}
	for _, p := range sameKey {
		if p[0].Key() != p[1].Key() {
			t.Errorf("%v and %v have keys %q and %q, want the same", p[0], p[1], p[0].Key(), p[1].Key())
		}
		if Equal(p[0], p[1]) {
			t.Errorf("Equal(%v, %v) = true for different entries", p[0], p[1])
		}
	}
	// Different keys: both can be present.
	otherKey := [][2]Entry{
		{route, Route{Dst: route.Dst, Dev: "dyn1", Table: 100}},
		{rule, Rule{Priority: rule.Priority, Src: rule.Src, Table: rule.Table}},
		{rule, Rule{Priority: 101, Src: rule.Src, IIf: rule.IIf, Table: rule.Table}},
		{proxy, ProxyARP{IP: proxy.IP, Dev: "eth1"}},
		{proxy, neigh}, // same address and kind of table, different kinds
	}
	for _, p := range otherKey {
		if p[0].Key() == p[1].Key() {
			t.Errorf("%v and %v share key %q", p[0], p[1], p[0].Key())
		}
	}
	if main := (Route{Dst: route.Dst, Dev: "dyn1", Table: 254}); main.Key() != route.Key() || !Equal(main, route) {
		t.Error("a route in table 254 differs from one in table 0, which is what 0 means")
	}
	if !Equal(tunnel, Tunnel{Name: "dyn1", Local: tunnel.Local, Remote: tunnel.Remote, TTL: 64}) {
		t.Error("a tunnel with TTL 0 differs from one with TTL 64, which is what 0 means")
	}
}

func TestRenderOrder(t *testing.T) {
	got := Render([]Entry{rule, route, proxy, neigh, tunnel, fwd})
	want := strings.Join([]string{
		fwd.String(), tunnel.String(), neigh.String(), proxy.String(), route.String(), rule.String(),
	}, "\n") + "\n"
	if got != want {
		t.Errorf("Render:\n%s\nwant (sysctls, tunnels, neighbours, proxies, routes, rules):\n%s", got, want)
	}
}

func TestPrepare(t *testing.T) {
	t.Run("duplicates dropped", func(t *testing.T) {
		got, err := Prepare([]Entry{route, tunnel, route})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0] != tunnel || got[1] != route {
			t.Fatalf("Prepare = %v, want [tunnel route]", got)
		}
	})
	t.Run("conflict rejected", func(t *testing.T) {
		other := route
		other.Dev = "dyn2"
		if _, err := Prepare([]Entry{route, other}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("Prepare with two routes to %s = %v, want ErrInvalid", route.Dst, err)
		}
	})
	t.Run("invalid rejected", func(t *testing.T) {
		if _, err := Prepare([]Entry{route, Route{Dev: "x"}}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("Prepare = %v, want ErrInvalid", err)
		}
	})
	t.Run("hardware address copied", func(t *testing.T) {
		n := neigh
		n.HWAddr = append(net.HardwareAddr(nil), hw...)
		got, err := Prepare([]Entry{n})
		if err != nil {
			t.Fatal(err)
		}
		n.HWAddr[5] = 0xff
		if g := got[0].(Neighbor).HWAddr; g[5] != 0x10 {
			t.Fatalf("caller's change to the hardware address reached the prepared entry: %s", g)
		}
	})
}

func TestKindString(t *testing.T) {
	want := map[Kind]string{KindSysctl: "sysctl", KindTunnel: "tunnel", KindAddress: "address", KindNeighbor: "neighbor",
		KindProxyARP: "proxy-arp", KindRoute: "route", KindRule: "rule", Kind(99): "unknown"}
	for k, s := range want {
		if k.String() != s {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), k.String(), s)
		}
	}
}
