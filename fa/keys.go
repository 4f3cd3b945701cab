package fa

import (
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/dynamics-go/dynamics/libdynamics/sessionkey"
)

// ErrKeyMismatch is wrapped by LoadKeys when PublicKeyFile does not hold the
// public half of PrivateKeyFile's key.
var ErrKeyMismatch = errors.New("fa: PublicKeyFile is not the public key of PrivateKeyFile")

// LoadKeys reads the agent's RSA key pair from PrivateKeyFile and
// PublicKeyFile (as dynkeygen writes them) and checks that the two belong
// together. It returns nil without error when the configuration names
// neither file, as a flat agent's need not; in a hierarchy DecodeConfig has
// already required both. Errors name the label and the file.
func LoadKeys(c Config) (*rsa.PrivateKey, error) {
	if c.PrivateKeyFile == "" && c.PublicKeyFile == "" {
		return nil, nil
	}
	if c.PrivateKeyFile == "" || c.PublicKeyFile == "" {
		return nil, errors.New("fa: PrivateKeyFile and PublicKeyFile go together")
	}
	priv, err := sessionkey.LoadPrivateKey(c.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("PrivateKeyFile: %w", err)
	}
	pub, err := sessionkey.LoadPublicKey(c.PublicKeyFile)
	if err != nil {
		return nil, fmt.Errorf("PublicKeyFile: %w", err)
	}
	if !priv.PublicKey.Equal(pub) {
		return nil, fmt.Errorf("%w (%s, %s)", ErrKeyMismatch, c.PublicKeyFile, c.PrivateKeyFile)
	}
	if _, err := sessionkey.MarshalPublicKey(pub); err != nil {
		return nil, fmt.Errorf("PublicKeyFile %s: %w", c.PublicKeyFile, err)
	}
	return priv, nil
}
