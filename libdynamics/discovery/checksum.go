package discovery

import "encoding/binary"

// checksum returns the Internet checksum (RFC 1071) of b.
func checksum(b []byte) uint16 {
	var sum uint32
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// checksumOK reports whether the ICMP message b, checksum field included,
// verifies: its ones' complement sum is all ones.
func checksumOK(b []byte) bool {
	return checksum(b) == 0
}

// putChecksum computes the checksum of the ICMP message msg, whose checksum
// field (bytes 2 and 3) must be zero, and stores it.
func putChecksum(msg []byte) {
	binary.BigEndian.PutUint16(msg[2:4], checksum(msg))
}
