//go:build !linux

package ipip

import (
	"fmt"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

func openSystem() (*system, error) {
	return nil, fmt.Errorf("TUN devices and raw IP-in-IP sockets: %w", kernel.ErrUnsupported)
}
