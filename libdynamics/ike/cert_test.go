package ike

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// testCA issues certificates for the certificate tests.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Dynamics test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue makes a certificate for email with a key of kind "rsa" or "ecdsa".
func (ca *testCA) issue(t *testing.T, email, kind string, serial int64) ([]byte, crypto.Signer) {
	t.Helper()
	var key crypto.Signer
	var err error
	if kind == "rsa" {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: email},
		EmailAddresses: []string{email},
		NotBefore:      time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

// TestCertificates authenticates both sides with X.509 certificates and
// RFC 7427 digital signatures (RSA and ECDSA keys), and refuses a
// certificate from another CA or for another identity.
func TestCertificates(t *testing.T) {
	ca := newTestCA(t)
	for _, kind := range []string{"ecdsa", "rsa"} {
		t.Run(kind, func(t *testing.T) {
			mnCert, mnKey := ca.issue(t, "mn@example.org", kind, 2)
			haCert, haKey := ca.issue(t, "ha@example.org", kind, 3)
			mn, ha, _ := pair(t, func(mc, hc *Config) {
				mc.PSK, hc.PSK = nil, nil
				mc.Certificate, mc.PrivateKey, mc.Roots = [][]byte{mnCert}, mnKey, ca.pool
				hc.Certificate, hc.PrivateKey, hc.Roots = [][]byte{haCert}, haKey, ca.pool
			})
			info := up(t, mn)
			checkChildPair(t, mn, ha, info.Children[0].InSPI)
		})
	}
	t.Run("untrusted", func(t *testing.T) {
		other := newTestCA(t)
		mnCert, mnKey := other.issue(t, "mn@example.org", "ecdsa", 4)
		haCert, haKey := ca.issue(t, "ha@example.org", "ecdsa", 5)
		mn, ha, _ := pair(t, func(mc, hc *Config) {
			mc.PSK, hc.PSK = nil, nil
			mc.Certificate, mc.PrivateKey, mc.Roots = [][]byte{mnCert}, mnKey, ca.pool
			hc.Certificate, hc.PrivateKey, hc.Roots = [][]byte{haCert}, haKey, ca.pool
		})
		_, err := mn.e.Initiate(ctx(t), "ha")
		errIs(t, err, ErrAuthFailed, "Initiate with an untrusted certificate")
		if len(ha.sas()) != 0 {
			t.Error("the responder kept the SA")
		}
	})
	t.Run("wrong identity", func(t *testing.T) {
		mnCert, mnKey := ca.issue(t, "someone@example.org", "ecdsa", 6)
		haCert, haKey := ca.issue(t, "ha@example.org", "ecdsa", 7)
		mn, _, _ := pair(t, func(mc, hc *Config) {
			mc.PSK, hc.PSK = nil, nil
			mc.Certificate, mc.PrivateKey, mc.Roots = [][]byte{mnCert}, mnKey, ca.pool
			hc.Certificate, hc.PrivateKey, hc.Roots = [][]byte{haCert}, haKey, ca.pool
		})
		_, err := mn.e.Initiate(ctx(t), "ha")
		errIs(t, err, ErrAuthFailed, "Initiate with a certificate for another identity")
	})
}
