package mip

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// The foreign agent hierarchy's extensions (docs/PROTOCOL.md, "Foreign
// agent hierarchy") are skippable experimental extensions (TypeExperimental,
// RFC 4064) whose first data octet is one of these sub-types. An agent that
// does not know them skips them.
const (
	// SubtypeFAPath is the FA Path extension of agent advertisements:
	// the advertising agent, its upper agent and the highest agent. It is
	// decoded by package discovery (discovery.FAPath); the number is
	// listed here because the sub-types share one space.
	SubtypeFAPath uint8 = 1
	// SubtypeFAPublicKey is one fragment of a foreign agent's RSA public
	// key in a relayed request (FAPublicKey).
	SubtypeFAPublicKey uint8 = 2
	// SubtypeMobileSessionKey is the session key masked for the mobile
	// node in a reply (MobileSessionKey).
	SubtypeMobileSessionKey uint8 = 3
	// SubtypeFASessionKey is one fragment of the session key encrypted for
	// one foreign agent in a reply (FASessionKey).
	SubtypeFASessionKey uint8 = 4
)

// Layouts of the hierarchy's extensions, after the type and length octets.
const (
	// subtypeLen is the sub-type octet.
	subtypeLen = 1
	// fragmentHeaderLen is a fragment's index and count octets.
	fragmentHeaderLen = 2
	// faPublicKeyHeaderLen: sub-type, agent address, index, count.
	faPublicKeyHeaderLen = subtypeLen + addrLen + fragmentHeaderLen
	// MaxFAPublicKeyFragment is the most DER bytes one FA Public Key
	// extension carries.
	MaxFAPublicKeyFragment = maxExtensionData - faPublicKeyHeaderLen
	// faSessionKeyHeaderLen: sub-type, agent address, SPI, index, count.
	faSessionKeyHeaderLen = subtypeLen + addrLen + spiLen + fragmentHeaderLen
	// MaxFASessionKeyFragment is the most ciphertext bytes one FA Session
	// Key extension carries.
	MaxFASessionKeyFragment = maxExtensionData - faSessionKeyHeaderLen
	// MobileSessionKeyLen is the Mobile Session Key extension's length
	// octet: sub-type, SPI, lifetime and the masked key.
	MobileSessionKeyLen = subtypeLen + spiLen + 4 + SessionKeyLen
	// SessionKeyLen is the length of a session key.
	SessionKeyLen = 16
	// maxFragments is the most fragments a count octet numbers.
	maxFragments = 255
)

// parseExperimental decodes the data of a TypeExperimental extension: a
// Mobile Session Key of the exact length becomes *MobileSessionKey; every
// other sub-type, and anything that does not fit its layout, stays a
// *RawExtension so that it marshals back unchanged.
func parseExperimental(data []byte) Extension {
	if len(data) == MobileSessionKeyLen && data[0] == SubtypeMobileSessionKey {
		return &MobileSessionKey{
			SPI:      binary.BigEndian.Uint32(data[1:5]),
			Lifetime: binary.BigEndian.Uint32(data[5:9]),
			Masked:   [SessionKeyLen]byte(data[9:]),
		}
	}
	return &RawExtension{Type: TypeExperimental, Data: append([]byte(nil), data...)}
}

// experimentalData returns the data of e when it is a TypeExperimental
// extension kept raw, and nil otherwise.
func experimentalData(e Extension) []byte {
	r, ok := e.(*RawExtension)
	if !ok || r == nil || r.Type != TypeExperimental || len(r.Data) < subtypeLen {
		return nil
	}
	return r.Data
}

// IsHierarchyExtension reports whether e is an FA Public Key or FA Session
// Key fragment: the extensions a relaying foreign agent keeps, after the
// Mobile-Home authenticator, when it passes a message on.
func IsHierarchyExtension(e Extension) bool {
	d := experimentalData(e)
	return d != nil && (d[0] == SubtypeFAPublicKey || d[0] == SubtypeFASessionKey)
}

