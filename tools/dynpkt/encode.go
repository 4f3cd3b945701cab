package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// defaultLifetime is the lifetime encode asks for when -lifetime is not
// given: the mobile node's default.
const defaultLifetime = 600

// encode implements `dynpkt encode request|reply ...`.
func encode(args []string, stdout, stderr io.Writer) int {
	var (
		home, ha, coa netip.Addr
		id            uint64
		idSet         bool
		lifetime      uint64 = defaultLifetime
		code          uint64
		flags         mip.Flags
		sa            saFlags
	)
	fs := newFlagSet("encode")
	addrFlag(fs, "home", "home address", &home)
	addrFlag(fs, "ha", "home agent address", &ha)
	addrFlag(fs, "coa", "care-of address", &coa)
	fs.Func("id", "identification in hex", func(v string) error {
		n, err := parseID(v)
		id, idSet = n, true
		return err
	})
	uintFlag(fs, "lifetime", "lifetime in seconds", 16, func(n uint64) { lifetime = n })
	uintFlag(fs, "code", "reply code", 8, func(n uint64) { code = n })
	fs.Func("flags", "request flags", func(v string) error {
		f, err := mip.ParseFlags(v)
		if err != nil {
			return fmt.Errorf("%q: letters are S B D M G r T x", v)
		}
		flags = f
		return nil
	})
	sa.register(fs)

	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err, stdout, stderr)
	}
	if len(pos) != 1 || (pos[0] != "request" && pos[0] != "reply") {
		return usageError(stderr, errors.New("encode: want 'encode request' or 'encode reply'"))
	}
	kind := pos[0]
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	required := []string{"home", "ha"}
	notFor := []string{"code"}
	if kind == "reply" {
		notFor = []string{"coa", "flags"}
	} else {
		required = append(required, "coa")
	}
	for _, n := range required {
		if !set[n] {
			return usageError(stderr, fmt.Errorf("encode %s: -%s is required", kind, n))
		}
	}
	for _, n := range notFor {
		if set[n] {
			return usageError(stderr, fmt.Errorf("encode %s: -%s does not apply", kind, n))
		}
	}
	assoc, err := sa.association()
	if err != nil {
		return usageError(stderr, fmt.Errorf("encode %s: %v", kind, err))
	}
	if !idSet {
		id = mip.TimestampID(time.Now())
	}

	var m interface {
		Authenticate(mip.Type, mip.SecurityAssociation) error
		Marshal() ([]byte, error)
	}
	if kind == "request" {
		m = &mip.Request{Flags: flags, Lifetime: uint16(lifetime), Home: home, HomeAgent: ha, CareOf: coa, ID: id}
	} else {
		m = &mip.Reply{Code: mip.Code(code), Lifetime: uint16(lifetime), Home: home, HomeAgent: ha, ID: id}
	}
	if err := m.Authenticate(mip.TypeMobileHome, assoc); err != nil {
		return failure(stderr, err)
	}
	b, err := m.Marshal()
	if err != nil {
		return failure(stderr, err)
	}
	fmt.Fprintf(stdout, "%x\n", b)
	return exitOK
}
