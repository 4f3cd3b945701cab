// Command dynkeygen generates the RSA key pair of a foreign agent. In
// hierarchical registration the foreign agent adds its public key to the
// Registration Request, and the home agent encrypts the session key for it
// with that key (package libdynamics/sessionkey).
//
//	dynkeygen -out PREFIX [-bits 3072] [-force]
//
// writes PREFIX.key (PKCS#8 PEM, mode 0600) and PREFIX.pub (PKIX PEM, mode
// 0644) and prints the public key's SHA-256 fingerprint. It refuses to
// replace either file unless -force is given.
//
// Exit status: 0 on success, 1 when the keys cannot be generated or
// written, 2 on a usage error.
package main

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/dynamics-go/dynamics/libdynamics/sessionkey"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // generation or file failure, files in the way
	exitUsage = 2 // bad command line
)

const defaultBits = 3072

var usage = fmt.Sprintf(`usage: dynkeygen -out PREFIX [-bits N] [-force]

Generates a foreign agent's RSA key pair for hierarchical registration:
PREFIX.key holds the private key (PKCS#8 PEM, mode 0600) and PREFIX.pub the
public key (PKIX PEM, mode 0644). Prints the public key's SHA-256
fingerprint.

  -out PREFIX  path prefix of the two files (required)
  -bits N      RSA modulus size, %d to %d (default %d)
  -force       replace existing files

Exit status: 0 success, 1 failure, 2 usage error.
`, sessionkey.MinBits, sessionkey.MaxBits, defaultBits)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options is a parsed command line.
type options struct {
	prefix string
	bits   int
	force  bool
}

// run carries out one command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "dynkeygen: %v\nRun 'dynkeygen -h' for usage.\n", err)
		return exitUsage
	}
	if err := generate(opts, stdout); err != nil {
		fmt.Fprintf(stderr, "dynkeygen: %v\n", err)
		return exitFail
	}
	return exitOK
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("dynkeygen", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o options
	fs.StringVar(&o.prefix, "out", "", "")
	fs.IntVar(&o.bits, "bits", defaultBits, "")
	fs.BoolVar(&o.force, "force", false, "")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.prefix == "":
		return o, errors.New("-out PREFIX is required")
	case o.bits < sessionkey.MinBits || o.bits > sessionkey.MaxBits:
		return o, fmt.Errorf("-bits %d: want %d to %d", o.bits, sessionkey.MinBits, sessionkey.MaxBits)
	}
	return o, nil
}

// generate makes the key pair and writes both files. Without force it
// checks both paths before the (slow) generation and writes nothing if
// either exists; if the public key cannot be written after the private
// one was, it removes the private key it created.
func generate(o options, stdout io.Writer) error {
	privPath, pubPath := o.prefix+".key", o.prefix+".pub"
	if !o.force {
		for _, p := range []string{privPath, pubPath} {
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("%s exists; not overwriting it without -force", p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	priv, err := rsa.GenerateKey(rand.Reader, o.bits)
	if err != nil {
		return fmt.Errorf("generating a %d-bit RSA key: %w", o.bits, err)
	}
	fp, err := sessionkey.Fingerprint(&priv.PublicKey)
	if err != nil {
		return err
	}
	if err := sessionkey.WritePrivateKey(privPath, priv, o.force); err != nil {
		return err
	}
	if err := sessionkey.WritePublicKey(pubPath, &priv.PublicKey, o.force); err != nil {
		if !o.force {
			os.Remove(privPath)
		}
		return err
	}
	fmt.Fprintf(stdout, "private key: %s\npublic key:  %s\nfingerprint: %s\n", privPath, pubPath, fp)
	return nil
}