// MobileSessionKey is the Mobile Session Key extension (TypeExperimental,
// SubtypeMobileSessionKey) a home agent puts before the Mobile-Home
// authenticator of its reply: the session SPI, the key's lifetime, and the
// session key masked for the mobile node (sessionkey.ForMobile).
type MobileSessionKey struct {
	// SPI names the session security association in MN-GFA
	// authenticators.
	SPI uint32
	// Lifetime is how long the key is valid, in seconds: the registration
	// lifetime granted.
	Lifetime uint32
	// Masked is the session key XOR the mobile's mask.
	Masked [SessionKeyLen]byte
}

// Kind returns TypeExperimental.
func (*MobileSessionKey) Kind() Type { return TypeExperimental }

// AppendMarshal appends type, length, sub-type, SPI, lifetime and the
// masked key.
func (k *MobileSessionKey) AppendMarshal(b []byte) ([]byte, error) {
	b = append(b, byte(TypeExperimental), MobileSessionKeyLen, SubtypeMobileSessionKey)
	b = binary.BigEndian.AppendUint32(b, k.SPI)
	b = binary.BigEndian.AppendUint32(b, k.Lifetime)
	return append(b, k.Masked[:]...), nil
}

// FindMobileSessionKey returns the first Mobile Session Key extension of
// exts, parsed or built in memory, and whether there is one.
func FindMobileSessionKey(exts []Extension) (*MobileSessionKey, bool) {
	for _, e := range exts {
		if k, ok := e.(*MobileSessionKey); ok && k != nil {
			return k, true
		}
	}
	return nil, false
}

// FAPublicKey is a foreign agent's RSA public key (PKIX DER, as
// sessionkey.MarshalPublicKey writes it) with the agent's address, as each
// agent on the way up adds it to a relayed request.
type FAPublicKey struct {
	Agent netip.Addr
	DER   []byte
}

// AppendFAPublicKey appends k to b as FA Public Key extensions: as many
// fragments of at most MaxFAPublicKeyFragment DER bytes as it takes, index
// 0 first.
func AppendFAPublicKey(b []byte, k FAPublicKey) ([]byte, error) {
	frags, err := fragments(k.DER, MaxFAPublicKeyFragment)
	if err != nil {
		return nil, fmt.Errorf("FA public key of %v: %w", k.Agent, err)
	}
	var hdr []byte
	if hdr, err = appendAddr(nil, "FA public key agent", k.Agent); err != nil {
		return nil, err
	}
	for i, f := range frags {
		b = append(b, byte(TypeExperimental), byte(faPublicKeyHeaderLen+len(f)), SubtypeFAPublicKey)
		b = append(b, hdr...)
		b = append(b, byte(i), byte(len(frags)))
		b = append(b, f...)
	}
	return b, nil
}

// FAPublicKeys reassembles the FA Public Key extensions of exts, in order
// of appearance. Fragments of one key are consecutive, index 0 first, with
// the same agent and count. It returns every complete key; when a sequence
// is broken (a fragment missing, out of order or too short to hold its
// header, or a value of no bytes) it also returns an error wrapping ErrMalformed, and the broken
// key is left out, as the protocol says a receiver ignores it.
func FAPublicKeys(exts []Extension) ([]FAPublicKey, error) {
	var out []FAPublicKey
	err := reassemble(exts, SubtypeFAPublicKey, faPublicKeyHeaderLen, func(hdr, payload []byte) {
		out = append(out, FAPublicKey{Agent: addrAt(hdr, subtypeLen), DER: payload})
	})
	if err != nil {
		return out, fmt.Errorf("FA public keys: %w", err)
	}
	return out, nil
}

// FASessionKey is the session key encrypted for one foreign agent
// (sessionkey.WrapForFA), with the agent's address and the session SPI, as
// the home agent or a switching agent puts it in a reply.
type FASessionKey struct {
	Agent      netip.Addr
	SPI        uint32
	Ciphertext []byte
}

