package ike

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
	"github.com/dynamics-go/dynamics/libdynamics/ikev2/ikecrypto"
)

// localID is this side's identification (RFC 7296 section 3.5): the
// configured identity, the certificate's subject, or the IKE address.
func (sa *ikeSA) localID(responder bool) (*ikev2.ID, error) {
	cfg := &sa.e.cfg
	var id *ikev2.ID
	switch {
	case cfg.LocalID != "":
		var err error
		if id, err = ParseIdentity(cfg.LocalID); err != nil {
			return nil, err
		}
	case len(cfg.Certificate) > 0:
		leaf, err := x509.ParseCertificate(cfg.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("%w: certificate: %v", ErrConfig, err)
		}
		id = &ikev2.ID{IDType: ikev2.IDDERASN1DN, Data: leaf.RawSubject}
	default:
		id = ikev2.AddrID(false, sa.sock.local.Addr())
	}
	out := *id
	out.Responder = responder
	return &out, nil
}

// authPayloads returns this side's CERT payloads and AUTH payload over
// signed (RFC 7296 section 2.15; RFC 7427 for signatures).
func (sa *ikeSA) authPayloads(signed []byte, peer *Peer) ([]ikev2.Payload, error) {
	cfg := &sa.e.cfg
	if cfg.PrivateKey == nil {
		data, err := ikecrypto.PSKAuth(sa.prop.PRF, sa.e.psk(peer), signed)
		if err != nil {
			return nil, err
		}
		return []ikev2.Payload{&ikev2.Auth{Method: ikev2.AuthSharedKeyMIC, Data: data}}, nil
	}
	var ps []ikev2.Payload
	for _, c := range cfg.Certificate {
		ps = append(ps, &ikev2.Cert{Encoding: ikev2.CertX509Signature, Data: c})
	}
	method := ikecrypto.AuthDigitalSignature
	scheme, err := ikecrypto.ChooseScheme(cfg.PrivateKey.Public(), sa.hashes)
	if err != nil || len(sa.hashes) == 0 {
		// A peer without RFC 7427 gets the method of RFC 7296 (RSA) or
		// RFC 4754 (ECDSA P-256).
		switch k := cfg.PrivateKey.Public().(type) {
		case *rsa.PublicKey:
			method = ikecrypto.AuthRSASignature
		case *ecdsa.PublicKey:
			if k.Curve != elliptic.P256() {
				return nil, fmt.Errorf("%w: an ECDSA key on %s needs a peer announcing RFC 7427 hashes", ErrConfig, k.Curve.Params().Name)
			}
			method = ikecrypto.AuthECDSASHA256
		default:
			return nil, fmt.Errorf("%w: cannot sign with a %T key", ErrConfig, k)
		}
	}
	data, err := ikecrypto.SignAuth(method, cfg.PrivateKey, scheme, signed)
	if err != nil {
		return nil, err
	}
	return append(ps, &ikev2.Auth{Method: ikev2.AuthMethod(method), Data: data}), nil
}

// verifyAuth checks the peer's AUTH payload over signed: a PSK MIC with
// the peer's key, or a signature by a certificate the roots vouch for that
// names the peer's identity.
func (sa *ikeSA) verifyAuth(peer *Peer, id *ikev2.ID, auth *ikev2.Auth, certs []*ikev2.Cert, signed []byte) error {
	if auth == nil || id == nil {
		return fmt.Errorf("%w: no AUTH or ID payload", ErrAuthFailed)
	}
	if auth.Method == ikev2.AuthSharedKeyMIC {
		psk := sa.e.psk(peer)
		if len(psk) == 0 {
			return fmt.Errorf("%w: PSK authentication but no pre-shared key for the peer", ErrAuthFailed)
		}
		if err := ikecrypto.VerifyPSKAuth(sa.prop.PRF, psk, signed, auth.Data); err != nil {
			return fmt.Errorf("%w: %v", ErrAuthFailed, err)
		}
		return nil
	}
	if sa.e.cfg.Roots == nil {
		return fmt.Errorf("%w: %s authentication but no trusted roots", ErrAuthFailed, auth.Method)
	}
	var leaf *x509.Certificate
	inter := x509.NewCertPool()
	for i, c := range certs {
		if c.Encoding != ikev2.CertX509Signature {
			continue
		}
		cert, err := x509.ParseCertificate(c.Data)
		if err != nil {
			return fmt.Errorf("%w: certificate: %v", ErrAuthFailed, err)
		}
		if i == 0 {
			leaf = cert
		} else {
			inter.AddCert(cert)
		}
	}
	if leaf == nil {
		return fmt.Errorf("%w: signature authentication without a certificate", ErrAuthFailed)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: sa.e.cfg.Roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("%w: certificate not trusted: %v", ErrAuthFailed, err)
	}
	if !certNames(leaf, id) {
		return fmt.Errorf("%w: certificate does not name %s", ErrAuthFailed, id)
	}
	if err := ikecrypto.VerifyAuth(ikecrypto.AuthMethod(auth.Method), leaf.PublicKey, signed, auth.Data); err != nil {
		return fmt.Errorf("%w: %v", ErrAuthFailed, err)
	}
	return nil
}

