package tunnel

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// MaxNameLen is the longest network device name Linux accepts (IFNAMSIZ - 1).
const MaxNameLen = 15

// DefaultPrefix is the device name prefix of a zero Table.
const DefaultPrefix = "dyn"

// Errors returned by the table, wrapped with the tunnel or value concerned.
var (
	// ErrInvalid reports endpoints or a name prefix the table cannot use.
	ErrInvalid = errors.New("tunnel: invalid")
	// ErrUnknown reports a release of a tunnel the table does not hold.
	ErrUnknown = errors.New("tunnel: unknown tunnel")
	// ErrExhausted reports that every ID whose device name fits in
	// MaxNameLen bytes has been handed out.
	ErrExhausted = errors.New("tunnel: no tunnel IDs left")
)

// ID identifies a tunnel in the control API. IDs start at 1; 0 is never a
// tunnel, so a daemon may use it to mean "no tunnel".
type ID uint32

// Endpoints are a tunnel's outer addresses: packets leave with source Local
// and destination Remote.
type Endpoints struct {
	Local  netip.Addr
	Remote netip.Addr
}

func (e Endpoints) String() string { return e.Local.String() + "->" + e.Remote.String() }

// validate reports whether an IP-in-IP tunnel can join the endpoints.
func (e Endpoints) validate() error {
	switch {
	case !e.Local.Is4() || !e.Remote.Is4():
		return fmt.Errorf("%w: tunnel %v needs IPv4 endpoints", ErrInvalid, e)
	case e.Remote.IsUnspecified():
		return fmt.Errorf("%w: tunnel %v has no remote endpoint", ErrInvalid, e)
	case e.Local == e.Remote:
		return fmt.Errorf("%w: tunnel %v loops back to itself", ErrInvalid, e)
	}
	return nil
}

// Tunnel is one tunnel as the table holds it.
type Tunnel struct {
	ID   ID
	Name string // device name: the table's prefix and the ID
	Endpoints
	// Refs counts the users of the tunnel. It is at least 1 while the
	// table holds the tunnel in use, 0 while it lingers idle
	// (ReleaseLinger), and 0 in the Tunnel that Release returns when the
	// last user let go.
	Refs int
	// Idle is, for an idle tunnel, when its linger ends and Expire
	// forgets it; zero while the tunnel is in use.
	Idle time.Time
}

// checkPrefix reports whether prefix can start device names, and returns
// the largest ID whose name still fits in MaxNameLen bytes.
func checkPrefix(prefix string) (ID, error) {
	switch {
	case prefix == "":
		return 0, fmt.Errorf("%w: empty device name prefix", ErrInvalid)
	case len(prefix) >= MaxNameLen:
		return 0, fmt.Errorf("%w: device name prefix %q leaves no room for an ID in %d bytes", ErrInvalid, prefix, MaxNameLen)
	case strings.ContainsFunc(prefix, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '/' || r == ':' || r == '%' }):
		return 0, fmt.Errorf("%w: device name prefix %q: only printable ASCII other than / : %% and space", ErrInvalid, prefix)
	}
	limit := uint64(1)
	for range MaxNameLen - len(prefix) {
		limit *= 10
		if limit > 1<<32 {
			break
		}
	}
	return ID(min(limit-1, 1<<32-1)), nil
}

func name(prefix string, id ID) string {
	return prefix + strconv.FormatUint(uint64(id), 10)
}
