package ikev2

import "fmt"

// ExchangeType is the exchange type of an IKE header (RFC 7296 section 3.1,
// IANA "IKEv2 Exchange Types").
type ExchangeType uint8

// Exchange types.
const (
	ExchangeIKESAInit        ExchangeType = 34 // IKE_SA_INIT (RFC 7296 1.2)
	ExchangeIKEAuth          ExchangeType = 35 // IKE_AUTH (RFC 7296 1.2)
	ExchangeCreateChildSA    ExchangeType = 36 // CREATE_CHILD_SA (RFC 7296 1.3)
	ExchangeInformational    ExchangeType = 37 // INFORMATIONAL (RFC 7296 1.4)
	ExchangeIKESessionResume ExchangeType = 38 // IKE_SESSION_RESUME (RFC 5723)
	ExchangeIKEIntermediate  ExchangeType = 43 // IKE_INTERMEDIATE (RFC 9242)
	ExchangeIKEFollowupKE    ExchangeType = 44 // IKE_FOLLOWUP_KE (RFC 9370)
)

var exchangeNames = map[ExchangeType]string{
	ExchangeIKESAInit:        "IKE_SA_INIT",
	ExchangeIKEAuth:          "IKE_AUTH",
	ExchangeCreateChildSA:    "CREATE_CHILD_SA",
	ExchangeInformational:    "INFORMATIONAL",
	ExchangeIKESessionResume: "IKE_SESSION_RESUME",
	ExchangeIKEIntermediate:  "IKE_INTERMEDIATE",
	ExchangeIKEFollowupKE:    "IKE_FOLLOWUP_KE",
}

// String returns the IANA name of the exchange type.
func (t ExchangeType) String() string { return name(exchangeNames, t, "EXCHANGE") }

// PayloadType is the type of a payload as the Next Payload field of the
// header or of the previous payload names it (RFC 7296 section 3.2, IANA
// "IKEv2 Payload Types").
type PayloadType uint8

// Payload types. Types 1-32 are IKEv1's; the package decodes 33-48 and
// treats the rest by the critical bit (RFC 7296 section 2.5).
const (
	PayloadNone     PayloadType = 0  // no next payload
	PayloadSA       PayloadType = 33 // Security Association (3.3)
	PayloadKE       PayloadType = 34 // Key Exchange (3.4)
	PayloadIDi      PayloadType = 35 // Identification - Initiator (3.5)
	PayloadIDr      PayloadType = 36 // Identification - Responder (3.5)
	PayloadCert     PayloadType = 37 // Certificate (3.6)
	PayloadCertReq  PayloadType = 38 // Certificate Request (3.7)
	PayloadAuth     PayloadType = 39 // Authentication (3.8)
	PayloadNonce    PayloadType = 40 // Nonce (3.9)
	PayloadNotify   PayloadType = 41 // Notify (3.10)
	PayloadDelete   PayloadType = 42 // Delete (3.11)
	PayloadVendorID PayloadType = 43 // Vendor ID (3.12)
	PayloadTSi      PayloadType = 44 // Traffic Selector - Initiator (3.13)
	PayloadTSr      PayloadType = 45 // Traffic Selector - Responder (3.13)
	PayloadSK       PayloadType = 46 // Encrypted and Authenticated (3.14)
	PayloadCP       PayloadType = 47 // Configuration (3.15)
	PayloadEAP      PayloadType = 48 // Extensible Authentication (3.16)
	PayloadGSPM     PayloadType = 49 // Generic Secure Password Method (RFC 6467)
	PayloadIDg      PayloadType = 50 // Group Identification (G-IKEv2)
	PayloadGSA      PayloadType = 51 // Group Security Association (G-IKEv2)
	PayloadKD       PayloadType = 52 // Key Download (G-IKEv2)
	PayloadSKF      PayloadType = 53 // Encrypted and Authenticated Fragment (RFC 7383)
	PayloadPS       PayloadType = 54 // Puzzle Solution (RFC 8019)
)

