package ipip

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// tunPath is the TUN clone device.
const tunPath = "/dev/net/tun"

// tunOffloads are the offloads asked of a TUN device: the kernel may hand
// out datagrams with the transport checksum left to finish and TCP/IPv4
// super-packets, CWR included, for the reader to segment.
const tunOffloads = unix.TUN_F_CSUM | unix.TUN_F_TSO4 | tunFTSOECN

// tunFTSOECN is TUN_F_TSO_ECN (include/uapi/linux/if_tun.h).
const tunFTSOECN = 0x08

// tun is a TUN device (IFF_TUN|IFF_NO_PI|IFF_VNET_HDR): every read returns
// one IPv4 or IPv6 datagram, or a TCP super-packet, behind a virtio-net
// header, and every write injects one behind such a header. The descriptor
// is non-blocking and registered with the runtime poller, so Close wakes a
// blocked reader.
//
// With the checksum and TCP segmentation offloads on (the kernel refusing
// them only costs speed), the kernel's TCP stack sends the device 64 KiB
// super-packets instead of MTU-sized segments: one read instead of dozens.
// ReadBatch cuts them into segments (segmenter). WriteBatch coalesces the
// TCP segments of a batch into super-packets (coalescer) and writes each
// with one writev, so the kernel forwards or delivers one large datagram
// instead of dozens.
type tun struct {
	f       *os.File
	rc      syscall.RawConn
	offload bool // the kernel accepted tunOffloads

	// State of the ReadBatch in progress, bound once into readFn so that
	// a batch read allocates nothing.
	buf    []byte // one read: virtio-net header and datagram
	seg    segmenter
	bufs   [][]byte
	sizes  []int
	n      int
	err    error
	readFn func(fd uintptr) bool

	// State of the WriteBatch in progress, likewise bound into writeFn.
	groups  coalescer
	iovs    []unix.Iovec
	wrote   int
	werr    error
	writeFn func(fd uintptr) bool

	// supersIn counts TCP super-packets read and cut into segments,
	// supersOut the super-packets written; tests read them.
	supersIn, supersOut atomic.Uint64
}

// openTUN creates the TUN device name in the network namespace of the
// calling thread. The device exists until the returned tun is closed.
func openTUN(name string) (*tun, error) {
	fd, err := unix.Open(tunPath, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s (is the tun module loaded?): %w", tunPath, err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("TUN device name %q: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EINVAL) {
			return nil, fmt.Errorf("create TUN device %s (a link of that name exists?): %w", name, err)
		}
		return nil, fmt.Errorf("create TUN device %s: %w", name, err)
	}
	if got := ifr.Name(); got != name {
		unix.Close(fd)
		return nil, fmt.Errorf("create TUN device %s: kernel named it %s", name, got)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, vnetHeaderLen); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("TUN device %s: set virtio-net header size: %w", name, err)
	}
	offload := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tunOffloads) == nil
	f := os.NewFile(uintptr(fd), tunPath+":"+name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("TUN device %s: %w", name, err)
	}
	t := &tun{f: f, rc: rc, offload: offload, buf: make([]byte, vnetHeaderLen+MaxPacketLen)}
	t.readFn = t.read
	t.writeFn = t.writev
	return t, nil
}

// ReadBatch waits for a datagram, then reads as many as are queued, up to
// len(bufs), storing their lengths in sizes. A super-packet yields its
// segments, those that do not fit bufs in the next call. A datagram longer
// than its buffer is cut short. Only one goroutine may call ReadBatch at a
// time.
func (t *tun) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	t.bufs, t.sizes, t.n, t.err = bufs, sizes, 0, nil
	if err := t.rc.Read(t.readFn); err != nil {
		// The descriptor was closed: the runtime's error is not
		// os.ErrClosed, so say that in terms callers can test.
		return 0, fmt.Errorf("TUN device: %w", os.ErrClosed)
	}
	return t.n, t.err
}

func (t *tun) read(fd uintptr) bool {
	for t.n < len(t.bufs) {
		if n, ok := t.seg.next(t.bufs[t.n]); ok {
			t.sizes[t.n] = n
			t.n++
			continue
		}
		n, err := unix.Read(int(fd), t.buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return t.n > 0
		case err != nil:
			if t.n == 0 {
				t.err = os.NewSyscallError("read", err)
			}
			return true
		}
		h, err := parseVnetHeader(t.buf[:n])
		if err != nil {
			// Not from this kernel's TUN driver: hand the datagram
			// on as it is for the driver's checks.
			h = vnetHeader{}
		}
		t.seg.start(h, t.buf[min(vnetHeaderLen, n):n])
		if t.seg.mss != 0 {
			t.supersIn.Add(1)
		}
	}
	return true
}

// Write injects one datagram.
func (t *tun) Write(p []byte) (int, error) {
	b := make([]byte, vnetHeaderLen+len(p))
	copy(b[vnetHeaderLen:], p)
	n, err := t.f.Write(b)
	return max(n-vnetHeaderLen, 0), err
}

// WriteBatch injects pkts[i][offset:], each an IPv4 datagram trimmed to its
// total length, coalescing TCP segments (see coalescer); offset must be at
// least vnetHeaderLen, and the bytes before each datagram are overwritten.
// mtu is the tunnel's inner MTU. It returns how many datagrams were written,
// their bytes, and the last error. Only one goroutine may call WriteBatch at
// a time.
func (t *tun) WriteBatch(pkts [][]byte, offset, mtu int) (written, bytes int, last error) {
	if offset < vnetHeaderLen {
		return 0, 0, fmt.Errorf("TUN device: %d bytes of room before datagrams, want %d", offset, vnetHeaderLen)
	}
	for _, it := range t.groups.plan(pkts, offset) {
		bufs := t.groups.buffers(pkts, offset, it, mtu)
		t.iovs = t.iovs[:0]
		for _, b := range bufs {
			iov := unix.Iovec{Base: unsafe.SliceData(b)}
			iov.SetLen(len(b))
			t.iovs = append(t.iovs, iov)
		}
		t.wrote, t.werr = 0, nil
		if err := t.rc.Write(t.writeFn); err != nil {
			return written, bytes, fmt.Errorf("TUN device: %w", os.ErrClosed)
		}
		if t.werr != nil {
			last = t.werr
			continue
		}
		written += it.count
		bytes += it.bytes
		if len(bufs) > 1 || bufs[0][1] == vnetGSOTCPv4 {
			t.supersOut.Add(1)
		}
	}
	return written, bytes, last
}

func (t *tun) writev(fd uintptr) bool {
	for {
		n, _, errno := unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&t.iovs[0])), uintptr(len(t.iovs)))
		switch errno {
		case 0:
			t.wrote = int(n)
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		t.werr = os.NewSyscallError("writev", errno)
		return true
	}
}

// Close closes the descriptor; the kernel deletes the device.
func (t *tun) Close() error { return t.f.Close() }
