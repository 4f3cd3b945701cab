package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// saFlags are the security association flags of encode and verify.
type saFlags struct {
	spi    uint32
	spiSet bool
	key    []byte
	alg    mip.Algorithm
}

func (s *saFlags) register(fs *flag.FlagSet) {
	fs.Func("spi", "security parameter index", func(v string) error {
		n, err := parseUint(v, 0, 32)
		if err != nil {
			return err
		}
		s.spi, s.spiSet = uint32(n), true
		return nil
	})
	fs.Func("key", "shared key in hex", func(v string) error {
		k, err := parseHex(v)
		if err != nil {
			return err
		}
		if len(k) == 0 {
			return errors.New("empty key")
		}
		s.key = k
		return nil
	})
	fs.Func("alg", "hmac-md5 or prefix-suffix", func(v string) error {
		a, err := mip.ParseAlgorithm(v)
		if err != nil {
			return fmt.Errorf("want hmac-md5 or prefix-suffix")
		}
		s.alg = a
		return nil
	})
}

// association returns the security association, or an error naming the
// flag that is missing.
func (s *saFlags) association() (mip.SecurityAssociation, error) {
	if !s.spiSet {
		return mip.SecurityAssociation{}, errors.New("-spi is required")
	}
	if s.key == nil {
		return mip.SecurityAssociation{}, errors.New("-key is required")
	}
	return mip.SecurityAssociation{SPI: s.spi, Alg: s.alg, Key: s.key}, nil
}

// addrFlag registers an IPv4 address flag.
func addrFlag(fs *flag.FlagSet, name, help string, a *netip.Addr) {
	fs.Func(name, help, func(v string) error {
		p, err := netip.ParseAddr(v)
		if err != nil || !p.Is4() {
			return fmt.Errorf("%q is not an IPv4 address", v)
		}
		*a = p
		return nil
	})
}

// uintFlag registers a decimal (or 0x hex) flag of at most bits bits.
func uintFlag(fs *flag.FlagSet, name, help string, bits int, set func(uint64)) {
	fs.Func(name, help, func(v string) error {
		n, err := parseUint(v, 0, bits)
		if err != nil {
			return err
		}
		set(n)
		return nil
	})
}

// parseUint parses s in base (0: decimal, or 0x hex) as an unsigned number
// of at most bits bits, with a message fit for a flag error.
func parseUint(s string, base, bits int) (uint64, error) {
	n, err := strconv.ParseUint(s, base, bits)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%q is out of range (at most %d)", s, uint64(1)<<bits-1)
		}
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return n, nil
}

// parseID parses an identification of up to 16 hex digits.
func parseID(s string) (uint64, error) {
	d := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if d == "" || len(d) > 16 {
		return 0, fmt.Errorf("%q is not 1 to 16 hex digits", s)
	}
	n, err := strconv.ParseUint(d, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not 1 to 16 hex digits", s)
	}
	return n, nil
}

// parseHex decodes hex, allowing a 0x prefix and white space or colons
// between digits.
func parseHex(s string) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0x"), "0X")
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r', ':':
			return -1
		}
		return r
	}, s)
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not hex: %v", err)
	}
	return b, nil
}
