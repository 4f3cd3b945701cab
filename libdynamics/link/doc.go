// Package link carries IPv4 packets on one interface together with their
// link-layer addresses, for the parts of Mobile IPv4 that live below the IP
// routing table: agent advertisements and solicitations (RFC 5944 section 2),
// and the foreign agent's exchange with a visiting mobile, which it reaches by
// the hardware address learnt from the mobile's registration request rather
// than by ARPing for a home address that does not belong on the foreign link
// (RFC 5944 sections 3.7.2.3 and 4.2.3).
//
// Conn is the interface. PacketConn realises it with an AF_PACKET datagram
// socket (github.com/mdlayher/packet) whose BPF filter passes only UDP port
// 434 and ICMP types 9 and 10; Hub and MemConn are an in-memory segment for
// in-process tests. The package also builds and parses the IPv4, UDP headers
// those frames carry.
package link
