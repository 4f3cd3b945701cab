package ha

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/dynamics-go/dynamics/internal/memnet"
	"github.com/dynamics-go/dynamics/libdynamics/kernel"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/sessionkey"
)

// The hierarchy of the session key tests: fa1 (10.0.1.2, which shares a
// security association with the home agent) is the highest agent and
// relays; lowFA is the lowest agent below it.
var lowFA = netip.MustParseAddr("10.0.3.2")

// RSA keys, generated once per test binary: two usable ones and one below
// sessionkey.MinBits.
var (
	rsaOnce                sync.Once
	rsaLow, rsaHigh, rsaSm *rsa.PrivateKey
	rsaErr                 error
)

func rsaKeys(t *testing.T) (low, high, small *rsa.PrivateKey) {
	t.Helper()
	rsaOnce.Do(func() {
		if rsaLow, rsaErr = rsa.GenerateKey(rand.Reader, sessionkey.MinBits); rsaErr != nil {
			return
		}
		if rsaHigh, rsaErr = rsa.GenerateKey(rand.Reader, sessionkey.MinBits); rsaErr != nil {
			return
		}
		rsaSm, rsaErr = rsa.GenerateKey(rand.Reader, 1024)
	})
	if rsaErr != nil {
		t.Fatalf("generating RSA keys: %v", rsaErr)
	}
	return rsaLow, rsaHigh, rsaSm
}

