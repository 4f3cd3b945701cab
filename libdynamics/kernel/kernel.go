package kernel

import (
	"errors"
	"net"
	"net/netip"
)

// Kernel converges the host's networking state to the entries a daemon wants.
//
// Every method is idempotent: ensuring an entry that is already present as
// given, or removing one that is absent, succeeds and changes nothing. An entry
// is identified by its Key; ensuring an entry whose Key is present with other
// attributes replaces it. Implementations order their work by kind (tunnels
// before the routes that use them on Ensure, routes before tunnels on Remove),
// so callers may pass entries in any order.
//
// A Kernel owns what it creates and only that: Close removes every owned entry
// and restores every sysctl it changed, and Sync also removes owned entries
// left behind by an earlier run of the same daemon (recognised by the
// ownership marks documented on each implementation).
type Kernel interface {
	// Name is "netlink", "userspace" or "fake": how tunnels are realised.
	Name() string
	// Ensure makes each entry present as given.
	Ensure(entries ...Entry) error
	// Remove makes each entry absent.
	Remove(entries ...Entry) error
	// Sync makes the owned state exactly entries: it ensures them and
	// removes every owned entry not listed.
	Sync(entries []Entry) error
	// Entries returns the owned entries, sorted by kind and key.
	Entries() []Entry
	// GratuitousARP announces that ip is at dev's hardware address
	// (RFC 5944 section 4.6), as a broadcast ARP request and reply.
	GratuitousARP(dev string, ip netip.Addr) error
	// Close removes every owned entry and restores changed sysctls.
	Close() error
}

// TunnelDriver creates and deletes IP-in-IP (RFC 2003) tunnel devices. The
// netlink driver makes ipip links; the userspace driver makes TUN devices and
// encapsulates and decapsulates in the process. After AddTunnel returns, a
// link named t.Name exists and is up, so routes may point at it.
type TunnelDriver interface {
	Name() string
	// AddTunnel creates the tunnel or updates it in place.
	AddTunnel(t Tunnel) error
	// DelTunnel deletes the named tunnel; an absent one is not an error.
	DelTunnel(name string) error
	// Close deletes every tunnel the driver made and releases its sockets.
	Close() error
}

// Kind orders entries: lower kinds are ensured first and removed last.
type Kind int

// Entry kinds, in the order they are ensured.
const (
	KindSysctl Kind = iota
	KindTunnel
	KindAddress // after tunnels, before routes that use it as source
	KindNeighbor
	KindProxyARP
	KindRoute
	KindRule
)

func (k Kind) String() string {
	switch k {
	case KindSysctl:
		return "sysctl"
	case KindTunnel:
		return "tunnel"
	case KindAddress:
		return "address"
	case KindNeighbor:
		return "neighbor"
	case KindProxyARP:
		return "proxy-arp"
	case KindRoute:
		return "route"
	case KindRule:
		return "rule"
	}
	return "unknown"
}

// Entry is one piece of kernel state: a Tunnel, Address, Route, Rule,
// ProxyARP, Neighbor or Sysctl, passed by value (Validate rejects pointers). String
// renders it as the `ip` (or `sysctl`) command that would create it, and
// covers every field, so two entries with the same String are the same.
type Entry interface {
	Kind() Kind
	// Key identifies the entry: two entries with the same Key cannot both
	// be present.
	Key() string
	String() string
}

// Errors shared by implementations.
var (
	// ErrInvalid reports an entry with missing or inconsistent fields.
	ErrInvalid = errors.New("kernel: invalid entry")
	// ErrUnsupported reports something this kernel or implementation
	// cannot do, such as an ipip link without the ipip module.
	ErrUnsupported = errors.New("kernel: not supported")
	// ErrClosed reports use after Close.
	ErrClosed = errors.New("kernel: closed")
	// ErrNoDevice reports an entry naming a network device that does not
	// exist (yet): a route or neighbour entry on a missing interface.
	ErrNoDevice = errors.New("kernel: no such device")
)

// DefaultTunnelPrefix begins the name of every tunnel device the suite
// creates. Implementations that find tunnels left over from an earlier run by
// name (nlkernel) require tunnel names to begin with their prefix, which is
// this one unless configured otherwise.
const DefaultTunnelPrefix = "dyn"

// Tunnel is an IP-in-IP tunnel device from Local to Remote.
type Tunnel struct {
	Name   string     // device name, at most 15 bytes, beginning with the implementation's prefix
	Local  netip.Addr // outer source
	Remote netip.Addr // outer destination; packets are accepted only from it
	TTL    uint8      // outer TTL; 0 means 64
	MTU    int        // inner MTU; 0 means the lower link's MTU - 20
}

// Route is a route to Dst out of Dev, optionally through Gw.
type Route struct {
	Dst   netip.Prefix // masked: no host bits set
	Dev   string
	Gw    netip.Addr // optional next hop, installed on-link (it need not be in a connected prefix)
	Src   netip.Addr // optional preferred source
	Table int        // 0 (or 254) is the main table
}

// Rule is a policy routing rule selecting Table for packets from Src
// (optionally only those arriving on IIf), used for reverse tunnelling.
type Rule struct {
	Priority int
	Src      netip.Prefix // masked: no host bits set
	IIf      string
	Table    int
}

// ProxyARP is a proxy neighbour entry: the host answers ARP requests for IP
// received on Dev with Dev's own hardware address.
type ProxyARP struct {
	IP  netip.Addr
	Dev string
}

// Neighbor is a permanent neighbour entry, used by a foreign agent to reach a
// visiting mobile by its link-layer address without ARPing for its home
// address on the foreign link.
type Neighbor struct {
	IP     netip.Addr
	Dev    string
	HWAddr net.HardwareAddr
}

// Sysctl sets /proc/sys/<Name> to Value; Name uses slashes, for example
// "net/ipv4/ip_forward" or "net/ipv4/conf/eth0/rp_filter". The previous value
// is restored on Close.
type Sysctl struct {
	Name  string
	Value string
}

// Kind implements Entry.
func (Tunnel) Kind() Kind { return KindTunnel }

// Kind implements Entry.
func (Route) Kind() Kind { return KindRoute }

// Kind implements Entry.
func (Rule) Kind() Kind { return KindRule }

// Kind implements Entry.
func (ProxyARP) Kind() Kind { return KindProxyARP }

// Kind implements Entry.
func (Neighbor) Kind() Kind { return KindNeighbor }

// Kind implements Entry.
func (Sysctl) Kind() Kind { return KindSysctl }
