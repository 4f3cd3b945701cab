package sessionkey

import "errors"

// Sentinel errors. Errors returned by the package wrap one of these with
// context (the file, the sizes involved), so callers test them with
// errors.Is. File errors also wrap the underlying fs error, so
// errors.Is(err, fs.ErrExist) and errors.Is(err, fs.ErrNotExist) work.
var (
	// ErrInvalid means an argument is unusable: an empty secret, a nil
	// key, a ciphertext that does not decrypt to a session key.
	ErrInvalid = errors.New("sessionkey: invalid argument")
	// ErrKeySize means an RSA key is smaller than MinBits or larger than
	// MaxBits.
	ErrKeySize = errors.New("sessionkey: unacceptable RSA key size")
	// ErrKeyFormat means key material is not a well-formed RSA key in a
	// format the package reads.
	ErrKeyFormat = errors.New("sessionkey: malformed key")
	// ErrDecrypt means a wrapped session key did not decrypt: the wrong
	// private key, the wrong label or a tampered ciphertext. The cases are
	// deliberately indistinguishable.
	ErrDecrypt = errors.New("sessionkey: decryption failed")
)
