//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package serial

import "golang.org/x/sys/unix"

// cmspar is zero: the BSDs and darwin have no mark or space parity.
const cmspar = 0

func getTermios(fd int) (*unix.Termios, error) { return unix.IoctlGetTermios(fd, unix.TIOCGETA) }

func setTermios(fd int, t *unix.Termios) error { return unix.IoctlSetTermios(fd, unix.TIOCSETA, t) }

// setSpeed stores the rate itself: BSD speeds are numbers, not codes.
// Whether the driver takes a non-standard one shows when it is read back.
func setSpeed(t *unix.Termios, baud int) {
	setInt(&t.Ispeed, baud)
	setInt(&t.Ospeed, baud)
}

// setInt stores v in a speed field, whose type differs between systems.
func setInt[T ~int32 | ~uint32 | ~uint64](p *T, v int) { *p = T(v) }

func speed(t *unix.Termios) int { return int(t.Ospeed) }

// The queues of TIOCFLUSH: FREAD and FWRITE of <sys/fcntl.h>.
const (
	queueIn  = 1
	queueOut = 2
)

func discard(fd, queue int) error { return unix.IoctlSetPointerInt(fd, unix.TIOCFLUSH, queue) }