// certNames reports whether a certificate vouches for an identity: its
// subject (ID_DER_ASN1_DN) or one of its alternative names.
func certNames(c *x509.Certificate, id *ikev2.ID) bool {
	switch id.IDType {
	case ikev2.IDDERASN1DN:
		return string(c.RawSubject) == string(id.Data)
	case ikev2.IDFQDN:
		return c.VerifyHostname(string(id.Data)) == nil
	case ikev2.IDRFC822Addr:
		for _, e := range c.EmailAddresses {
			if e == string(id.Data) {
				return true
			}
		}
	case ikev2.IDIPv4Addr, ikev2.IDIPv6Addr:
		if a, ok := id.Addr(); ok {
			for _, ip := range c.IPAddresses {
				if b, ok := netip.AddrFromSlice(ip); ok && b.Unmap() == a.Unmap() {
					return true
				}
			}
		}
	}
	return false
}

func certPayloads(ps []ikev2.Payload) []*ikev2.Cert {
	var out []*ikev2.Cert
	for _, p := range ps {
		if c, ok := p.(*ikev2.Cert); ok {
			out = append(out, c)
		}
	}
	return out
}

// sendAuth sends the IKE_AUTH request with the first child SA (initiator).
func (sa *ikeSA) sendAuth() error {
	e := sa.e
	idi, err := sa.localID(false)
	if err != nil {
		return err
	}
	signed, err := ikecrypto.SignedOctets(sa.prop.PRF, sa.initReq, sa.nr, sa.keys.SKpi, idi.RestOfIDPayload())
	if err != nil {
		return err
	}
	auth, err := sa.authPayloads(signed, sa.peer)
	if err != nil {
		return err
	}
	ps := []ikev2.Payload{idi}
	ps = append(ps, auth[:len(auth)-1]...) // CERTs before IDr and AUTH
	if e.cfg.Roots != nil {
		ps = append(ps, &ikev2.CertReq{Encoding: ikev2.CertX509Signature})
	}
	if sa.peer.RemoteID != "" {
		idr, err := ParseIdentity(sa.peer.RemoteID)
		if err != nil {
			return err
		}
		idr.Responder = true
		ps = append(ps, idr)
	}
	ps = append(ps, auth[len(auth)-1])
	c, childPs, err := sa.proposeChild(nil, nil, false)
	if err != nil {
		return err
	}
	sa.child = c
	ps = append(ps, childPs...)
	if e.cfg.MOBIKE {
		ps = append(ps, sa.mobikeOffer(), ikev2.NewNotify(ikev2.NotifyNoAdditionalAddresses, nil))
	}
	return sa.sendRequest(ikev2.ExchangeIKEAuth, ps, sa.authReply, nil)
}

// authReply handles the IKE_AUTH response (initiator): the responder's
// AUTH is checked before anything is installed.
func (sa *ikeSA) authReply(p packet, ps []ikev2.Payload) {
	e := sa.e
	child := sa.child
	sa.child = nil
	if n := ikev2.FindNotify(ps, ikev2.NotifyAuthenticationFailed); n != nil {
		e.stats.AuthFailures++
		sa.releaseChild(child)
		sa.logger().Warn("IKE SA refused: the peer could not authenticate us")
		sa.close(ErrAuthFailed)
		return
	}
	idr, _ := ikev2.Find(ps, ikev2.PayloadIDr).(*ikev2.ID)
	auth, _ := ikev2.Find(ps, ikev2.PayloadAuth).(*ikev2.Auth)
	if idr == nil || auth == nil {
		sa.releaseChild(child)
		if n := errorNotify(ps); n != nil {
			sa.close(notifyErr(n))
		} else {
			sa.close(fmt.Errorf("%w: IKE_AUTH response without IDr or AUTH", ErrRefused))
		}
		return
	}
	err := func() error {
		if sa.peer.RemoteID != "" {
			want, _ := ParseIdentity(sa.peer.RemoteID)
			if !sameID(idr, want) {
				return fmt.Errorf("%w: the responder is %s, not %s", ErrAuthFailed, idr, sa.peer.RemoteID)
			}
		}
		signed, err := ikecrypto.SignedOctets(sa.prop.PRF, sa.initResp, sa.ni, sa.keys.SKpr, idr.RestOfIDPayload())
		if err != nil {
			return err
		}
		return sa.verifyAuth(sa.peer, idr, auth, certPayloads(ps), signed)
	}()
	if err != nil {
		e.stats.AuthFailures++
		sa.releaseChild(child)
		sa.logger().Warn("IKE SA refused: the responder failed authentication", "err", err)
		// Tell the peer (RFC 7296 section 2.21.2), without waiting.
		if b, err := sa.seal(ikev2.ExchangeInformational, false, sa.nextID, []ikev2.Payload{ikev2.NewNotify(ikev2.NotifyAuthenticationFailed, nil)}); err == nil {
			sa.e.send(sa.sock, b, sa.remote)
		}
		sa.close(err)
		return
	}
	sa.remote = p.from
	sa.peerID = idr
	sa.establish(ps)
	sa.version = sa.acceptedVersion(ps)
	sa.logger().Info("IKE SA established", "id", idr.String(), "proposal", sa.prop.String(), "encap", sa.natt, "mobike", sa.version)
	childErr := sa.childReply(child, ps, nil, sa.ni, sa.nr)
	info := sa.info()
	for _, w := range sa.waiters {
		w(result{info: info, err: childErr})
	}
	sa.waiters = nil
}

