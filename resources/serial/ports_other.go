//go:build !linux

package serial

import (
	"fmt"
	"runtime"
)

// Ports lists the serial ports of the system. Only Linux is supported,
// where sysfs tells the USB identity of a port without opening it; here
// ports are named by path.
func Ports() ([]PortInfo, error) {
	return nil, fmt.Errorf("list serial ports: %w on %s", ErrNotSupported, runtime.GOOS)
}
