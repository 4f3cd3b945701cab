package esp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

var _ Kernel = (*XFRM)(nil)

// maxXFRMReplayWindow is the largest window of the kernel's legacy replay
// state, the one a state without extended sequence numbers gets from
// netlink here: a 32-bit bitmap.
const maxXFRMReplayWindow = 32

// XFRMOptions configure an XFRM.
type XFRMOptions struct {
	// Logger receives changes; nil means slog.Default().
	Logger *slog.Logger
}

// XFRM is the Kernel that installs SAs and policies in the Linux kernel's
// XFRM tables through netlink, for kernels with ESP (the esp4 module).
type XFRM struct {
	log *slog.Logger
	h   *netlink.Handle

	mu       sync.Mutex // guards the maps and closed
	sas      map[SAKey]SA
	policies map[PolicyKey]Policy
	closed   bool
}

// NewXFRM opens a netlink handle in the network namespace of the calling OS
// thread. It does not check that the kernel has ESP: ProbeXFRM does.
func NewXFRM(opts XFRMOptions) (*XFRM, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	h, err := handleHere()
	if err != nil {
		return nil, fmt.Errorf("esp: xfrm: %w", err)
	}
	return &XFRM{log: log, h: h, sas: make(map[SAKey]SA), policies: make(map[PolicyKey]Policy)}, nil
}

func handleHere() (*netlink.Handle, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("get network namespace: %w", err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_XFRM)
	if err != nil {
		return nil, fmt.Errorf("open netlink XFRM handle: %w", err)
	}
	return h, nil
}

// ProbeXFRM reports whether the kernel can hold ESP states of both
// algorithms in the network namespace of the calling OS thread: it adds an
// AES-CBC with HMAC-SHA-256 state and an AES-GCM state between two
// documentation addresses (RFC 5737) and deletes them again. Where the
// kernel refuses, the error wraps kernel.ErrUnsupported and says why: no ESP
// at all (the esp4 module is missing: the kernel answers
// EPROTONOSUPPORT) or an algorithm missing (ENOSYS), with the kernel's
// errno.
func ProbeXFRM() error {
	h, err := handleHere()
	if err != nil {
		return fmt.Errorf("esp: probe xfrm: %w", err)
	}
	defer h.Close()
	spi := 0x7fff0000 | os.Getpid()&0xfffe
	for i, alg := range []Algorithm{AESCBCHMACSHA256, AESGCM16} {
		sa := SA{
			SPI:       uint32(spi + i),
			Direction: Outbound,
			Mode:      ModeTunnel,
			Local:     netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, 1}), 0),
			Remote:    netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, 2}), 0),
			Algorithm: alg,
		}
		enc, auth, _ := alg.KeyLen(128)
		sa.Keys = Keys{Enc: make([]byte, enc)}
		if auth > 0 {
			sa.Keys.Auth = make([]byte, auth)
		}
		st := xfrmState(sa)
		if err := h.XfrmStateAdd(st); err != nil {
			if errors.Is(err, unix.EEXIST) {
				continue // a probe of the same pid: the kernel can
			}
			why := "the kernel refused an ESP state"
			switch {
			case errors.Is(err, unix.EPROTONOSUPPORT):
				why = "the kernel has no ESP (no esp4 module)"
			case errors.Is(err, unix.ENOSYS):
				why = "the kernel lacks " + alg.String() + " for ESP"
			}
			return fmt.Errorf("%w: esp: xfrm probe: %s, so use the userspace data path: %w", kernel.ErrUnsupported, why, err)
		}
		if err := h.XfrmStateDel(st); err != nil {
			return fmt.Errorf("esp: delete xfrm probe state: %w", err)
		}
	}
	return nil
}

// EnableUDPEncap turns on ESP-in-UDP decapsulation (UDP_ENCAP_ESPINUDP) on
// the socket of port 4500, so the kernel takes ESP packets and NAT
// keepalives and leaves the socket only IKE messages, still with their
// non-ESP marker (which a Mux strips). XFRM SAs with UDP encapsulation need
// it on the socket they arrive at.
func EnableUDPEncap(conn syscall.Conn) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("esp: UDP encapsulation socket: %w", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_ENCAP, unix.UDP_ENCAP_ESPINUDP)
	}); err != nil {
		return fmt.Errorf("esp: UDP encapsulation socket: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("esp: set UDP_ENCAP_ESPINUDP: %w", serr)
	}
	return nil
}

// Name implements Kernel.
func (x *XFRM) Name() string { return "xfrm" }

