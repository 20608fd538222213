//go:build linux && (ppc || ppc64 || ppc64le)

package serial

import "golang.org/x/sys/unix"

// On PowerPC the termios of TCGETS/TCSETS carries the rates already, and
// there are no termios2 requests.
const (
	tcgets = unix.TCGETS
	tcsets = unix.TCSETS
)
