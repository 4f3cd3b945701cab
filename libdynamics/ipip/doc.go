// Package ipip is the userspace IP-in-IP data path (RFC 2003, "IP
// Encapsulation within IP") for kernels without the ipip module.
//
// The wire functions (Encapsulate, Decapsulate, FragmentationNeeded) are pure:
// they build and check IPv4 headers in caller-supplied buffers and never touch
// a socket. An outer header carries protocol 4, the inner header's TOS and DF
// bit, the configured TTL and a fresh identification; the inner MTU of a tunnel
// is the outer link MTU less the 20-byte outer header (InnerMTU).
//
// Driver realises kernel.TunnelDriver with a TUN device per tunnel and one raw
// IPPROTO_IPIP socket shared by all tunnels:
//
//   - one goroutine per tunnel reads inner packets from its TUN device in
//     batches, prepends the outer header in place and sends the batch to the
//     tunnel's remote end with one sendmmsg call. An inner packet larger than
//     the tunnel MTU is answered, when its DF bit is set, with an ICMP
//     "fragmentation needed" message (RFC 1191) written back into the TUN
//     device; otherwise the outer packet is fragmented.
//   - one goroutine reads the raw socket in batches (recvmmsg) and writes the
//     inner packet of every outer packet whose source is a tunnel's remote and
//     whose destination is that tunnel's local address into that tunnel's TUN
//     device, one batch per tunnel. Everything else is dropped and counted
//     (Stats).
//
// # Offloads
//
// The TUN devices carry a virtio-net header (IFF_VNET_HDR) and ask for the
// kernel's checksum and TCP segmentation offloads (TUNSETOFFLOAD with
// TUN_F_CSUM, TUN_F_TSO4 and TUN_F_TSO_ECN), so that TCP costs the device
// one read and one write per 64 KiB rather than per datagram:
//
//   - Sending, the kernel hands the device TCP super-packets of up to 64 KiB
//     and datagrams whose transport checksum is still to be finished. The
//     device cuts a super-packet into segments of the size the kernel's TCP
//     chose, each with its own IPv4 length, identification and header
//     checksum and its own TCP sequence number and full checksum, FIN and PSH
//     on the last segment only and CWR on the first only, as the kernel's own
//     segmentation does, and finishes partial checksums. One read replaces
//     dozens; the segments then take the ordinary path above, MTU checks,
//     ICMP and fragmentation included.
//   - Receiving, the TCP segments of one write batch that the kernel's
//     receive offload would coalesce (same flow, sequence numbers that follow
//     on, same acknowledgment, window, options, TOS, TTL and DF, only ACK and
//     a last PSH set, equal sizes but the last, every checksum good) are
//     written as one super-packet with one writev, for the kernel to forward
//     or deliver whole and segment again only where a link needs it. Checked
//     segments that stay single are marked as such; a damaged one is written
//     as it came, for its receiver to drop.
//   - A receiving host whose network card coalesces IP-in-IP (GRO, on by
//     default on hardware) hands the raw socket outer datagrams of up to
//     64 KiB whose inner TCP checksum holds only the pseudo-header sum. Those
//     are written with the checksum left to the kernel and, when longer than
//     the tunnel MTU, marked for segmentation at that MTU.
//
// A kernel that refuses the offloads still gets the header; the device then
// only ever sees MTU-sized datagrams.
//
// The raw socket itself has no offload: every outer datagram of at most the
// link MTU is one trip through the kernel's IP output, and on the receiving
// host one through IP input and raw socket delivery. That per-datagram cost,
// not the work done in the process, bounds the throughput of this data path;
// docs/PERFORMANCE.md has the figures.
//
// AddTunnel, DelTunnel and Close may be called from any goroutine. The data
// path reads the tunnel table through an atomically published snapshot, so
// updates never stall it.
//
// # Network namespaces
//
// NewDriver remembers the network namespace of the OS thread that calls it,
// opens its raw socket and netlink handle there, and creates every later TUN
// device in that namespace whatever thread AddTunnel runs on. To run a driver
// inside a namespace, call NewDriver on a thread that has entered it (with
// runtime.LockOSThread and setns, as netnstest's NS.Do does); the process
// itself may stay elsewhere.
//
// Each TUN device gets net.ipv4.conf.<dev>.accept_local=1, without which the
// kernel would drop the driver's ICMP errors (they come from the tunnel's
// local address), and IPv6 disabled, since the tunnel carries IPv4 only.
// Strict reverse path filtering on the device still drops those ICMP errors.
//
// A raw socket for protocol 4 receives every IP-in-IP packet addressed to the
// namespace, so each of several Drivers in one namespace would see, and count
// as NotPeer drops, the others' traffic: run one per namespace. The local address
// of a tunnel must be configured in the namespace for its peer's packets to
// arrive; the driver does not check it.
package ipip
