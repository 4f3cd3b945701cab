package discovery

import (
	"net/netip"
)

// goldenAdvertisement is an agent advertisement from a foreign agent with
// two router addresses, written out field by field.
var goldenAdvertisement = []byte{
	// ICMP Router Advertisement (RFC 1256)
	9,          // type: router advertisement
	0,          // code: also routes common traffic
	0x9b, 0x90, // checksum
	2,          // num addrs
	2,          // address entry size
	0x07, 0x08, // lifetime 1800 s
	10, 2, 0, 1, // router address 10.2.0.1
	0, 0, 0, 0, // preference 0
	192, 0, 2, 1, // router address 192.0.2.1
	0xff, 0xff, 0xff, 0xff, // preference -1
	// Mobility Agent Advertisement extension (RFC 5944 section 2.1.1)
	16,         // type
	14,         // length: 6 + 4*2
	0x01, 0x02, // sequence number 258
	0x02, 0x58, // registration lifetime 600 s
	0xd1, 0x00, // flags R B F T (0x8000|0x4000|0x1000|0x0100), reserved 0
	10, 2, 0, 1, // care-of address 10.2.0.1
	10, 2, 0, 2, // care-of address 10.2.0.2
	// Prefix-Lengths extension (RFC 5944 section 2.1.2)
	19, // type
	2,  // length: one per router address
	24, // 10.2.0.1/24
	28, // 192.0.2.1/28
	// an extension this package does not know, skippable (>= 128)
	200, // type
	3,   // length
	0xab, 0xcd, 0xef,
	// One-byte Padding extension (RFC 5944 section 2.1.3): makes the
	// ICMP length (49 so far) even
	0,
}

// goldenAdvertisementValue is goldenAdvertisement decoded.
func goldenAdvertisementValue() *Advertisement {
	return &Advertisement{
		Code:     CodeRouter,
		Lifetime: 1800,
		Routers: []RouterAddress{
			{Addr: netip.MustParseAddr("10.2.0.1"), Preference: 0},
			{Addr: netip.MustParseAddr("192.0.2.1"), Preference: -1},
		},
		Extensions: []Extension{
			&MobilityAgent{
				Sequence:             258,
				RegistrationLifetime: 600,
				Flags:                FlagRegistrationRequired | FlagBusy | FlagForeignAgent | FlagReverseTunnel,
				CareOfAddresses: []netip.Addr{
					netip.MustParseAddr("10.2.0.1"),
					netip.MustParseAddr("10.2.0.2"),
				},
			},
			&PrefixLengths{Lengths: []uint8{24, 28}},
			&RawExtension{Type: 200, Data: []byte{0xab, 0xcd, 0xef}},
			&Padding{},
		},
	}
}

// goldenSolicitation is an agent solicitation, field by field.
var goldenSolicitation = []byte{
	10,         // type: router solicitation
	0,          // code
	0xf5, 0xff, // checksum: ^0x0a00
	0, 0, 0, 0, // reserved
}
