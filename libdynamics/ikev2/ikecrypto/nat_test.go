package ikecrypto

import (
	"crypto/sha1"
	"net/netip"
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

func TestNATDetectionHash(t *testing.T) {
	spii, spir := ikev2.SPI(0x0011223344556677), ikev2.SPI(0x8899aabbccddeeff)
	// SHA-1 over SPIi | SPIr | IP | port, written out octet by octet.
	v4 := sha1.Sum([]byte{
		0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
		0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
		192, 168, 100, 1,
		0x01, 0xf4, // 500
	})
	if got := NATDetectionHash(spii, spir, netip.MustParseAddrPort("192.168.100.1:500")); got != v4 {
		t.Errorf("IPv4: %x, want %x", got, v4)
	}
	if got := NATDetectionHash(spii, spir, netip.MustParseAddrPort("[::ffff:192.168.100.1]:500")); got != v4 {
		t.Errorf("IPv4-mapped address hashed as 16 octets: %x, want %x", got, v4)
	}
	v6 := sha1.Sum(append(append([]byte{
		0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
		0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
	}, netip.MustParseAddr("2001:db8::1").AsSlice()...), 0x11, 0x94)) // 4500
	if got := NATDetectionHash(spii, spir, netip.MustParseAddrPort("[2001:db8::1]:4500")); got != v6 {
		t.Errorf("IPv6: %x, want %x", got, v6)
	}
	// In an IKE_SA_INIT request SPIr is zero; a different port, address
	// or SPI gives a different hash.
	base := NATDetectionHash(spii, 0, netip.MustParseAddrPort("10.0.0.1:500"))
	for _, other := range [][NATDetectionLen]byte{
		NATDetectionHash(spii, 0, netip.MustParseAddrPort("10.0.0.1:4500")),
		NATDetectionHash(spii, 0, netip.MustParseAddrPort("10.0.0.2:500")),
		NATDetectionHash(spii+1, 0, netip.MustParseAddrPort("10.0.0.1:500")),
		NATDetectionHash(spii, 1, netip.MustParseAddrPort("10.0.0.1:500")),
	} {
		if other == base {
			t.Error("a changed input gives the same NAT detection hash")
		}
	}
}
