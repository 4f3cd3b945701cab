package ha

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/dynamics-go/dynamics/libdynamics/logging"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
	"github.com/dynamics-go/dynamics/libdynamics/sessionkey"
)

// minSessionSPI is the least session SPI the agent picks: SPIs 0-255 are
// reserved (RFC 5944 section 1.6).
const minSessionSPI = 256

// secretLen is the length of the key-generation secret drawn at start when
// the configuration names none.
const secretLen = 16

// Secret is the home agent's key-generation secret for session keys
// (SessionKeySecret). In the configuration file, an even number of
// hexadecimal digits (optionally after 0x) is read as hexadecimal and
// anything else as the text's own bytes.
type Secret []byte

// UnmarshalText reads the secret as the configuration file gives it.
func (s *Secret) UnmarshalText(b []byte) error {
	t := string(b)
	if t == "" {
		return fmt.Errorf("empty secret")
	}
	digits := strings.TrimPrefix(strings.TrimPrefix(t, "0x"), "0X")
	if v, err := hex.DecodeString(digits); err == nil && len(v) > 0 {
		*s = v
		return nil
	}
	*s = Secret(t)
	return nil
}

// String never shows the secret.
func (Secret) String() string { return "ha.Secret(redacted)" }

// faKey is one foreign agent's public key from a hierarchical request, as
// the reply is built from it.
type faKey struct {
	agent netip.Addr
	der   []byte
}

// sessionGrant is the session key the agent issues with an accepted
// hierarchical registration.
type sessionGrant struct {
	spi      uint32
	key      sessionkey.Key
	lifetime uint32
	fas      []mip.FASessionKey // wrapped for each agent whose key was usable
}

// hierarchyKeys returns the FA Public Key extensions of req that the agent
// uses: those after the Mobile-Home authenticator, and when fhIndex is not
// -1 (a valid Foreign-Home authenticator) only those it covers. A broken
// fragment sequence is logged; the complete keys are still used.
func (a *Agent) hierarchyKeys(req *mip.Request, fhIndex int) []faKey {
	_, mhIndex := req.Auth(mip.TypeMobileHome)
	exts := req.Extensions[mhIndex+1:]
	switch {
	case fhIndex > mhIndex:
		exts = req.Extensions[mhIndex+1 : fhIndex]
	case fhIndex >= 0:
		exts = nil // the Foreign-Home authenticator covers none of them
	}
	keys, err := mip.FAPublicKeys(exts)
	if err != nil {
		a.stats.FAKeysRejected++
		a.log.Warn("FA public key extensions broken", logging.KeyHome, req.Home, logging.KeyErr, err)
	}
	out := make([]faKey, 0, len(keys))
	for _, k := range keys {
		out = append(out, faKey{agent: k.Agent, der: k.DER})
	}
	return out
}

// issueSessionKey makes a session key and SPI for the accepted
// registration of home with lifetime seconds, and wraps the key for every
// foreign agent in keys. An agent whose public key does not parse, or is
// too small, gets none (logged and counted); the mobile is registered all
// the same. It fails only when the agent has no randomness.
func (a *Agent) issueSessionKey(home netip.Addr, lifetime uint16, keys []faKey) (*sessionGrant, error) {
	key, err := sessionkey.Generate(a.rand, a.secret)
	if err != nil {
		return nil, err
	}
	spi, err := a.sessionSPI()
	if err != nil {
		return nil, err
	}
	g := &sessionGrant{spi: spi, key: key, lifetime: uint32(lifetime)}
	label := sessionkey.Label(home)
	for _, k := range keys {
		pub, err := sessionkey.ParsePublicKey(k.der)
		if err != nil {
			a.stats.FAKeysRejected++
			a.log.Warn("foreign agent gets no session key: unusable public key", logging.KeyHome, home,
				logging.KeyFA, k.agent, logging.KeyErr, err)
			continue
		}
		ct, err := sessionkey.WrapForFA(a.rand, pub, key, label)
		if err != nil {
			a.stats.FAKeysRejected++
			a.log.Warn("foreign agent gets no session key", logging.KeyHome, home, logging.KeyFA, k.agent, logging.KeyErr, err)
			continue
		}
		g.fas = append(g.fas, mip.FASessionKey{Agent: k.agent, SPI: spi, Ciphertext: ct})
	}
	return g, nil
}

// sessionSPI returns a random SPI of minSessionSPI or more.
func (a *Agent) sessionSPI() (uint32, error) {
	var b [4]byte
	if _, err := io.ReadFull(a.rand, b[:]); err != nil {
		return 0, fmt.Errorf("session SPI: %w", err)
	}
	return minSessionSPI + binary.BigEndian.Uint32(b[:])%(1<<32-minSessionSPI), nil
}

// appendSessionKeys appends the FA Session Key extensions of g to the
// reply's bytes.
func appendSessionKeys(b []byte, g *sessionGrant) ([]byte, error) {
	for _, k := range g.fas {
		var err error
		if b, err = mip.AppendFASessionKey(b, k); err != nil {
			return nil, err
		}
	}
	return b, nil
}
