package ikecrypto

import (
	"crypto/hmac"
	"fmt"
)

// KeyPad is the string RFC 7296 section 2.15 mixes into a pre-shared key
// before it keys the AUTH computation.
const KeyPad = "Key Pad for IKEv2"

// SignedOctets returns the octets one side's AUTH payload covers (RFC 7296
// section 2.15):
//
//	InitiatorSignedOctets = RealMessage1 | NonceRData | MACedIDForI
//	ResponderSignedOctets = RealMessage2 | NonceIData | MACedIDForR
//	MACedIDForI = prf(SK_pi, RestOfInitIDPayload)
//	MACedIDForR = prf(SK_pr, RestOfRespIDPayload)
//
// message is the side's IKE_SA_INIT message exactly as sent (the request for
// the initiator, the response for the responder), peerNonce the Nonce Data
// of the other side's IKE_SA_INIT message, skp the side's SK_pi or SK_pr,
// and idBody the side's ID payload without its generic header: ID Type,
// three RESERVED octets and the identification data.
func SignedOctets(prf PRFID, message, peerNonce, skp, idBody []byte) ([]byte, error) {
	p, err := NewPRF(prf)
	if err != nil {
		return nil, err
	}
	if len(message) == 0 || len(peerNonce) == 0 || len(skp) == 0 || len(idBody) < 4 {
		return nil, fmt.Errorf("%w: signed octets need the message, the peer's nonce, SK_p and an ID payload body of at least 4 octets", ErrInvalid)
	}
	return concat(message, peerNonce, p.Sum(skp, idBody)), nil
}

// PSKAuth returns the Authentication Data of an AUTH payload with method
// AuthSharedKey (RFC 7296 section 2.15):
//
//	AUTH = prf( prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>)
//
// computed with the IKE SA's PRF. An empty pre-shared key is an error
// wrapping ErrInvalid.
func PSKAuth(prf PRFID, psk, signedOctets []byte) ([]byte, error) {
	p, err := NewPRF(prf)
	if err != nil {
		return nil, err
	}
	if len(psk) == 0 {
		return nil, fmt.Errorf("%w: empty pre-shared key", ErrInvalid)
	}
	return p.Sum(p.Sum(psk, []byte(KeyPad)), signedOctets), nil
}

// VerifyPSKAuth checks, in constant time, the Authentication Data of a
// peer's AUTH payload with method AuthSharedKey against the pre-shared key
// and the peer's signed octets. A mismatch is an error wrapping
// ErrAuthentication.
func VerifyPSKAuth(prf PRFID, psk, signedOctets, auth []byte) error {
	want, err := PSKAuth(prf, psk, signedOctets)
	if err != nil {
		return err
	}
	if !hmac.Equal(want, auth) {
		return fmt.Errorf("%w: shared key message integrity code mismatch", ErrAuthentication)
	}
	return nil
}
