package ikev2

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// SA is the Security Association payload (RFC 7296 section 3.3): the
// proposals an initiator offers, in order of preference, or the one a
// responder accepted.
type SA struct {
	// Proposals are numbered from 1, each one more than the one before it
	// (RFC 7296 section 3.3.1); a responder's single proposal keeps the
	// number of the proposal it accepted. At least one, at most 255.
	Proposals []Proposal
}

// Proposal is one proposal substructure: a protocol, the sender's SPI for
// it, and the transforms that make up the proposal.
type Proposal struct {
	// Number is the proposal number, 1 to 255.
	Number uint8
	// Protocol is IKE, AH or ESP (or another non-zero protocol ID).
	Protocol Protocol
	// SPI is the sender's inbound SPI: empty for IKE in IKE_SA_INIT, 8
	// octets for IKE when rekeying an IKE SA, 4 octets for AH and ESP.
	SPI []byte
	// Transforms are the proposal's transforms; several of one type are
	// alternatives, different types are all required. 1 to 255 of them.
	Transforms []Transform
}

// Transform is one transform substructure (RFC 7296 section 3.3.2).
type Transform struct {
	Type TransformType
	// ID is the transform ID in the registry of Type: an EncrID, PRFID,
	// IntegID, DHGroup or ESN converted to uint16.
	ID uint16
	// Attributes are the transform's attributes; the only one RFC 7296
	// defines is the key length (KeyLength).
	Attributes []Attribute
}

// Attribute is a transform attribute (RFC 7296 section 3.3.5), in TV format
// (a 2-octet value in place of the length) or TLV format.
type Attribute struct {
	// Type is the attribute type, 0 to 0x7fff (the top bit is the format).
	Type AttributeType
	// TV selects the short format: Value is exactly 2 octets.
	TV bool
	// Value is the attribute's value: 2 octets in TV format, at most 65535
	// in TLV format.
	Value []byte
}

const (
	// proposalHeaderLen is a proposal substructure up to its SPI.
	proposalHeaderLen = 8
	// transformHeaderLen is a transform substructure up to its attributes.
	transformHeaderLen = 8
	// attributeHeaderLen is an attribute's type and length (or value).
	attributeHeaderLen = 4
	// Last Substruc values (RFC 7296 sections 3.3.1 and 3.3.2).
	lastSubstruc      = 0
	moreProposals     = 2
	moreTransforms    = 3
	attributeTVBit    = 0x8000
	maxAttributeType  = 0x7fff
	maxSubstructCount = 255
)

// Type returns PayloadSA.
func (*SA) Type() PayloadType { return PayloadSA }

// KeyLength returns a Key Length attribute of bits bits.
func KeyLength(bits uint16) Attribute {
	return Attribute{Type: AttributeKeyLength, TV: true, Value: []byte{byte(bits >> 8), byte(bits)}}
}

// KeyLength returns the transform's Key Length attribute in bits, if it
// has one.
func (t Transform) KeyLength() (bits uint16, ok bool) {
	for _, a := range t.Attributes {
		if a.Type == AttributeKeyLength && a.TV && len(a.Value) == 2 {
			return binary.BigEndian.Uint16(a.Value), true
		}
	}
	return 0, false
}

// EncrTransform returns an ENCR transform; keyBits, when not zero, adds the
// Key Length attribute that AES and Camellia need.
func EncrTransform(id EncrID, keyBits uint16) Transform {
	t := Transform{Type: TransformEncr, ID: uint16(id)}
	if keyBits != 0 {
		t.Attributes = []Attribute{KeyLength(keyBits)}
	}
	return t
}

// PRFTransform returns a PRF transform.
func PRFTransform(id PRFID) Transform { return Transform{Type: TransformPRF, ID: uint16(id)} }

// IntegTransform returns an INTEG transform.
func IntegTransform(id IntegID) Transform { return Transform{Type: TransformInteg, ID: uint16(id)} }

