package mn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// ErrNoAnswer is returned by ARPProber when the target does not answer.
var ErrNoAnswer = errors.New("mn: no ARP answer")

// ARPProber probes with ARP requests on a real interface (RFC 826), asking
// from the address given, which must be configured there.
type ARPProber struct {
	Interface string
	// Tries is how many requests are sent (default 3), Wait how long each
	// waits for the answer (default 300ms); the context may end it sooner.
	Tries int
	Wait  time.Duration
}

var _ Prober = ARPProber{}

// Probe implements Prober.
func (p ARPProber) Probe(ctx context.Context, src, target netip.Addr) (net.HardwareAddr, error) {
	tries, wait := p.Tries, p.Wait
	if tries <= 0 {
		tries = 3
	}
	if wait <= 0 {
		wait = 300 * time.Millisecond
	}
	ifi, err := net.InterfaceByName(p.Interface)
	if err != nil {
		return nil, fmt.Errorf("mn: ARP probe: %w", err)
	}
	c, err := arp.Dial(ifi)
	if err != nil {
		return nil, fmt.Errorf("mn: ARP probe on %s: %w", p.Interface, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	req, err := arp.NewPacket(arp.OperationRequest, ifi.HardwareAddr, src, ethernet.Broadcast, target)
	if err != nil {
		return nil, fmt.Errorf("mn: ARP probe: %w", err)
	}
	for range tries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := c.WriteTo(req, ethernet.Broadcast); err != nil {
			return nil, fmt.Errorf("mn: ARP probe on %s: %w", p.Interface, err)
		}
		deadline := time.Now().Add(wait)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		if err := c.SetReadDeadline(deadline); err != nil {
			return nil, err
		}
		for time.Now().Before(deadline) && ctx.Err() == nil {
			pkt, _, err := c.Read()
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				continue // not an IPv4-over-Ethernet ARP packet
			}
			if pkt.Operation == arp.OperationReply && pkt.SenderIP == target {
				return pkt.SenderHardwareAddr, nil
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w from %s on %s", ErrNoAnswer, target, p.Interface)
}
