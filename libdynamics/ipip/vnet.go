package ipip

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The virtio-net header (include/uapi/linux/virtio_net.h, struct
// virtio_net_hdr) a TUN device opened with IFF_VNET_HDR puts before every
// datagram it hands out and expects before every datagram written to it. It
// tells how the kernel left, or is to finish, the datagram's transport
// checksum and segmentation. A TUN device uses the legacy layout in the
// host's byte order unless told otherwise (TUNSETVNETLE/BE), which the
// driver never does.
const (
	// vnetHeaderLen is the length of struct virtio_net_hdr.
	vnetHeaderLen = 10

	// Flags.
	vnetNeedsCsum = 0x01 // VIRTIO_NET_HDR_F_NEEDS_CSUM: checksum from csumStart still to be done
	vnetDataValid = 0x02 // VIRTIO_NET_HDR_F_DATA_VALID: checksum already checked
	vnetRSCInfo   = 0x04 // VIRTIO_NET_HDR_F_RSC_INFO: receive segment coalescing counts

	// Segmentation types.
	vnetGSONone  = 0    // VIRTIO_NET_HDR_GSO_NONE
	vnetGSOTCPv4 = 1    // VIRTIO_NET_HDR_GSO_TCPV4: a TCP/IPv4 super-packet
	vnetGSOUDP   = 3    // VIRTIO_NET_HDR_GSO_UDP: UDP fragmentation offload
	vnetGSOTCPv6 = 4    // VIRTIO_NET_HDR_GSO_TCPV6
	vnetGSOUDPL4 = 5    // VIRTIO_NET_HDR_GSO_UDP_L4: UDP segmentation offload
	vnetGSOECN   = 0x80 // VIRTIO_NET_HDR_GSO_ECN: the super-packet carries CWR

	vnetKnownFlags = vnetNeedsCsum | vnetDataValid | vnetRSCInfo
)

// ErrVnetHeader reports a virtio-net header the driver does not understand.
var ErrVnetHeader = errors.New("ipip: bad virtio-net header")

// vnetHeader is a parsed virtio-net header.
type vnetHeader struct {
	flags      uint8
	gsoType    uint8 // a vnetGSO type, possibly with vnetGSOECN
	hdrLen     uint16
	gsoSize    uint16
	csumStart  uint16
	csumOffset uint16
}

// parseVnetHeader parses the virtio-net header at the start of b. It rejects
// unknown flags and segmentation types, so that what it accepts marshals back
// to the same bytes.
func parseVnetHeader(b []byte) (vnetHeader, error) {
	if len(b) < vnetHeaderLen {
		return vnetHeader{}, fmt.Errorf("%w: %d bytes, want %d", ErrVnetHeader, len(b), vnetHeaderLen)
	}
	h := vnetHeader{
		flags:      b[0],
		gsoType:    b[1],
		hdrLen:     binary.NativeEndian.Uint16(b[2:4]),
		gsoSize:    binary.NativeEndian.Uint16(b[4:6]),
		csumStart:  binary.NativeEndian.Uint16(b[6:8]),
		csumOffset: binary.NativeEndian.Uint16(b[8:10]),
	}
	if h.flags&^vnetKnownFlags != 0 {
		return vnetHeader{}, fmt.Errorf("%w: flags %#x", ErrVnetHeader, h.flags)
	}
	switch h.gsoType &^ vnetGSOECN {
	case vnetGSONone:
		if h.gsoType&vnetGSOECN != 0 {
			return vnetHeader{}, fmt.Errorf("%w: ECN without segmentation", ErrVnetHeader)
		}
	case vnetGSOTCPv4, vnetGSOUDP, vnetGSOTCPv6, vnetGSOUDPL4:
	default:
		return vnetHeader{}, fmt.Errorf("%w: segmentation type %#x", ErrVnetHeader, h.gsoType)
	}
	return h, nil
}

// marshal writes h into the first vnetHeaderLen bytes of b.
func (h vnetHeader) marshal(b []byte) {
	_ = b[vnetHeaderLen-1]
	b[0] = h.flags
	b[1] = h.gsoType
	binary.NativeEndian.PutUint16(b[2:4], h.hdrLen)
	binary.NativeEndian.PutUint16(b[4:6], h.gsoSize)
	binary.NativeEndian.PutUint16(b[6:8], h.csumStart)
	binary.NativeEndian.PutUint16(b[8:10], h.csumOffset)
}
