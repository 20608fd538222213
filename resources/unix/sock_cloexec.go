//go:build dragonfly || freebsd || linux || netbsd || openbsd

package unix

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// socket makes a non-blocking, close-on-exec Unix stream socket in one
// call, so that no exec in another goroutine can inherit it.
func socket() (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	return fd, nil
}

// accept takes a pending connection as a non-blocking, close-on-exec
// socket. Its error is the bare errno, for the caller to sort.
func accept(fd int) (int, error) {
	nfd, _, err := syscall.Accept4(fd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
	return nfd, err
}
