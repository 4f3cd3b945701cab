package secure

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/config"
)

// daemonConfig stands for a daemon's configuration, which embeds Config.
type daemonConfig struct {
	Address string `dyn:"Address"`
	Config
}

// decode reads a small configuration file as a daemon does.
func decode(t *testing.T, text string) (*config.File, Config) {
	t.Helper()
	f, err := config.Parse("test.conf", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	var c daemonConfig
	if err := config.Decode(f, &c); err != nil {
		t.Fatal(err)
	}
	return f, c.Config
}

// TestDefaults: the labels' defaults as the daemons get them.
func TestDefaults(t *testing.T) {
	_, c := decode(t, "Address x\n")
	if !c.IPsecMOBIKEX || c.IPsecESP != "auto" || c.IPsecDevice != "dynesp0" || c.Enabled() {
		t.Errorf("defaults %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

// TestValidateGood: configurations that must pass, one per kind of entry.
func TestValidateGood(t *testing.T) {
	for name, text := range map[string]string{
		"psk per peer": "IPSEC_BEGIN\n10.1.0.1 ha.example.org secret\nIPSEC_END\n",
		"global psk":   "IPsecPSK s\nIPSEC_BEGIN\n10.1.0.1\n10.0.1.2 - -\nIPSEC_END\n",
		"one wildcard": "IPsecPSK s\nIPSEC_BEGIN\n10.1.0.10 - -\n10.1.0.0/24 - -\n10.0.0.0/16 fa@example.org -\nIPSEC_END\n",
		"userspace":    "IPsecESP userspace\nIPsecDevice esp9\nIPsecPSK s\nIPSEC_BEGIN\n10.1.0.1\nIPSEC_END\n",
		"local id":     "IPsecLocalID mn@example.org\nIPsecPSK s\nIPSEC_BEGIN\n10.1.0.1\nIPSEC_END\n",
	} {
		_, c := decode(t, text)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestValidateErrors: every problem names its label and, for an entry,
// the line, through ValidateFile as a daemon's LoadConfig reports it.
func TestValidateErrors(t *testing.T) {
	dir := t.TempDir()
	cert, key, ca := writeCert(t, dir)
	bogus := filepath.Join(dir, "bogus.pem")
	if err := os.WriteFile(bogus, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	entry := "IPSEC_BEGIN\n10.1.0.1 - s\nIPSEC_END\n"
	for _, tc := range []struct{ name, text, want string }{
		{"unknown ESP", "IPsecESP kernel\n" + entry, `test.conf:1: IPsecESP: "kernel" is none of auto, xfrm, userspace`},
		{"long device", "IPsecDevice averyveryverylongname\n" + entry, "test.conf:1: IPsecDevice:"},
		{"bad local id", "IPsecLocalID @\n" + entry, "test.conf:1: IPsecLocalID:"},
		{"certificate without key", "IPsecCertificate " + cert + "\nIPsecCACertificate " + ca + "\n" + entry, "test.conf:1: IPsecCertificate: needs IPsecPrivateKey"},
		{"key without certificate", "IPsecPrivateKey " + key + "\n" + entry, "test.conf:1: IPsecPrivateKey: needs IPsecCertificate"},
		{"certificate without CA", "IPsecCertificate " + cert + "\nIPsecPrivateKey " + key + "\n" + entry, "test.conf:1: IPsecCertificate: needs IPsecCACertificate"},
		{"unreadable certificate", "IPsecCertificate " + bogus + "\nIPsecPrivateKey " + key + "\nIPsecCACertificate " + ca + "\n" + entry, "test.conf:1: IPsecCertificate: " + bogus + ": no PEM certificate"},
		{"unreadable key", "IPsecCertificate " + cert + "\nIPsecPrivateKey " + cert + "\nIPsecCACertificate " + ca + "\n" + entry, `test.conf:2: IPsecPrivateKey: ` + cert + `: PEM block "CERTIFICATE" is not a private key`},
		{"missing CA", "IPsecCACertificate /nonexistent/ca.pem\n" + entry, "test.conf:1: IPsecCACertificate: open /nonexistent/ca.pem"},
		{"no key", "IPSEC_BEGIN\n10.1.0.1\nIPSEC_END\n", "test.conf:2: IPSEC: no pre-shared key for 10.1.0.1"},
		{"no key on line 3", "IPSEC_BEGIN\n10.1.0.1 - s\n10.1.0.2 ha2 -\nIPSEC_END\n", "test.conf:3: IPSEC: no pre-shared key for 10.1.0.2"},
		{"two wildcards", "IPsecPSK s\nIPSEC_BEGIN\n10.1.0.0/24\n10.0.0.0/16 -\nIPSEC_END\n", "test.conf:4: IPSEC: identity \"-\" on the prefix 10.0.0.0/16 accepts any identity its key proves, and only one entry may (line 3 does)"},
		{"peer twice", "IPsecPSK s\nIPSEC_BEGIN\n10.1.0.1 a\n10.1.0.1 b\nIPSEC_END\n", "test.conf:4: IPSEC: peer 10.1.0.1 is already on line 3"},
		{"identity twice", "IPsecPSK s\nIPSEC_BEGIN\n10.1.0.1 ha\n10.1.0.2 ha\nIPSEC_END\n", "test.conf:4: IPSEC: identity ha is already on line 3"},
		{"address identity twice", "IPsecPSK s\nIPSEC_BEGIN\n10.1.0.1\n10.0.0.0/8 10.1.0.1\nIPSEC_END\n", "test.conf:4: IPSEC: identity 10.1.0.1 is already on line 3"},
		{"bad identity", "IPsecPSK s\nIPSEC_BEGIN\n10.1.0.1 keyid:zz\nIPSEC_END\n", "test.conf:3: IPSEC: identity \"keyid:zz\""},
	} {
		f, c := decode(t, tc.text)
		err := c.ValidateFile(f)
		var ce *config.Error
		if err == nil || !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v\nwant a *config.Error containing %q", tc.name, err, tc.want)
		}
		if !errors.Is(c.Validate(), ErrConfig) {
			t.Errorf("%s: Validate's error does not wrap ErrConfig", tc.name)
		}
	}
}

// TestPeerPrefix: the IPSEC entry's first field.
func TestPeerPrefix(t *testing.T) {
	for _, bad := range []string{"10.1.0.0/33", "10.1.0.1/24", "fe80::1", "2001:db8::/32", "host"} {
		f, err := config.Parse("t.conf", strings.NewReader("IPSEC_BEGIN\n"+bad+" - s\nIPSEC_END\n"))
		if err != nil {
			t.Fatal(err)
		}
		var c daemonConfig
		err = config.Decode(f, &c)
		if err == nil || !strings.Contains(err.Error(), "t.conf:2: IPSEC") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	_, c := decode(t, "IPSEC_BEGIN\n10.1.0.1 - s\n10.0.0.0/16\nIPSEC_END\n")
	if got := c.Peers[0].Peer.String() + " " + c.Peers[1].Peer.String(); got != "10.1.0.1 10.0.0.0/16" {
		t.Errorf("peers %s", got)
	}
	if c.Peers[0].Line != 2 || c.Peers[1].Line != 3 || c.Peers[1].ID != "-" || c.Peers[1].PSK != "-" {
		t.Errorf("entries %+v", c.Peers)
	}
	if c.Peers[0].identity() != "10.1.0.1" || c.Peers[1].identity() != "" || c.Peers[0].key() != "s" || c.Peers[1].key() != "" {
		t.Errorf("identity and key of %+v", c.Peers)
	}
}

// testCA is a certificate authority for the tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	path string // its certificate, PEM
	dir  string
}

// newCA makes a CA and writes its certificate into dir.
func newCA(t *testing.T, dir string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, path: writePEM(t, dir, "ca.pem", "CERTIFICATE", der), dir: dir}
}

// issue writes a certificate the CA signs for the address ip, and its
// key, as PEM files.
func (ca *testCA) issue(t *testing.T, ip string) (cert, key string) {
	t.Helper()
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: ip},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP(ip)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &leafKey.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, ca.dir, ip+".crt", "CERTIFICATE", der), writePEM(t, ca.dir, ip+".key", "PRIVATE KEY", keyDER)
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeCert writes a CA, and a certificate it signs for 10.1.0.1 with its
// key, as PEM files.
func writeCert(t *testing.T, dir string) (cert, key, ca string) {
	t.Helper()
	c := newCA(t, dir)
	cert, key = c.issue(t, "10.1.0.1")
	return cert, key, c.path
}

// TestCertificates: a certificate configuration validates and reaches
// the engine's configuration.
func TestCertificates(t *testing.T) {
	cert, key, ca := writeCert(t, t.TempDir())
	_, c := decode(t, "IPsecCertificate "+cert+"\nIPsecPrivateKey "+key+"\nIPsecCACertificate "+ca+"\nIPSEC_BEGIN\n10.1.0.10\nIPSEC_END\n")
	ic, err := c.credentials()
	if err != nil {
		t.Fatal(err)
	}
	if len(ic.Certificate) != 1 || ic.PrivateKey == nil || ic.Roots == nil || len(ic.PSK) != 0 {
		t.Errorf("credentials %+v", ic)
	}
}
