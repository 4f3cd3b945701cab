package ikecrypto

import "errors"

// Sentinel errors. Errors returned by the package wrap one of these with
// context (the transform, the lengths involved), so callers test them with
// errors.Is.
var (
	// ErrUnsupported means a transform, group, authentication method or
	// signature algorithm the package does not implement.
	ErrUnsupported = errors.New("ikecrypto: unsupported algorithm")
	// ErrInvalid means an unusable argument: a key of the wrong length, an
	// empty pre-shared key, a request for more prf+ output than RFC 7296
	// allows.
	ErrInvalid = errors.New("ikecrypto: invalid argument")
	// ErrPublicValue means a peer's Diffie-Hellman public value failed
	// validation: the wrong length, out of range, the identity or a point
	// of small order. The exchange must be abandoned (RFC 7296 section
	// 2.7 answers it with INVALID_SYNTAX, RFC 6989 section 2).
	ErrPublicValue = errors.New("ikecrypto: invalid Diffie-Hellman public value")
	// ErrMalformed means an SK payload body or AUTH data too short or
	// badly structured to be opened or verified: no room for the IV and
	// ICV, a ciphertext that is not a whole number of blocks, a pad length
	// larger than the plaintext, an AlgorithmIdentifier that does not parse.
	ErrMalformed = errors.New("ikecrypto: malformed data")
	// ErrIntegrity means the integrity check of an SK payload failed: the
	// ICV does not match the associated data and ciphertext. The message
	// must be dropped silently (RFC 7296 section 2.21.2).
	ErrIntegrity = errors.New("ikecrypto: integrity check failed")
	// ErrAuthentication means an AUTH payload did not verify: the wrong
	// pre-shared key, the wrong private key, or tampered signed octets
	// (AUTHENTICATION_FAILED, RFC 7296 section 2.21.2).
	ErrAuthentication = errors.New("ikecrypto: authentication failed")
	// ErrNoProposal means no proposal of the peer is acceptable
	// (NO_PROPOSAL_CHOSEN).
	ErrNoProposal = errors.New("ikecrypto: no acceptable proposal")
)