// der returns pub as PKIX DER, whatever its size.
func der(t *testing.T, pub *rsa.PublicKey) []byte {
	t.Helper()
	b, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hierRequest builds a request as the highest agent (fa1) relays it: the
// mobile's bytes (with extra before the Mobile-Home authenticator), the
// FA Public Key extensions of keys in order, then Revocation Support and
// the Foreign-Home authenticator.
func (b *bed) hierRequest(extra []mip.Extension, keys ...mip.FAPublicKey) []byte {
	b.t.Helper()
	m := &mip.Request{Flags: mip.FlagReverseTunnel, Lifetime: 500, Home: home, HomeAgent: haAddr, CareOf: fa1Addr,
		ID: b.id(), Extensions: extra}
	if err := m.Authenticate(mip.TypeMobileHome, mnSA); err != nil {
		b.t.Fatal(err)
	}
	raw := marshal(b.t, m)
	var err error
	for _, k := range keys {
		if raw, err = mip.AppendFAPublicKey(raw, k); err != nil {
			b.t.Fatal(err)
		}
	}
	rs := &mip.RevocationSupport{Timestamp: mip.RevocationTimestamp(b.clock.Now())}
	if raw, err = rs.AppendMarshal(raw); err != nil {
		b.t.Fatal(err)
	}
	if raw, err = mip.AppendAuth(raw, mip.TypeForeignHome, fa1SA); err != nil {
		b.t.Fatal(err)
	}
	return raw
}

// sessionOf returns the session key the reply gives the mobile, and each
// foreign agent's key unwrapped with its private key.
func sessionOf(t *testing.T, rep *mip.Reply, privs map[netip.Addr]*rsa.PrivateKey) (*mip.MobileSessionKey, sessionkey.Key, map[netip.Addr]sessionkey.Key) {
	t.Helper()
	msk, ok := mip.FindMobileSessionKey(rep.Extensions)
	if !ok {
		t.Fatalf("reply without a Mobile Session Key: %v", extensionTypes(rep.Extensions))
	}
	mobile := sessionkey.FromMobile(msk.Masked, mnSA.Key, rep.ID)
	fks, err := mip.FASessionKeys(rep.Extensions)
	if err != nil {
		t.Fatalf("FASessionKeys: %v", err)
	}
	got := map[netip.Addr]sessionkey.Key{}
	for _, k := range fks {
		if k.SPI != msk.SPI {
			t.Errorf("FA session key for %s under SPI %d, the mobile's is %d", k.Agent, k.SPI, msk.SPI)
		}
		priv := privs[k.Agent]
		if priv == nil {
			t.Errorf("FA session key for %s, which sent no usable key", k.Agent)
			continue
		}
		key, err := sessionkey.UnwrapForFA(priv, k.Ciphertext, sessionkey.Label(home))
		if err != nil {
			t.Errorf("unwrapping %s's key: %v", k.Agent, err)
		}
		got[k.Agent] = key
	}
	return msk, mobile, got
}

// A request that climbed a hierarchy is answered with one session key:
// masked for the mobile before the Mobile-Home authenticator, wrapped for
// each agent after it, then Revocation Support and Foreign-Home as in a
// flat registration.
func TestSessionKeyIssued(t *testing.T) {
	low, high, _ := rsaKeys(t)
	b := newBed(t, testConfig())
	raw := b.hierRequest(nil,
		mip.FAPublicKey{Agent: lowFA, DER: der(t, &low.PublicKey)},
		mip.FAPublicKey{Agent: fa1Addr, DER: der(t, &high.PublicKey)})
	b.send(b.fa1, raw)
	rep := b.replyAt(b.fa1)
	if rep.Code != mip.CodeAccepted || rep.Lifetime != 500 {
		t.Fatalf("reply %s lifetime %d", rep.Code, rep.Lifetime)
	}
	verifyReply(t, rep, mnSA, &fa1SA)

	// The order of the extensions.
	var kinds []string
	for _, e := range rep.Extensions {
		switch e := e.(type) {
		case *mip.MobileSessionKey:
			kinds = append(kinds, "msk")
		case *mip.Auth:
			kinds = append(kinds, e.Type.String())
		default:
			switch {
			case mip.IsHierarchyExtension(e):
				kinds = append(kinds, "fask")
			case e.Kind() == mip.TypeRevocationSupport:
				kinds = append(kinds, "rs")
			default:
				kinds = append(kinds, e.Kind().String())
			}
		}
	}
	// Two agents, a 2048-bit ciphertext in two fragments each.
	want := "msk mobile-home-auth fask fask fask fask rs foreign-home-auth"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("reply extensions %q, want %q", got, want)
	}

	msk, mobile, fas := sessionOf(t, rep, map[netip.Addr]*rsa.PrivateKey{lowFA: low, fa1Addr: high})
	if msk.SPI < 256 || msk.Lifetime != 500 {
		t.Errorf("Mobile Session Key SPI %d lifetime %d; want SPI >= 256, lifetime 500", msk.SPI, msk.Lifetime)
	}
	if len(fas) != 2 || fas[lowFA] != mobile || fas[fa1Addr] != mobile {
		t.Errorf("the foreign agents' keys differ from the mobile's (%d keys)", len(fas))
	}
	// The key authenticates: an MN-GFA authenticator made with it
	// verifies under the session SPI.
	sa := mip.SecurityAssociation{SPI: msk.SPI, Alg: mip.HMACMD5, Key: mobile[:]}
	if signed, err := mip.AppendAuth(raw[:mip.RequestLen], mip.TypeGeneralizedAuth, sa); err != nil {
		t.Fatal(err)
	} else if err := mip.VerifyRequest(signed, mip.TypeGeneralizedAuth, sa); err != nil {
		t.Error(err)
	}

	var bd Binding
	b.do(func(s *State) { bd, _ = s.Binding(home) })
	if bd.SessionSPI != msk.SPI || bd.CareOf != fa1Addr {
		t.Errorf("binding %+v, want session SPI %d", bd, msk.SPI)
	}
	s := b.stats()
	if s.Accepted != 1 || s.SessionKeys != 1 || s.FASessionKeys != 2 || s.FAKeysRejected != 0 {
		t.Errorf("stats: accepted %d, session keys %d, FA session keys %d, rejected %d",
			s.Accepted, s.SessionKeys, s.FASessionKeys, s.FAKeysRejected)
	}
	if !strings.Contains(b.logs.String(), "session_spi=") {
		t.Errorf("the decision line does not name the session SPI:\n%s", b.logs)
	}

	// The next full registration gets another key and SPI; a flat renewal
	// none, and the binding forgets the session.
	raw = b.hierRequest(nil, mip.FAPublicKey{Agent: fa1Addr, DER: der(t, &high.PublicKey)})
	b.send(b.fa1, raw)
	rep = b.replyAt(b.fa1)
	msk2, mobile2, _ := sessionOf(t, rep, map[netip.Addr]*rsa.PrivateKey{fa1Addr: high})
	if msk2.SPI == msk.SPI || mobile2 == mobile {
		t.Errorf("a second registration reused the session SPI %d or key", msk.SPI)
	}
	flat := b.register(req{lifetime: 300})
	if _, ok := mip.FindMobileSessionKey(flat.Extensions); ok {
		t.Error("a flat renewal got a session key")
	}
	if keys, _ := mip.FASessionKeys(flat.Extensions); len(keys) != 0 {
		t.Error("a flat renewal got FA session keys")
	}
	b.do(func(s *State) { bd, _ = s.Binding(home) })
	if bd.SessionSPI != 0 {
		t.Errorf("after a flat renewal the binding keeps session SPI %d", bd.SessionSPI)
	}
	if s := b.stats(); s.SessionKeys != 2 || s.Accepted != 3 {
		t.Errorf("stats: %d session keys, %d accepted; want 2, 3", s.SessionKeys, s.Accepted)
	}
}

