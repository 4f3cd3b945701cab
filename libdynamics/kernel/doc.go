// Package kernel is the declarative interface between the daemons and the
// host's networking state: the IP-in-IP tunnels (RFC 2003), routes, policy
// rules, proxy and permanent neighbour entries, and sysctls that Mobile IPv4
// (RFC 5944) agents need.
//
// # Contract
//
// A daemon states the entries it wants (Tunnel, Address, Route, Rule,
// ProxyARP, Neighbor, Sysctl, passed by value) and a Kernel converges the host to them:
//
//   - Ensure makes entries present, Remove makes them absent; both are
//     idempotent. An entry is identified by its Key (a route by destination
//     and table, a rule by priority, source and iif, a tunnel by name, ...):
//     ensuring an entry whose Key is present with other fields replaces it,
//     and Remove matches by Key alone.
//   - Every entry of a call is checked with Validate, and two different
//     entries with one Key are rejected, before anything changes: an invalid
//     batch fails with ErrInvalid and changes nothing (see Prepare).
//   - Work is ordered by Kind, whatever the order of the arguments: sysctls,
//     tunnels, addresses, neighbours, proxy entries, routes, rules on the way in, the
//     reverse on the way out, so a route never points at a missing tunnel.
//     Ensure stops at the first failure (later entries may depend on it);
//     Remove, Sync's removals and Close attempt everything and join the
//     failures.
//   - Sync(entries) makes the owned state exactly entries: it removes every
//     owned entry whose Key is not listed, then ensures the listed ones. A
//     daemon calls it at start-up, to clear what a crashed earlier run left
//     behind, and after a reload.
//   - Close removes every entry the Kernel made, restores every sysctl it
//     changed to the value it found, and closes the tunnel driver. Later
//     calls fail with ErrClosed; a second Close is not an error.
//   - Deleting a tunnel deletes the addresses, routes, neighbour and proxy
//     entries on its device with it, and deleting an address deletes the
//     routes that prefer it as their source, as the Linux kernel does.
//
// A Kernel owns what it creates and only that. Each implementation documents
// the marks by which it recognises its own entries after a restart; package
// nlkernel uses a route and rule protocol number of its own, a tunnel name
// prefix (DefaultTunnelPrefix) and a state file.
//
// # Implementations
//
//   - nlkernel: netlink (github.com/vishvananda/netlink), with tunnels made
//     by a TunnelDriver: nlkernel's ipip link driver where the kernel has the
//     ipip module, otherwise package ipip's userspace driver.
//   - Fake: in memory, for unit and in-process system tests. It counts the
//     changes it makes, fails on demand, records gratuitous ARPs and renders
//     its state with Render, one `ip` command per entry.
//
// Render, and every entry's String, give the iproute2 command that would
// create the entry, for logs, status output and golden tests.
package kernel
