package ipip

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// tunPath is the TUN clone device.
const tunPath = "/dev/net/tun"

// tun is a TUN device (IFF_TUN|IFF_NO_PI): every read returns one IPv4 or
// IPv6 datagram and every write injects one. The descriptor is non-blocking
// and registered with the runtime poller, so Close wakes a blocked reader.
type tun struct {
	f  *os.File
	rc syscall.RawConn

	// State of the ReadBatch in progress, bound once into readFn so that
	// a batch read allocates nothing.
	bufs   [][]byte
	sizes  []int
	n      int
	err    error
	readFn func(fd uintptr) bool
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
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
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
	f := os.NewFile(uintptr(fd), tunPath+":"+name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("TUN device %s: %w", name, err)
	}
	t := &tun{f: f, rc: rc}
	t.readFn = t.read
	return t, nil
}

// ReadBatch waits for a datagram, then reads as many as are queued, up to
// len(bufs), storing their lengths in sizes. A datagram longer than its
// buffer is cut short. Only one goroutine may call ReadBatch at a time.
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
		n, err := unix.Read(int(fd), t.bufs[t.n])
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
		t.sizes[t.n] = n
		t.n++
	}
	return true
}

// Write injects one datagram.
func (t *tun) Write(p []byte) (int, error) { return t.f.Write(p) }

// Close closes the descriptor; the kernel deletes the device.
func (t *tun) Close() error { return t.f.Close() }
