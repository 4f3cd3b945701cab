package e2e

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/netnstest"
	"github.com/dynamics-go/dynamics/internal/testbed"
	"github.com/dynamics-go/dynamics/internal/tsharktest"
	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// forgedRequest returns an IPv4/UDP datagram from agentAddr port 434 to
// the home agent's port 434 carrying a registration request for the
// mobile's home address at care-of address agentAddr, as agent (fa1, gfa)
// would relay it: a fresh timestamp, the Mobile-Home authenticator with
// the mobile's key and the Foreign-Home one with the agent's.
func forgedRequest(agent string, agentAddr netip.Addr) ([]byte, error) {
	mnKey, err := hex.DecodeString(testbed.MNHAKey)
	if err != nil {
		return nil, err
	}
	spi, key, ok := testbed.ForeignHomeSA(agent)
	if !ok {
		return nil, fmt.Errorf("the bed gives %s no Foreign-Home security association", agent)
	}
	faKey, err := hex.DecodeString(key)
	if err != nil {
		return nil, err
	}
	ha := netip.MustParseAddr(testbed.HAAddr)
	req := &mip.Request{
		Lifetime:  60,
		Home:      netip.MustParseAddr(testbed.HomeAddr),
		HomeAgent: ha,
		CareOf:    agentAddr,
		ID:        mip.TimestampID(time.Now()),
	}
	if err := req.Authenticate(mip.TypeMobileHome, mip.SecurityAssociation{SPI: testbed.MNSPI, Alg: mip.HMACMD5, Key: mnKey}); err != nil {
		return nil, err
	}
	if err := req.Authenticate(mip.TypeForeignHome, mip.SecurityAssociation{SPI: spi, Alg: mip.HMACMD5, Key: faKey}); err != nil {
		return nil, err
	}
	payload, err := req.Marshal()
	if err != nil {
		return nil, err
	}
	return tsharktest.UDP(agentAddr, ha, 434, 434, payload), nil
}

// sendRaw sends one whole IPv4 packet, source address as written, from a
// raw socket in the namespace ns.
func sendRaw(t *testing.T, ns string, pkt []byte) {
	t.Helper()
	if len(pkt) < 20 {
		t.Fatalf("a packet of %d bytes", len(pkt))
	}
	netnstest.InNS(t, ns, func() error {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
		if err != nil {
			return fmt.Errorf("raw socket: %w", err)
		}
		defer syscall.Close(fd)
		dst := &syscall.SockaddrInet4{Addr: [4]byte(pkt[16:20])}
		if err := syscall.Sendto(fd, pkt, 0, dst); err != nil {
			return fmt.Errorf("sending the forged datagram: %w", err)
		}
		return nil
	})
}

func readFile(name string) (string, error) {
	b, err := os.ReadFile(name)
	return string(b), err
}
