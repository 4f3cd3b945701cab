package ikev2

// TransformType is the type of a transform in a proposal (RFC 7296 section
// 3.3.2, IANA "Transform Type Values"). Each type has its own registry of
// transform IDs: EncrID, PRFID, IntegID, DHGroup and ESN.
type TransformType uint8

// Transform types.
const (
	TransformEncr  TransformType = 1 // encryption algorithm (ENCR)
	TransformPRF   TransformType = 2 // pseudorandom function (PRF)
	TransformInteg TransformType = 3 // integrity algorithm (INTEG)
	TransformDH    TransformType = 4 // Diffie-Hellman group, "Key Exchange Method" since RFC 9370 (D-H)
	TransformESN   TransformType = 5 // extended sequence numbers (ESN)
	// Additional key exchanges of RFC 9370 (ADDKE1..ADDKE7).
	TransformAdditionalKE1 TransformType = 6
	TransformAdditionalKE7 TransformType = 12
)

var transformTypeNames = map[TransformType]string{
	TransformEncr:  "ENCR",
	TransformPRF:   "PRF",
	TransformInteg: "INTEG",
	TransformDH:    "D-H",
	TransformESN:   "ESN",
	6:              "ADDKE1",
	7:              "ADDKE2",
	8:              "ADDKE3",
	9:              "ADDKE4",
	10:             "ADDKE5",
	11:             "ADDKE6",
	12:             "ADDKE7",
}

// String returns the short IANA name of the transform type.
func (t TransformType) String() string { return name(transformTypeNames, t, "TRANSFORM") }

// EncrID is a transform ID of type ENCR (IANA "Transform Type 1 -
// Encryption Algorithm Transform IDs").
type EncrID uint16

// Encryption algorithms.
const (
	EncrDESIV64          EncrID = 1
	EncrDES              EncrID = 2
	Encr3DES             EncrID = 3
	EncrRC5              EncrID = 4
	EncrIDEA             EncrID = 5
	EncrCAST             EncrID = 6
	EncrBlowfish         EncrID = 7
	Encr3IDEA            EncrID = 8
	EncrDESIV32          EncrID = 9
	EncrNull             EncrID = 11
	EncrAESCBC           EncrID = 12 // RFC 3602; key length attribute required
	EncrAESCTR           EncrID = 13 // RFC 5930
	EncrAESCCM8          EncrID = 14 // RFC 5282
	EncrAESCCM12         EncrID = 15
	EncrAESCCM16         EncrID = 16
	EncrAESGCM8          EncrID = 18 // RFC 5282 (IKE), RFC 4106 (ESP)
	EncrAESGCM12         EncrID = 19
	EncrAESGCM16         EncrID = 20
	EncrNullAuthAESGMAC  EncrID = 21 // RFC 4543
	EncrCamelliaCBC      EncrID = 23 // RFC 5529
	EncrCamelliaCTR      EncrID = 24
	EncrCamelliaCCM8     EncrID = 25
	EncrCamelliaCCM12    EncrID = 26
	EncrCamelliaCCM16    EncrID = 27
	EncrChaCha20Poly1305 EncrID = 28 // RFC 7634
)

var encrNames = map[EncrID]string{
	EncrDESIV64:          "ENCR_DES_IV64",
	EncrDES:              "ENCR_DES",
	Encr3DES:             "ENCR_3DES",
	EncrRC5:              "ENCR_RC5",
	EncrIDEA:             "ENCR_IDEA",
	EncrCAST:             "ENCR_CAST",
	EncrBlowfish:         "ENCR_BLOWFISH",
	Encr3IDEA:            "ENCR_3IDEA",
	EncrDESIV32:          "ENCR_DES_IV32",
	EncrNull:             "ENCR_NULL",
	EncrAESCBC:           "ENCR_AES_CBC",
	EncrAESCTR:           "ENCR_AES_CTR",
	EncrAESCCM8:          "ENCR_AES_CCM_8",
	EncrAESCCM12:         "ENCR_AES_CCM_12",
	EncrAESCCM16:         "ENCR_AES_CCM_16",
	EncrAESGCM8:          "ENCR_AES_GCM_8",
	EncrAESGCM12:         "ENCR_AES_GCM_12",
	EncrAESGCM16:         "ENCR_AES_GCM_16",
	EncrNullAuthAESGMAC:  "ENCR_NULL_AUTH_AES_GMAC",
	EncrCamelliaCBC:      "ENCR_CAMELLIA_CBC",
	EncrCamelliaCTR:      "ENCR_CAMELLIA_CTR",
	EncrCamelliaCCM8:     "ENCR_CAMELLIA_CCM_8",
	EncrCamelliaCCM12:    "ENCR_CAMELLIA_CCM_12",
	EncrCamelliaCCM16:    "ENCR_CAMELLIA_CCM_16",
	EncrChaCha20Poly1305: "ENCR_CHACHA20_POLY1305",
}

