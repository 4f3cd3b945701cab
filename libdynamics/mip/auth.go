package mip

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
)

// AuthenticatorLen is the length of the authenticators both algorithms
// compute: an MD5 digest.
const AuthenticatorLen = md5.Size

// spiLen is the length of the SPI that starts an authentication
// extension's data.
const spiLen = 4

// authHeaderLen is what an authenticator covers of its own extension: type,
// length and SPI.
const authHeaderLen = extensionHeaderLen + spiLen

// Algorithm is how an authenticator is computed from a key and the bytes it
// covers.
type Algorithm uint8

// The algorithms. The zero value is HMACMD5, the default of RFC 5944.
const (
	// HMACMD5 is HMAC (RFC 2104) with MD5, RFC 5944's default algorithm.
	HMACMD5 Algorithm = iota
	// KeyedMD5PrefixSuffix is MD5(key | data | key), the keyed MD5 in
	// prefix+suffix mode of RFC 2002.
	KeyedMD5PrefixSuffix
)

// String returns the algorithm's configuration name: "hmac-md5" or
// "prefix-suffix".
func (a Algorithm) String() string {
	switch a {
	case HMACMD5:
		return "hmac-md5"
	case KeyedMD5PrefixSuffix:
		return "prefix-suffix"
	default:
		return fmt.Sprintf("algorithm(%d)", uint8(a))
	}
}

// ParseAlgorithm parses an algorithm's name as String writes it.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch s {
	case "hmac-md5":
		return HMACMD5, nil
	case "prefix-suffix":
		return KeyedMD5PrefixSuffix, nil
	default:
		return 0, fmt.Errorf("algorithm %q: want hmac-md5 or prefix-suffix: %w", s, ErrInvalid)
	}
}

// SecurityAssociation is a mobility security association (RFC 5944
// section 1.6): the SPI that names it in authentication extensions, the
// algorithm and key that compute authenticators, and the replay protection
// the pair uses.
type SecurityAssociation struct {
	SPI    uint32
	Alg    Algorithm
	Key    []byte
	Replay ReplayMode
}

// Authenticator computes sa's authenticator over data. It fails only for
// an empty key or an unknown algorithm.
func (sa SecurityAssociation) Authenticator(data []byte) ([]byte, error) {
	if len(sa.Key) == 0 {
		return nil, fmt.Errorf("security association %d: empty key: %w", sa.SPI, ErrInvalid)
	}
	switch sa.Alg {
	case HMACMD5:
		m := hmac.New(md5.New, sa.Key)
		m.Write(data)
		return m.Sum(nil), nil
	case KeyedMD5PrefixSuffix:
		h := md5.New()
		h.Write(sa.Key)
		h.Write(data)
		h.Write(sa.Key)
		return h.Sum(nil), nil
	default:
		return nil, fmt.Errorf("security association %d: %s: %w", sa.SPI, sa.Alg, ErrInvalid)
	}
}

// Auth is one of the authentication extensions of RFC 5944 section 3.5:
// Mobile-Home (32), Mobile-Foreign (33) or Foreign-Home (34), or the
// Generalized Authentication extension of RFC 3012 (36), which adds a
// sub-type octet and a 16-bit length.
type Auth struct {
	// Type is TypeMobileHome, TypeMobileForeign, TypeForeignHome or
	// TypeGeneralizedAuth.
	Type Type
	// Subtype is the Generalized Authentication extension's sub-type
	// (SubtypeMNGFA for the hierarchy's MN-GFA authenticator); it must be
	// zero for the other types, which have none.
	Subtype uint8
	// SPI names the security association the authenticator was computed
	// with.
	SPI uint32
	// Authenticator is AuthenticatorLen bytes for the package's
	// algorithms; other lengths are kept as received.
	Authenticator []byte
}

// Kind returns a.Type.
func (a *Auth) Kind() Type { return a.Type }

// AppendMarshal appends the type, length, SPI and authenticator; for
// TypeGeneralizedAuth, the type, sub-type, 16-bit length, SPI and
// authenticator.
func (a *Auth) AppendMarshal(b []byte) ([]byte, error) {
	if !a.Type.IsAuth() {
		return nil, fmt.Errorf("authentication extension: type %d is not 32, 33, 34 or 36: %w", uint8(a.Type), ErrInvalid)
	}
	n := spiLen + len(a.Authenticator)
	if a.Type == TypeGeneralizedAuth {
		if n > maxLongExtensionData {
			return nil, fmt.Errorf("%s extension: length %d, at most %d: %w", a.Type, n, maxLongExtensionData, ErrInvalid)
		}
		b = append(b, byte(a.Type), a.Subtype)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	} else {
		if a.Subtype != 0 {
			return nil, fmt.Errorf("%s extension: sub-type %d on a type without one: %w", a.Type, a.Subtype, ErrInvalid)
		}
		if n > maxExtensionData {
			return nil, fmt.Errorf("%s extension: length %d, at most %d: %w", a.Type, n, maxExtensionData, ErrInvalid)
		}
		b = append(b, byte(a.Type), byte(n))
	}
	b = binary.BigEndian.AppendUint32(b, a.SPI)
	return append(b, a.Authenticator...), nil
}

