//go:build !linux

package esp

import (
	"fmt"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

func openSystem(name string, mtu int) (device, router, error) {
	return nil, nil, fmt.Errorf("TUN device %s: %w", name, kernel.ErrUnsupported)
}
