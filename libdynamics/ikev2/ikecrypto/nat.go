package ikecrypto

import (
	"crypto/sha1"
	"encoding/binary"
	"net/netip"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// NATDetectionLen is the length of the data of a NAT_DETECTION_SOURCE_IP or
// NAT_DETECTION_DESTINATION_IP notification: a SHA-1 digest.
const NATDetectionLen = sha1.Size

// NATDetectionHash returns the data of a NAT_DETECTION_SOURCE_IP or
// NAT_DETECTION_DESTINATION_IP notification (RFC 7296 section 2.23):
//
//	SHA-1 ( SPIi | SPIr | IP | Port )
//
// with the SPIs of the IKE header (SPIr zero in an IKE_SA_INIT request), and
// the source or destination address and port of the packet. An IPv4-mapped
// IPv6 address counts as the IPv4 address (4 octets), as on the wire.
func NATDetectionHash(spii, spir ikev2.SPI, addr netip.AddrPort) [NATDetectionLen]byte {
	b := make([]byte, 0, 8+8+16+2)
	b = binary.BigEndian.AppendUint64(b, uint64(spii))
	b = binary.BigEndian.AppendUint64(b, uint64(spir))
	b = append(b, addr.Addr().Unmap().AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, addr.Port())
	return sha1.Sum(b)
}