// String returns the IANA name of the encryption algorithm.
func (id EncrID) String() string { return name(encrNames, id, "ENCR") }

// AEAD reports whether the algorithm is a combined mode that also protects
// integrity, so a proposal carrying it has no INTEG transform (RFC 5282
// section 8).
func (id EncrID) AEAD() bool {
	switch id {
	case EncrAESCCM8, EncrAESCCM12, EncrAESCCM16, EncrAESGCM8, EncrAESGCM12, EncrAESGCM16,
		EncrNullAuthAESGMAC, EncrCamelliaCCM8, EncrCamelliaCCM12, EncrCamelliaCCM16, EncrChaCha20Poly1305:
		return true
	}
	return false
}

// PRFID is a transform ID of type PRF (IANA "Transform Type 2 -
// Pseudorandom Function Transform IDs").
type PRFID uint16

// Pseudorandom functions.
const (
	PRFHMACMD5      PRFID = 1
	PRFHMACSHA1     PRFID = 2
	PRFHMACTiger    PRFID = 3
	PRFAES128XCBC   PRFID = 4 // RFC 4434
	PRFHMACSHA2_256 PRFID = 5 // RFC 4868
	PRFHMACSHA2_384 PRFID = 6
	PRFHMACSHA2_512 PRFID = 7
	PRFAES128CMAC   PRFID = 8 // RFC 4615
)

var prfNames = map[PRFID]string{
	PRFHMACMD5:      "PRF_HMAC_MD5",
	PRFHMACSHA1:     "PRF_HMAC_SHA1",
	PRFHMACTiger:    "PRF_HMAC_TIGER",
	PRFAES128XCBC:   "PRF_AES128_XCBC",
	PRFHMACSHA2_256: "PRF_HMAC_SHA2_256",
	PRFHMACSHA2_384: "PRF_HMAC_SHA2_384",
	PRFHMACSHA2_512: "PRF_HMAC_SHA2_512",
	PRFAES128CMAC:   "PRF_AES128_CMAC",
}

// String returns the IANA name of the pseudorandom function.
func (id PRFID) String() string { return name(prfNames, id, "PRF") }

// IntegID is a transform ID of type INTEG (IANA "Transform Type 3 -
// Integrity Algorithm Transform IDs").
type IntegID uint16

// Integrity algorithms.
const (
	IntegNone             IntegID = 0
	IntegHMACMD5_96       IntegID = 1
	IntegHMACSHA1_96      IntegID = 2
	IntegDESMAC           IntegID = 3
	IntegKPDKMD5          IntegID = 4
	IntegAESXCBC96        IntegID = 5
	IntegHMACMD5_128      IntegID = 6
	IntegHMACSHA1_160     IntegID = 7
	IntegAESCMAC96        IntegID = 8
	IntegAES128GMAC       IntegID = 9
	IntegAES192GMAC       IntegID = 10
	IntegAES256GMAC       IntegID = 11
	IntegHMACSHA2_256_128 IntegID = 12 // RFC 4868
	IntegHMACSHA2_384_192 IntegID = 13
	IntegHMACSHA2_512_256 IntegID = 14
)

var integNames = map[IntegID]string{
	IntegNone:             "NONE",
	IntegHMACMD5_96:       "AUTH_HMAC_MD5_96",
	IntegHMACSHA1_96:      "AUTH_HMAC_SHA1_96",
	IntegDESMAC:           "AUTH_DES_MAC",
	IntegKPDKMD5:          "AUTH_KPDK_MD5",
	IntegAESXCBC96:        "AUTH_AES_XCBC_96",
	IntegHMACMD5_128:      "AUTH_HMAC_MD5_128",
	IntegHMACSHA1_160:     "AUTH_HMAC_SHA1_160",
	IntegAESCMAC96:        "AUTH_AES_CMAC_96",
	IntegAES128GMAC:       "AUTH_AES_128_GMAC",
	IntegAES192GMAC:       "AUTH_AES_192_GMAC",
	IntegAES256GMAC:       "AUTH_AES_256_GMAC",
	IntegHMACSHA2_256_128: "AUTH_HMAC_SHA2_256_128",
	IntegHMACSHA2_384_192: "AUTH_HMAC_SHA2_384_192",
	IntegHMACSHA2_512_256: "AUTH_HMAC_SHA2_512_256",
}

