package sessionkey

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// PEM block types written and read.
const (
	pemPrivatePKCS8 = "PRIVATE KEY"
	pemPrivatePKCS1 = "RSA PRIVATE KEY"
	pemPublicPKIX   = "PUBLIC KEY"
	pemPublicPKCS1  = "RSA PUBLIC KEY"
)

// File modes of written key files.
const (
	PrivateKeyMode fs.FileMode = 0o600
	PublicKeyMode  fs.FileMode = 0o644
)

// WritePrivateKey writes priv to path as a PKCS#8 PEM file of mode 0600.
// Unless overwrite is set it refuses an existing path with an error
// wrapping fs.ErrExist; with overwrite it replaces the file atomically. The
// file never exists with a wider mode or with partial contents.
func WritePrivateKey(path string, priv *rsa.PrivateKey, overwrite bool) error {
	if priv == nil {
		return fmt.Errorf("sessionkey: write private key %s: %w: nil key", path, ErrInvalid)
	}
	if err := checkPublic(&priv.PublicKey); err != nil {
		return fmt.Errorf("sessionkey: write private key %s: %w", path, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("sessionkey: write private key %s: %w", path, err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: pemPrivatePKCS8, Bytes: der})
	if err := writeFile(path, data, PrivateKeyMode, overwrite); err != nil {
		return fmt.Errorf("sessionkey: write private key %s: %w", path, err)
	}
	return nil
}

// WritePublicKey writes pub to path as a PKIX PEM file of mode 0644, with
// the same overwrite rule as WritePrivateKey.
func WritePublicKey(path string, pub *rsa.PublicKey, overwrite bool) error {
	der, err := MarshalPublicKey(pub)
	if err != nil {
		return fmt.Errorf("sessionkey: write public key %s: %w", path, err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: pemPublicPKIX, Bytes: der})
	if err := writeFile(path, data, PublicKeyMode, overwrite); err != nil {
		return fmt.Errorf("sessionkey: write public key %s: %w", path, err)
	}
	return nil
}

// writeFile writes data to path with exactly the given mode (whatever the
// umask). Without overwrite the path is created exclusively, so an existing
// file or symbolic link is never touched; with overwrite the data goes to a
// temporary file in the same directory that is renamed over path.
func writeFile(path string, data []byte, mode fs.FileMode, overwrite bool) error {
	var f *os.File
	var err error
	if overwrite {
		f, err = os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	} else {
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode&0o600)
	}
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w (refusing to overwrite)", err)
		}
		return err
	}
	name := f.Name()
	err = f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && overwrite {
		err = os.Rename(name, path)
	}
	if err != nil {
		os.Remove(name)
		return err
	}
	return nil
}

// LoadPrivateKey reads an RSA private key from a PEM file: PKCS#8
// ("PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY"). Errors name the file.
func LoadPrivateKey(path string) (*rsa.PrivateKey, error) {
	priv, err := loadPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("sessionkey: load private key %s: %w", path, err)
	}
	return priv, nil
}

func loadPrivate(path string) (*rsa.PrivateKey, error) {
	block, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	var key any
	switch block.Type {
	case pemPrivatePKCS8:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case pemPrivatePKCS1:
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%w: PEM block %q, want %q", ErrKeyFormat, block.Type, pemPrivatePKCS8)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFormat, err)
	}
	priv, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %T, want RSA", ErrKeyFormat, key)
	}
	if err := checkPublic(&priv.PublicKey); err != nil {
		return nil, err
	}
	if err := priv.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFormat, err)
	}
	return priv, nil
}

// LoadPublicKey reads an RSA public key from a PEM file: PKIX ("PUBLIC
// KEY") or PKCS#1 ("RSA PUBLIC KEY"). Errors name the file.
func LoadPublicKey(path string) (*rsa.PublicKey, error) {
	pub, err := loadPublic(path)
	if err != nil {
		return nil, fmt.Errorf("sessionkey: load public key %s: %w", path, err)
	}
	return pub, nil
}

func loadPublic(path string) (*rsa.PublicKey, error) {
	block, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	switch block.Type {
	case pemPublicPKIX:
		return ParsePublicKey(block.Bytes)
	case pemPublicPKCS1:
		pub, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrKeyFormat, err)
		}
		if err := checkPublic(pub); err != nil {
			return nil, err
		}
		return pub, nil
	default:
		return nil, fmt.Errorf("%w: PEM block %q, want %q", ErrKeyFormat, block.Type, pemPublicPKIX)
	}
}

// maxKeyFile bounds what the loaders read: a 16384-bit private key in PEM
// is under 13 KiB.
const maxKeyFile = 64 << 10

// readPEM returns the first PEM block of the file at path.
func readPEM(path string) (*pem.Block, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%w: file larger than %d octets", ErrKeyFormat, maxKeyFile)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrKeyFormat)
	}
	if len(block.Headers) != 0 {
		return nil, fmt.Errorf("%w: encrypted or annotated PEM blocks are not supported", ErrKeyFormat)
	}
	return block, nil
}
