package main

import (
	"fmt"
	"io"

	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// verify implements `dynpkt verify HEX -spi N -key HEX -alg ALG`.
func verify(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var sa saFlags
	fs := newFlagSet("verify")
	sa.register(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err, stdout, stderr)
	}
	assoc, err := sa.association()
	if err != nil {
		return usageError(stderr, fmt.Errorf("verify: %v", err))
	}
	b, status := readMessage("verify", pos, stdin, stderr)
	if status != exitOK {
		return status
	}
	m, err := mip.Parse(b)
	if err != nil {
		return failure(stderr, err)
	}
	switch m.MessageType() {
	case mip.MessageRequest:
		err = mip.VerifyRequest(b, mip.TypeMobileHome, assoc)
	default:
		err = mip.VerifyReply(b, mip.TypeMobileHome, assoc)
	}
	if err != nil {
		return failure(stderr, err)
	}
	fmt.Fprintf(stdout, "ok: %s Mobile-Home authenticator verifies (SPI %d, %s)\n", m.MessageType(), assoc.SPI, assoc.Alg)
	return exitOK
}
