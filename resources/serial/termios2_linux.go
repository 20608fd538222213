//go:build linux && !ppc && !ppc64 && !ppc64le

package serial

import "golang.org/x/sys/unix"

// The termios2 requests carry the rates as numbers, which the old
// TCGETS/TCSETS cannot on these architectures.
const (
	tcgets = unix.TCGETS2
	tcsets = unix.TCSETS2
)