// String returns the IANA name of the integrity algorithm.
func (id IntegID) String() string { return name(integNames, id, "INTEG") }

// DHGroup is a transform ID of type D-H, the group of a Key Exchange
// payload (IANA "Transform Type 4 - Key Exchange Method Transform IDs").
type DHGroup uint16

// Diffie-Hellman groups.
const (
	DHNone          DHGroup = 0
	DHMODP768       DHGroup = 1  // RFC 6989 calls it too weak
	DHMODP1024      DHGroup = 2  // RFC 2409
	DHMODP1536      DHGroup = 5  // RFC 3526
	DHMODP2048      DHGroup = 14 // RFC 3526
	DHMODP3072      DHGroup = 15
	DHMODP4096      DHGroup = 16
	DHMODP6144      DHGroup = 17
	DHMODP8192      DHGroup = 18
	DHECP256        DHGroup = 19 // RFC 5903
	DHECP384        DHGroup = 20
	DHECP521        DHGroup = 21
	DHMODP1024S160  DHGroup = 22 // RFC 5114
	DHMODP2048S224  DHGroup = 23
	DHMODP2048S256  DHGroup = 24
	DHECP192        DHGroup = 25
	DHECP224        DHGroup = 26
	DHBrainpoolP224 DHGroup = 27 // RFC 6954
	DHBrainpoolP256 DHGroup = 28
	DHBrainpoolP384 DHGroup = 29
	DHBrainpoolP512 DHGroup = 30
	DHCurve25519    DHGroup = 31 // RFC 8031
	DHCurve448      DHGroup = 32
	DHGOST3410_256  DHGroup = 33 // RFC 9385
	DHGOST3410_512  DHGroup = 34
)

var dhNames = map[DHGroup]string{
	DHNone:          "NONE",
	DHMODP768:       "MODP_768",
	DHMODP1024:      "MODP_1024",
	DHMODP1536:      "MODP_1536",
	DHMODP2048:      "MODP_2048",
	DHMODP3072:      "MODP_3072",
	DHMODP4096:      "MODP_4096",
	DHMODP6144:      "MODP_6144",
	DHMODP8192:      "MODP_8192",
	DHECP256:        "ECP_256",
	DHECP384:        "ECP_384",
	DHECP521:        "ECP_521",
	DHMODP1024S160:  "MODP_1024_160",
	DHMODP2048S224:  "MODP_2048_224",
	DHMODP2048S256:  "MODP_2048_256",
	DHECP192:        "ECP_192",
	DHECP224:        "ECP_224",
	DHBrainpoolP224: "BRAINPOOL_P224",
	DHBrainpoolP256: "BRAINPOOL_P256",
	DHBrainpoolP384: "BRAINPOOL_P384",
	DHBrainpoolP512: "BRAINPOOL_P512",
	DHCurve25519:    "CURVE_25519",
	DHCurve448:      "CURVE_448",
	DHGOST3410_256:  "GOST3410_2012_256",
	DHGOST3410_512:  "GOST3410_2012_512",
}

// String returns a short name of the group (MODP_2048, ECP_256,
// CURVE_25519).
func (g DHGroup) String() string { return name(dhNames, g, "DH") }

// ESN is a transform ID of type ESN (IANA "Transform Type 5 - Extended
// Sequence Numbers Transform IDs").
type ESN uint16

// Extended sequence number choices.
const (
	ESNNone     ESN = 0 // 32-bit sequence numbers
	ESNExtended ESN = 1 // 64-bit extended sequence numbers (RFC 4303)
)

// String returns the IANA name.
func (e ESN) String() string {
	switch e {
	case ESNNone:
		return "NO_EXT_SEQ"
	case ESNExtended:
		return "EXT_SEQ"
	}
	return name(map[ESN]string{}, e, "ESN")
}

// AttributeType is the type of a transform attribute, without the format
// bit (RFC 7296 section 3.3.5, IANA "IKEv2 Transform Attribute Types").
type AttributeType uint16

// AttributeKeyLength is the Key Length attribute, in bits, of
// variable-length ciphers such as AES; always in TV format.
const AttributeKeyLength AttributeType = 14

// String names the attribute type.
func (t AttributeType) String() string {
	if t == AttributeKeyLength {
		return "KEY_LENGTH"
	}
	return name(map[AttributeType]string{}, t, "ATTRIBUTE")
}
