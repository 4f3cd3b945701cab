package ike

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// SAInfo describes one IKE SA.
type SAInfo struct {
	Peer      string
	State     SAState
	Initiator bool // this side is the original initiator
	// SPIi and SPIr are the SA's SPIs; LocalSPI is this side's, the one
	// the operations take.
	SPIi, SPIr, LocalSPI ikev2.SPI
	Local, Remote        netip.AddrPort
	// Encap: IKE and ESP run over port 4500 (RFC 3948).
	Encap               bool
	NATLocal, NATRemote bool
	MOBIKE              bool
	// MOBIKEVersion is the SA's mobility version: 0 none, 1 MOBIKE (RFC
	// 4555), 2 MOBIKE-X. MOBIKE is MOBIKEVersion >= 1.
	MOBIKEVersion uint8
	Proposal      string
	// PeerAddresses are the peer's additional addresses (MOBIKE).
	PeerAddresses []netip.Addr
	// Addresses are the peer's addresses of the IKE SA besides Remote,
	// added with ADD_SA_ADDRESS (MOBIKE-X), best first.
	Addresses   []netip.Addr
	Established time.Time
	Children    []ChildInfo
}

// ChildInfo describes one child SA.
type ChildInfo struct {
	// InSPI is this side's SPI (the peer sends with it), OutSPI the
	// peer's.
	InSPI, OutSPI uint32
	// ReqID ties the child to its ESP policies; a rekeyed child keeps it.
	ReqID             uint32
	Mode              Mode
	Proposal          string
	LocalTS, RemoteTS []Selector
	State             ChildState
	Installed         time.Time
	// Local and Remote are the child SA's current outer addresses (its
	// IKE SA's unless MOBIKE-X moved it on its own).
	Local, Remote netip.Addr
	// PeerAddresses are the peer's alternative addresses of the child SA
	// (ADD_SA_ADDRESS), best first.
	PeerAddresses []netip.Addr
}

// State is the engine's state as Do hands it to a function in the loop.
type State struct {
	e *Engine
}

// SAs lists the IKE SAs (closed ones excepted), by local SPI.
func (st *State) SAs() []SAInfo {
	var out []SAInfo
	for _, sa := range st.e.sasList() {
		if sa.state == StateClosed {
			continue
		}
		out = append(out, sa.info())
	}
	return out
}

// Stats returns the engine's counters.
func (st *State) Stats() Stats { return st.e.stats }

// call runs fn in the loop and waits for it to report, through its
// argument, the end of the operation it starts.
func call[T any](ctx context.Context, e *Engine, fn func(done func(T, error)) error) (T, error) {
	type res struct {
		v   T
		err error
	}
	ch := make(chan res, 1)
	var zero T
	var startErr error
	err := e.Do(ctx, func(*State) {
		reported := false
		startErr = fn(func(v T, err error) {
			if !reported {
				reported = true
				ch <- res{v, err}
			}
		})
	})
	if err != nil {
		return zero, err
	}
	if startErr != nil {
		return zero, startErr
	}
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-e.stopped:
		return zero, ErrStopped
	}
}

// Initiate brings up an IKE SA with the named peer and its first child SA,
// and returns when both are up or the attempt failed. When the IKE SA comes
// up but the child SA is refused, the SA's description comes back with the
// child's error.
func (e *Engine) Initiate(ctx context.Context, peer string) (SAInfo, error) {
	return call(ctx, e, func(done func(SAInfo, error)) error {
		p := e.peerByName(peer)
		if p == nil {
			return fmt.Errorf("%w: %q", ErrNoPeer, peer)
		}
		return e.initiate(p, func(r result) { done(r.info, r.err) })
	})
}

// SAs lists the IKE SAs.
func (e *Engine) SAs(ctx context.Context) ([]SAInfo, error) {
	var out []SAInfo
	err := e.Do(ctx, func(st *State) { out = st.SAs() })
	return out, err
}

// Stats returns the engine's counters.
func (e *Engine) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := e.Do(ctx, func(st *State) { s = st.Stats() })
	return s, err
}

// established finds the established IKE SA with local SPI spi.
func (e *Engine) established(spi ikev2.SPI) (*ikeSA, error) {
	sa := e.sas[spi]
	if sa == nil || sa.state == StateClosed {
		return nil, fmt.Errorf("%w: %s", ErrNoSA, spi)
	}
	if sa.state != StateEstablished {
		return nil, fmt.Errorf("%w: %s is %s", ErrNoSA, spi, sa.state)
	}
	return sa, nil
}

// CreateChild negotiates another child SA with the IKE SA's peer
// (CREATE_CHILD_SA, RFC 7296 section 1.3.1).
func (e *Engine) CreateChild(ctx context.Context, spi ikev2.SPI) (ChildInfo, error) {
	return call(ctx, e, func(done func(ChildInfo, error)) error {
		sa, err := e.established(spi)
		if err != nil {
			return err
		}
		sa.enqueue(sa.createChildTask(nil, done))
		return nil
	})
}

