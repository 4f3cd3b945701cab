// Package mobikex encodes and decodes MOBIKE-X, the MOBIKE eXtension for
// transport mobility and multihomed IKE SAs (draft-mglt-ipsec-mm-mobikex-00),
// on top of the IKEv2 codec of package ikev2: the parameters that fill the
// notifications' data, mobility version negotiation, selector sets, and
// the responder's selector-set state machine. It is a codec only: it opens
// no socket and holds no SA; package ike decides which SAs a set selects,
// checks addresses and policy, and applies the sets.
//
// # Code points
//
// The draft's values are private-use and two collide (END_OF_SELECTOR and
// ADD_SA_ADDRESS are both 40962), so the suite fixes its own; the
// constants live in package ikev2: MOBIKE_SUPPORTED 16396 and
// UPDATE_SA_ADDRESSES 16400 (RFC 4555), MOBIKE_UNSUPPORTED_VERSION 40970,
// SELECTOR 40971, END_OF_SELECTOR 40972, ADD_SA_ADDRESS 40973,
// REMOVE_SA_ADDRESS 40974, ADDITIONAL_IP_ADDRESS 40975, CLOSING_SA 40976
// (status types), and the errors UNACCEPTABLE_ADDRESS 8200,
// DOES_NOT_FIT_SPD 8201, UNACCEPTABLE_PARAMETER 8202,
// UNEXPECTED_PAYLOAD_AFTER_SELECTOR 8203, UNMATCHED_SELECTOR_SET 8204. All
// travel with Protocol ID 0 and no SPI.
//
// # Parameters
//
// Notification data is a sequence of parameters: C bit and 7-bit type,
// a reserved octet, a 16-bit Value Length, the value; no padding.
// ParseParams requires whole parameters filling the data exactly and a
// valid value for every known type (VERSION 1 octet; SPI protocol, size
// and SPI; IP flags, address of the family V says, 12 octets of
// Multihoming Information with M, never O and N together; IPSEC_MODE
// tunnel or transport; IPSEC_PROTO AH or ESP; SELECTOR_SPECIFIC_VALUE one
// RFC 7296 traffic selector; ID 4 octets). Unknown parameters are kept
// when not critical, so parse then marshal gives the same octets (but for
// reserved octets, sent as zero); a critical one fails the parse with an
// *UnknownCriticalError. Errors wrap ErrMalformed; values that cannot be
// sent are ErrInvalid. No input makes the package panic. The typed
// constructors (VersionParam, SPIParam, IPParam, ModeParam, ProtoParam,
// SelectorParam, IDParam) and readers (Param.Version, SPI, IP, Mode,
// Proto, Selector, ID) convert between parameters and Go values.
//
// # Version negotiation
//
// SupportedNotify and UnsupportedNotify build MOBIKE_SUPPORTED and
// MOBIKE_UNSUPPORTED_VERSION. ReadOffer reads the initiator's offer (empty
// data: RFC 4555, version 1), Choose is the responder's rule (a critical
// version it lacks or no common version: MOBIKE_UNSUPPORTED_VERSION and
// version 0; otherwise the highest common version), Accepted the
// initiator's reading of the IKE_AUTH response, Lowered the effect of a
// later MOBIKE_UNSUPPORTED_VERSION: versions only go down.
//
// # Selector sets
//
// A Set names SAs (SPIs; or mode, protocol and traffic selectors; or,
// with none of them, the default IKE_SA_AND_CHILD_SA) and the actions on
// their addresses (UPDATE_SA_ADDRESSES with OLD_IP and NEW_IP, ADD and
// REMOVE_SA_ADDRESS, ADDITIONAL_IP_ADDRESS). Set.Payloads writes SELECTOR,
// the actions and END_OF_SELECTOR; the requester sends them in an
// INFORMATIONAL and reads the answer with Results (errors and CLOSING_SA
// matched to the sets by ID).
//
// The responder reads the request with a Machine (or ReadSets, which runs
// one): the states NULL, START, ESTABLISHED and ERROR of the draft's
// section 8. Feed returns each complete set at its END_OF_SELECTOR; an
// action outside any set is an implicit set (ID 0, default selection); an
// empty UPDATE_SA_ADDRESSES outside a set is RFC 4555's and goes back to
// the caller with the other non-MOBIKE-X payloads. Structural problems
// become set errors carrying the set's ID: a bad SELECTOR or action is
// UNACCEPTABLE_PARAMETER (with the offending IP parameter, or a parameter
// of an unknown critical type, C set, whose 1-octet value is that type);
// any other payload inside a set is UNEXPECTED_PAYLOAD_AFTER_SELECTOR and
// the rest of the set is skipped; an END_OF_SELECTOR with another ID, or
// none at the end of the message, is UNMATCHED_SELECTOR_SET. Checks that
// need SA state (which SAs match, address validity, the SPD) are the
// engine's, in the order UNMATCHED_SELECTOR_SET, UNACCEPTABLE_PARAMETER,
// UNACCEPTABLE_ADDRESS, DOES_NOT_FIT_SPD; Error.Notify builds the answer.
//
// docs/IPSEC.md, section "MOBIKE-X", has the wire layouts and the choices
// the suite made where the draft is loose.
package mobikex