// establish moves the SA to Established and arms its timers.
func (sa *ikeSA) establish(ps []ikev2.Payload) {
	e := sa.e
	now := e.clock.Now()
	sa.state = StateEstablished
	sa.established = now
	sa.lastHeard = now
	sa.deadline = time.Time{}
	sa.readAddresses(ps)
	if sa.natt && sa.natLocal && e.cfg.Keepalive > 0 {
		sa.keepaliveAt = now.Add(e.cfg.Keepalive)
	}
	if e.cfg.IKELifetime > 0 && sa.initiator {
		sa.rekeyAt = now.Add(e.cfg.IKELifetime)
	}
	for k, v := range e.halfOpen {
		if v == sa {
			delete(e.halfOpen, k)
		}
	}
	e.stats.Established++
}

// answerAuth answers an IKE_AUTH request (responder).
func (sa *ikeSA) answerAuth(p packet, ps []ikev2.Payload) ([]ikev2.Payload, func()) {
	e := sa.e
	fail := func(err error) ([]ikev2.Payload, func()) {
		e.stats.AuthFailures++
		sa.logger().Warn("IKE_AUTH refused", "from", p.from, "err", err)
		return []ikev2.Payload{ikev2.NewNotify(ikev2.NotifyAuthenticationFailed, nil)}, func() { sa.close(err) }
	}
	if sa.state != StateHalfOpen {
		return []ikev2.Payload{ikev2.NewNotify(ikev2.NotifyInvalidSyntax, nil)}, nil
	}
	// The initiator may have floated to port 4500 (RFC 7296 section
	// 2.23): answer, and keep talking, where the request came from.
	sa.sock, sa.remote = p.sock, p.from
	sa.natt = p.sock.mux != nil
	idi, _ := ikev2.Find(ps, ikev2.PayloadIDi).(*ikev2.ID)
	auth, _ := ikev2.Find(ps, ikev2.PayloadAuth).(*ikev2.Auth)
	if idi == nil || auth == nil {
		return fail(fmt.Errorf("%w: no IDi or AUTH", ErrAuthFailed))
	}
	peer := e.peerByID(idi)
	if peer == nil {
		return fail(fmt.Errorf("%w: no peer configured for %s", ErrAuthFailed, idi))
	}
	sa.peer = peer
	signed, err := ikecrypto.SignedOctets(sa.prop.PRF, sa.initReq, sa.nr, sa.keys.SKpi, idi.RestOfIDPayload())
	if err != nil {
		return fail(err)
	}
	if err := sa.verifyAuth(peer, idi, auth, certPayloads(ps), signed); err != nil {
		return fail(err)
	}
	idr, err := sa.localID(true)
	if err != nil {
		return fail(err)
	}
	if want, _ := ikev2.Find(ps, ikev2.PayloadIDr).(*ikev2.ID); want != nil && !(want.IDType == idr.IDType && string(want.Data) == string(idr.Data)) {
		return fail(fmt.Errorf("%w: the initiator wants to talk to %s, we are %s", ErrAuthFailed, want, idr))
	}
	signedR, err := ikecrypto.SignedOctets(sa.prop.PRF, sa.initResp, sa.ni, sa.keys.SKpr, idr.RestOfIDPayload())
	if err != nil {
		return fail(err)
	}
	authPs, err := sa.authPayloads(signedR, peer)
	if err != nil {
		return fail(err)
	}
	sa.peerID = idi
	sa.establish(ps)
	var mobikeResp *ikev2.Notify
	sa.version, mobikeResp = sa.chooseVersion(ps)
	sa.logger().Info("IKE SA established", "id", idi.String(), "proposal", sa.prop.String(), "encap", sa.natt, "mobike", sa.version)
	resp := append([]ikev2.Payload{idr}, authPs...)
	childPs, _ := sa.acceptChild(ps, sa.ni, sa.nr, nil, nil)
	resp = append(resp, childPs...)
	if mobikeResp != nil {
		resp = append(resp, mobikeResp)
	}
	if sa.mobility() {
		resp = append(resp, ikev2.NewNotify(ikev2.NotifyNoAdditionalAddresses, nil))
	}
	return resp, nil
}
