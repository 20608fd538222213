package serial

import "golang.org/x/sys/unix"

// cmspar makes the parity bit constant: mark or space.
const cmspar = unix.CMSPAR

func getTermios(fd int) (*unix.Termios, error) { return unix.IoctlGetTermios(fd, tcgets) }

func setTermios(fd int, t *unix.Termios) error { return unix.IoctlSetTermios(fd, tcsets, t) }

// setSpeed asks for the rate itself (BOTHER) rather than a Bnnn code, so a
// standard rate and any other go the same way; the input rate follows the
// output rate (CIBAUD clear).
func setSpeed(t *unix.Termios, baud int) {
	t.Cflag &^= unix.CBAUD | unix.CBAUD<<unix.IBSHIFT
	t.Cflag |= unix.BOTHER
	t.Ispeed = uint32(baud)
	t.Ospeed = uint32(baud)
}

// speed is the output rate; the kernel fills it in from a Bnnn code too.
func speed(t *unix.Termios) int { return int(t.Ospeed) }

// The queues of TCFLSH.
const (
	queueIn  = unix.TCIFLUSH
	queueOut = unix.TCOFLUSH
)

func discard(fd, queue int) error { return unix.IoctlSetInt(fd, unix.TCFLSH, queue) }