// parseAuth decodes the data of an authentication extension of type t.
func parseAuth(t Type, data []byte) (*Auth, error) {
	if len(data) < spiLen {
		return nil, fmt.Errorf("%s extension: length %d, at least %d for the SPI: %w", t, len(data), spiLen, ErrExtensionLength)
	}
	a := &Auth{
		Type:          t,
		SPI:           binary.BigEndian.Uint32(data[:spiLen]),
		Authenticator: append([]byte(nil), data[spiLen:]...),
	}
	return a, nil
}

// parseGeneralizedAuth decodes the Generalized Authentication extension
// whose type octet is b[off], and returns it with the offset just past it.
func parseGeneralizedAuth(b []byte, off int) (*Auth, int, error) {
	if len(b)-off < longHeaderLen {
		return nil, 0, fmt.Errorf("%s extension: %d bytes, header is %d: %w",
			TypeGeneralizedAuth, len(b)-off, longHeaderLen, ErrTruncated)
	}
	sub := b[off+1]
	n := int(binary.BigEndian.Uint16(b[off+2 : off+4]))
	start := off + longHeaderLen
	if len(b)-start < n {
		return nil, 0, fmt.Errorf("%s extension: length %d, %d bytes left: %w",
			TypeGeneralizedAuth, n, len(b)-start, ErrTruncated)
	}
	a, err := parseAuth(TypeGeneralizedAuth, b[start:start+n])
	if err != nil {
		return nil, 0, err
	}
	a.Subtype = sub
	return a, start + n, nil
}

// authHeader returns the extension header an authenticator of type t
// covers of its own extension, without the SPI: type and length, or for
// TypeGeneralizedAuth type, SubtypeMNGFA and the 16-bit length.
func authHeader(t Type) []byte {
	if t == TypeGeneralizedAuth {
		return []byte{byte(t), SubtypeMNGFA, 0, spiLen + AuthenticatorLen}
	}
	return []byte{byte(t), spiLen + AuthenticatorLen}
}

// coveredHeaderLen is how many bytes of its own extension an authenticator
// of type t covers: the header and the SPI.
func coveredHeaderLen(t Type) int {
	if t == TypeGeneralizedAuth {
		return longHeaderLen + spiLen
	}
	return authHeaderLen
}

// findAuth returns the first authentication extension of type t in exts
// and its index, or nil and -1. For TypeGeneralizedAuth it returns the
// first of sub-type SubtypeMNGFA, the only one the package computes.
func findAuth(exts []Extension, t Type) (*Auth, int) {
	for i, e := range exts {
		if a, ok := e.(*Auth); ok && a != nil && a.Type == t {
			if t == TypeGeneralizedAuth && a.Subtype != SubtypeMNGFA {
				continue
			}
			return a, i
		}
	}
	return nil, -1
}

// AppendAuth appends to msg, a marshalled registration message with any
// extensions the authenticator is to cover, an authentication extension of
// type t computed with sa, and returns the extended message. Agents use it
// to authenticate the exact bytes they relay. For TypeGeneralizedAuth the
// extension is the MN-GFA authenticator (sub-type SubtypeMNGFA), covering
// msg and its own type, sub-type, length and SPI.
func AppendAuth(msg []byte, t Type, sa SecurityAssociation) ([]byte, error) {
	a, err := newAuth(msg, t, sa)
	if err != nil {
		return nil, err
	}
	return a.AppendMarshal(msg)
}

// newAuth computes the authentication extension of type t that follows msg.
func newAuth(msg []byte, t Type, sa SecurityAssociation) (*Auth, error) {
	if !t.IsAuth() {
		return nil, fmt.Errorf("authenticate: type %d is not 32, 33, 34 or 36: %w", uint8(t), ErrInvalid)
	}
	hdr := authHeader(t)
	data := make([]byte, 0, len(msg)+len(hdr)+spiLen)
	data = append(data, msg...)
	data = append(data, hdr...)
	data = binary.BigEndian.AppendUint32(data, sa.SPI)
	sum, err := sa.Authenticator(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t, err)
	}
	a := &Auth{Type: t, SPI: sa.SPI, Authenticator: sum}
	if t == TypeGeneralizedAuth {
		a.Subtype = SubtypeMNGFA
	}
	return a, nil
}

// verify checks the first authentication extension of type t in raw, whose
// fixed part is fixedLen bytes, against sa.
func verify(raw []byte, fixedLen int, t Type, sa SecurityAssociation) error {
	if !t.IsAuth() {
		return fmt.Errorf("verify: type %d is not 32, 33, 34 or 36: %w", uint8(t), ErrInvalid)
	}
	exts, spans, err := parseExtensions(raw, fixedLen)
	if err != nil {
		return err
	}
	a, i := findAuth(exts, t)
	if a == nil {
		return fmt.Errorf("%s: %w", t, ErrAuthMissing)
	}
	if a.SPI != sa.SPI {
		return fmt.Errorf("%s: SPI %d, security association %d: %w", t, a.SPI, sa.SPI, ErrSPIMismatch)
	}
	if len(a.Authenticator) != AuthenticatorLen {
		return fmt.Errorf("%s: authenticator of %d bytes, want %d: %w", t, len(a.Authenticator), AuthenticatorLen, ErrAuthFailed)
	}
	covered := raw[:spans[i].start+coveredHeaderLen(t)]
	want, err := sa.Authenticator(covered)
	if err != nil {
		return fmt.Errorf("%s: %w", t, err)
	}
	if subtle.ConstantTimeCompare(want, a.Authenticator) != 1 {
		return fmt.Errorf("%s: SPI %d: %w", t, sa.SPI, ErrAuthFailed)
	}
	return nil
}
