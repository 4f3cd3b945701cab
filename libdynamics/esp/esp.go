package esp

import (
	"errors"
	"fmt"
	"net/netip"
)

// Numbers and lengths of ESP (RFC 4303) and its UDP encapsulation (RFC 3948).
const (
	// Protocol is the IP protocol number of ESP.
	Protocol = 50
	// EncapPort is the UDP port of IKE and ESP after NAT traversal
	// (RFC 3948 section 2, RFC 7296 section 2.23).
	EncapPort = 4500
	// HeaderLen is the length of the ESP header: SPI and sequence number.
	HeaderLen = 8
	// TrailerLen is the length of the Pad Length and Next Header fields.
	TrailerLen = 2
	// ICVLen is the integrity check value length of both algorithms.
	ICVLen = 16
	// MaxPadLen is the largest Pad Length.
	MaxPadLen = 255
	// MinSPI is the smallest SPI a peer may choose: 1 to 255 are reserved
	// by IANA and 0 is for local use (RFC 4303 section 2.1); on UDP port
	// 4500 a zero SPI is the non-ESP marker (RFC 3948 section 2.2).
	MinSPI = 256

	// NextHeaderIPv4 is the Next Header of a tunnel-mode packet: the
	// payload is a whole IPv4 datagram (IP-in-IP).
	NextHeaderIPv4 = 4
	// NextHeaderNone marks a dummy packet (RFC 4303 section 2.6), which
	// the receiver discards.
	NextHeaderNone = 59

	// DefaultReplayWindow is the anti-replay window size used when an SA
	// does not set one (RFC 4303 section 3.4.3: 64 SHOULD be the default).
	DefaultReplayWindow = 64
	// MaxReplayWindow is the largest window an SA may ask for.
	MaxReplayWindow = 4096
)

// Sentinel errors, wrapped with context by the functions that return them.
var (
	ErrTruncated  = errors.New("esp: packet truncated")
	ErrSPI        = errors.New("esp: bad SPI")
	ErrUnknownSPI = errors.New("esp: no SA for SPI")
	ErrAuth       = errors.New("esp: integrity check failed")
	// ErrSequence reports sequence number 0, which no sender uses.
	ErrSequence = errors.New("esp: bad sequence number")
	// ErrReplay reports a sequence number already received.
	ErrReplay = errors.New("esp: replayed packet")
	// ErrTooOld reports a sequence number left of the replay window.
	ErrTooOld = errors.New("esp: packet too old for the replay window")
	// ErrSeqOverflow reports an outbound SA whose 2^32-1 sequence numbers
	// are used up: RFC 4303 section 3.3.3 forbids cycling the counter, so
	// the SA must be replaced by a rekeyed one.
	ErrSeqOverflow = errors.New("esp: sequence number space exhausted, the SA must be rekeyed")
	ErrPadding     = errors.New("esp: bad padding")
	ErrNextHeader  = errors.New("esp: unexpected next header")
	// ErrDummy reports a dummy packet (Next Header 59), to be dropped
	// silently.
	ErrDummy = errors.New("esp: dummy packet")
	// ErrInner reports a decrypted payload that is not the IPv4 datagram
	// its mode promises, or an outgoing datagram that cannot be sent.
	ErrInner     = errors.New("esp: bad IPv4 datagram")
	ErrAlgorithm = errors.New("esp: unsupported algorithm")
	ErrKey       = errors.New("esp: bad key length")
	ErrInvalid   = errors.New("esp: invalid SA or policy")
	ErrExists    = errors.New("esp: already exists")
	ErrNotFound  = errors.New("esp: not found")
	ErrClosed    = errors.New("esp: closed")
)

// Algorithm is an ESP transform combination: a cipher and, unless the
// cipher is an AEAD, an integrity algorithm.
type Algorithm uint8

// Algorithms. Nothing weaker is offered.
const (
	// AESGCM16 is AES in Galois/Counter Mode with a 16-octet ICV
	// (RFC 4106): 8-octet explicit IV, keys of 128, 192 or 256 bits, each
	// followed in the keying material by a 4-octet salt.
	AESGCM16 Algorithm = iota + 1
	// AESCBCHMACSHA256 is AES-CBC (RFC 3602, 16-octet IV, keys of 128, 192
	// or 256 bits) with HMAC-SHA-256-128 integrity (RFC 4868, 32-octet
	// key, ICV truncated to 16 octets).
	AESCBCHMACSHA256
)

