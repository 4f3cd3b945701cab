package ikev2

import "fmt"

// CertEncoding is the encoding of a Certificate or Certificate Request
// payload (RFC 7296 section 3.6, IANA "IKEv2 Certificate Encodings").
type CertEncoding uint8

// Certificate encodings.
const (
	CertPKCS7         CertEncoding = 1  // PKCS #7 wrapped X.509 certificate
	CertPGP           CertEncoding = 2  // PGP certificate
	CertDNSSignedKey  CertEncoding = 3  // DNS signed key
	CertX509Signature CertEncoding = 4  // X.509 certificate - signature (DER)
	CertKerberos      CertEncoding = 6  // Kerberos token
	CertCRL           CertEncoding = 7  // certificate revocation list
	CertARL           CertEncoding = 8  // authority revocation list
	CertSPKI          CertEncoding = 9  // SPKI certificate
	CertX509Attribute CertEncoding = 10 // X.509 certificate - attribute
	CertRawRSAKey     CertEncoding = 11 // raw RSA key (deprecated by RFC 7670)
	CertHashURLX509   CertEncoding = 12 // hash and URL of X.509 certificate
	CertHashURLBundle CertEncoding = 13 // hash and URL of X.509 bundle
	CertOCSPContent   CertEncoding = 14 // OCSP content (RFC 4806)
	CertRawPublicKey  CertEncoding = 15 // raw public key (RFC 7670)
)

var certEncodingNames = map[CertEncoding]string{
	CertPKCS7:         "PKCS7_WRAPPED_X509",
	CertPGP:           "PGP",
	CertDNSSignedKey:  "DNS_SIGNED_KEY",
	CertX509Signature: "X509_SIGNATURE",
	CertKerberos:      "KERBEROS_TOKEN",
	CertCRL:           "CRL",
	CertARL:           "ARL",
	CertSPKI:          "SPKI",
	CertX509Attribute: "X509_ATTRIBUTE",
	CertRawRSAKey:     "RAW_RSA_KEY",
	CertHashURLX509:   "HASH_URL_X509",
	CertHashURLBundle: "HASH_URL_X509_BUNDLE",
	CertOCSPContent:   "OCSP_CONTENT",
	CertRawPublicKey:  "RAW_PUBLIC_KEY",
}

// String names the encoding.
func (e CertEncoding) String() string { return name(certEncodingNames, e, "CERT") }

// sha1Len is the size of the SHA-1 hashes in hash-and-URL certificates and
// in X.509 certificate requests.
const sha1Len = 20

// Cert is the Certificate payload (RFC 7296 section 3.6).
type Cert struct {
	Encoding CertEncoding
	// Data is the certificate: a DER X.509 certificate for
	// CertX509Signature; for the hash-and-URL encodings, a 20-octet SHA-1
	// hash followed by the URL.
	Data []byte
}

// Type returns PayloadCert.
func (*Cert) Type() PayloadType { return PayloadCert }

func (c *Cert) check() error {
	if (c.Encoding == CertHashURLX509 || c.Encoding == CertHashURLBundle) && len(c.Data) <= sha1Len {
		return fmt.Errorf("%s of %d octets: a 20-octet hash and a URL needed: %w", c.Encoding, len(c.Data), ErrInvalid)
	}
	return nil
}

func parseCert(b []byte) (*Cert, error) {
	if len(b) < 1 {
		return nil, fmt.Errorf("no certificate encoding: %w", ErrLength)
	}
	c := &Cert{Encoding: CertEncoding(b[0]), Data: clone(b[1:])}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cert) appendBody(b []byte) ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	return append(append(b, byte(c.Encoding)), c.Data...), nil
}

// CertReq is the Certificate Request payload (RFC 7296 section 3.7).
type CertReq struct {
	Encoding CertEncoding
	// Authorities names the trusted certification authorities: for the
	// X.509 encodings (4, 12, 13), concatenated SHA-1 hashes of their
	// public keys (SubjectPublicKeyInfo), so a multiple of 20 octets.
	Authorities []byte
}

// Type returns PayloadCertReq.
func (*CertReq) Type() PayloadType { return PayloadCertReq }

// Hashes splits Authorities into its 20-octet SHA-1 hashes.
func (c *CertReq) Hashes() [][]byte {
	var hs [][]byte
	for i := 0; i+sha1Len <= len(c.Authorities); i += sha1Len {
		hs = append(hs, c.Authorities[i:i+sha1Len])
	}
	return hs
}

func (c *CertReq) check() error {
	switch c.Encoding {
	case CertX509Signature, CertHashURLX509, CertHashURLBundle:
		if len(c.Authorities)%sha1Len != 0 {
			return fmt.Errorf("%s request with %d octets of authorities, not a list of 20-octet hashes: %w",
				c.Encoding, len(c.Authorities), ErrInvalid)
		}
	}
	return nil
}

func parseCertReq(b []byte) (*CertReq, error) {
	if len(b) < 1 {
		return nil, fmt.Errorf("no certificate encoding: %w", ErrLength)
	}
	c := &CertReq{Encoding: CertEncoding(b[0]), Authorities: clone(b[1:])}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *CertReq) appendBody(b []byte) ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	return append(append(b, byte(c.Encoding)), c.Authorities...), nil
}