// AppendFASessionKey appends k to b as FA Session Key extensions: as many
// fragments of at most MaxFASessionKeyFragment ciphertext bytes as it
// takes, index 0 first.
func AppendFASessionKey(b []byte, k FASessionKey) ([]byte, error) {
	frags, err := fragments(k.Ciphertext, MaxFASessionKeyFragment)
	if err != nil {
		return nil, fmt.Errorf("FA session key for %v: %w", k.Agent, err)
	}
	var hdr []byte
	if hdr, err = appendAddr(nil, "FA session key agent", k.Agent); err != nil {
		return nil, err
	}
	hdr = binary.BigEndian.AppendUint32(hdr, k.SPI)
	for i, f := range frags {
		b = append(b, byte(TypeExperimental), byte(faSessionKeyHeaderLen+len(f)), SubtypeFASessionKey)
		b = append(b, hdr...)
		b = append(b, byte(i), byte(len(frags)))
		b = append(b, f...)
	}
	return b, nil
}

// FASessionKeys reassembles the FA Session Key extensions of exts, in
// order of appearance; fragments of one key also agree on the SPI. Like
// FAPublicKeys it returns every complete key, and an error wrapping
// ErrMalformed besides when a sequence is broken.
func FASessionKeys(exts []Extension) ([]FASessionKey, error) {
	var out []FASessionKey
	err := reassemble(exts, SubtypeFASessionKey, faSessionKeyHeaderLen, func(hdr, payload []byte) {
		out = append(out, FASessionKey{
			Agent:      addrAt(hdr, subtypeLen),
			SPI:        binary.BigEndian.Uint32(hdr[subtypeLen+addrLen:]),
			Ciphertext: payload,
		})
	})
	if err != nil {
		return out, fmt.Errorf("FA session keys: %w", err)
	}
	return out, nil
}

// fragments splits v into pieces of at most size bytes, at least one and
// at most maxFragments.
func fragments(v []byte, size int) ([][]byte, error) {
	if len(v) == 0 {
		return nil, fmt.Errorf("empty value: %w", ErrInvalid)
	}
	n := (len(v) + size - 1) / size
	if n > maxFragments {
		return nil, fmt.Errorf("%d bytes need %d fragments, at most %d: %w", len(v), n, maxFragments, ErrInvalid)
	}
	out := make([][]byte, 0, n)
	for len(v) > 0 {
		m := min(len(v), size)
		out = append(out, v[:m])
		v = v[m:]
	}
	return out, nil
}

// reassemble walks the TypeExperimental extensions of sub-type sub in exts.
// Each has a header of hdrLen bytes (sub-type first, index and count last)
// and a payload; done receives the first fragment's header and the joined
// payload of every complete sequence. Fragments of one value must be
// consecutive among the extensions of that sub-type and agree on the
// header before the index. The error, if any, describes the first broken
// sequence and wraps ErrMalformed.
func reassemble(exts []Extension, sub uint8, hdrLen int, done func(hdr, payload []byte)) error {
	var (
		first   error
		hdr     []byte // the current sequence's first header; nil when none
		payload []byte
		next    int
		count   int
	)
	broken := func(format string, args ...any) {
		if first == nil {
			first = fmt.Errorf(format+": %w", append(args, ErrMalformed)...)
		}
		hdr, payload = nil, nil
	}
	idLen := hdrLen - fragmentHeaderLen // the part that names the value
	for i, e := range exts {
		d := experimentalData(e)
		if d == nil || d[0] != sub {
			continue
		}
		if len(d) < hdrLen {
			broken("extension %d: %d bytes, header is %d", i, len(d), hdrLen)
			continue
		}
		idx, cnt := int(d[idLen]), int(d[idLen+1])
		if hdr != nil && (idx != next || cnt != count || string(d[:idLen]) != string(hdr[:idLen])) {
			broken("extension %d: fragment %d of %d, want fragment %d of %d", i, idx, cnt, next, count)
		}
		if hdr == nil {
			if idx != 0 || cnt == 0 {
				broken("extension %d: fragment %d of %d does not start a value", i, idx, cnt)
				continue
			}
			hdr, payload, next, count = d[:hdrLen], nil, 0, cnt
		}
		payload = append(payload, d[hdrLen:]...)
		next++
		if next == count {
			if len(payload) == 0 {
				broken("extension %d: a value of no bytes", i)
				continue
			}
			done(hdr, payload)
			hdr, payload = nil, nil
		}
	}
	if hdr != nil {
		broken("fragment %d of %d missing at the end", next, count)
	}
	return first
}
