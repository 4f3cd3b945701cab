package perf

import (
	"bufio"
	"crypto/hmac"
	"crypto/md5"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/netip"

	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// FleetOptions describe the simulated mobiles.
type FleetOptions struct {
	// Mobiles is how many there are.
	Mobiles int
	// HomeAgent is their home agent; HomeNet holds it and every home
	// address (the first 256 addresses of HomeNet are left out).
	HomeAgent netip.Addr
	HomeNet   netip.Prefix
	// CareOfs are the care-of addresses the mobiles register, mobile i
	// the (i mod len)-th: one per foreign agent they are spread over.
	CareOfs []netip.Addr
	// Seed makes the keys; the same seed gives the same keys.
	Seed uint64
}

// Fleet is a set of simulated mobile nodes: distinct home addresses, each
// with its own Mobile-Home security association (HMAC-MD5, timestamp
// replay protection). It builds their Registration Requests and checks the
// replies.
type Fleet struct {
	opts    FleetOptions
	base    uint32 // home address of mobile 0, as a number
	mobiles []fleetMobile
}

type fleetMobile struct {
	home netip.Addr
	sa   mip.SecurityAssociation
	// send and recv compute the authenticators of requests and of replies.
	// They are separate because a late reply may be checked while the
	// next request is built.
	send, recv hash.Hash
}

// Home addresses start this far into HomeNet, clear of the network's own
// and the home agent's addresses.
const fleetOffset = 256

// NewFleet makes the mobiles.
func NewFleet(opts FleetOptions) (*Fleet, error) {
	switch {
	case opts.Mobiles < 1:
		return nil, errors.New("fleet: no mobiles")
	case !opts.HomeAgent.Is4() || !opts.HomeNet.Addr().Is4() || !opts.HomeNet.Contains(opts.HomeAgent):
		return nil, errors.New("fleet: the home network must be IPv4 and hold the home agent")
	case opts.HomeNet.Bits() > 32-1 || uint64(opts.Mobiles)+fleetOffset >= 1<<(32-opts.HomeNet.Bits()):
		return nil, fmt.Errorf("fleet: %s cannot hold %d mobiles", opts.HomeNet, opts.Mobiles)
	case len(opts.CareOfs) == 0:
		return nil, errors.New("fleet: no care-of address")
	}
	for _, c := range opts.CareOfs {
		if !c.Is4() || opts.HomeNet.Contains(c) {
			return nil, fmt.Errorf("fleet: care-of address %s must be IPv4 and outside %s", c, opts.HomeNet)
		}
	}
	f := &Fleet{opts: opts, base: addrNum(opts.HomeNet.Masked().Addr()) + fleetOffset}
	if ha := addrNum(opts.HomeAgent); ha >= f.base && ha < f.base+uint32(opts.Mobiles) {
		return nil, fmt.Errorf("fleet: the home agent %s lies among the home addresses", opts.HomeAgent)
	}
	r := rand.New(rand.NewPCG(opts.Seed, 0x64796e6d))
	f.mobiles = make([]fleetMobile, opts.Mobiles)
	for i := range f.mobiles {
		key := make([]byte, 16)
		for j := 0; j < len(key); j += 8 {
			binary.BigEndian.PutUint64(key[j:], r.Uint64())
		}
		f.mobiles[i] = fleetMobile{
			home: numAddr(f.base + uint32(i)),
			sa:   mip.SecurityAssociation{SPI: 0x10000 + uint32(i), Alg: mip.HMACMD5, Key: key},
			send: hmac.New(md5.New, key),
			recv: hmac.New(md5.New, key),
		}
	}
	return f, nil
}

// Len is the number of mobiles.
func (f *Fleet) Len() int { return len(f.mobiles) }

// Home returns mobile i's home address.
func (f *Fleet) Home(i int) netip.Addr { return f.mobiles[i].home }

// SA returns mobile i's Mobile-Home security association.
func (f *Fleet) SA(i int) mip.SecurityAssociation { return f.mobiles[i].sa }

// CareOf returns the care-of address mobile i registers.
func (f *Fleet) CareOf(i int) netip.Addr { return f.opts.CareOfs[i%len(f.opts.CareOfs)] }

// HomeAgent returns the mobiles' home agent.
func (f *Fleet) HomeAgent() netip.Addr { return f.opts.HomeAgent }

// index returns the mobile whose home address is home.
func (f *Fleet) index(home [4]byte) (int, bool) {
	i := binary.BigEndian.Uint32(home[:]) - f.base
	if i >= uint32(len(f.mobiles)) {
		return 0, false
	}
	return int(i), true
}

// WriteAuthorizedList writes the AUTHORIZEDLIST section of dynhad.conf
// (docs/CONFIGURATION.md) with every mobile's home address, SPI, algorithm
// and key.
func (f *Fleet) WriteAuthorizedList(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "AUTHORIZEDLIST_BEGIN")
	for _, m := range f.mobiles {
		fmt.Fprintf(bw, "%s %d %s %s timestamp\n", m.home, m.sa.SPI, m.sa.Alg, hex.EncodeToString(m.sa.Key))
	}
	fmt.Fprintln(bw, "AUTHORIZEDLIST_END")
	return bw.Flush()
}

