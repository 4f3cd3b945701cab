//go:build !linux

package esp

import (
	"fmt"
	"log/slog"
	"syscall"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

// XFRMOptions configure an XFRM.
type XFRMOptions struct {
	Logger *slog.Logger
}

// XFRM is Linux's: elsewhere NewXFRM always fails.
type XFRM struct{ Kernel }

// NewXFRM fails: XFRM is Linux's.
func NewXFRM(XFRMOptions) (*XFRM, error) {
	return nil, fmt.Errorf("esp: xfrm: %w", kernel.ErrUnsupported)
}

// ProbeXFRM fails: XFRM is Linux's.
func ProbeXFRM() error { return fmt.Errorf("esp: xfrm: %w", kernel.ErrUnsupported) }

// EnableUDPEncap fails: ESP-in-UDP decapsulation by the kernel is Linux's.
func EnableUDPEncap(syscall.Conn) error {
	return fmt.Errorf("esp: UDP_ENCAP: %w", kernel.ErrUnsupported)
}