var payloadNames = map[PayloadType]string{
	PayloadNone:     "NONE",
	PayloadSA:       "SA",
	PayloadKE:       "KE",
	PayloadIDi:      "IDi",
	PayloadIDr:      "IDr",
	PayloadCert:     "CERT",
	PayloadCertReq:  "CERTREQ",
	PayloadAuth:     "AUTH",
	PayloadNonce:    "Nonce",
	PayloadNotify:   "N",
	PayloadDelete:   "D",
	PayloadVendorID: "V",
	PayloadTSi:      "TSi",
	PayloadTSr:      "TSr",
	PayloadSK:       "SK",
	PayloadCP:       "CP",
	PayloadEAP:      "EAP",
	PayloadGSPM:     "GSPM",
	PayloadIDg:      "IDg",
	PayloadGSA:      "GSA",
	PayloadKD:       "KD",
	PayloadSKF:      "SKF",
	PayloadPS:       "PS",
}

// String returns the payload's notation in RFC 7296 (SA, KE, IDi, N, ...).
func (t PayloadType) String() string { return name(payloadNames, t, "PAYLOAD") }

// Known reports whether the package decodes payloads of this type into
// their own Go type. Others parse as *RawPayload when not critical.
func (t PayloadType) Known() bool { return t >= PayloadSA && t <= PayloadEAP }

// Flags are the flag bits of an IKE header (RFC 7296 section 3.1). The
// other bits are reserved: sent as zero, ignored and kept on receipt.
type Flags uint8

// Header flags.
const (
	// FlagInitiator (I) is set in messages sent by the original initiator
	// of the IKE SA (until it is rekeyed).
	FlagInitiator Flags = 0x08
	// FlagVersion (V) says the sender can speak a higher major version; an
	// IKEv2 implementation sends it clear.
	FlagVersion Flags = 0x10
	// FlagResponse (R) marks a response to the request with the same
	// message ID.
	FlagResponse Flags = 0x20
)

// Initiator reports whether the I flag is set.
func (f Flags) Initiator() bool { return f&FlagInitiator != 0 }

// Response reports whether the R flag is set.
func (f Flags) Response() bool { return f&FlagResponse != 0 }

// String lists the set flags by letter ("IR", "I", "R", "" for none), with
// any reserved bits in hexadecimal after them.
func (f Flags) String() string {
	s := ""
	if f&FlagInitiator != 0 {
		s += "I"
	}
	if f&FlagVersion != 0 {
		s += "V"
	}
	if f&FlagResponse != 0 {
		s += "R"
	}
	if rest := f &^ (FlagInitiator | FlagVersion | FlagResponse); rest != 0 {
		s += fmt.Sprintf("+%#02x", uint8(rest))
	}
	return s
}

// Protocol is a security protocol identifier, as in proposals, notifies and
// deletes (RFC 7296 section 3.3.1, IANA "IKEv2 Security Protocol
// Identifiers").
type Protocol uint8

// Security protocols.
const (
	ProtocolNone Protocol = 0 // no SA named (a notify without SPI)
	ProtocolIKE  Protocol = 1
	ProtocolAH   Protocol = 2
	ProtocolESP  Protocol = 3
	// Fibre Channel protocols of RFC 4595.
	ProtocolFCESPHeader        Protocol = 4
	ProtocolFCCTAuthentication Protocol = 5
)

var protocolNames = map[Protocol]string{
	ProtocolNone:               "NONE",
	ProtocolIKE:                "IKE",
	ProtocolAH:                 "AH",
	ProtocolESP:                "ESP",
	ProtocolFCESPHeader:        "FC_ESP_HEADER",
	ProtocolFCCTAuthentication: "FC_CT_AUTHENTICATION",
}

// String returns the IANA name of the protocol.
func (p Protocol) String() string { return name(protocolNames, p, "PROTOCOL") }

// SPISize returns the size of the protocol's SPI in octets: 8 for IKE, 4
// for AH and ESP; ok is false for other protocols, whose size the package
// does not constrain.
func (p Protocol) SPISize() (size int, ok bool) {
	switch p {
	case ProtocolIKE:
		return 8, true
	case ProtocolAH, ProtocolESP:
		return 4, true
	}
	return 0, false
}

// SPI is an IKE SA's Security Parameter Index, one of the two 8-octet
// values in the IKE header. Zero stands for "not known yet" (the
// responder's SPI in an IKE_SA_INIT request).
type SPI uint64

// String prints the SPI as 16 hexadecimal digits, as logs and tshark show it.
func (s SPI) String() string { return fmt.Sprintf("%016x", uint64(s)) }

// name looks v up in names, or renders it as PREFIX(n).
func name[T ~uint8 | ~uint16](names map[T]string, v T, prefix string) string {
	if s, ok := names[v]; ok {
		return s
	}
	return fmt.Sprintf("%s(%d)", prefix, uint64(v))
}
