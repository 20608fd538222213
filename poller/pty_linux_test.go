package poller_test

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

func init() { pairKinds = append(pairKinds, pairKind{"pty", true, openPty}) }

// openPty opens a pseudo-terminal as posix_openpt, unlockpt and ptsname do.
// r is the master and w the slave: a serial device seen from the gateway's
// side, and the process at the other end whose close is a hangup.
func openPty(t *testing.T) pair {
	t.Helper()
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: open /dev/ptmx: %v", err)
	}
	own(t, master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: ioctl TIOCSPTLCK: %v", err)
	}
	n, err := unix.IoctlGetUint32(master, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("name pty: ioctl TIOCGPTN: %v", err)
	}
	path := fmt.Sprintf("/dev/pts/%d", n)
	slave, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return pair{r: master, w: slave, closeW: own(t, slave)}
}
