//go:build !linux

package serial

import (
	"fmt"
	"runtime"
)

// OpenPTY creates a pseudo-terminal pair. Only Linux is supported: the
// other systems each have their own requests, which nothing here tests.
func OpenPTY() (*PTY, error) {
	return nil, fmt.Errorf("open pty: %w on %s", ErrNotSupported, runtime.GOOS)
}
