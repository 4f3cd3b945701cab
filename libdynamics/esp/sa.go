package esp

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// SAStats counts one SA's packets since it was made.
type SAStats struct {
	// Packets and Bytes count packets sealed (outbound) or opened and
	// accepted (inbound), and their payload octets.
	Packets, Bytes uint64
	// Seq is the last sequence number sent (outbound) or the highest
	// accepted (inbound).
	Seq uint32
	// Replay counts inbound packets refused by the anti-replay window:
	// replayed or too old.
	Replay uint64
	// Auth counts inbound packets whose ICV did not verify.
	Auth uint64
	// Malformed counts inbound packets too short, of another SPI, or with
	// bad padding.
	Malformed uint64
	// Overflow counts outbound packets refused because the sequence
	// numbers are used up.
	Overflow uint64
}

// Sealer seals packets for one outbound SA. It is safe for concurrent use.
type Sealer struct {
	spi uint32
	t   transform
	// seq is the last sequence number used; it counts past 2^32-1 only to
	// refuse every later packet.
	seq                      atomic.Uint64
	packets, bytes, overflow atomic.Uint64
	mode                     Mode
	addrs                    atomic.Pointer[SA] // the SA with its current addresses
}

// NewSealer makes the sealing side of sa, whose Direction must be
// Outbound. Its first packet carries sequence number 1.
func NewSealer(sa SA) (*Sealer, error) {
	if sa.Direction != Outbound {
		return nil, fmt.Errorf("%w: NewSealer of an %s SA", ErrInvalid, sa.Direction)
	}
	if err := sa.Check(); err != nil {
		return nil, err
	}
	t, err := newTransform(sa.Algorithm, sa.Keys)
	if err != nil {
		return nil, err
	}
	o := &Sealer{spi: sa.SPI, t: t, mode: sa.Mode}
	o.addrs.Store(&sa)
	return o, nil
}

// SPI returns the SA's SPI.
func (o *Sealer) SPI() uint32 { return o.spi }

// SA returns the SA as made or last updated.
func (o *Sealer) SA() SA { return *o.addrs.Load() }

// Overhead returns how many octets sealing adds to a payload of n octets:
// header, IV, padding, trailer and ICV (not the UDP or IP header).
func (o *Sealer) Overhead(n int) int {
	a := o.t.align()
	pad := (a - (n+TrailerLen)%a) % a
	return HeaderLen + o.t.ivLen() + pad + TrailerLen + ICVLen
}

// Headroom is the offset of the payload in a sealed packet: HeaderLen plus
// the IV. A payload placed at len(dst)+Headroom() in dst's spare capacity is
// sealed without being moved.
func (o *Sealer) Headroom() int { return HeaderLen + o.t.ivLen() }

// Seal appends to dst the ESP packet (RFC 4303 section 3.3) carrying payload
// with the given Next Header, and returns the extended slice. It takes the
// next sequence number; when all 2^32-1 are used it returns ErrSeqOverflow
// and the SA must be replaced. Padding follows section 2.4: the fewest octets
// that align the trailer (4 for AES-GCM, the 16-octet block for AES-CBC),
// valued 1, 2, 3, ... payload may lie in dst's spare capacity.
func (o *Sealer) Seal(dst, payload []byte, nextHeader uint8) ([]byte, error) {
	seq := o.seq.Add(1)
	if seq > math.MaxUint32 {
		o.overflow.Add(1)
		return dst, fmt.Errorf("SPI 0x%08x: %w", o.spi, ErrSeqOverflow)
	}
	n := len(payload)
	total := n + o.Overhead(n)
	start := len(dst)
	dst = slices.Grow(dst, total)[:start+total]
	pkt := dst[start:]
	body := pkt[o.Headroom() : total-ICVLen]
	copy(body, payload) // first: payload may overlap the header's place
	binary.BigEndian.PutUint32(pkt[0:4], o.spi)
	binary.BigEndian.PutUint32(pkt[4:8], uint32(seq))
	pad := len(body) - n - TrailerLen
	for i := range pad {
		body[n+i] = byte(i + 1)
	}
	body[len(body)-2] = byte(pad)
	body[len(body)-1] = nextHeader
	o.t.seal(pkt, uint32(seq))
	o.packets.Add(1)
	o.bytes.Add(uint64(n))
	return dst, nil
}

// Stats returns the SA's counters.
func (o *Sealer) Stats() SAStats {
	seq := o.seq.Load()
	return SAStats{
		Packets:  o.packets.Load(),
		Bytes:    o.bytes.Load(),
		Seq:      uint32(min(seq, math.MaxUint32)),
		Overflow: o.overflow.Load(),
	}
}

// update replaces the SA's outer addresses and ports.
func (o *Sealer) update(sa SA) { o.addrs.Store(moved(o.addrs.Load(), sa)) }

// moved is cur with the outer addresses and ports of sa.
func moved(cur *SA, sa SA) *SA {
	next := *cur
	next.Local, next.Remote = sa.Local, sa.Remote
	return &next
}