// DHTransform returns a D-H transform.
func DHTransform(g DHGroup) Transform { return Transform{Type: TransformDH, ID: uint16(g)} }

// ESNTransform returns an ESN transform.
func ESNTransform(e ESN) Transform { return Transform{Type: TransformESN, ID: uint16(e)} }

// String names the transform by its registry, with the key length after a
// slash: "ENCR_AES_GCM_16/128", "PRF_HMAC_SHA2_256", "MODP_2048".
func (t Transform) String() string {
	var s string
	switch t.Type {
	case TransformEncr:
		s = EncrID(t.ID).String()
	case TransformPRF:
		s = PRFID(t.ID).String()
	case TransformInteg:
		s = IntegID(t.ID).String()
	case TransformDH:
		s = DHGroup(t.ID).String()
	case TransformESN:
		s = ESN(t.ID).String()
	default:
		s = fmt.Sprintf("%s:%d", t.Type, t.ID)
	}
	if bits, ok := t.KeyLength(); ok {
		s += fmt.Sprintf("/%d", bits)
	}
	return s
}

// ByType returns the proposal's transforms of type t, in order.
func (p *Proposal) ByType(t TransformType) []Transform {
	var out []Transform
	for _, tr := range p.Transforms {
		if tr.Type == t {
			out = append(out, tr)
		}
	}
	return out
}

// String renders the proposal as "#1 ESP spi=c0ffee01 ENCR_AES_GCM_16/128,NO_EXT_SEQ".
func (p *Proposal) String() string {
	names := make([]string, len(p.Transforms))
	for i, t := range p.Transforms {
		names[i] = t.String()
	}
	return fmt.Sprintf("#%d %s spi=%x %s", p.Number, p.Protocol, p.SPI, strings.Join(names, ","))
}

// checkSPISize reports whether an SPI of n octets suits protocol p in a
// proposal: IKE takes none (IKE_SA_INIT) or 8 (rekeying), AH and ESP 4.
func checkSPISize(p Protocol, n int) error {
	switch p {
	case ProtocolNone:
		return fmt.Errorf("protocol 0: %w", ErrInvalid)
	case ProtocolIKE:
		if n != 0 && n != 8 {
			return fmt.Errorf("IKE SPI of %d octets, want 0 or 8: %w", n, ErrInvalid)
		}
	case ProtocolAH, ProtocolESP:
		if n != 4 {
			return fmt.Errorf("%s SPI of %d octets, want 4: %w", p, n, ErrInvalid)
		}
	}
	return nil
}

// checkNumbers checks the proposal numbering of RFC 7296 section 3.3.1.
func (sa *SA) checkNumbers() error {
	if len(sa.Proposals) == 0 {
		return fmt.Errorf("no proposals: %w", ErrInvalid)
	}
	if len(sa.Proposals) > maxSubstructCount {
		return fmt.Errorf("%d proposals, at most %d: %w", len(sa.Proposals), maxSubstructCount, ErrInvalid)
	}
	if sa.Proposals[0].Number == 0 {
		return fmt.Errorf("proposal numbered 0: %w", ErrInvalid)
	}
	if len(sa.Proposals) > 1 && sa.Proposals[0].Number != 1 {
		return fmt.Errorf("first of %d proposals numbered %d, want 1: %w", len(sa.Proposals), sa.Proposals[0].Number, ErrInvalid)
	}
	for i := 1; i < len(sa.Proposals); i++ {
		if got, want := sa.Proposals[i].Number, sa.Proposals[i-1].Number+1; got != want {
			return fmt.Errorf("proposal %d numbered %d, want %d: %w", i+1, got, want, ErrInvalid)
		}
	}
	return nil
}