// state renders an SA as an XFRM state. The kernel's legacy replay window
// is at most 32 packets, so larger windows are capped.
func xfrmState(sa SA) *netlink.XfrmState {
	src, dst := sa.source(), sa.destination()
	st := &netlink.XfrmState{
		Src:   net.IP(src.Addr().AsSlice()),
		Dst:   net.IP(dst.Addr().AsSlice()),
		Proto: netlink.XFRM_PROTO_ESP,
		Mode:  xfrmMode(sa.Mode),
		Spi:   int(sa.SPI),
		Reqid: int(sa.ReqID),
	}
	if sa.Direction == Inbound {
		st.ReplayWindow = min(sa.replayWindow(), maxXFRMReplayWindow)
	}
	switch sa.Algorithm {
	case AESGCM16:
		st.Aead = &netlink.XfrmStateAlgo{Name: "rfc4106(gcm(aes))", Key: sa.Keys.Enc, ICVLen: 8 * ICVLen}
	case AESCBCHMACSHA256:
		st.Crypt = &netlink.XfrmStateAlgo{Name: "cbc(aes)", Key: sa.Keys.Enc}
		st.Auth = &netlink.XfrmStateAlgo{Name: "hmac(sha256)", Key: sa.Keys.Auth, TruncateLen: 8 * ICVLen}
	}
	if sa.Encapsulated() {
		st.Encap = &netlink.XfrmStateEncap{
			Type:            netlink.XFRM_ENCAP_ESPINUDP,
			SrcPort:         int(src.Port()),
			DstPort:         int(dst.Port()),
			OriginalAddress: net.IPv4zero,
		}
	}
	return st
}

func xfrmMode(m Mode) netlink.Mode {
	if m == ModeTransport {
		return netlink.XFRM_MODE_TRANSPORT
	}
	return netlink.XFRM_MODE_TUNNEL
}

// xfrmError maps the kernel's answers to the package's errors.
func xfrmError(what string, err error) error {
	switch {
	case errors.Is(err, unix.EEXIST):
		return fmt.Errorf("esp: xfrm %s: %w: %w", what, ErrExists, err)
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPROTONOSUPPORT), errors.Is(err, unix.EOPNOTSUPP):
		return fmt.Errorf("esp: xfrm %s: %w: %w", what, kernel.ErrUnsupported, err)
	}
	return fmt.Errorf("esp: xfrm %s: %w", what, err)
}

// AddSA implements Kernel.
func (x *XFRM) AddSA(sa SA) error {
	if err := sa.Check(); err != nil {
		return fmt.Errorf("esp: add SA: %w", err)
	}
	key := sa.Key()
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return fmt.Errorf("esp: add SA %s: %w", key, ErrClosed)
	}
	if _, ok := x.sas[key]; ok {
		return fmt.Errorf("esp: add SA %s: %w", key, ErrExists)
	}
	if err := x.h.XfrmStateAdd(xfrmState(sa)); err != nil {
		return xfrmError("add SA "+key.String(), err)
	}
	x.sas[key] = sa
	x.log.Debug("ESP SA added", "sa", sa.String())
	return nil
}

// UpdateSA implements Kernel. The kernel finds a state by destination, SPI
// and protocol, so a new destination cannot be updated in place: the state
// is read back with its sequence numbers and replay bitmap, deleted, and
// added again at its new addresses with them.
func (x *XFRM) UpdateSA(sa SA) error {
	if err := sa.Check(); err != nil {
		return fmt.Errorf("esp: update SA: %w", err)
	}
	key := sa.Key()
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return fmt.Errorf("esp: update SA %s: %w", key, ErrClosed)
	}
	old, ok := x.sas[key]
	if !ok {
		return fmt.Errorf("esp: update SA %s: %w", key, ErrNotFound)
	}
	cur, err := x.h.XfrmStateGet(xfrmState(old))
	if err != nil {
		return xfrmError("read SA "+key.String(), err)
	}
	// Only the addresses and ports change.
	sa = *moved(&old, sa)
	next := xfrmState(sa)
	next.Replay = cur.Replay
	if err := x.h.XfrmStateDel(xfrmState(old)); err != nil {
		return xfrmError("delete SA "+key.String()+" for update", err)
	}
	if err := x.h.XfrmStateAdd(next); err != nil {
		delete(x.sas, key)
		return xfrmError("re-add SA "+key.String()+" at its new addresses", err)
	}
	x.sas[key] = sa
	x.log.Debug("ESP SA updated", "sa", sa.String())
	return nil
}

// DeleteSA implements Kernel.
func (x *XFRM) DeleteSA(key SAKey) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	sa, ok := x.sas[key]
	if !ok || x.closed {
		return nil
	}
	delete(x.sas, key)
	if err := x.h.XfrmStateDel(xfrmState(sa)); err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) {
		return xfrmError("delete SA "+key.String(), err)
	}
	x.log.Debug("ESP SA deleted", "sa", key.String())
	return nil
}

