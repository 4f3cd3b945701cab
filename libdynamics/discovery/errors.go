package discovery

import "errors"

// Sentinel errors. Parse and marshal errors wrap one of these with the
// offending field, so callers test them with errors.Is.
var (
	// ErrTruncated means the message ends before a field it declares.
	ErrTruncated = errors.New("discovery: message truncated")
	// ErrChecksum means the ICMP checksum does not verify.
	ErrChecksum = errors.New("discovery: bad ICMP checksum")
	// ErrType means the ICMP type is not the one expected.
	ErrType = errors.New("discovery: unexpected ICMP type")
	// ErrCode means the ICMP code is not valid for the type.
	ErrCode = errors.New("discovery: invalid ICMP code")
	// ErrEntrySize means an advertisement's address entry size is not 2.
	ErrEntrySize = errors.New("discovery: unsupported address entry size")
	// ErrExtensionLength means an extension's length field does not fit its
	// type.
	ErrExtensionLength = errors.New("discovery: invalid extension length")
	// ErrUnknownExtension means an advertisement carries an unrecognised
	// extension numbered below 128, which RFC 5944 says must make the
	// receiver discard the message.
	ErrUnknownExtension = errors.New("discovery: unrecognised non-skippable extension")
	// ErrInvalid means a field holds a value the format cannot carry.
	ErrInvalid = errors.New("discovery: invalid field value")
)
