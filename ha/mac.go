package ha

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/subtle"
	"hash"

	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// hmacState returns an HMAC-MD5 state keyed with m's current key, made once
// and reset for each use, so that a request's authenticator and its reply's
// cost two MD5 computations each and no allocation; it is remade when a
// reload changes the key. Nil when the association is not HMAC-MD5.
func (m *mobile) hmacState() hash.Hash {
	if m.sa.Alg != mip.HMACMD5 || len(m.sa.Key) == 0 {
		return nil
	}
	if m.mac == nil || !bytes.Equal(m.macKey, m.sa.Key) {
		m.macKey = bytes.Clone(m.sa.Key)
		m.mac = hmac.New(md5.New, m.macKey)
	}
	m.mac.Reset()
	return m.mac
}

// verifyRequest checks req's Mobile-Home authenticator with m's security
// association, as mip.VerifyRequest does (RFC 5944 section 3.5.2). The
// common case, an HMAC-MD5 authenticator that is right, is computed with
// the kept HMAC state; everything else is left to mip.VerifyRequest, which
// also gives the error.
func (m *mobile) verifyRequest(req *mip.Request) error {
	raw := req.Raw()
	a, i := req.Auth(mip.TypeMobileHome)
	mac := m.hmacState()
	if mac == nil || a == nil || a.SPI != m.sa.SPI || len(a.Authenticator) != mip.AuthenticatorLen {
		return mip.VerifyRequest(raw, mip.TypeMobileHome, m.sa)
	}
	// The extensions lie back to back after the fixed part: the
	// authenticator covers everything up to its own SPI.
	off := mip.RequestLen
	for k := range i {
		off += len(req.ExtensionBytes(k))
	}
	const header = 2 + 4 // type, length, SPI
	if off+header > len(raw) || mip.Type(raw[off]) != mip.TypeMobileHome {
		return mip.VerifyRequest(raw, mip.TypeMobileHome, m.sa)
	}
	mac.Write(raw[:off+header])
	if subtle.ConstantTimeCompare(mac.Sum(m.sum[:0]), a.Authenticator) != 1 {
		return mip.VerifyRequest(raw, mip.TypeMobileHome, m.sa)
	}
	return nil
}

// appendAuth appends to msg the Mobile-Home authentication extension
// computed with m's security association, as mip.AppendAuth does.
func (m *mobile) appendAuth(msg []byte) ([]byte, error) {
	mac := m.hmacState()
	if mac == nil {
		return mip.AppendAuth(msg, mip.TypeMobileHome, m.sa)
	}
	msg = append(msg, byte(mip.TypeMobileHome), 4+mip.AuthenticatorLen,
		byte(m.sa.SPI>>24), byte(m.sa.SPI>>16), byte(m.sa.SPI>>8), byte(m.sa.SPI))
	mac.Write(msg)
	return mac.Sum(msg), nil
}