// Opener opens packets of one inbound SA. It is safe for concurrent use.
type Opener struct {
	spi  uint32
	t    transform
	mode Mode

	mu     sync.Mutex // guards window
	window *replayWindow

	packets, bytes          atomic.Uint64
	replay, auth, malformed atomic.Uint64
	addrs                   atomic.Pointer[SA]
}

// NewOpener makes the opening side of sa, whose Direction must be Inbound.
func NewOpener(sa SA) (*Opener, error) {
	if sa.Direction != Inbound {
		return nil, fmt.Errorf("%w: NewOpener of an %s SA", ErrInvalid, sa.Direction)
	}
	if err := sa.Check(); err != nil {
		return nil, err
	}
	t, err := newTransform(sa.Algorithm, sa.Keys)
	if err != nil {
		return nil, err
	}
	in := &Opener{spi: sa.SPI, t: t, mode: sa.Mode, window: newReplayWindow(sa.replayWindow())}
	in.addrs.Store(&sa)
	return in, nil
}

// SPI returns the SA's SPI.
func (in *Opener) SPI() uint32 { return in.spi }

// SA returns the SA as made or last updated.
func (in *Opener) SA() SA { return *in.addrs.Load() }

// Open processes an ESP packet as RFC 4303 section 3.4 orders it: the SPI
// must be the SA's; the sequence number must pass the anti-replay window
// (section 3.4.3) before the ICV is checked; the packet is decrypted in place
// and only then does the window move; finally the padding is checked (pad
// length within the packet, padding octets 1, 2, 3, ...). It returns the
// payload, a subslice of pkt, and its Next Header. pkt is overwritten.
func (in *Opener) Open(pkt []byte) (payload []byte, nextHeader uint8, err error) {
	if len(pkt) < in.t.minLen() {
		in.malformed.Add(1)
		return nil, 0, fmt.Errorf("ESP packet of %d octets: %w", len(pkt), ErrTruncated)
	}
	if spi := binary.BigEndian.Uint32(pkt[0:4]); spi != in.spi {
		in.malformed.Add(1)
		return nil, 0, fmt.Errorf("packet SPI 0x%08x on SA 0x%08x: %w", spi, in.spi, ErrSPI)
	}
	seq := binary.BigEndian.Uint32(pkt[4:8])
	in.mu.Lock()
	err = in.window.check(seq)
	in.mu.Unlock()
	if err != nil {
		in.countWindow(err)
		return nil, 0, fmt.Errorf("SPI 0x%08x sequence %d: %w", in.spi, seq, err)
	}
	body, err := in.t.open(pkt)
	if err != nil {
		if err == ErrAuth {
			in.auth.Add(1)
		} else {
			in.malformed.Add(1)
		}
		return nil, 0, fmt.Errorf("SPI 0x%08x sequence %d: %w", in.spi, seq, err)
	}
	in.mu.Lock()
	err = in.window.accept(seq)
	in.mu.Unlock()
	if err != nil {
		in.countWindow(err)
		return nil, 0, fmt.Errorf("SPI 0x%08x sequence %d: %w", in.spi, seq, err)
	}
	payload, nextHeader, err = trailer(body)
	if err != nil {
		in.malformed.Add(1)
		return nil, 0, fmt.Errorf("SPI 0x%08x sequence %d: %w", in.spi, seq, err)
	}
	in.packets.Add(1)
	in.bytes.Add(uint64(len(payload)))
	return payload, nextHeader, nil
}

func (in *Opener) countWindow(err error) {
	if err == ErrSequence {
		in.malformed.Add(1)
		return
	}
	in.replay.Add(1)
}

// trailer splits decrypted plaintext into payload and Next Header, checking
// the Pad Length and the default padding contents (RFC 4303 section 2.4).
func trailer(body []byte) ([]byte, uint8, error) {
	if len(body) < TrailerLen {
		return nil, 0, ErrTruncated
	}
	padLen := int(body[len(body)-2])
	nextHeader := body[len(body)-1]
	end := len(body) - TrailerLen - padLen
	if end < 0 {
		return nil, 0, fmt.Errorf("pad length %d in a plaintext of %d octets: %w", padLen, len(body), ErrPadding)
	}
	for i, b := range body[end : len(body)-TrailerLen] {
		if b != byte(i+1) {
			return nil, 0, fmt.Errorf("padding octet %d is %d: %w", i+1, b, ErrPadding)
		}
	}
	return body[:end], nextHeader, nil
}

// Stats returns the SA's counters.
func (in *Opener) Stats() SAStats {
	in.mu.Lock()
	top := in.window.top
	in.mu.Unlock()
	return SAStats{
		Packets:   in.packets.Load(),
		Bytes:     in.bytes.Load(),
		Seq:       top,
		Replay:    in.replay.Load(),
		Auth:      in.auth.Load(),
		Malformed: in.malformed.Load(),
	}
}

// update replaces the SA's outer addresses and ports.
func (in *Opener) update(sa SA) { in.addrs.Store(moved(in.addrs.Load(), sa)) }
