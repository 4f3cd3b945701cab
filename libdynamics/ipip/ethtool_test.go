//go:build linux

package ipip

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ethtool commands (include/uapi/linux/ethtool.h).
const (
	ethtoolGStrings  = 0x1b
	ethtoolGSSetInfo = 0x37
	ethtoolGFeatures = 0x3a
	ethtoolSFeatures = 0x3b
	ethSSFeatures    = 4
	ethGStringLen    = 32
)

// ethtoolIoctl runs the ethtool command at data on dev through fd.
func ethtoolIoctl(fd int, dev string, data unsafe.Pointer) error {
	var ifr struct {
		name [unix.IFNAMSIZ]byte
		data uintptr
		_    [16]byte
	}
	copy(ifr.name[:], dev)
	ifr.data = uintptr(data)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr))); e != 0 {
		return e
	}
	return nil
}

// setFeatures turns on the named features (as `ethtool -K` names them) of
// dev in the calling thread's namespace and checks that they are on.
func setFeatures(dev string, names ...string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	info := struct {
		cmd, reserved uint32
		mask          uint64
		data          [1]uint32
	}{cmd: ethtoolGSSetInfo, mask: 1 << ethSSFeatures}
	if err := ethtoolIoctl(fd, dev, unsafe.Pointer(&info)); err != nil {
		return fmt.Errorf("%s: count features: %w", dev, err)
	}
	n := int(info.data[0])
	strs := make([]byte, 12+n*ethGStringLen)
	binary.NativeEndian.PutUint32(strs[0:], ethtoolGStrings)
	binary.NativeEndian.PutUint32(strs[4:], ethSSFeatures)
	binary.NativeEndian.PutUint32(strs[8:], uint32(n))
	if err := ethtoolIoctl(fd, dev, unsafe.Pointer(&strs[0])); err != nil {
		return fmt.Errorf("%s: feature names: %w", dev, err)
	}
	bit := map[string]int{}
	for i := range n {
		s := strs[12+i*ethGStringLen:][:ethGStringLen]
		if j := bytes.IndexByte(s, 0); j >= 0 {
			s = s[:j]
		}
		bit[string(s)] = i
	}
	blocks := (n + 31) / 32
	set := make([]byte, 8+blocks*8) // struct ethtool_sfeatures: valid, requested per block
	binary.NativeEndian.PutUint32(set[0:], ethtoolSFeatures)
	binary.NativeEndian.PutUint32(set[4:], uint32(blocks))
	for _, name := range names {
		b, ok := bit[name]
		if !ok {
			return fmt.Errorf("%s: no feature %s", dev, name)
		}
		at := 8 + b/32*8
		binary.NativeEndian.PutUint32(set[at:], binary.NativeEndian.Uint32(set[at:])|1<<(b%32))
		binary.NativeEndian.PutUint32(set[at+4:], binary.NativeEndian.Uint32(set[at+4:])|1<<(b%32))
	}
	if err := ethtoolIoctl(fd, dev, unsafe.Pointer(&set[0])); err != nil {
		return fmt.Errorf("%s: set features: %w", dev, err)
	}
	get := make([]byte, 8+blocks*16) // struct ethtool_gfeatures: available, requested, active, never_changed
	binary.NativeEndian.PutUint32(get[0:], ethtoolGFeatures)
	binary.NativeEndian.PutUint32(get[4:], uint32(blocks))
	if err := ethtoolIoctl(fd, dev, unsafe.Pointer(&get[0])); err != nil {
		return fmt.Errorf("%s: get features: %w", dev, err)
	}
	for _, name := range names {
		b := bit[name]
		if binary.NativeEndian.Uint32(get[8+b/32*16+8:])&(1<<(b%32)) == 0 {
			return fmt.Errorf("%s: feature %s stays off", dev, name)
		}
	}
	return nil
}