// The session key is MD5(secret | R | secret) with the configured secret
// and 16 random bytes, and the SPI the next four, made 256 or more.
func TestSessionKeyFromSecret(t *testing.T) {
	_, high, _ := rsaKeys(t)
	cfg := testConfig()
	cfg.SessionKeySecret = Secret("key generation secret")
	seed := [32]byte{7}
	b := newBedRand(t, cfg, mrand.NewChaCha8(seed))
	b.send(b.fa1, b.hierRequest(nil, mip.FAPublicKey{Agent: fa1Addr, DER: der(t, &high.PublicKey)}))
	rep := b.replyAt(b.fa1)
	msk, mobile, _ := sessionOf(t, rep, map[netip.Addr]*rsa.PrivateKey{fa1Addr: high})

	var drawn [20]byte
	_, _ = mrand.NewChaCha8(seed).Read(drawn[:])
	h := md5.New()
	h.Write(cfg.SessionKeySecret)
	h.Write(drawn[:16])
	h.Write(cfg.SessionKeySecret)
	if want := h.Sum(nil); !bytes.Equal(mobile[:], want) {
		t.Errorf("session key %x, want MD5(secret | R | secret) %x", mobile[:], want)
	}
	if want := 256 + binary.BigEndian.Uint32(drawn[16:])%(1<<32-256); msk.SPI != want {
		t.Errorf("session SPI %d, want %d", msk.SPI, want)
	}
}

// A public key that does not parse, or is too small, gets its agent no
// key; the mobile is registered and the other agents get theirs.
func TestSessionKeyUnusablePublicKey(t *testing.T) {
	low, high, small := rsaKeys(t)
	b := newBed(t, testConfig())
	raw := b.hierRequest(nil,
		mip.FAPublicKey{Agent: lowFA, DER: der(t, &low.PublicKey)},
		mip.FAPublicKey{Agent: netip.MustParseAddr("10.0.4.2"), DER: der(t, &small.PublicKey)},
		mip.FAPublicKey{Agent: netip.MustParseAddr("10.0.5.2"), DER: []byte("not a key")},
		mip.FAPublicKey{Agent: fa1Addr, DER: der(t, &high.PublicKey)})
	b.send(b.fa1, raw)
	rep := b.replyAt(b.fa1)
	if rep.Code != mip.CodeAccepted {
		t.Fatalf("reply %s", rep.Code)
	}
	verifyReply(t, rep, mnSA, &fa1SA)
	_, mobile, fas := sessionOf(t, rep, map[netip.Addr]*rsa.PrivateKey{lowFA: low, fa1Addr: high})
	if len(fas) != 2 || fas[lowFA] != mobile || fas[fa1Addr] != mobile {
		t.Errorf("%d agents got the mobile's key, want the two with usable keys", len(fas))
	}
	s := b.stats()
	if s.Accepted != 1 || s.Bindings != 1 || s.SessionKeys != 1 || s.FASessionKeys != 2 || s.FAKeysRejected != 2 {
		t.Errorf("stats: accepted %d, bindings %d, session keys %d, FA keys %d, rejected %d",
			s.Accepted, s.Bindings, s.SessionKeys, s.FASessionKeys, s.FAKeysRejected)
	}
	logs := b.logs.String()
	for _, agent := range []string{"10.0.4.2", "10.0.5.2"} {
		if !strings.Contains(logs, `msg="foreign agent gets no session key: unusable public key" home=10.1.0.10 fa=`+agent) {
			t.Errorf("no warning for %s:\n%s", agent, logs)
		}
	}
}

