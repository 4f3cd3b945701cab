package ipip

import (
	"fmt"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// socketBuffer is the receive and send buffer size requested for the raw
// socket, so bursts from many tunnels are not dropped by the kernel.
const socketBuffer = 4 << 20

// rawSocket is a raw AF_INET socket for protocol 4 with IP_HDRINCL: it
// receives every IP-in-IP datagram addressed to its network namespace, outer
// header included, and sends datagrams whose outer header the caller wrote.
// Reads and writes are batched with recvmmsg and sendmmsg.
type rawSocket struct {
	f  *os.File
	rc syscall.RawConn

	// The single reader's state, bound once into recvFn.
	rhs    []unix.Mmsghdr
	riovs  []unix.Iovec
	rn     int
	rerr   error
	recvFn func(fd uintptr) bool

	senders sync.Pool // of *sender
}

// sender is the scratch space of one WriteBatch call.
type sender struct {
	hs     []unix.Mmsghdr
	iovs   []unix.Iovec
	sa     unix.RawSockaddrInet4
	n      int
	err    error
	sendFn func(fd uintptr) bool
}

// openRawSocket opens the socket in the network namespace of the calling
// thread.
func openRawSocket() (*rawSocket, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_IPIP)
	if err != nil {
		return nil, fmt.Errorf("open raw IP-in-IP socket (needs CAP_NET_RAW): %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_HDRINCL, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("raw IP-in-IP socket: set IP_HDRINCL: %w", err)
	}
	// Best effort: the *FORCE options need CAP_NET_ADMIN, the plain ones
	// are capped by net.core.[rw]mem_max.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, socketBuffer) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, socketBuffer)
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, socketBuffer) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, socketBuffer)
	}
	f := os.NewFile(uintptr(fd), "ipip")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("raw IP-in-IP socket: %w", err)
	}
	s := &rawSocket{f: f, rc: rc}
	s.recvFn = s.recv
	s.senders.New = func() any {
		w := &sender{}
		w.sendFn = w.send
		return w
	}
	return s, nil
}

// ReadBatch waits for a datagram, then receives up to len(bufs) with one
// recvmmsg call, storing their lengths in sizes. Only one goroutine may call
// ReadBatch at a time.
func (s *rawSocket) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	if cap(s.rhs) < len(bufs) {
		s.rhs = make([]unix.Mmsghdr, len(bufs))
		s.riovs = make([]unix.Iovec, len(bufs))
	}
	s.rhs, s.riovs = s.rhs[:len(bufs)], s.riovs[:len(bufs)]
	for i, b := range bufs {
		s.riovs[i] = unix.Iovec{Base: unsafe.SliceData(b)}
		s.riovs[i].SetLen(len(b))
		s.rhs[i] = unix.Mmsghdr{}
		s.rhs[i].Hdr.Iov = &s.riovs[i]
		s.rhs[i].Hdr.SetIovlen(1)
	}
	s.rn, s.rerr = 0, nil
	if err := s.rc.Read(s.recvFn); err != nil {
		// The descriptor was closed: the runtime's error is not
		// os.ErrClosed, so say that in terms callers can test.
		return 0, fmt.Errorf("raw IP-in-IP socket: %w", os.ErrClosed)
	}
	if s.rerr != nil {
		return 0, s.rerr
	}
	for i := range s.rn {
		sizes[i] = int(s.rhs[i].Len)
	}
	return s.rn, nil
}

func (s *rawSocket) recv(fd uintptr) bool {
	for {
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&s.rhs[0])), uintptr(len(s.rhs)), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			s.rn = int(n)
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		s.rerr = os.NewSyscallError("recvmmsg", errno)
		return true
	}
}

// WriteBatch sends pkts, each a whole IPv4 datagram, to dst with as few
// sendmmsg calls as the kernel allows. It returns how many were sent before
// the first one that failed, and that failure. It is safe for concurrent use.
func (s *rawSocket) WriteBatch(pkts [][]byte, dst netip.Addr) (int, error) {
	if len(pkts) == 0 {
		return 0, nil
	}
	w := s.senders.Get().(*sender)
	defer s.senders.Put(w)
	if cap(w.hs) < len(pkts) {
		w.hs = make([]unix.Mmsghdr, len(pkts))
		w.iovs = make([]unix.Iovec, len(pkts))
	}
	w.hs, w.iovs = w.hs[:len(pkts)], w.iovs[:len(pkts)]
	w.sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: dst.As4()}
	for i, p := range pkts {
		w.iovs[i] = unix.Iovec{Base: unsafe.SliceData(p)}
		w.iovs[i].SetLen(len(p))
		w.hs[i] = unix.Mmsghdr{}
		w.hs[i].Hdr.Name = (*byte)(unsafe.Pointer(&w.sa))
		w.hs[i].Hdr.Namelen = unix.SizeofSockaddrInet4
		w.hs[i].Hdr.Iov = &w.iovs[i]
		w.hs[i].Hdr.SetIovlen(1)
	}
	all := w.hs
	defer func() { w.hs = all }()
	sent := 0
	for sent < len(pkts) {
		w.hs = all[sent:]
		w.n, w.err = 0, nil
		if err := s.rc.Write(w.sendFn); err != nil {
			return sent, fmt.Errorf("raw IP-in-IP socket: %w", os.ErrClosed)
		}
		sent += w.n
		if w.err != nil {
			return sent, w.err
		}
	}
	return sent, nil
}

func (w *sender) send(fd uintptr) bool {
	for {
		n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&w.hs[0])), uintptr(len(w.hs)), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			w.n = int(n)
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		w.err = os.NewSyscallError("sendmmsg", errno)
		return true
	}
}

// Close closes the socket, waking a blocked reader.
func (s *rawSocket) Close() error { return s.f.Close() }