func parseSA(b []byte) (*SA, error) {
	sa := &SA{}
	off := 0
	for off < len(b) {
		if len(b)-off < proposalHeaderLen {
			return nil, fmt.Errorf("proposal %d at offset %d: header needs %d bytes, %d left: %w",
				len(sa.Proposals)+1, off, proposalHeaderLen, len(b)-off, ErrTruncated)
		}
		last := b[off]
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		if last != lastSubstruc && last != moreProposals {
			return nil, fmt.Errorf("proposal %d: last substruc %d, want 0 or 2: %w", len(sa.Proposals)+1, last, ErrInvalid)
		}
		if n < proposalHeaderLen || n > len(b)-off {
			return nil, fmt.Errorf("proposal %d: length %d, %d bytes left: %w", len(sa.Proposals)+1, n, len(b)-off, ErrLength)
		}
		p, err := parseProposal(b[off : off+n])
		if err != nil {
			return nil, fmt.Errorf("proposal %d: %w", len(sa.Proposals)+1, err)
		}
		sa.Proposals = append(sa.Proposals, p)
		off += n
		if last == lastSubstruc {
			break
		}
		if off == len(b) {
			return nil, fmt.Errorf("proposal %d says more follow, none does: %w", len(sa.Proposals), ErrTruncated)
		}
	}
	if off != len(b) {
		return nil, fmt.Errorf("%d bytes after the last proposal: %w", len(b)-off, ErrLength)
	}
	if err := sa.checkNumbers(); err != nil {
		return nil, err
	}
	return sa, nil
}

// parseProposal parses one proposal substructure, b being exactly its
// length.
func parseProposal(b []byte) (Proposal, error) {
	p := Proposal{Number: b[4], Protocol: Protocol(b[5])}
	spiSize, count := int(b[6]), int(b[7])
	if err := checkSPISize(p.Protocol, spiSize); err != nil {
		return Proposal{}, err
	}
	if len(b)-proposalHeaderLen < spiSize {
		return Proposal{}, fmt.Errorf("SPI of %d octets, %d left: %w", spiSize, len(b)-proposalHeaderLen, ErrLength)
	}
	p.SPI = clone(b[proposalHeaderLen : proposalHeaderLen+spiSize])
	if count == 0 {
		return Proposal{}, fmt.Errorf("no transforms: %w", ErrInvalid)
	}
	off := proposalHeaderLen + spiSize
	for i := 0; i < count; i++ {
		if len(b)-off < transformHeaderLen {
			return Proposal{}, fmt.Errorf("transform %d of %d: header needs %d bytes, %d left: %w",
				i+1, count, transformHeaderLen, len(b)-off, ErrLength)
		}
		last := b[off]
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		wantLast := byte(moreTransforms)
		if i == count-1 {
			wantLast = lastSubstruc
		}
		if last != wantLast {
			return Proposal{}, fmt.Errorf("transform %d of %d: last substruc %d, want %d: %w", i+1, count, last, wantLast, ErrInvalid)
		}
		if n < transformHeaderLen || n > len(b)-off {
			return Proposal{}, fmt.Errorf("transform %d of %d: length %d, %d bytes left: %w", i+1, count, n, len(b)-off, ErrLength)
		}
		t, err := parseTransform(b[off : off+n])
		if err != nil {
			return Proposal{}, fmt.Errorf("transform %d of %d: %w", i+1, count, err)
		}
		p.Transforms = append(p.Transforms, t)
		off += n
	}
	if off != len(b) {
		return Proposal{}, fmt.Errorf("%d bytes after the last of %d transforms: %w", len(b)-off, count, ErrLength)
	}
	return p, nil
}

func parseTransform(b []byte) (Transform, error) {
	t := Transform{Type: TransformType(b[4]), ID: binary.BigEndian.Uint16(b[6:])}
	off := transformHeaderLen
	for off < len(b) {
		if len(b)-off < attributeHeaderLen {
			return Transform{}, fmt.Errorf("attribute at offset %d: header needs %d bytes, %d left: %w",
				off, attributeHeaderLen, len(b)-off, ErrLength)
		}
		h := binary.BigEndian.Uint16(b[off:])
		a := Attribute{Type: AttributeType(h & maxAttributeType), TV: h&attributeTVBit != 0}
		if a.TV {
			a.Value = clone(b[off+2 : off+4])
			off += attributeHeaderLen
		} else {
			n := int(binary.BigEndian.Uint16(b[off+2:]))
			if n > len(b)-off-attributeHeaderLen {
				return Transform{}, fmt.Errorf("attribute %s: length %d, %d bytes left: %w",
					a.Type, n, len(b)-off-attributeHeaderLen, ErrLength)
			}
			a.Value = clone(b[off+attributeHeaderLen : off+attributeHeaderLen+n])
			off += attributeHeaderLen + n
		}
		if err := a.check(); err != nil {
			return Transform{}, err
		}
		t.Attributes = append(t.Attributes, a)
	}
	return t, nil
}

