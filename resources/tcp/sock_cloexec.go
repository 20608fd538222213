//go:build dragonfly || freebsd || linux || netbsd || openbsd

package tcp

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// socket makes a non-blocking, close-on-exec TCP socket in one call, so
// that no exec in another goroutine can inherit it.
func socket(family int) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	return fd, nil
}

// accept takes a pending connection as a non-blocking, close-on-exec
// socket. Its error is the bare errno, for the caller to sort.
func accept(fd int) (int, syscall.Sockaddr, error) {
	return syscall.Accept4(fd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
}
