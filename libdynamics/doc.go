// Package libdynamics is the root of the suite's shared packages. It holds no
// code of its own: each subpackage covers one concern.
//
//   - mip: Mobile IPv4 registration messages, extensions, authenticators and
//     replay protection (RFC 5944).
//   - discovery: ICMP agent advertisements and solicitations (RFC 5944
//     section 2, RFC 1256).
//   - binding, tunnel: the agents' binding and tunnel tables.
//   - kernel: the declarative kernel interface and its fake; kernel/nlkernel
//     realises it with netlink, ipip the userspace IP-in-IP data path.
//   - config, logging: the Dynamics configuration format and logging setup.
package libdynamics
