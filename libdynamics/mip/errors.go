package mip

import "errors"

// Sentinel errors. Errors returned by the package wrap one of these with
// the offending field or offset, so callers test them with errors.Is.
var (
	// ErrTruncated means the message ends before a field or extension it
	// declares.
	ErrTruncated = errors.New("mip: message truncated")
	// ErrUnknownMessage means the message type is not one the package
	// decodes (or not the one asked for).
	ErrUnknownMessage = errors.New("mip: unknown message type")
	// ErrExtensionLength means an extension's length octet does not fit
	// its type.
	ErrExtensionLength = errors.New("mip: invalid extension length")
	// ErrUnknownExtension means the message carries an extension numbered
	// below 128 that the package does not know; RFC 5944 section 1.9
	// requires the receiver to discard such a message.
	ErrUnknownExtension = errors.New("mip: unrecognised non-skippable extension")
	// ErrMalformed means an extension the package understands holds
	// content that does not fit its layout: a broken sequence of
	// fragments, a sub-type's fields that do not add up.
	ErrMalformed = errors.New("mip: malformed extension content")
	// ErrInvalid means a field holds a value the format cannot carry, or an
	// argument is unusable (an empty key, an unknown algorithm).
	ErrInvalid = errors.New("mip: invalid field value")

	// ErrAuthMissing means the message has no authentication extension of
	// the type asked for.
	ErrAuthMissing = errors.New("mip: authentication extension missing")
	// ErrAuthFailed means the authenticator does not match the one
	// computed with the security association.
	ErrAuthFailed = errors.New("mip: authentication failed")
	// ErrSPIMismatch means the authentication extension names a different
	// SPI from the security association it is checked with.
	ErrSPIMismatch = errors.New("mip: SPI mismatch")

	// ErrIDMismatch means an identification fails replay protection: a
	// timestamp outside the window or not later than the last one
	// accepted, a wrong nonce, or a reply that does not answer the request.
	// A home agent answers it with CodeIDMismatch (133).
	ErrIDMismatch = errors.New("mip: registration identification mismatch")
)