// Layout of the messages the fleet sends and checks.
const (
	mhExtLen   = 2 + 4 + mip.AuthenticatorLen // type, length, SPI, authenticator
	requestLen = mip.RequestLen + mhExtLen
)

// AppendRequest appends mobile i's Registration Request for its care-of
// address: lifetime and identification as given, no flags, and the
// Mobile-Home authenticator (RFC 5944 section 3.5.2).
func (f *Fleet) AppendRequest(b []byte, i int, lifetime uint16, id uint64) []byte {
	m := &f.mobiles[i]
	start := len(b)
	b = append(b, byte(mip.MessageRequest), 0)
	b = binary.BigEndian.AppendUint16(b, lifetime)
	h, ha, coa := m.home.As4(), f.opts.HomeAgent.As4(), f.CareOf(i).As4()
	b = append(b, h[:]...)
	b = append(b, ha[:]...)
	b = append(b, coa[:]...)
	b = binary.BigEndian.AppendUint64(b, id)
	b = append(b, byte(mip.TypeMobileHome), 4+mip.AuthenticatorLen)
	b = binary.BigEndian.AppendUint32(b, m.sa.SPI)
	m.send.Reset()
	m.send.Write(b[start:])
	return m.send.Sum(b)
}

// Errors a checked reply can fail with.
var (
	ErrMalformed   = errors.New("malformed message")
	ErrUnknownHome = errors.New("home address of no simulated mobile")
	ErrAuth        = errors.New("missing or wrong Mobile-Home authenticator")
	ErrDenied      = errors.New("registration denied")
	ErrID          = errors.New("identification answers no outstanding request")
)

// checked is what check found in a valid message.
type checked struct {
	mobile int
	id     uint64
	code   mip.Code
}

// check parses b as a Registration Reply to one of the fleet's requests
// (or, with echo, as one of its requests sent back unchanged) and checks it:
// the fixed part, the home address and home agent, the extensions' bounds
// and the Mobile-Home authenticator computed with the mobile's key. A
// reply must also accept the registration (code 0 or 1). Whether the
// identification answers an outstanding request is the caller's check.
func (f *Fleet) check(b []byte, echo bool) (checked, error) {
	fixed, typ := mip.ReplyLen, mip.MessageReply
	if echo {
		fixed, typ = mip.RequestLen, mip.MessageRequest
	}
	if len(b) < fixed {
		return checked{}, fmt.Errorf("%w: %d bytes, the fixed part is %d", ErrMalformed, len(b), fixed)
	}
	if mip.MessageType(b[0]) != typ {
		return checked{}, fmt.Errorf("%w: message type %d, want %d", ErrMalformed, b[0], typ)
	}
	i, ok := f.index([4]byte(b[4:8]))
	if !ok {
		return checked{}, fmt.Errorf("%w: %s", ErrUnknownHome, netip.AddrFrom4([4]byte(b[4:8])))
	}
	m := &f.mobiles[i]
	if netip.AddrFrom4([4]byte(b[8:12])) != f.opts.HomeAgent {
		return checked{}, fmt.Errorf("%w: home agent %s", ErrMalformed, netip.AddrFrom4([4]byte(b[8:12])))
	}
	c := checked{mobile: i, id: binary.BigEndian.Uint64(b[fixed-8 : fixed]), code: mip.Code(b[1])}
	authed := false
	for off := fixed; off < len(b); {
		if len(b)-off < 2 || len(b)-off-2 < int(b[off+1]) {
			return c, fmt.Errorf("%w: extension at offset %d overruns the message", ErrMalformed, off)
		}
		t, n := mip.Type(b[off]), int(b[off+1])
		if t == mip.TypeMobileHome {
			if n != 4+mip.AuthenticatorLen || binary.BigEndian.Uint32(b[off+2:]) != m.sa.SPI {
				return c, fmt.Errorf("%w: SPI or length", ErrAuth)
			}
			var sum [md5.Size]byte
			m.recv.Reset()
			m.recv.Write(b[:off+6])
			if subtle.ConstantTimeCompare(m.recv.Sum(sum[:0]), b[off+6:off+2+n]) != 1 {
				return c, fmt.Errorf("%w: home %s", ErrAuth, m.home)
			}
			authed = true
			break
		}
		off += 2 + n
	}
	if !authed {
		return c, fmt.Errorf("%w: none in the message from home %s", ErrAuth, m.home)
	}
	if !echo && c.code != mip.CodeAccepted && c.code != mip.CodeAcceptedNoSimultaneous {
		return c, fmt.Errorf("%w: code %d (%s) for %s", ErrDenied, uint8(c.code), c.code, m.home)
	}
	return c, nil
}

func addrNum(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func numAddr(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}
