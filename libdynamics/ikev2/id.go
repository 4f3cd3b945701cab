package ikev2

import (
	"encoding/hex"
	"fmt"
	"net/netip"
)

// IDType is the type of an Identification payload (RFC 7296 section 3.5,
// IANA "IKEv2 Identification Payload ID Types").
type IDType uint8

// Identification types.
const (
	IDIPv4Addr   IDType = 1  // ID_IPV4_ADDR: 4 octets
	IDFQDN       IDType = 2  // ID_FQDN: a domain name, no terminator
	IDRFC822Addr IDType = 3  // ID_RFC822_ADDR: an e-mail address
	IDIPv6Addr   IDType = 5  // ID_IPV6_ADDR: 16 octets
	IDDERASN1DN  IDType = 9  // ID_DER_ASN1_DN: a DER X.500 distinguished name
	IDDERASN1GN  IDType = 10 // ID_DER_ASN1_GN: a DER X.509 general name
	IDKeyID      IDType = 11 // ID_KEY_ID: opaque octets
	IDFCName     IDType = 12 // ID_FC_NAME (RFC 4595)
	IDNull       IDType = 13 // ID_NULL (RFC 7619): empty
)

var idTypeNames = map[IDType]string{
	IDIPv4Addr:   "ID_IPV4_ADDR",
	IDFQDN:       "ID_FQDN",
	IDRFC822Addr: "ID_RFC822_ADDR",
	IDIPv6Addr:   "ID_IPV6_ADDR",
	IDDERASN1DN:  "ID_DER_ASN1_DN",
	IDDERASN1GN:  "ID_DER_ASN1_GN",
	IDKeyID:      "ID_KEY_ID",
	IDFCName:     "ID_FC_NAME",
	IDNull:       "ID_NULL",
}

// String returns the IANA name of the ID type.
func (t IDType) String() string { return name(idTypeNames, t, "ID") }

// ID is an Identification payload, IDi or IDr (RFC 7296 section 3.5). The
// AUTH payload covers its content (IDType, the reserved octets and Data),
// which RestOfIDPayload returns.
type ID struct {
	// Responder selects IDr (payload type 36) instead of IDi (35).
	Responder bool
	IDType    IDType
	// Data is the identification: an address, a name, a DER encoding.
	Data []byte
}

// idHeaderLen is the ID type and three reserved octets.
const idHeaderLen = 4

// Type returns PayloadIDr for a responder's ID, PayloadIDi otherwise.
func (id *ID) Type() PayloadType {
	if id.Responder {
		return PayloadIDr
	}
	return PayloadIDi
}

// NewID returns the initiator's (or with responder, the responder's)
// identification of type t.
func NewID(responder bool, t IDType, data []byte) *ID {
	return &ID{Responder: responder, IDType: t, Data: data}
}

// AddrID returns an ID_IPV4_ADDR or ID_IPV6_ADDR identification of a.
func AddrID(responder bool, a netip.Addr) *ID {
	a = a.Unmap()
	if a.Is4() {
		return &ID{Responder: responder, IDType: IDIPv4Addr, Data: a.AsSlice()}
	}
	return &ID{Responder: responder, IDType: IDIPv6Addr, Data: a.AsSlice()}
}

// Addr returns the address of an ID_IPV4_ADDR or ID_IPV6_ADDR
// identification.
func (id *ID) Addr() (netip.Addr, bool) {
	if id.IDType != IDIPv4Addr && id.IDType != IDIPv6Addr {
		return netip.Addr{}, false
	}
	return netip.AddrFromSlice(id.Data)
}

// RestOfIDPayload returns the payload's content after the generic header,
// as RFC 7296 section 2.15 feeds it to the PRF for AUTH: the ID type,
// three zero octets and the identification data.
func (id *ID) RestOfIDPayload() []byte {
	b := make([]byte, idHeaderLen, idHeaderLen+len(id.Data))
	b[0] = byte(id.IDType)
	return append(b, id.Data...)
}

// String renders the identification for logs: the address, the name, or
// the type and hex data.
func (id *ID) String() string {
	switch id.IDType {
	case IDIPv4Addr, IDIPv6Addr:
		if a, ok := id.Addr(); ok {
			return a.String()
		}
	case IDFQDN, IDRFC822Addr:
		return string(id.Data)
	case IDNull:
		return "(null)"
	}
	return id.IDType.String() + ":" + hex.EncodeToString(id.Data)
}

func (id *ID) check() error {
	want := -1
	switch id.IDType {
	case IDIPv4Addr:
		want = 4
	case IDIPv6Addr:
		want = 16
	case IDNull:
		want = 0
	}
	if want >= 0 && len(id.Data) != want {
		return fmt.Errorf("%s of %d octets, want %d: %w", id.IDType, len(id.Data), want, ErrInvalid)
	}
	return nil
}

func parseID(responder bool, b []byte) (*ID, error) {
	if len(b) < idHeaderLen {
		return nil, fmt.Errorf("%d bytes, want at least %d: %w", len(b), idHeaderLen, ErrLength)
	}
	id := &ID{Responder: responder, IDType: IDType(b[0]), Data: clone(b[idHeaderLen:])}
	if err := id.check(); err != nil {
		return nil, err
	}
	return id, nil
}

func (id *ID) appendBody(b []byte) ([]byte, error) {
	if err := id.check(); err != nil {
		return nil, err
	}
	b = append(b, byte(id.IDType), 0, 0, 0)
	return append(b, id.Data...), nil
}