// IKEv2 transform IDs (IANA "IKEv2 Parameters") of the algorithms above, so
// negotiated proposals can be mapped to an Algorithm without this package
// depending on the IKE codec.
const (
	TransformENCRAESCBC         = 12 // Transform Type 1, ENCR_AES_CBC
	TransformENCRAESGCM16       = 20 // Transform Type 1, ENCR_AES_GCM_16
	TransformAUTHNone           = 0  // Transform Type 3, NONE
	TransformAUTHHMACSHA2256128 = 12 // Transform Type 3, AUTH_HMAC_SHA2_256_128
)

// Key, salt and IV lengths of the algorithms.
const (
	integrityKeyLenHMACSHA256 = 32
	saltLenGCM                = 4
	ivLenGCM                  = 8
	ivLenCBC                  = 16
	minKeyBits, maxKeyBits    = 128, 256
	keyBitsStep               = 64
)

func (a Algorithm) String() string {
	switch a {
	case AESGCM16:
		return "aes-gcm-16"
	case AESCBCHMACSHA256:
		return "aes-cbc+hmac-sha2-256-128"
	}
	return fmt.Sprintf("algorithm(%d)", uint8(a))
}

// AlgorithmFor maps the IKEv2 encryption and integrity transform IDs of a
// negotiated ESP proposal to an Algorithm: ENCR_AES_GCM_16 with no integrity
// transform (or NONE), or ENCR_AES_CBC with AUTH_HMAC_SHA2_256_128.
func AlgorithmFor(encr, integ uint16) (Algorithm, error) {
	switch {
	case encr == TransformENCRAESGCM16 && integ == TransformAUTHNone:
		return AESGCM16, nil
	case encr == TransformENCRAESCBC && integ == TransformAUTHHMACSHA2256128:
		return AESCBCHMACSHA256, nil
	}
	return 0, fmt.Errorf("%w: encryption transform %d with integrity transform %d", ErrAlgorithm, encr, integ)
}

// KeyLen returns the keying material one SA of this algorithm takes with a
// cipher key of keyBits (128, 192 or 256): encLen octets of encryption key
// (for AES-GCM including the 4-octet salt) and authLen octets of integrity
// key (0 for AES-GCM).
func (a Algorithm) KeyLen(keyBits int) (encLen, authLen int, err error) {
	if keyBits < minKeyBits || keyBits > maxKeyBits || keyBits%keyBitsStep != 0 {
		return 0, 0, fmt.Errorf("%w: %s with a %d-bit key", ErrKey, a, keyBits)
	}
	switch a {
	case AESGCM16:
		return keyBits/8 + saltLenGCM, 0, nil
	case AESCBCHMACSHA256:
		return keyBits / 8, integrityKeyLenHMACSHA256, nil
	}
	return 0, 0, fmt.Errorf("%w: %s", ErrAlgorithm, a)
}

// IVLen returns the length of the explicit IV in each packet.
func (a Algorithm) IVLen() int {
	if a == AESCBCHMACSHA256 {
		return ivLenCBC
	}
	return ivLenGCM
}

// Keys are one SA's keys.
type Keys struct {
	// Enc is the encryption key; for AES-GCM the cipher key followed by
	// the 4-octet salt (RFC 4106 section 8.1).
	Enc []byte
	// Auth is the integrity key (AES-CBC with HMAC only).
	Auth []byte
}

// KEYMATLen returns how many octets of KEYMAT (RFC 7296 section 2.17) a
// child SA pair of this algorithm and key size takes: both directions.
func KEYMATLen(alg Algorithm, keyBits int) (int, error) {
	enc, auth, err := alg.KeyLen(keyBits)
	if err != nil {
		return 0, err
	}
	return 2 * (enc + auth), nil
}