// xfrmPolicies renders a policy as the kernel's: an outbound policy becomes
// "dir out"; an inbound one "dir in" and, in tunnel mode, "dir fwd" as well,
// so datagrams forwarded out of the tunnel are admitted too.
func xfrmPolicies(p Policy) []*netlink.XfrmPolicy {
	sel := p.Selector
	src, dst := p.Local, p.Remote
	dirs := []netlink.Dir{netlink.XFRM_DIR_OUT}
	if p.Direction == Inbound {
		src, dst = p.Remote, p.Local
		dirs = []netlink.Dir{netlink.XFRM_DIR_IN}
		if p.Mode == ModeTunnel {
			dirs = append(dirs, netlink.XFRM_DIR_FWD)
		}
	}
	var out []*netlink.XfrmPolicy
	for _, d := range dirs {
		out = append(out, &netlink.XfrmPolicy{
			Src:     prefixNet(sel.Src),
			Dst:     prefixNet(sel.Dst),
			Proto:   netlink.Proto(sel.Protocol),
			SrcPort: int(sel.SrcPort),
			DstPort: int(sel.DstPort),
			Dir:     d,
			Tmpls: []netlink.XfrmPolicyTmpl{{
				Src:   net.IP(src.AsSlice()),
				Dst:   net.IP(dst.AsSlice()),
				Proto: netlink.XFRM_PROTO_ESP,
				Mode:  xfrmMode(p.Mode),
				Reqid: int(p.ReqID),
			}},
		})
	}
	return out
}

// AddPolicy implements Kernel.
func (x *XFRM) AddPolicy(p Policy) error {
	if err := p.Check(); err != nil {
		return fmt.Errorf("esp: add policy: %w", err)
	}
	key := p.Key()
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return fmt.Errorf("esp: add policy %s: %w", key, ErrClosed)
	}
	if _, ok := x.policies[key]; ok {
		return fmt.Errorf("esp: add policy %s: %w", key, ErrExists)
	}
	var added []*netlink.XfrmPolicy
	for _, xp := range xfrmPolicies(p) {
		if err := x.h.XfrmPolicyAdd(xp); err != nil {
			for _, a := range added {
				_ = x.h.XfrmPolicyDel(a)
			}
			return xfrmError("add policy "+key.String(), err)
		}
		added = append(added, xp)
	}
	x.policies[key] = p
	x.log.Debug("ESP policy added", "policy", p.String())
	return nil
}

// UpdatePolicy implements Kernel.
func (x *XFRM) UpdatePolicy(p Policy) error {
	if err := p.Check(); err != nil {
		return fmt.Errorf("esp: update policy: %w", err)
	}
	key := p.Key()
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return fmt.Errorf("esp: update policy %s: %w", key, ErrClosed)
	}
	if _, ok := x.policies[key]; !ok {
		return fmt.Errorf("esp: update policy %s: %w", key, ErrNotFound)
	}
	for _, xp := range xfrmPolicies(p) {
		if err := x.h.XfrmPolicyUpdate(xp); err != nil {
			return xfrmError("update policy "+key.String(), err)
		}
	}
	x.policies[key] = p
	x.log.Debug("ESP policy updated", "policy", p.String())
	return nil
}

// DeletePolicy implements Kernel.
func (x *XFRM) DeletePolicy(key PolicyKey) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	p, ok := x.policies[key]
	if !ok || x.closed {
		return nil
	}
	delete(x.policies, key)
	if err := x.deletePolicy(p); err != nil {
		return err
	}
	x.log.Debug("ESP policy deleted", "policy", key.String())
	return nil
}

func (x *XFRM) deletePolicy(p Policy) error {
	var err error
	for _, xp := range xfrmPolicies(p) {
		if e := x.h.XfrmPolicyDel(xp); e != nil && !errors.Is(e, unix.ENOENT) && !errors.Is(e, unix.ESRCH) {
			err = errors.Join(err, xfrmError("delete policy "+p.Key().String(), e))
		}
	}
	return err
}

// Close implements Kernel: it deletes every policy and SA it added.
func (x *XFRM) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil
	}
	x.closed = true
	var err error
	for _, p := range x.policies {
		err = errors.Join(err, x.deletePolicy(p))
	}
	for key, sa := range x.sas {
		if e := x.h.XfrmStateDel(xfrmState(sa)); e != nil && !errors.Is(e, unix.ESRCH) && !errors.Is(e, unix.ENOENT) {
			err = errors.Join(err, xfrmError("delete SA "+key.String(), e))
		}
	}
	clear(x.policies)
	clear(x.sas)
	x.h.Close()
	return err
}
