package ikev2

import "fmt"

// AuthMethod is the method of an Authentication payload (RFC 7296 section
// 3.8, IANA "IKEv2 Authentication Method").
type AuthMethod uint8

// Authentication methods.
const (
	AuthRSASignature          AuthMethod = 1  // RSASSA-PKCS1-v1_5 with SHA-1
	AuthSharedKeyMIC          AuthMethod = 2  // PSK: prf(prf(secret, "Key Pad for IKEv2"), octets)
	AuthDSSSignature          AuthMethod = 3  // DSS with SHA-1
	AuthECDSASHA256P256       AuthMethod = 9  // RFC 4754
	AuthECDSASHA384P384       AuthMethod = 10 // RFC 4754
	AuthECDSASHA512P521       AuthMethod = 11 // RFC 4754
	AuthGenericSecurePassword AuthMethod = 12 // RFC 6467
	AuthNull                  AuthMethod = 13 // RFC 7619
	AuthDigitalSignature      AuthMethod = 14 // RFC 7427
)

var authMethodNames = map[AuthMethod]string{
	AuthRSASignature:          "RSA_DIGITAL_SIGNATURE",
	AuthSharedKeyMIC:          "SHARED_KEY_MIC",
	AuthDSSSignature:          "DSS_DIGITAL_SIGNATURE",
	AuthECDSASHA256P256:       "ECDSA_SHA256_P256",
	AuthECDSASHA384P384:       "ECDSA_SHA384_P384",
	AuthECDSASHA512P521:       "ECDSA_SHA512_P521",
	AuthGenericSecurePassword: "GENERIC_SECURE_PASSWORD",
	AuthNull:                  "NULL_AUTH",
	AuthDigitalSignature:      "DIGITAL_SIGNATURE",
}

// String names the method.
func (m AuthMethod) String() string { return name(authMethodNames, m, "AUTH") }

// HashAlgorithm is a hash in a SIGNATURE_HASH_ALGORITHMS notification (RFC
// 7427 section 4, IANA "IKEv2 Hash Algorithms").
type HashAlgorithm uint16

// Hash algorithms.
const (
	HashSHA1     HashAlgorithm = 1
	HashSHA2_256 HashAlgorithm = 2
	HashSHA2_384 HashAlgorithm = 3
	HashSHA2_512 HashAlgorithm = 4
	HashIdentity HashAlgorithm = 5 // RFC 8420, for Ed25519 and Ed448
)

var hashNames = map[HashAlgorithm]string{
	HashSHA1:     "SHA1",
	HashSHA2_256: "SHA2_256",
	HashSHA2_384: "SHA2_384",
	HashSHA2_512: "SHA2_512",
	HashIdentity: "IDENTITY",
}

// String names the hash.
func (h HashAlgorithm) String() string { return name(hashNames, h, "HASH") }

// Auth is the Authentication payload (RFC 7296 section 3.8).
type Auth struct {
	Method AuthMethod
	// Data is the authentication data. For AuthDigitalSignature it is the
	// length of an ASN.1 AlgorithmIdentifier in one octet, that
	// AlgorithmIdentifier, and the signature (RFC 7427 section 3);
	// DigitalSignature and NewDigitalSignature split and join it.
	Data []byte
}

// authHeaderLen is the method and three reserved octets.
const authHeaderLen = 4

// Type returns PayloadAuth.
func (*Auth) Type() PayloadType { return PayloadAuth }

// NewDigitalSignature returns an AUTH payload of method 14 (RFC 7427) with
// the DER AlgorithmIdentifier algID and the signature sig.
func NewDigitalSignature(algID, sig []byte) (*Auth, error) {
	if len(algID) == 0 || len(algID) > 0xff {
		return nil, fmt.Errorf("AlgorithmIdentifier of %d octets, want 1 to 255: %w", len(algID), ErrInvalid)
	}
	data := make([]byte, 0, 1+len(algID)+len(sig))
	data = append(append(append(data, byte(len(algID))), algID...), sig...)
	a := &Auth{Method: AuthDigitalSignature, Data: data}
	if err := a.check(); err != nil {
		return nil, err
	}
	return a, nil
}

// DigitalSignature splits the data of a method-14 AUTH payload into the
// AlgorithmIdentifier and the signature.
func (a *Auth) DigitalSignature() (algID, sig []byte, err error) {
	if a.Method != AuthDigitalSignature {
		return nil, nil, fmt.Errorf("method %s, not %s: %w", a.Method, AuthDigitalSignature, ErrInvalid)
	}
	if err := a.check(); err != nil {
		return nil, nil, err
	}
	n := int(a.Data[0])
	return a.Data[1 : 1+n], a.Data[1+n:], nil
}

func (a *Auth) check() error {
	if len(a.Data) == 0 {
		return fmt.Errorf("%s without authentication data: %w", a.Method, ErrInvalid)
	}
	if a.Method == AuthDigitalSignature {
		n := int(a.Data[0])
		if n == 0 || 1+n >= len(a.Data) {
			return fmt.Errorf("%s: AlgorithmIdentifier of %d octets in %d octets of data, leaving no signature: %w",
				a.Method, n, len(a.Data), ErrInvalid)
		}
	}
	return nil
}

func parseAuth(b []byte) (*Auth, error) {
	if len(b) < authHeaderLen {
		return nil, fmt.Errorf("%d bytes, want at least %d: %w", len(b), authHeaderLen, ErrLength)
	}
	a := &Auth{Method: AuthMethod(b[0]), Data: clone(b[authHeaderLen:])}
	if err := a.check(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Auth) appendBody(b []byte) ([]byte, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	b = append(b, byte(a.Method), 0, 0, 0)
	return append(b, a.Data...), nil
}
