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
//   - ikev2, ikev2/ikecrypto: the IKEv2 message codec (RFC 7296) and its
//     key derivation and protection.
//   - ike: the IKEv2 engine with MOBIKE (RFC 4555) and NAT traversal.
//   - esp: ESP (RFC 4303) SAs and policies behind a Kernel interface,
//     realised with XFRM or in userspace over a TUN device, with UDP
//     encapsulation (RFC 3948).
package libdynamics