// RekeyChild replaces the child SA whose inbound SPI is inSPI (RFC 7296
// section 1.3.3) and deletes the old one; it returns the new child.
func (e *Engine) RekeyChild(ctx context.Context, spi ikev2.SPI, inSPI uint32) (ChildInfo, error) {
	return call(ctx, e, func(done func(ChildInfo, error)) error {
		sa, err := e.established(spi)
		if err != nil {
			return err
		}
		c := sa.childByIn(inSPI)
		if c == nil || c.state != ChildInstalled {
			return fmt.Errorf("%w: %08x", ErrNoChild, inSPI)
		}
		sa.enqueue(sa.rekeyChildTask(c, done))
		return nil
	})
}

// RekeyIKE replaces the IKE SA (RFC 7296 section 1.3.2), moving its child
// SAs to the new one, and deletes the old; it returns the new SA.
func (e *Engine) RekeyIKE(ctx context.Context, spi ikev2.SPI) (SAInfo, error) {
	return call(ctx, e, func(done func(SAInfo, error)) error {
		sa, err := e.established(spi)
		if err != nil {
			return err
		}
		sa.enqueue(sa.rekeyIKETask(done))
		return nil
	})
}

// DeleteChild deletes one child SA on both sides.
func (e *Engine) DeleteChild(ctx context.Context, spi ikev2.SPI, inSPI uint32) error {
	_, err := call(ctx, e, func(done func(struct{}, error)) error {
		sa, err := e.established(spi)
		if err != nil {
			return err
		}
		c := sa.childByIn(inSPI)
		if c == nil {
			return fmt.Errorf("%w: %08x", ErrNoChild, inSPI)
		}
		sa.enqueue(sa.deleteChildTask(c, func(err error) { done(struct{}{}, err) }))
		return nil
	})
	return err
}

// Delete deletes the IKE SA and its child SAs on both sides (RFC 7296
// section 1.4.1). Without an answer the SA is removed anyway.
func (e *Engine) Delete(ctx context.Context, spi ikev2.SPI) error {
	_, err := call(ctx, e, func(done func(struct{}, error)) error {
		sa, err := e.established(spi)
		if err != nil {
			return err
		}
		sa.enqueue(sa.deleteTask(func(err error) { done(struct{}{}, err) }))
		return nil
	})
	return err
}

// Liveness checks that the peer answers (an empty INFORMATIONAL); an
// unanswered check closes the IKE SA.
func (e *Engine) Liveness(ctx context.Context, spi ikev2.SPI) error {
	_, err := call(ctx, e, func(done func(struct{}, error)) error {
		sa, err := e.established(spi)
		if err != nil {
			return err
		}
		sa.enqueue(sa.livenessTask(func(err error) { done(struct{}{}, err) }))
		return nil
	})
	return err
}

// Move moves an IKE SA this side initiated, and its child SAs, to the
// local address local with MOBIKE (RFC 4555 section 3.5). A socket bound
// to local (the NAT-T one when the SA runs on port 4500) must have been
// added first.
func (e *Engine) Move(ctx context.Context, spi ikev2.SPI, local netip.Addr) error {
	_, err := call(ctx, e, func(done func(struct{}, error)) error {
		sa, err := e.established(spi)
		if err != nil {
			return err
		}
		sa.enqueue(sa.moveTask(local, func(err error) { done(struct{}{}, err) }))
		return nil
	})
	return err
}

// AddSocket adds a socket (for example on an address the host just got)
// and starts reading it; its Mux, if any, is given to the ESP data path
// (see Options.ESP).
func (e *Engine) AddSocket(ctx context.Context, s Socket) error {
	sk, err := newSock(s)
	if err != nil {
		return err
	}
	var addErr error
	err = e.Do(ctx, func(*State) {
		for _, o := range e.socks {
			if !o.done && o.local == sk.local {
				addErr = fmt.Errorf("%w: a socket on %s exists", ErrConfig, sk.local)
				return
			}
		}
		if addErr = e.addMux(sk); addErr != nil {
			return
		}
		e.socks = append(e.socks, sk)
		e.startReader(sk)
	})
	if err != nil {
		return err
	}
	return addErr
}

// RemoveSocket stops using the socket bound to local (an address the host
// lost); the engine stops reading it but does not close it, and the ESP
// data path stops using its Mux.
func (e *Engine) RemoveSocket(ctx context.Context, local netip.AddrPort) error {
	return e.Do(ctx, func(*State) {
		for i, s := range e.socks {
			if s.local == local {
				s.done = true
				s.removed.Store(true)
				e.socks = append(e.socks[:i], e.socks[i+1:]...)
				e.removeMux(s)
				_ = s.conn.SetReadDeadline(time.Unix(1, 0))
				return
			}
		}
	})
}
