//go:build dragonfly || freebsd || linux || netbsd || openbsd

package mqtt

import (
	"os"

	"golang.org/x/sys/unix"
)

// socketpair makes a non-blocking, close-on-exec stream socketpair in one
// call, so that no exec in another goroutine can inherit it.
func socketpair() ([2]int, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fds, os.NewSyscallError("socketpair", err)
	}
	return fds, nil
}