// SplitKEYMAT divides a child SA's KEYMAT (RFC 7296 section 2.17) into the
// keys of its two SAs: the keys of the SA carrying data from the initiator to
// the responder come first, and within each SA the encryption key (with its
// salt) precedes the integrity key. The returned keys are copies.
func SplitKEYMAT(alg Algorithm, keyBits int, keymat []byte) (initiatorToResponder, responderToInitiator Keys, err error) {
	enc, auth, err := alg.KeyLen(keyBits)
	if err != nil {
		return Keys{}, Keys{}, err
	}
	if len(keymat) < 2*(enc+auth) {
		return Keys{}, Keys{}, fmt.Errorf("%w: KEYMAT of %d octets, %s with %d-bit keys needs %d", ErrKey, len(keymat), alg, keyBits, 2*(enc+auth))
	}
	take := func(n int) []byte {
		if n == 0 {
			return nil
		}
		k := append([]byte(nil), keymat[:n]...)
		keymat = keymat[n:]
		return k
	}
	initiatorToResponder = Keys{Enc: take(enc), Auth: take(auth)}
	responderToInitiator = Keys{Enc: take(enc), Auth: take(auth)}
	return initiatorToResponder, responderToInitiator, nil
}

// Direction says which way an SA or policy carries traffic.
type Direction uint8

// Directions.
const (
	Inbound Direction = iota + 1
	Outbound
)

func (d Direction) String() string {
	switch d {
	case Inbound:
		return "in"
	case Outbound:
		return "out"
	}
	return fmt.Sprintf("direction(%d)", uint8(d))
}

// Mode is an SA's mode (RFC 4301 section 4.1).
type Mode uint8

// Modes.
const (
	// ModeTunnel protects a whole inner IPv4 datagram (Next Header 4)
	// between two outer endpoints.
	ModeTunnel Mode = iota + 1
	// ModeTransport protects the payload of an IPv4 datagram between the
	// two hosts; Next Header is the datagram's protocol.
	ModeTransport
)