// check applies the rules of RFC 7296 section 3.3.5 to one attribute.
func (a Attribute) check() error {
	if a.Type > maxAttributeType {
		return fmt.Errorf("attribute type %#x does not fit 15 bits: %w", uint16(a.Type), ErrInvalid)
	}
	if a.TV && len(a.Value) != 2 {
		return fmt.Errorf("attribute %s in TV format with %d octets, want 2: %w", a.Type, len(a.Value), ErrInvalid)
	}
	if !a.TV && len(a.Value) > 0xffff {
		return fmt.Errorf("attribute %s: %d octets: %w", a.Type, len(a.Value), ErrInvalid)
	}
	if a.Type == AttributeKeyLength && !a.TV {
		return fmt.Errorf("key length attribute in TLV format, RFC 7296 has it TV: %w", ErrInvalid)
	}
	return nil
}

func (sa *SA) appendBody(b []byte) ([]byte, error) {
	if err := sa.checkNumbers(); err != nil {
		return nil, err
	}
	for i, p := range sa.Proposals {
		if err := checkSPISize(p.Protocol, len(p.SPI)); err != nil {
			return nil, fmt.Errorf("proposal %d: %w", i+1, err)
		}
		if len(p.SPI) > 0xff {
			return nil, fmt.Errorf("proposal %d: SPI of %d octets: %w", i+1, len(p.SPI), ErrInvalid)
		}
		if len(p.Transforms) == 0 || len(p.Transforms) > maxSubstructCount {
			return nil, fmt.Errorf("proposal %d: %d transforms, want 1 to %d: %w", i+1, len(p.Transforms), maxSubstructCount, ErrInvalid)
		}
		start := len(b)
		last := byte(moreProposals)
		if i == len(sa.Proposals)-1 {
			last = lastSubstruc
		}
		b = append(b, last, 0, 0, 0, p.Number, byte(p.Protocol), byte(len(p.SPI)), byte(len(p.Transforms)))
		b = append(b, p.SPI...)
		for j, t := range p.Transforms {
			tstart := len(b)
			tlast := byte(moreTransforms)
			if j == len(p.Transforms)-1 {
				tlast = lastSubstruc
			}
			b = append(b, tlast, 0, 0, 0, byte(t.Type), 0, byte(t.ID>>8), byte(t.ID))
			for _, a := range t.Attributes {
				if err := a.check(); err != nil {
					return nil, fmt.Errorf("proposal %d transform %d: %w", i+1, j+1, err)
				}
				if a.TV {
					b = binary.BigEndian.AppendUint16(b, uint16(a.Type)|attributeTVBit)
				} else {
					b = binary.BigEndian.AppendUint16(b, uint16(a.Type))
					b = binary.BigEndian.AppendUint16(b, uint16(len(a.Value)))
				}
				b = append(b, a.Value...)
			}
			if n := len(b) - tstart; n > 0xffff {
				return nil, fmt.Errorf("proposal %d transform %d: %d bytes: %w", i+1, j+1, n, ErrInvalid)
			}
			binary.BigEndian.PutUint16(b[tstart+2:], uint16(len(b)-tstart))
		}
		if n := len(b) - start; n > 0xffff {
			return nil, fmt.Errorf("proposal %d: %d bytes: %w", i+1, n, ErrInvalid)
		}
		binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start))
	}
	return b, nil
}
