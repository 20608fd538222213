package mqtt

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// socketpair makes a non-blocking, close-on-exec stream socketpair. darwin
// has no SOCK_CLOEXEC, so ForkLock keeps an exec in another goroutine from
// inheriting the sockets before close-on-exec is set.
func socketpair() ([2]int, error) {
	syscall.ForkLock.RLock()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fds[0])
		unix.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return fds, os.NewSyscallError("socketpair", err)
	}
	for _, fd := range fds {
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(fds[0])
			unix.Close(fds[1])
			return fds, os.NewSyscallError("fcntl", err)
		}
	}
	return fds, nil
}
