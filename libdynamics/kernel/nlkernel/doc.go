// Package nlkernel implements kernel.Kernel with netlink
// (github.com/vishvananda/netlink), /proc/sys and, for gratuitous ARP,
// github.com/mdlayher/arp. It never runs ip, arp or iptables.
//
// # Contract
//
// New(driver, opts) returns a Kernel for the network namespace of the
// calling thread. Entries map onto the kernel as follows:
//
//   - Route: RTM_NEWROUTE with NLM_F_REPLACE, protocol Options.RouteProtocol,
//     scope link without a gateway; a gateway is installed on-link (RTNH_F_ONLINK).
//     Table 0 is the main table. Replacing takes over a route of someone
//     else's with the same destination and table.
//   - Rule: an FRA_PROTOCOL-marked rule `from Src [iif IIf] lookup Table`
//     at Priority (Linux 4.17 or later keeps the mark). The kernel cannot
//     delete a rule without iif selectively, so give rules that differ only
//     in their iif different priorities.
//   - ProxyARP: a proxy neighbour entry (NTF_PROXY). The kernel answers for
//     it only where forwarding is on for the device and the route to the
//     address leaves by another device.
//   - Neighbor: a permanent neighbour entry.
//   - Address: RTM_NEWADDR with NLM_F_REPLACE of the address and prefix
//     length (an owned one with another prefix length is deleted first).
//     Deleting it makes the kernel delete the routes preferring it as their
//     source, and the Kernel forgets them. An address present before the
//     Kernel ensured it is adopted and removed like its own.
//   - Sysctl: written to /proc/sys/<Name> if it differs; the value found the
//     first time is restored on Remove and Close, unless someone else has
//     changed the sysctl since. Typical ones: net/ipv4/ip_forward,
//     net/ipv4/conf/<dev>/proxy_arp, .../rp_filter, .../send_redirects.
//   - Tunnel: made by the kernel.TunnelDriver given to New. NewLinkDriver
//     makes ipip links (PMTU discovery on, TTL 64 unless set) and fails with
//     an error wrapping kernel.ErrUnsupported that names ipip where the kernel
//     has no ipip module; ProbeIPIP tells in advance. Package ipip's userspace
//     driver is the alternative. Without a driver, tunnels are
//     kernel.ErrUnsupported.
//
// Ensure trusts the Kernel's own record: an entry it has made as given is
// not checked again, so a repeated Ensure costs no system call. Sync rereads
// the kernel, so it also repairs entries someone else deleted. Changes counts
// the writes made, for tests and metrics.
//
// # Ownership marks
//
// A Kernel recognises what an earlier run of its daemon left behind by:
//
//   - routes and rules: the protocol number Options.RouteProtocol, by default
//     DefaultRouteProtocol (158), unassigned in iproute2's rt_protos and the
//     kernel's rtnetlink.h. `ip route` shows "proto 158"; an administrator may
//     name it in /etc/iproute2/rt_protos.d/dynamics.conf ("158 dynamics").
//   - tunnels: ipip and TUN links whose names begin with Options.TunnelPrefix
//     (default "dyn"); Ensure refuses tunnel names without it.
//   - proxy and neighbour entries, addresses and sysctls, which carry no
//     mark: the state file Options.StateFile, a small JSON document
//     listing the entries made and each sysctl's value as set and as found,
//     rewritten atomically (a temporary file renamed over it) after each
//     call that changed what it lists. A call that changes only routes,
//     rules and tunnels, as most of a mobile's move does, leaves the file
//     alone. The file is written by a goroutine of its own, so a call does
//     not wait for the disk (a rename over the old file costs ext4 a
//     millisecond or more, more than the netlink messages of a move). A call
//     hands that writer only the entries it changed; the writer keeps its
//     own copy of what the file lists, and sorts and writes it at most once
//     every 50 ms, so a burst of changes (a restarted home agent's first
//     registrations) costs one write per interval and no call pays in
//     proportion to the entries recorded. A daemon killed within that time
//     leaves its last changes unrecorded. Close waits for the last write.
//     Nor is the file synced to disk: it records kernel state, which a
//     reboot ends anyway, and a crashed daemon loses nothing it wrote.
//     Without a state file, those leftovers are not found.
//
// Two daemons sharing one network namespace must use different protocol
// numbers, prefixes and state files.
//
// # Cleaning up
//
// Close removes every entry this Kernel made (rules and routes first,
// tunnels and sysctls last), restores sysctls, closes the tunnel driver, and
// leaves in the state file only the leftovers of an earlier run that no Sync
// removed (deleting the file when nothing is left).
//
// Sync(entries) first removes, in reverse ensure order, everything of the
// Kernel's whose Key is not listed: its own entries, routes and rules with
// its protocol, ipip and TUN links with its prefix, and the state file's
// entries (a neighbour entry only while it still holds the recorded hardware
// address, a sysctl only while it still holds the value set). Then it
// ensures the listed entries, adopting those the kernel already holds as
// given without a change. Entries without the marks, such as routes made
// with `ip route add` (protocol boot) or rules without a protocol, are never
// touched. A daemon calls Sync once at start-up, before it serves anything.
//
// Remove deletes routes and rules only when they carry the protocol (the
// kernel compares it), tunnels by prefix, and proxy, neighbour and sysctl
// entries only when this Kernel or the state file's run made them.
//
// # Network namespaces
//
// New, NewLinkDriver and ProbeIPIP work in the network namespace of the OS
// thread that calls them. The daemons run inside their namespace (`ip netns
// exec`), so every thread is there and nothing more is needed. To drive
// another namespace from a process, call New on a thread that has entered it,
// as netnstest's NS.Do does:
//
//	var k *nlkernel.Kernel
//	err := ns.Do(func() (err error) {
//		k, err = nlkernel.New(driver, opts) // driver also made inside Do
//		return err
//	})
//
// The Kernel keeps a netlink handle bound to that namespace and a handle on
// the namespace itself; sysctl files and the packet sockets of GratuitousARP,
// which belong to the namespace of the thread that opens them, are opened on
// a short-lived thread that enters the namespace. Its methods may then be
// called from any goroutine.
//
// GratuitousARP opens one ARP client (an AF_PACKET socket) per device, at
// the first announcement on it, and keeps it until Close: opening a packet
// socket costs milliseconds, and a home agent announces each new binding
// three times. A client whose write fails, or whose device was deleted and
// made again, is replaced.
package nlkernel