// A broken fragment sequence loses that agent's key only.
func TestSessionKeyBrokenFragments(t *testing.T) {
	_, high, _ := rsaKeys(t)
	b := newBed(t, testConfig())
	m := &mip.Request{Lifetime: 500, Home: home, HomeAgent: haAddr, CareOf: fa1Addr, ID: b.id()}
	if err := m.Authenticate(mip.TypeMobileHome, mnSA); err != nil {
		t.Fatal(err)
	}
	raw := marshal(t, m)
	// The first of two fragments only, then a whole key.
	broken, err := mip.AppendFAPublicKey(nil, mip.FAPublicKey{Agent: lowFA, DER: make([]byte, 300)})
	if err != nil {
		t.Fatal(err)
	}
	raw = append(raw, broken[:int(broken[1])+2]...)
	if raw, err = mip.AppendFAPublicKey(raw, mip.FAPublicKey{Agent: fa1Addr, DER: der(t, &high.PublicKey)}); err != nil {
		t.Fatal(err)
	}
	if raw, err = mip.AppendAuth(raw, mip.TypeForeignHome, fa1SA); err != nil {
		t.Fatal(err)
	}
	b.send(b.fa1, raw)
	rep := b.replyAt(b.fa1)
	if rep.Code != mip.CodeAccepted {
		t.Fatalf("reply %s", rep.Code)
	}
	_, mobile, fas := sessionOf(t, rep, map[netip.Addr]*rsa.PrivateKey{fa1Addr: high})
	if len(fas) != 1 || fas[fa1Addr] != mobile {
		t.Errorf("FA keys for %d agents, want fa1's alone", len(fas))
	}
	if s := b.stats(); s.FAKeysRejected != 1 {
		t.Errorf("FAKeysRejected %d, want 1", s.FAKeysRejected)
	}
}

// FA Public Key extensions outside what the Foreign-Home authenticator
// covers, or before the Mobile-Home authenticator, are not used.
func TestSessionKeyOnlyCoveredKeys(t *testing.T) {
	_, high, _ := rsaKeys(t)
	b := newBed(t, testConfig())
	key := mip.FAPublicKey{Agent: fa1Addr, DER: der(t, &high.PublicKey)}
	raw := b.hierRequest(nil)
	raw, err := mip.AppendFAPublicKey(raw, key) // after the Foreign-Home authenticator
	if err != nil {
		t.Fatal(err)
	}
	b.send(b.fa1, raw)
	rep := b.replyAt(b.fa1)
	if _, ok := mip.FindMobileSessionKey(rep.Extensions); ok || rep.Code != mip.CodeAccepted {
		t.Errorf("reply %s with a session key for a public key the Foreign-Home authenticator does not cover", rep.Code)
	}

	// Before the Mobile-Home authenticator: the mobile's own bytes.
	before, err := mip.AppendFAPublicKey(nil, key)
	if err != nil {
		t.Fatal(err)
	}
	fixed := make([]byte, mip.RequestLen)
	fixed[0] = byte(mip.MessageRequest)
	p, err := mip.ParseRequest(append(fixed, before...))
	if err != nil {
		t.Fatal(err)
	}
	b.send(b.fa1, b.hierRequest(p.Extensions))
	rep = b.replyAt(b.fa1)
	if _, ok := mip.FindMobileSessionKey(rep.Extensions); ok || rep.Code != mip.CodeAccepted {
		t.Errorf("reply %s with a session key for a public key before the Mobile-Home authenticator", rep.Code)
	}
	if s := b.stats(); s.SessionKeys != 0 || s.Accepted != 2 {
		t.Errorf("stats: %d session keys, %d accepted", s.SessionKeys, s.Accepted)
	}
}

