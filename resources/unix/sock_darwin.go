package unix

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// socket makes a non-blocking, close-on-exec Unix stream socket. darwin
// has no SOCK_CLOEXEC, so ForkLock keeps an exec in another goroutine from
// inheriting the socket before close-on-exec is set.
func socket() (int, error) {
	syscall.ForkLock.RLock()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("fcntl", err)
	}
	return fd, nil
}

// accept takes a pending connection as a non-blocking, close-on-exec
// socket; darwin has no accept4, hence ForkLock as in socket. Its error is
// the bare errno, for the caller to sort.
func accept(fd int) (int, error) {
	syscall.ForkLock.RLock()
	nfd, _, err := syscall.Accept(fd)
	if err == nil {
		syscall.CloseOnExec(nfd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(nfd, true); err != nil {
		unix.Close(nfd)
		return -1, err
	}
	return nfd, nil
}