func (m Mode) String() string {
	switch m {
	case ModeTunnel:
		return "tunnel"
	case ModeTransport:
		return "transport"
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// SA is one direction of an ESP security association as the IKE engine
// negotiated it.
type SA struct {
	// SPI identifies the SA in its packets: for an inbound SA the value
	// this host chose, for an outbound SA the peer's. At least MinSPI.
	SPI       uint32
	Direction Direction
	Mode      Mode
	// ReqID ties the SA to its policies. It stays the same across rekeys:
	// an outbound policy uses the newest outbound SA of its ReqID.
	ReqID uint32
	// Local and Remote are the outer addresses: the tunnel endpoints in
	// tunnel mode, the two hosts in transport mode. Their ports are the
	// UDP ports of RFC 3948 encapsulation (normally 4500, or what a NAT
	// made of the peer's); zero ports mean bare ESP (IP protocol 50),
	// which only the XFRM implementation carries. Both IPv4.
	Local, Remote netip.AddrPort
	Algorithm     Algorithm
	Keys          Keys
	// ReplayWindow is the anti-replay window of an inbound SA in packets:
	// 0 means DefaultReplayWindow, at most MaxReplayWindow. Outbound SAs
	// ignore it.
	ReplayWindow int
}

// SAKey identifies an SA: inbound SPIs are unique on a host, outbound SPIs
// only per peer, so the ReqID is part of the key.
type SAKey struct {
	Direction Direction
	SPI       uint32
	ReqID     uint32
}

func (k SAKey) String() string {
	return fmt.Sprintf("%s spi 0x%08x reqid %d", k.Direction, k.SPI, k.ReqID)
}

// Key returns the SA's key.
func (sa SA) Key() SAKey { return SAKey{Direction: sa.Direction, SPI: sa.SPI, ReqID: sa.ReqID} }

// Encapsulated reports whether the SA's packets travel in UDP (RFC 3948).
func (sa SA) Encapsulated() bool { return sa.Local.Port() != 0 || sa.Remote.Port() != 0 }

// String renders the SA without its keys.
func (sa SA) String() string {
	return fmt.Sprintf("%s %s %s %s > %s %s", sa.Key(), sa.Mode, sa.Algorithm, sa.source(), sa.destination(), encapString(sa))
}

func encapString(sa SA) string {
	if sa.Encapsulated() {
		return "udp-encap"
	}
	return "esp"
}

// source and destination are the outer addresses of the SA's packets.
func (sa SA) source() netip.AddrPort {
	if sa.Direction == Inbound {
		return sa.Remote
	}
	return sa.Local
}

func (sa SA) destination() netip.AddrPort {
	if sa.Direction == Inbound {
		return sa.Local
	}
	return sa.Remote
}

// Check validates the SA's fields and key lengths.
func (sa SA) Check() error {
	switch {
	case sa.SPI < MinSPI:
		return fmt.Errorf("%w: SPI %d is reserved", ErrInvalid, sa.SPI)
	case sa.Direction != Inbound && sa.Direction != Outbound:
		return fmt.Errorf("%w: %s", ErrInvalid, sa.Direction)
	case sa.Mode != ModeTunnel && sa.Mode != ModeTransport:
		return fmt.Errorf("%w: %s", ErrInvalid, sa.Mode)
	case !sa.Local.Addr().Is4() || !sa.Remote.Addr().Is4():
		return fmt.Errorf("%w: outer addresses %s and %s must be IPv4", ErrInvalid, sa.Local.Addr(), sa.Remote.Addr())
	case sa.Encapsulated() && (sa.Local.Port() == 0 || sa.Remote.Port() == 0):
		return fmt.Errorf("%w: UDP encapsulation needs both ports (%d, %d)", ErrInvalid, sa.Local.Port(), sa.Remote.Port())
	case sa.ReplayWindow < 0 || sa.ReplayWindow > MaxReplayWindow:
		return fmt.Errorf("%w: replay window %d not in 0..%d", ErrInvalid, sa.ReplayWindow, MaxReplayWindow)
	}
	return checkKeys(sa.Algorithm, sa.Keys)
}

// checkKeys checks the key lengths against the algorithm.
func checkKeys(alg Algorithm, k Keys) error {
	switch alg {
	case AESGCM16:
		if n := len(k.Enc) - saltLenGCM; n != 16 && n != 24 && n != 32 {
			return fmt.Errorf("%w: %s key with salt of %d octets, want 20, 28 or 36", ErrKey, alg, len(k.Enc))
		}
		if len(k.Auth) != 0 {
			return fmt.Errorf("%w: %s takes no integrity key", ErrKey, alg)
		}
	case AESCBCHMACSHA256:
		if n := len(k.Enc); n != 16 && n != 24 && n != 32 {
			return fmt.Errorf("%w: %s key of %d octets, want 16, 24 or 32", ErrKey, alg, n)
		}
		if len(k.Auth) != integrityKeyLenHMACSHA256 {
			return fmt.Errorf("%w: %s integrity key of %d octets, want %d", ErrKey, alg, len(k.Auth), integrityKeyLenHMACSHA256)
		}
	default:
		return fmt.Errorf("%w: %s", ErrAlgorithm, alg)
	}
	return nil
}

// replayWindow is the effective window size of an inbound SA.
func (sa SA) replayWindow() int {
	if sa.ReplayWindow == 0 {
		return DefaultReplayWindow
	}
	return sa.ReplayWindow
}

// Selector is the traffic an SA pair protects (RFC 4301 section 4.4.1.1):
// source and destination prefixes, an IP protocol (0 for any) and, for
// TCP, UDP and SCTP, ports (0 for any).
type Selector struct {
	Src, Dst         netip.Prefix
	Protocol         uint8
	SrcPort, DstPort uint16
}

func (s Selector) String() string {
	out := fmt.Sprintf("%s > %s", s.Src, s.Dst)
	if s.Protocol != 0 {
		out += fmt.Sprintf(" proto %d", s.Protocol)
	}
	if s.SrcPort != 0 {
		out += fmt.Sprintf(" sport %d", s.SrcPort)
	}
	if s.DstPort != 0 {
		out += fmt.Sprintf(" dport %d", s.DstPort)
	}
	return out
}

// Match reports whether a datagram from src to dst of protocol proto with
// the given ports (0 when the protocol has none) falls under the selector.
func (s Selector) Match(src, dst netip.Addr, proto uint8, sport, dport uint16) bool {
	return s.Src.Contains(src) && s.Dst.Contains(dst) &&
		(s.Protocol == 0 || s.Protocol == proto) &&
		(s.SrcPort == 0 || s.SrcPort == sport) &&
		(s.DstPort == 0 || s.DstPort == dport)
}

// check validates the selector.
func (s Selector) check() error {
	switch {
	case !s.Src.IsValid() || !s.Dst.IsValid() || !s.Src.Addr().Is4() || !s.Dst.Addr().Is4():
		return fmt.Errorf("%w: selector %s: prefixes must be IPv4", ErrInvalid, s)
	case s.Src != s.Src.Masked() || s.Dst != s.Dst.Masked():
		return fmt.Errorf("%w: selector %s: prefixes have host bits set", ErrInvalid, s)
	case (s.SrcPort != 0 || s.DstPort != 0) && !hasPorts(s.Protocol):
		return fmt.Errorf("%w: selector %s: ports need protocol TCP, UDP or SCTP", ErrInvalid, s)
	}
	return nil
}

// hasPorts reports whether proto's header begins with 16-bit source and
// destination ports: TCP, UDP, SCTP.
func hasPorts(proto uint8) bool { return proto == 6 || proto == 17 || proto == 132 }

// Policy says that traffic matching Selector in Direction is carried by the
// SAs of ReqID (RFC 4301 section 4.4.1). An outbound policy sends matching
// datagrams through the newest outbound SA of its ReqID; an inbound policy
// admits datagrams arriving through an inbound SA of its ReqID.
type Policy struct {
	Direction Direction
	Selector  Selector
	Mode      Mode
	// Local and Remote are the outer addresses of the SAs: the tunnel
	// endpoints in tunnel mode, the hosts in transport mode. Only the
	// XFRM implementation uses them, in the policy's template.
	Local, Remote netip.Addr
	ReqID         uint32
}

// PolicyKey identifies a policy.
type PolicyKey struct {
	Direction Direction
	Selector  Selector
}

func (k PolicyKey) String() string { return fmt.Sprintf("%s %s", k.Direction, k.Selector) }

// Key returns the policy's key.
func (p Policy) Key() PolicyKey { return PolicyKey{Direction: p.Direction, Selector: p.Selector} }

func (p Policy) String() string {
	return fmt.Sprintf("%s %s reqid %d %s > %s", p.Key(), p.Mode, p.ReqID, p.Local, p.Remote)
}

// Check validates the policy's fields.
func (p Policy) Check() error {
	switch {
	case p.Direction != Inbound && p.Direction != Outbound:
		return fmt.Errorf("%w: policy %s", ErrInvalid, p.Direction)
	case p.Mode != ModeTunnel && p.Mode != ModeTransport:
		return fmt.Errorf("%w: policy %s", ErrInvalid, p.Mode)
	case !p.Local.Is4() || !p.Remote.Is4():
		return fmt.Errorf("%w: policy endpoints %s and %s must be IPv4", ErrInvalid, p.Local, p.Remote)
	}
	return p.Selector.check()
}

// Kernel installs SAs and policies: XFRM where the kernel has ESP, Userspace
// everywhere else. Implementations are safe for concurrent use.
type Kernel interface {
	// Name is "xfrm" or "userspace".
	Name() string
	// AddSA installs an SA. An SA with the same key, or an inbound SA
	// with the same SPI, is ErrExists.
	AddSA(sa SA) error
	// UpdateSA replaces the outer addresses and ports of the SA with sa's
	// key by sa's, keeping everything else (keys, mode, sequence numbers,
	// replay window): a MOBIKE address update (RFC 4555 section 3.5). An
	// absent SA is ErrNotFound.
	UpdateSA(sa SA) error
	// DeleteSA removes an SA; an absent one is not an error.
	DeleteSA(key SAKey) error
	// AddPolicy installs a policy. A policy with the same key is
	// ErrExists.
	AddPolicy(p Policy) error
	// UpdatePolicy replaces the policy with p's key (new outer addresses
	// after a MOBIKE update, a new ReqID). An absent one is ErrNotFound.
	UpdatePolicy(p Policy) error
	// DeletePolicy removes a policy; an absent one is not an error.
	DeletePolicy(key PolicyKey) error
	// Close removes every SA and policy the implementation installed
	// and releases its resources.
	Close() error
}