// The home agent accepts and ignores an MN-GFA authenticator (a local
// move that reached it): whatever its key, the request is decided on the
// Mobile-Home authenticator, and a new session key is made.
func TestMNGFAIgnoredByHomeAgent(t *testing.T) {
	_, high, _ := rsaKeys(t)
	b := newBed(t, testConfig())
	m := &mip.Request{Lifetime: 500, Home: home, HomeAgent: haAddr, CareOf: fa1Addr, ID: b.id()}
	if err := m.Authenticate(mip.TypeGeneralizedAuth, mip.SecurityAssociation{SPI: 999, Key: []byte("a stale session key")}); err != nil {
		t.Fatal(err)
	}
	mngfa := m.Extensions
	b.send(b.fa1, b.hierRequest(mngfa, mip.FAPublicKey{Agent: fa1Addr, DER: der(t, &high.PublicKey)}))
	rep := b.replyAt(b.fa1)
	if rep.Code != mip.CodeAccepted {
		t.Fatalf("reply %s", rep.Code)
	}
	verifyReply(t, rep, mnSA, &fa1SA)
	if _, ok := mip.FindMobileSessionKey(rep.Extensions); !ok {
		t.Error("no new session key")
	}
	if a, _ := rep.Auth(mip.TypeGeneralizedAuth); a != nil {
		t.Error("the home agent's reply carries an MN-GFA authenticator")
	}
}

// A denied hierarchical request gets no session key.
func TestSessionKeyNotOnDenial(t *testing.T) {
	_, high, _ := rsaKeys(t)
	b := newBed(t, testConfig())
	raw := b.hierRequest(nil, mip.FAPublicKey{Agent: fa1Addr, DER: der(t, &high.PublicKey)})
	raw[3]++ // the lifetime, under the Mobile-Home authenticator
	raw, err := mip.AppendAuth(raw[:len(raw)-mip.AuthenticatorLen-6], mip.TypeForeignHome, fa1SA)
	if err != nil {
		t.Fatal(err)
	}
	b.send(b.fa1, raw)
	rep := b.replyAt(b.fa1)
	if rep.Code != mip.CodeHAMobileAuthFailed {
		t.Fatalf("reply %s, want %s", rep.Code, mip.CodeHAMobileAuthFailed)
	}
	if _, ok := mip.FindMobileSessionKey(rep.Extensions); ok {
		t.Error("a denial carries a session key")
	}
	if keys, _ := mip.FASessionKeys(rep.Extensions); len(keys) != 0 {
		t.Error("a denial carries FA session keys")
	}
	if s := b.stats(); s.SessionKeys != 0 {
		t.Errorf("SessionKeys %d", s.SessionKeys)
	}
}

func TestSecretText(t *testing.T) {
	for in, want := range map[string][]byte{
		"00112233":        {0, 0x11, 0x22, 0x33},
		"0xA0b1":          {0xa0, 0xb1},
		"a passphrase":    []byte("a passphrase"),
		"abc":             []byte("abc"), // odd: not hexadecimal
		"0x":              []byte("0x"),
		"deadbeefcafe!!!": []byte("deadbeefcafe!!!"),
	} {
		var s Secret
		if err := s.UnmarshalText([]byte(in)); err != nil || !bytes.Equal(s, want) {
			t.Errorf("%q: %x, %v; want %x", in, []byte(s), err, want)
		}
	}
	var s Secret
	if err := s.UnmarshalText(nil); err == nil {
		t.Error("an empty secret was accepted")
	}
	if got := fmt.Sprint(Secret("hidden")); strings.Contains(got, "hidden") {
		t.Errorf("String shows the secret: %q", got)
	}
	cfg, err := ParseConfig("dynhad.conf", strings.NewReader(
		"HAIPAddress 10.1.0.1\nHomeNetPrefix 10.1.0.0/24\nHomeInterface eth0\nSessionKeySecret 0x0102\n"))
	if err != nil || !bytes.Equal(cfg.SessionKeySecret, []byte{1, 2}) {
		t.Errorf("SessionKeySecret from a file: %x, %v", []byte(cfg.SessionKeySecret), err)
	}
	// Unset: drawn at start, so two agents differ.
	n := memnet.New()
	conn := listen(t, n, haAddr)
	a1, err1 := New(Options{Config: testConfig(), Conn: conn, Kernel: kernel.NewFake("eth0")})
	a2, err2 := New(Options{Config: testConfig(), Conn: conn, Kernel: kernel.NewFake("eth0")})
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if len(a1.secret) != 16 || bytes.Equal(a1.secret, a2.secret) {
		t.Errorf("default secrets %x and %x", a1.secret, a2.secret)
	}
}
