// Command dynpkt encodes, decodes and verifies Mobile IPv4 registration
// messages (RFC 5944) as hex UDP payloads, for tests, debugging and
// interoperability checks against other implementations.
//
//	dynpkt encode request -home A -ha A -coa A -id HEX16 -lifetime N -flags LETTERS -spi N -key HEX -alg ALG
//	dynpkt encode reply   -home A -ha A -code N -id HEX16 -lifetime N -spi N -key HEX -alg ALG
//	dynpkt decode HEX
//	dynpkt verify HEX -spi N -key HEX -alg ALG
//
// Exit status: 0 on success, 1 when a message is malformed or does not
// verify, 2 on a usage error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // malformed message, failed verification
	exitUsage = 2 // bad command line
)

const usage = `usage:
  dynpkt encode request -home A -ha A -coa A [-id HEX16] [-lifetime N] [-flags LETTERS]
                        -spi N -key HEX [-alg hmac-md5|prefix-suffix]
  dynpkt encode reply   -home A -ha A [-code N] [-id HEX16] [-lifetime N]
                        -spi N -key HEX [-alg hmac-md5|prefix-suffix]
  dynpkt decode HEX
  dynpkt verify HEX -spi N -key HEX [-alg hmac-md5|prefix-suffix]
  dynpkt help

encode prints a Registration Request or Reply (RFC 5944) with a Mobile-Home
authenticator as the hex UDP payload. decode prints a message as one JSON
object. verify exits 0 when the message's Mobile-Home authenticator is right
for the security association, 1 otherwise.

  -home A        mobile node's home address
  -ha A          home agent address
  -coa A         care-of address (requests)
  -code N        reply code, 0-255 (replies; default 0, accepted)
  -id HEX16      identification, up to 16 hex digits (default: now as an NTP timestamp)
  -lifetime N    lifetime in seconds, 0-65535 (default 600; 65535 is infinite)
  -flags LETTERS request flags among S B D M G r T x (default none)
  -spi N         security parameter index, 0-4294967295 (0x prefix for hex)
  -key HEX       shared key in hex
  -alg ALG       hmac-md5 (default) or prefix-suffix

Exit status: 0 success, 1 malformed message or failed verification, 2 usage error.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run carries out one command line and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "encode":
		return encode(rest, stdout, stderr)
	case "decode":
		return decode(rest, stdin, stdout, stderr)
	case "verify":
		return verify(rest, stdin, stdout, stderr)
	default:
		return usageError(stderr, fmt.Errorf("unknown command %q", cmd))
	}
}

// usageError reports a command-line mistake and returns exitUsage.
func usageError(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "dynpkt: %v\nRun 'dynpkt help' for usage.\n", err)
	return exitUsage
}

// failure reports a malformed or unverifiable message and returns exitFail.
func failure(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "dynpkt: %v\n", err)
	return exitFail
}

// parseInterleaved parses fs's flags from args, which may have positional
// arguments before, between or after the flags, and returns the positional
// arguments. A "--" ends flag parsing.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// writes nothing itself: run prints errors once, in its own format.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// flagError turns a flag parsing error into an exit status: -h prints the
// usage and succeeds, anything else is a usage error.
func flagError(err error, stdout, stderr io.Writer) int {
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	return usageError(stderr, err)
}
